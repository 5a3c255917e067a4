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
    "field_too_long",  # issue 12: bounded memory for any field
}
BRIEF_FILE_CODES = {"bad_encoding", "bad_format", "missing_columns", "empty_file", "too_large"}
# issue 12: exact evidence for a file still being written
BRIEF_FILE_CODES |= {"changed_while_read"}
# v1.1 (data dictionary): the row rules the fields feed shares, and its own duplicate rule.
DICTIONARY_ROW_CODES = {
    "field_too_long",
    "malformed_row",
    "missing_field",
    "unknown_agency",
    "agency_mismatch",
    "unknown_database",
    "bad_date",
    "future_date",
    "bad_boolean",
    "duplicate_field_in_file",
}


def test_every_contract_reason_code_has_a_one_line_description():
    assert set(contract.ROW_REASONS) == BRIEF_ROW_CODES | DICTIONARY_ROW_CODES
    assert set(contract.FILE_REASONS) == BRIEF_FILE_CODES
    for code, text in contract.REASONS.items():
        assert text and "\n" not in text, code
        assert contract.describe(code) == text


def test_row_check_order_covers_every_row_code_once():
    assert sorted(contract.ROW_CHECK_ORDER) == sorted(BRIEF_ROW_CODES)
    assert sorted(contract.DICTIONARY_ROW_CHECK_ORDER) == sorted(DICTIONARY_ROW_CODES)


def test_dictionary_feed_has_the_v1_1_fields_all_required():
    kind = contract.DICTIONARY_FEED
    assert kind.fields == (
        "report_date",
        "agency_code",
        "database_code",
        "field_name",
        "field_type",
        "is_original_source",
    )
    assert kind.required_fields == kind.fields
    assert (kind.entries_key, kind.raw_table) == ("fields", "raw.field_reports")


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (list(contract.FIELDS), "status"),
        (list(contract.DICTIONARY_FIELDS), "fields"),
        (["database_code", "field_name"], "fields"),  # then missing_columns names the rest
        ([*contract.FIELDS, "field_name"], "status"),  # an extra column on a status feed
        (["report_date"], "status"),
    ],
)
def test_a_csv_header_says_which_feed_it_is(columns, expected):
    assert contract.kind_of_columns(columns).name == expected


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"agency_code": "MOJ", "databases": []}, "status"),
        ({"agency_code": "MOJ", "fields": []}, "fields"),
        ({"agency_code": "MOJ", "databases": [], "fields": []}, "status"),
        ({"agency_code": "MOJ"}, "status"),
    ],
)
def test_a_json_document_says_which_feed_it_is(document, expected):
    assert contract.kind_of_document(document).name == expected


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
