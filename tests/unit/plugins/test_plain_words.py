"""The gate's results in plain words: every check the suites run reads as a sentence in English
and Vietnamese, with no GX argument syntax, no absolute path, and feed rows cited by line (CSV)
or entry (JSON)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from expectations.context import SuiteContext, load_bars
from expectations.words import clean, complete, correct, live, shared, unified
from r71_tracker.config import settings
from r71_tracker.i18n import day, lang_of, moment, number, percent
from r71_tracker.quality import plain_words
from r71_tracker.quality.plain_words import (
    TEMPLATES,
    WORDS_VI,
    arguments,
    cite_row,
    condition,
    describe,
    observed,
    relative_paths,
    shown_path,
    word_name,
)

SEEDS = settings().project_root / "dbt_project" / "seeds"


def _suite_checks() -> list[tuple[str, dict]]:
    """Every expectation of every word's suites, with its arguments as the gate stores them."""
    context = SuiteContext(
        run_date=date(2025, 12, 15),
        bars=load_bars(),
        registry_dir=SEEDS.resolve(),
        registry_sha256="0ebb25c9115d" + "0" * 52,
        database_count=105,
    )
    checks = []
    for word in (correct, complete, clean, live, shared, unified):
        for suite in word.build_suites(context):
            for expectation in suite.expectations:
                config = expectation.configuration
                kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
                checks.append((config.type, json.loads(json.dumps(kwargs, default=str))))
    return checks


def test_every_expectation_type_the_suites_use_has_a_template_of_its_own():
    """A new expectation type in expectations/ needs a template in plain_words.TEMPLATES."""
    used = {kind for kind, _ in _suite_checks()}
    assert used, "no suite built"
    assert used <= set(TEMPLATES), f"no plain-words template for {sorted(used - set(TEMPLATES))}"


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_every_check_of_the_suites_reads_as_words(lang):
    root = str(settings().project_root)
    for kind, kwargs in _suite_checks():
        text = describe(kind, kwargs, lang)
        assert kind not in text and kind.replace("_", " ") not in text  # not the fallback
        for raw in ("row_condition", "{'type'", '{"', "registry_dir", "value_set", "mostly"):
            assert raw not in text, (kind, text)
        assert root not in text and "/registry" not in text, text
        if kwargs.get("row_condition"):
            assert (", where " if lang == "en" else ", khi ") in text, text


def test_the_examples_read_as_people_say_them():
    stages = {"column": "stage", "value_set": ["centralized", "in_progress", "not_started"]}
    assert describe("expect_column_values_to_be_in_set", stages, "en") == (
        "every stage is one of: centralized, in progress, not started"
    )
    assert describe("expect_column_values_to_be_in_set", stages, "vi") == (
        "mọi giai đoạn đều là một trong: centralized, in progress, not started"
    )
    share = {"column": "effective_report_date", "mostly": 0.95}
    assert describe("expect_column_values_to_not_be_null", share, "en") == (
        "in at least 95% of rows, effective report date is filled in"
    )
    counts = {"element_count": 105, "unexpected_count": 7, "unexpected_percent": 700 / 105}
    assert observed("expect_column_values_to_not_be_null", share, counts, "en") == (
        "98 of 105 pass (93.3%) — bar: ≥ 95%"
    )
    assert observed("expect_column_values_to_not_be_null", share, counts, "vi") == (
        "98 trên 105 đạt (93,3%) — ngưỡng: ≥ 95%"
    )


def test_a_row_condition_reads_where_column_operator_value():
    centralized = {
        "type": "comparison",
        "column": {"name": "stage"},
        "operator": "==",
        "parameter": "centralized",
    }
    connected = {
        "type": "comparison",
        "column": {"name": "connected_national"},
        "operator": "==",
        "parameter": True,
    }
    kwargs = {
        "column": "records_updated_30d",
        "min_value": 1.0,
        "row_condition": {"type": "and", "conditions": [centralized, connected]},
    }
    text = describe("expect_column_values_to_be_between", kwargs, "en")
    assert text.endswith(", where stage is centralized and national platform connection: yes"), text
    assert "khi giai đoạn là centralized và kết nối nền tảng quốc gia: có" in describe(
        "expect_column_values_to_be_between", kwargs, "vi"
    )
    nullity = {"type": "nullity", "column": {"name": "notes"}, "is_null": True}
    assert condition(nullity, "en") == "notes is empty"
    listed = {**centralized, "operator": "NOT_IN", "parameter": ["in_progress", "not_started"]}
    assert condition(listed, "en") == "stage is not one of: in progress, not started"


def test_registry_paths_are_shown_relative_to_the_project_and_value_sets_summarised():
    kwargs = {
        "column": "database_code",
        "registry_dir": str(SEEDS.resolve()),
        "code_set": "databases",
        "registry_sha256": "0ebb25c9115d3e27493cbe52f0a655ef78ef9815a76142687a193447edc18fe7",
    }
    assert describe("expect_every_value_in_registry", kwargs, "en") == (
        "every database code is a database code of the registry file of record"
        " (dbt_project/seeds, version 0ebb25c9115d)"
    )
    codes = {"column": "database_code", "value_set": [f"DB-{i}" for i in range(105)]}
    assert describe("expect_column_values_to_be_in_set", codes, "en") == (
        "every database code is one of 105 listed values"
    )
    assert "DB-1" not in arguments(codes, "en")


def test_no_absolute_path_is_ever_shown(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "local"))
    assert shown_path(settings().project_root / "dbt_project" / "seeds") == "dbt_project/seeds"
    assert (
        shown_path(tmp_path / "local" / "gx" / "index.html") == "$TRACKER_LOCAL_DIR/gx/index.html"
    )
    assert shown_path("/srv/elsewhere/registry/file.csv") == "…/registry/file.csv"
    message = f"registry files in {SEEDS} changed since the suites were built (31 / 36 / 38)"
    assert relative_paths(message) == (
        "registry files in dbt_project/seeds changed since the suites were built (31 / 36 / 38)"
    )
    error = {"error": f"cannot read {tmp_path}/x/y.csv"}
    assert str(tmp_path) not in observed("expect_column_values_to_be_in_set", {}, error, "en")


def test_an_unknown_type_lists_its_arguments_as_name_value():
    kwargs = {
        "column": "report_notes",
        "regex": "^[^ ]",
        "row_condition": {
            "type": "comparison",
            "column": {"name": "stage"},
            "operator": "!=",
            "parameter": "not_started",
        },
    }
    text = describe("expect_column_values_to_match_regex", kwargs, "en")
    assert text == (
        "expect column values to match regex (column: report_notes; regex: ^[^ ])"
        ", where stage is not not started"
    )
    assert "expect_column_values_to_match_regex" not in TEMPLATES


def test_a_csv_row_is_cited_by_its_line_and_a_json_row_by_its_entry():
    csv_row = {
        "file_id": 8,
        "file_name": "MOH_history_2025-04-01_2025-10-31.csv",
        "line_number": 9002,
        "agency_code": "MOH",
        "database_code": "MOH-HEALTH",
        "report_date": "2025-04-07",
        "consumer_agencies": -3,
    }
    assert cite_row(csv_row, "en") == (
        "MOH_history_2025-04-01_2025-10-31.csv, line 9002: database MOH-HEALTH, agency MOH,"
        " report date 2025-04-07, consumer agency count -3"
    )
    assert cite_row(csv_row, "vi") == (
        "MOH_history_2025-04-01_2025-10-31.csv, dòng 9002: cơ sở dữ liệu MOH-HEALTH, cơ quan MOH,"
        " ngày báo cáo 07/04/2025, số cơ quan khai thác -3"
    )
    # a JSON entry is stored with its index (0 is the first entry): cited as people count
    json_row = {
        "evidence_file_id": 3,
        "file_name": "SBV_2025-12-15.json.gz",
        "line_number": 0,
        "database_code": "SBV-CREDIT",
        "owner_agency_code": "SBV",
        "report_notes": " untrimmed ",
    }
    assert cite_row(json_row, "en") == (
        "SBV_2025-12-15.json.gz, entry 1: database SBV-CREDIT, owner agency SBV,"
        " report notes “ untrimmed ”"
    )
    assert cite_row(json_row, "vi").startswith("SBV_2025-12-15.json.gz, mục 1: ")
    registry_row = {"database_code": "MOF-FINANCE", "owner_agency_code": "MPI"}
    assert cite_row(registry_row, "en") == "database MOF-FINANCE, owner agency MPI"


def test_observed_values_read_against_their_bar():
    assert (
        observed("expect_table_row_count_to_equal", {"value": 105}, 1234, "vi")
        == "1.234 bản ghi — ngưỡng: đúng 105"
    )
    window = {
        "column": "effective_report_date",
        "min_value": "2025-12-01",
        "max_value": "2025-12-15",
    }
    assert observed("expect_column_max_to_be_between", window, "2025-11-20", "en") == (
        "found 2025-11-20 — bar: between 2025-12-01 and 2025-12-15"
    )
    assert observed("unexpected_rows_expectation", {}, 2, "en") == (
        "2 offending row(s) — bar: none"
    )
    counts = {"element_count": 12345, "unexpected_count": 3, "unexpected_percent": 300 / 12345}
    assert observed("expect_every_value_at_least", {"min_value": 0}, counts, "vi") == (
        "3 trên 12.345 bản ghi vi phạm — ngưỡng: không bản ghi nào"
    )


def test_the_six_words_in_both_languages():
    assert WORDS_VI == {
        "correct": "đúng",
        "complete": "đủ",
        "clean": "sạch",
        "live": "sống",
        "unified": "thống nhất",
        "shared": "dùng chung",
    }
    assert word_name("unified", "vi") == "thống nhất" and word_name("unified", "en") == "unified"


def test_plain_words_reads_no_database_module():
    """The Airflow UI pages reuse plain_words: it must not pull in audit.py or report.py."""
    source = Path(plain_words.__file__).read_text(encoding="utf-8")
    for module in ("quality.audit", "quality.report", "import psycopg", "r71_tracker.database"):
        assert module not in source


def test_vietnamese_and_english_numbers_and_dates():
    assert number(1234.5, "vi") == "1.234,5" and number(1234.5, "en") == "1,234.5"
    assert number(1_000_000, "vi") == "1.000.000" and number(2.0, "en") == "2"
    assert percent(0.933, "vi") == "93,3%" and percent(0.95, "en") == "95%"
    assert day(date(2025, 12, 5), "vi") == "05/12/2025"
    assert day(date(2025, 12, 5), "en") == "2025-12-05"
    stamp = datetime.fromisoformat("2025-12-05T14:30:00+07:00")
    assert moment(stamp, "vi") == "05/12/2025 07:30:00 UTC"
    assert lang_of(" VI") == "vi"
    with pytest.raises(ValueError, match="unknown language"):
        lang_of("fr")


def test_operator_events_keep_a_short_reason_whole_and_fit_in_100_columns():
    from r71_tracker.quality.audit import format_events

    event = {
        "event_id": 2,
        "action": "restore",
        "file_id": 12,
        "original_name": "MPS_2025-12-16.csv",
        "agency_code": "MPS",
        "actor": "liaison.mps",
        "acted_at": datetime.fromisoformat("2025-12-16T09:00:00+00:00"),
        "reason": "confirmed by MPS",
    }
    long_reason = {**event, "reason": "resent after the export was fixed; " * 6}
    for lang in ("en", "vi"):
        text = format_events([event, long_reason], lang)
        assert max(len(line) for line in text.splitlines()) <= 100
        assert "confirmed by MPS" in text  # on one line, not split by the wrap
    assert "khôi phục tệp 12 (MPS_2025-12-16.csv, MPS) bởi liaison.mps lúc 16/12/2025" in (
        format_events([event], "vi")
    )
