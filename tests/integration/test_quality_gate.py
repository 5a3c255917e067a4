"""The six-word quality gate on the demo, built by dbt in a real PostgreSQL.

On the demo every word passes. Then, for each word, the data behind one of its checks is broken
the way a bad feed (or a loader that bypassed the rules) would break it, and the test shows the
run fails (blocking word) or warns (warning word), with an append-only record in `audit` naming the
word, the expectation and the offending rows, traced to their feed file and line where they have
one. Each break is undone after its test (raw rows deleted, mart tables restored from a copy).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psycopg
import pytest
from conftest import empty_tracker_tables

from r71_tracker import pipeline, transform
from r71_tracker.demo_feeds import LATEST_REPORT_DATE, write_demo_feeds
from r71_tracker.feeds.ingest import ingest_paths
from r71_tracker.quality.audit import audit_runs, format_runs
from r71_tracker.quality.gate import GateResult, run_gate
from r71_tracker.web.site import run_page, write_site

pytestmark = pytest.mark.integration

TRACKER = Path(sys.executable).parent / "tracker"
WORDS = ("correct", "complete", "clean", "live", "unified", "shared")


@pytest.fixture(scope="module")
def demo_url(tracker_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo loaded and built once; every test runs the gate on it (GX context reused)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_DATABASE_URL", tracker_db_url)
        patch.setenv("TRACKER_LOCAL_DIR", str(tmp_path_factory.mktemp("local")))
        patch.delenv("TRACKER_FRESHNESS_MAX_AGE_DAYS", raising=False)
        empty_tracker_tables(tracker_db_url)
        ingest_paths(write_demo_feeds(tmp_path_factory.mktemp("feeds")), tracker_db_url)
        transform.build(tracker_db_url, LATEST_REPORT_DATE)
        yield tracker_db_url


def _gate(url: str) -> tuple[str, GateResult]:
    run_id = pipeline.new_gate_run_id("test")
    return run_id, run_gate(url, run_id, LATEST_REPORT_DATE, dag_run_id="manual__test")


def _failed(url: str, run_id: str) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "select word, severity, suite_name, expectation_type, expectation_notes,"
            " unexpected_count, unexpected_rows, code_version, dag_run_id, run_date"
            " from audit.expectation_results where run_id = %s and not success",
            (run_id,),
        ).fetchall()


@contextmanager
def _broken(url: str, table: str, *statements: str) -> Iterator[None]:
    """Break a mart table for one test and restore it exactly afterwards."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"create temp table saved as select * from {table}")
        try:
            for statement in statements:
                conn.execute(statement)
            yield
        finally:
            conn.execute(f"truncate {table}")
            conn.execute(f"insert into {table} select * from saved")


@contextmanager
def _extra_loaded_row(url: str, line: int, **values: str) -> Iterator[str]:
    """One more loaded row in a MOJ status file (a copy of its first row at `line`, with
    `values` as SQL expressions for some columns), as a loader that bypassed the rules would
    leave it; yields the file's name and deletes the row afterwards."""
    columns = (
        "report_date, agency_code, database_code, platform_status, data_status,"
        " process_integrated, connected_national, record_count, records_updated_30d,"
        " consumer_agencies, notes"
    ).split(", ")
    selected = ", ".join(values.get(column, column) for column in columns)
    with psycopg.connect(url, autocommit=True) as conn:
        file_id, name = conn.execute(
            "select file_id, original_name from raw.feed_files where feed_kind = 'status'"
            " and agency_code = 'MOJ' order by file_id limit 1"
        ).fetchone()
        conn.execute(
            f"insert into raw.status_reports select file_id, {line:d}, {selected}"
            " from raw.status_reports where file_id = %s limit 1",
            (file_id,),
        )
    try:
        yield name
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from raw.status_reports where line_number = %s", (line,))


def test_on_the_demo_every_word_passes_and_the_run_is_recorded(demo_url):
    run_id, result = _gate(demo_url)
    assert result.success, result.failures
    assert (result.failures, result.warnings) == ([], [])
    assert {row["word"] for row in result.results} == set(WORDS)
    with psycopg.connect(demo_url) as conn:
        run = conn.execute(
            "select dag_run_id, run_date, success, blocking_failures, warnings, code_version"
            " from audit.gate_runs where run_id = %s",
            (run_id,),
        ).fetchone()
        recorded = conn.execute(
            "select count(*), count(distinct word), bool_and(expectation_notes != '')"
            " from audit.expectation_results where run_id = %s",
            (run_id,),
        ).fetchone()
    assert run[:5] == ("manual__test", LATEST_REPORT_DATE, True, 0, 0)
    assert run[5] and run[5] != "unknown"  # the git commit of the code that judged
    assert recorded == (len(result.results), 6, True)


def test_a_passing_gate_reads_the_loaded_reports_once(demo_url):
    """Every loaded report ever received is the largest relation the gate reads: all its rules
    are counted in one aggregate query (no separate row count, no per-rule query)."""
    import re

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        _, result = _gate(demo_url)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert result.success
    reads = [
        statement
        for statement in statements
        if re.search(r"\bFROM int_status_reports_received\b", statement)
        and not re.search(r"\bLIMIT\b", statement)
    ]
    assert len(reads) == 1, reads
    assert "FILTER (WHERE" in reads[0]


def test_correct_blocks_a_row_that_updated_more_records_than_it_holds(demo_url):
    with _extra_loaded_row(demo_url, 9001, record_count="10", records_updated_30d="11") as name:
        run_id, result = _gate(demo_url)
    assert not result.success
    [failure] = _failed(demo_url, run_id)
    assert (failure["word"], failure["severity"]) == ("correct", "blocking")
    assert failure["expectation_type"] == "expect_every_value_at_least"
    assert failure["expectation_notes"].startswith("Correct: a database cannot have updated")
    assert failure["unexpected_count"] == 1
    [row] = failure["unexpected_rows"]
    assert (row["file_name"], row["line_number"], row["agency_code"]) == (name, 9001, "MOJ")
    assert f"{name}, line 9001" in result.failures[0]


def test_correct_blocks_a_row_naming_a_database_outside_the_registry_file(demo_url):
    from expectations.registry_membership import registry_sha256
    from r71_tracker.config import settings

    with _extra_loaded_row(demo_url, 9002, database_code="'MOJ-NOT-IN-REGISTRY'") as name:
        run_id, result = _gate(demo_url)
    assert not result.success
    [failure] = _failed(demo_url, run_id)
    assert (failure["word"], failure["severity"]) == ("correct", "blocking")
    assert failure["expectation_type"] == "expect_every_value_in_registry"
    assert failure["unexpected_count"] == 1
    [row] = failure["unexpected_rows"]
    assert (row["file_name"], row["line_number"], row["database_code"]) == (
        name,
        9002,
        "MOJ-NOT-IN-REGISTRY",
    )
    with psycopg.connect(demo_url) as conn:
        [kwargs] = conn.execute(
            "select expectation_kwargs from audit.expectation_results"
            " where run_id = %s and not success",
            (run_id,),
        ).fetchone()
    # the record names the registry version that judged, not ten thousand codes
    assert kwargs["code_set"] == "databases"
    assert kwargs["registry_sha256"] == registry_sha256(settings().seeds_dir)
    assert "value_set" not in kwargs


def test_complete_blocks_when_many_databases_have_no_report(demo_url):
    with _broken(
        demo_url,
        "marts.database_current_status",
        "update marts.database_current_status set effective_report_date = null,"
        " is_unreported = true where database_code in (select database_code from"
        " marts.database_current_status where not is_unreported order by database_code limit 8)",
    ):
        run_id, result = _gate(demo_url)
    assert not result.success
    failures = _failed(demo_url, run_id)
    assert {(f["word"], f["severity"]) for f in failures} == {("complete", "blocking")}
    missing = [
        f for f in failures if f["expectation_type"] == "expect_column_values_to_not_be_null"
    ]
    assert missing and missing[0]["unexpected_count"] == 10  # 8 broken + 2 never reported
    assert len(missing[0]["unexpected_rows"]) == 10
    assert all(row["database_code"] for row in missing[0]["unexpected_rows"])


def test_clean_blocks_untrimmed_published_text_and_names_its_feed_row(demo_url):
    with _broken(
        demo_url,
        "marts.database_current_status",
        "update marts.database_current_status set report_notes = ' ' || report_notes || ' '"
        " where database_code = 'MOJ-CIVIL-STATUS'",
    ):
        run_id, result = _gate(demo_url)
        with psycopg.connect(demo_url) as conn:
            evidence = conn.execute(
                "select evidence_file_name, evidence_line_number from"
                " marts.database_current_status where database_code = 'MOJ-CIVIL-STATUS'"
            ).fetchone()
    assert not result.success
    [failure] = _failed(demo_url, run_id)
    assert (failure["word"], failure["severity"]) == ("clean", "blocking")
    assert failure["expectation_type"] == "unexpected_rows_expectation"
    [row] = failure["unexpected_rows"]
    assert (row["file_name"], row["line_number"]) == evidence
    assert row["database_code"] == "MOJ-CIVIL-STATUS"


def test_live_warns_about_late_agencies_and_the_run_goes_on(demo_url):
    with _broken(
        demo_url,
        "marts.agency_feed_freshness",
        "update marts.agency_feed_freshness set days_since_last_report = 40,"
        " last_report_date = as_of_date - 40, is_late = true"
        " where agency_code in ('MOJ', 'MOF', 'MOH')",
    ):
        run_id, result = _gate(demo_url)
    assert result.success  # a warning word never fails the run
    [failure] = _failed(demo_url, run_id)
    assert (failure["word"], failure["severity"]) == ("live", "warning")
    assert {row["agency_code"] for row in failure["unexpected_rows"]} == {
        "MOJ",
        "MOF",
        "MOH",
        "OOG",
    }
    assert len(result.warnings) == 1 and "live (warning)" in result.warnings[0]


def test_unified_blocks_a_database_owned_by_two_agencies(demo_url):
    # a registry replaced after a merger that lists one database under the old and the new owner
    with _broken(
        demo_url,
        "staging.registry_databases",
        "insert into staging.registry_databases select * from staging.registry_databases"
        " where database_code = 'MOF-FINANCE'",
        "update staging.registry_databases set owner_agency_code = 'MPI'"
        " where ctid = (select max(ctid) from staging.registry_databases"
        " where database_code = 'MOF-FINANCE')",
    ):
        run_id, result = _gate(demo_url)
    assert not result.success
    failures = _failed(demo_url, run_id)
    assert {(f["word"], f["severity"]) for f in failures} == {("unified", "blocking")}
    rows = {
        (row["database_code"], row.get("owner_agency_code"))
        for failure in failures
        for row in failure["unexpected_rows"]
    }
    assert ("MOF-FINANCE", "MPI") in rows


def test_shared_warns_when_connected_databases_are_not_used(demo_url):
    with _broken(
        demo_url,
        "marts.database_current_status",
        "update marts.database_current_status set consumer_agencies = 0"
        " where stage = 'centralized' and connected_national",
    ):
        run_id, result = _gate(demo_url)
    assert result.success
    [failure] = _failed(demo_url, run_id)
    assert (failure["word"], failure["severity"]) == ("shared", "warning")
    assert all(row["file_name"] for row in failure["unexpected_rows"])


def test_a_rerun_appends_and_the_record_cannot_be_changed(demo_url):
    first, _ = _gate(demo_url)
    second, _ = _gate(demo_url)
    assert first != second
    with psycopg.connect(demo_url) as conn:
        runs = conn.execute(
            "select count(*) from audit.gate_runs where run_id in (%s, %s)", (first, second)
        ).fetchone()[0]
        assert runs == 2
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("delete from audit.expectation_results where run_id = %s", (first,))
        conn.rollback()
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("update audit.gate_runs set success = false where run_id = %s", (first,))


def test_tracker_audit_prints_failures_with_their_feed_rows(demo_url, tmp_path):
    with psycopg.connect(demo_url, autocommit=True) as conn:
        conn.execute(
            "insert into raw.status_reports select file_id, 9002, report_date, agency_code,"
            " database_code, platform_status, data_status, process_integrated,"
            " connected_national, record_count, records_updated_30d, -3, notes"
            " from raw.status_reports where agency_code = 'MOH' limit 1"
        )
    try:
        run_id, _ = _gate(demo_url)
    finally:
        with psycopg.connect(demo_url, autocommit=True) as conn:
            conn.execute("delete from raw.status_reports where line_number = 9002")
    env = {**os.environ, "TRACKER_DATABASE_URL": demo_url}
    text = subprocess.run(
        [str(TRACKER), "audit", "--run", run_id], capture_output=True, text=True, env=env
    )
    assert text.returncode == 0, text.stderr
    assert f"gate run {run_id} (DAG run manual__test): FAILED" in text.stdout
    assert "correct (blocking)" in text.stdout
    assert "FAIL correct.intermediate.int_status_reports_received" in text.stdout
    assert "why: Correct: consumer_agencies is a count and cannot be negative." in text.stdout
    words = " ".join(text.stdout.split())  # the text as read, its lines wrapped
    assert "every consumer agency count is at least 0" in words
    assert "observed: 1 of " in words and "rows break the rule — bar: none may" in words
    assert ", line 9002: database " in words
    assert "consumer agency count -3" in words  # the offending value, in words
    _assert_plain(text.stdout)
    as_json = subprocess.run(
        [str(TRACKER), "audit", "--date", LATEST_REPORT_DATE.isoformat(), "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    runs = json.loads(as_json.stdout)
    assert run_id in {run["run_id"] for run in runs}
    assert all(run["run_date"] == LATEST_REPORT_DATE.isoformat() for run in runs)
    # --json keeps every detail as stored: GX's raw arguments, absolute paths and all
    [run] = [run for run in runs if run["run_id"] == run_id]
    kwargs = [result["expectation_kwargs"] for result in run["results"]]
    assert {
        "type": "comparison",
        "column": {"name": "stage"},
        "operator": "==",
        "parameter": "centralized",
    } in [k.get("row_condition") for k in kwargs]
    assert any(Path(k.get("registry_dir", "")).is_absolute() for k in kwargs)
    [failed] = [result for result in run["results"] if not result["success"]]
    assert failed["unexpected_rows"][0]["line_number"] == 9002
    missing = subprocess.run(
        [str(TRACKER), "audit", "--date", "2020-01-01"], capture_output=True, text=True, env=env
    )
    assert missing.returncode == 1 and "no quality gate run recorded" in missing.stderr
    assert format_runs(audit_runs(demo_url, run_id))  # the same text, in process


def _assert_plain(text: str) -> None:
    """`tracker audit` text: plain words, at most 100 columns, no path outside the project's."""
    from r71_tracker.config import settings

    assert text.strip()
    assert max(len(line) for line in text.splitlines()) <= 100
    for raw in ("row_condition", "{'type'", '{"', "registry_dir=", "expect_"):
        assert raw not in text, raw
    assert str(settings().project_root) not in text
    assert os.environ["TRACKER_LOCAL_DIR"] not in text


def _json_evidence(url: str) -> tuple[str, str, int]:
    """A database whose effective report came from a JSON feed: its code, file and entry."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select database_code, evidence_file_name, evidence_line_number"
            " from marts.database_current_status where evidence_file_name like '%.json%'"
            " order by evidence_line_number desc, database_code limit 1"
        ).fetchone()


def test_tracker_audit_cites_a_json_feed_row_by_its_entry_in_either_language(demo_url, tmp_path):
    code, name, index = _json_evidence(demo_url)
    with _broken(
        demo_url,
        "marts.database_current_status",
        "update marts.database_current_status set report_notes = ' ' || report_notes || ' '"
        f" where database_code = '{code}'",
    ):
        run_id, result = _gate(demo_url)
    assert not result.success
    env = {**os.environ, "TRACKER_DATABASE_URL": demo_url}
    english = subprocess.run(
        [str(TRACKER), "audit", "--run", run_id], capture_output=True, text=True, env=env
    )
    assert english.returncode == 0, english.stderr
    _assert_plain(english.stdout)
    english_words = " ".join(english.stdout.split())  # the text as read, its lines wrapped
    # the stored index counts from 0; people count entries from 1
    assert f"{name}, entry {index + 1}: database {code}" in english_words
    assert f"{name}, line" not in english_words
    assert "every report note is Unicode NFC-normalised and trimmed" in english_words
    assert "why: Clean: text is stored as Unicode NFC and trimmed" in english_words
    vietnamese = subprocess.run(
        [str(TRACKER), "audit", "--run", run_id, "--lang", "vi"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert vietnamese.returncode == 0, vietnamese.stderr
    _assert_plain(vietnamese.stdout)
    vietnamese_words = " ".join(vietnamese.stdout.split())
    assert f"{name}, mục {index + 1}: cơ sở dữ liệu {code}" in vietnamese_words
    assert f"KHÔNG ĐẠT, dữ liệu tính đến {LATEST_REPORT_DATE:%d/%m/%Y}" in vietnamese_words
    assert "sạch (chặn)" in vietnamese_words
    assert "kết quả: 1 bản ghi vi phạm — ngưỡng: không bản ghi nào" in vietnamese_words
    # why, in Vietnamese: every result of the run recorded its notes in both languages
    assert "vì sao: Sạch: văn bản được lưu ở dạng Unicode NFC" in vietnamese_words
    assert "Clean: text is stored" not in vietnamese_words
    with psycopg.connect(demo_url) as conn:
        notes = conn.execute(
            "select expectation_notes, expectation_notes_vi from audit.expectation_results"
            " where run_id = %s",
            (run_id,),
        ).fetchall()
    assert notes and all(vi and vi != en and " " in vi for en, vi in notes)
    events = subprocess.run(
        [str(TRACKER), "audit", "--events", "--lang", "vi"], capture_output=True, text=True, env=env
    )
    assert events.returncode == 0 and "audit.file_events" in events.stdout
    # the run's page cites the same row the same way, and shows no raw JSON
    write_site(demo_url, tmp_path)
    page = (tmp_path / run_page(run_id, "en")).read_text("utf-8")
    page_vi = (tmp_path / run_page(run_id, "vi")).read_text("utf-8")
    assert html.escape(f"{name}, entry {index + 1}: database {code}") in page
    assert "every stage is one of: centralized, in progress, not started" in page
    assert "mọi giai đoạn đều là một trong: centralized, in progress, not started" in page_vi
    assert "Correct: only the three stages of the Resolution 71 report exist" in page
    assert "Đúng: báo cáo theo Nghị quyết 71 chỉ có ba giai đoạn" in page_vi
    assert "Correct: only the three stages" not in page_vi
    for shown in (page, page_vi):
        assert "{&quot;" not in shown and "{'type'" not in shown and "row_condition" not in shown


def test_every_run_keeps_its_page_and_the_index_lists_them_newest_first(demo_url, tmp_path):
    first, _ = _gate(demo_url)
    second, _ = _gate(demo_url)
    write_site(demo_url, tmp_path)
    page = (tmp_path / "quality_runs" / "index.html").read_text(encoding="utf-8")
    listed = re.search(r'<script type="application/json" id="rows-runs">(.*?)</script>', page, re.S)
    assert listed, "the index carries its runs for static/tables.js"
    runs = [row["run_id"] for row in json.loads(listed.group(1))]
    assert runs.index(second) < runs.index(first)
    for run_id in (first, second):
        assert run_id in (tmp_path / run_page(run_id)).read_text("utf-8")
    earlier = (tmp_path / run_page(first)).read_text("utf-8")
    write_site(demo_url, tmp_path)  # a later publish keeps old pages
    assert (tmp_path / run_page(first)).read_text("utf-8") == earlier
    assert date.fromisoformat("2025-12-15") == LATEST_REPORT_DATE
