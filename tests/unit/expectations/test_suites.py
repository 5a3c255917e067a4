"""The GX suites build offline, carry STYLE item 19 names, and use only real mart columns."""

from __future__ import annotations

import json
from datetime import date

import pytest

from expectations.marts import database_current_status as mart
from r71_tracker.quality.gate import registry_codes
from r71_tracker.registry import RegistryError

SIX_WORDS = {"correct", "complete", "clean", "live", "unified", "shared"}
CODES = ["MOJ-CIVIL-STATUS", "MOF-FINANCE", "MOH-HEALTH"]


def _by_type(suite, expectation_type: str) -> list:
    return [e for e in suite.expectations if e.expectation_type == expectation_type]


def test_suite_builds_with_its_layer_dot_dataset_name():
    suite = mart.build_suite(date(2025, 12, 20), 14, CODES)

    assert suite.name == "marts.database_current_status"
    assert {e.expectation_type for e in suite.expectations} == {
        "expect_table_row_count_to_equal",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_max_to_be_between",
    }
    # The file context stores the suite as JSON: it must serialise (dates included).
    json.dumps(suite.to_json_dict())


def test_every_expectation_names_a_column_of_the_mart():
    suite = mart.build_suite(date(2025, 12, 20), 14, CODES)

    columns = {e.column for e in suite.expectations if hasattr(e, "column")}
    assert columns <= set(mart.MART_COLUMNS)
    assert {"database_code", "stage", "effective_report_date", *mart.COUNT_COLUMNS} <= columns


def test_every_expectation_explains_itself_to_auditors():
    suite = mart.build_suite(date(2025, 12, 20), 14, CODES)

    for expectation in suite.expectations:
        assert expectation.notes, expectation.expectation_type
        assert expectation.meta["why"]
        assert set(expectation.meta["serves"]) <= SIX_WORDS
        assert expectation.meta["serves"]


def test_registry_drives_row_count_and_code_set():
    suite = mart.build_suite(date(2025, 12, 20), 14, [*CODES, CODES[0]])

    (row_count,) = _by_type(suite, "expect_table_row_count_to_equal")
    assert row_count.value == 3
    code_set = next(
        e
        for e in _by_type(suite, "expect_column_values_to_be_in_set")
        if e.column == "database_code"
    )
    assert sorted(code_set.value_set) == sorted(CODES)
    stage_set = next(
        e for e in _by_type(suite, "expect_column_values_to_be_in_set") if e.column == "stage"
    )
    assert set(stage_set.value_set) == {"centralized", "in_progress", "not_started"}


def test_counts_must_be_non_negative_but_may_be_null():
    suite = mart.build_suite(date(2025, 12, 20), 14, CODES)

    between = {e.column: e for e in _by_type(suite, "expect_column_values_to_be_between")}
    assert set(between) == set(mart.COUNT_COLUMNS)
    for expectation in between.values():
        assert expectation.min_value == 0
        assert expectation.max_value is None
    not_null = {e.column for e in _by_type(suite, "expect_column_values_to_not_be_null")}
    assert not_null.isdisjoint(mart.COUNT_COLUMNS)


@pytest.mark.parametrize(
    ("run_date", "max_age_days", "oldest"),
    [
        (date(2025, 12, 20), 14, date(2025, 12, 6)),
        (date(2026, 6, 1), 14, date(2026, 5, 18)),
        (date(2020, 1, 3), 7, date(2019, 12, 27)),
    ],
)
def test_freshness_window_counts_back_from_the_run_date_not_today(run_date, max_age_days, oldest):
    suite = mart.build_suite(run_date, max_age_days, CODES)

    (freshness,) = _by_type(suite, "expect_column_max_to_be_between")
    assert freshness.column == "effective_report_date"
    assert freshness.min_value == oldest
    assert freshness.max_value == run_date


def test_freshness_window_rejects_a_negative_age():
    with pytest.raises(ValueError, match="max_age_days"):
        mart.freshness_window(date(2025, 12, 20), -1)


def test_empty_registry_is_refused():
    with pytest.raises(ValueError, match="registry"):
        mart.build_suite(date(2025, 12, 20), 14, [])


def test_registry_codes_come_from_the_registry_csv_as_ingest_reads_it(tmp_path):
    (tmp_path / "registry_agencies.csv").write_text("agency_code\nMOJ\nMOF\n", encoding="utf-8")
    databases = tmp_path / "registry_databases.csv"
    databases.write_text(
        "database_code,owner_agency_code\nMOJ-CIVIL-STATUS,MOJ\n MOF-FINANCE ,MOF\n",
        encoding="utf-8",
    )

    assert registry_codes(tmp_path) == ["MOF-FINANCE", "MOJ-CIVIL-STATUS"]

    databases.write_text(
        "database_code,owner_agency_code\nMOJ-CIVIL-STATUS,MOJ\nMOJ-CIVIL-STATUS,MOJ\n",
        encoding="utf-8",
    )
    with pytest.raises(RegistryError, match="appears twice"):
        registry_codes(tmp_path)
