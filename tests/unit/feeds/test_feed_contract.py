"""The contract vocabulary the CLI and the published docs rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from r71_tracker.feeds import contract

BRIEF_ROW_CODES = {
    "unknown_agency",
    "unknown_database",
    "agency_mismatch",
    "missing_field",
    "bad_date",
    "future_date",
    "bad_enum",
    "bad_boolean",
    "bad_integer",
    "negative_count",
    "updated_exceeds_records",
    "duplicate_database_in_file",
    "malformed_row",
}
BRIEF_FILE_CODES = {"bad_encoding", "bad_format", "missing_columns", "empty_file", "too_large"}


def test_every_contract_reason_code_has_a_one_line_description():
    assert set(contract.ROW_REASONS) == BRIEF_ROW_CODES
    assert set(contract.FILE_REASONS) == BRIEF_FILE_CODES
    for code, text in contract.REASONS.items():
        assert text and "\n" not in text, code
        assert contract.describe(code) == text


def test_row_check_order_covers_every_row_code_once():
    assert sorted(contract.ROW_CHECK_ORDER) == sorted(BRIEF_ROW_CODES)


def test_fields_are_the_v1_fields_with_only_notes_optional():
    assert contract.FIELDS[:3] == ("report_date", "agency_code", "database_code")
    assert len(contract.FIELDS) == 11
    assert "notes" not in contract.REQUIRED_FIELDS
    assert contract.PLATFORM_STATUSES == ("not_started", "building", "operational")
    assert contract.DATA_STATUSES == ("none", "digitized", "partial", "centralized")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("moj.csv", "csv"),
        ("MOJ.CSV", "csv"),
        ("moj.json", "json"),
        ("moj.csv.gz", "csv.gz"),
        ("moj.json.gz", "json.gz"),
        ("moj.txt", None),
        ("moj.gz", None),
        (".csv", None),
    ],
)
def test_feed_format_comes_from_the_name(name, expected):
    assert contract.feed_format(name) == expected


def test_published_contract_lists_every_reason_code():
    published = (Path(__file__).resolve().parents[3] / "docs" / "FEED_CONTRACT.md").read_text(
        "utf-8"
    )
    for code in [*contract.ROW_REASONS, *contract.FILE_REASONS]:
        assert f"| `{code}` |" in published, code
