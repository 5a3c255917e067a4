"""Row rules of contract v1.1 (status and dictionary rows), one record at a time, no database."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from conftest import VALID_MOJ_ROW

from r71_tracker.feeds import contract
from r71_tracker.feeds.validation import (
    AgencyContext,
    RawRecord,
    RowProblem,
    RowRejection,
    ValidFieldRow,
    ValidRow,
    duplicate_key,
    parse_boolean,
    parse_date,
    parse_integer,
    validate_record,
)
from r71_tracker.registry import load_registry

RECEIVED = date(2025, 12, 20)
GOOD = dict(VALID_MOJ_ROW)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _validate(registry, context=None, duplicates=None, line=2, **changes):
    values = {**GOOD, **changes}
    record = RawRecord(line, f"line {line}", values, "raw")
    return validate_record(record, registry, RECEIVED, context or AgencyContext(), duplicates)


@pytest.mark.parametrize("spelling", ["true", "TRUE", "True", "1", "yes", "YES", " Yes "])
def test_true_spellings(spelling):
    assert parse_boolean(spelling, "process_integrated") is True


@pytest.mark.parametrize("spelling", ["false", "FALSE", "0", "no", "No", False, 0])
def test_false_spellings(spelling):
    assert parse_boolean(spelling, "process_integrated") is False


@pytest.mark.parametrize("spelling", ["y", "n", "t", "2", "", "oui", 2, 1.0])
def test_other_boolean_spellings_are_bad(spelling):
    with pytest.raises(RowProblem) as raised:
        parse_boolean(spelling, "process_integrated")
    assert raised.value.reason_code == "bad_boolean"


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("007", 7), ("27400000", 27_400_000)])
def test_plain_digits_are_integers(text, value):
    assert parse_integer(text, "record_count") == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1,000", "bad_integer"),
        ("1.000", "bad_integer"),
        ("1 000", "bad_integer"),
        ("+5", "bad_integer"),
        ("1e3", "bad_integer"),
        ("١٢", "bad_integer"),  # Arabic-Indic digits are not plain digits
        (5.0, "bad_integer"),
        (True, "bad_integer"),
        ("-5", "negative_count"),
        (-5, "negative_count"),
        (str(2**31), "bad_integer"),
    ],
)
def test_integer_rules(value, reason):
    name = "consumer_agencies"
    with pytest.raises(RowProblem) as raised:
        parse_integer(value, name)
    assert raised.value.reason_code == reason


@pytest.mark.parametrize("text", ["2025-13-01", "2025-02-30", "15/12/2025", "20251215", "2025-1-5"])
def test_dates_must_be_real_and_iso(text):
    assert parse_date(text) is None


def test_good_row_is_typed(registry):
    row = _validate(registry)
    assert isinstance(row, ValidRow)
    assert row.report_date == date(2025, 12, 15)
    assert row.process_integrated is True
    assert row.record_count == 27_400_000
    assert row.notes is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"agency_code": "XYZ"}, "unknown_agency"),
        ({"database_code": "MOJ-NOPE"}, "unknown_database"),
        ({"database_code": "MOC-RAIL-INFRA"}, "agency_mismatch"),
        ({"record_count": ""}, "missing_field"),
        ({"report_date": "  "}, "missing_field"),
        ({"report_date": "2025-12-32"}, "bad_date"),
        ({"report_date": "2025-12-21"}, "future_date"),
        ({"platform_status": "Operational"}, "bad_enum"),
        ({"data_status": "done"}, "bad_enum"),
        ({"connected_national": "maybe"}, "bad_boolean"),
        ({"record_count": "27.400.000"}, "bad_integer"),
        ({"consumer_agencies": "-1"}, "negative_count"),
        ({"records_updated_30d": "27400001"}, "updated_exceeds_records"),
    ],
)
def test_each_rule_has_its_reason(registry, changes, reason):
    result = _validate(registry, **changes)
    assert isinstance(result, RowRejection)
    assert result.reason_code == reason
    assert result.location == "line 2"


def test_report_date_on_the_received_day_is_accepted(registry):
    assert isinstance(_validate(registry, report_date="2025-12-20"), ValidRow)


def test_first_broken_rule_wins(registry):
    result = _validate(registry, record_count="", platform_status="x", report_date="bad")
    assert result.reason_code == "missing_field"
    result = _validate(registry, platform_status="x", report_date="bad")
    assert result.reason_code == "bad_date"
    result = _validate(registry, record_count="1,5", consumer_agencies="-1")
    assert result.reason_code == "bad_integer"


def test_first_registered_agency_sets_the_files_agency(registry):
    context = AgencyContext()
    assert _validate(registry, context, agency_code="XYZ").reason_code == "unknown_agency"
    assert isinstance(_validate(registry, context, line=3), ValidRow)
    assert (context.file_agency, context.set_at) == ("MOJ", "line 3")
    other = _validate(registry, context, line=4, agency_code="MOC", database_code="MOC-RAIL-INFRA")
    assert other.reason_code == "agency_mismatch"
    assert "MOJ (set by line 3)" in other.detail


def test_fixed_agency_of_a_json_file_is_not_replaced(registry):
    context = AgencyContext(file_agency="XYZ", set_at="the file's agency_code", fixed=True)
    assert _validate(registry, context, agency_code="XYZ").reason_code == "unknown_agency"
    assert _validate(registry, context).reason_code == "agency_mismatch"


def test_nfd_text_is_normalised_to_nfc(registry):
    notes = "Đã kết nối với CSDL quốc gia"
    row = _validate(registry, notes=unicodedata.normalize("NFD", notes))
    assert row.notes == unicodedata.normalize("NFC", notes)


def test_duplicate_key_rejects_the_row_and_says_where(registry):
    key = duplicate_key(RawRecord(2, "line 2", GOOD, "raw"))
    result = _validate(registry, duplicates={key: (2, "line 2")}, line=5)
    assert result.reason_code == "duplicate_database_in_file"
    assert "appears 2 times" in result.detail and "line 2" in result.detail


def test_malformed_record_is_rejected_with_its_problem(registry):
    record = RawRecord(4, "line 4", None, "a,b", "2 fields, the header has 11")
    result = validate_record(record, registry, RECEIVED, AgencyContext())
    assert (result.reason_code, result.detail) == ("malformed_row", "2 fields, the header has 11")


def test_json_values_are_accepted_natively(registry):
    result = _validate(
        registry,
        process_integrated=True,
        connected_national=0,
        record_count=10,
        records_updated_30d=3,
        consumer_agencies=0,
        notes=None,
    )
    assert isinstance(result, ValidRow)
    assert (result.connected_national, result.records_updated_30d) == (False, 3)
    assert _validate(registry, record_count={"n": 1}).reason_code == "malformed_row"


# -- v1.1 data dictionary (fields feed) ------------------------------------------------------------

GOOD_FIELD = {
    "report_date": "2025-12-01",
    "agency_code": "MOJ",
    "database_code": "MOJ-CIVIL-STATUS",
    "field_name": "Ngày sinh",
    "field_type": "date",
    "is_original_source": "true",
}


def _validate_field(registry, duplicates=None, line=2, **changes):
    record = RawRecord(line, f"line {line}", {**GOOD_FIELD, **changes}, "raw")
    return validate_record(
        record, registry, RECEIVED, AgencyContext(), duplicates, contract.DICTIONARY_FEED
    )


def test_a_good_dictionary_row_is_typed_and_nfc(registry):
    row = _validate_field(registry, field_name=unicodedata.normalize("NFD", " Ngày sinh "))
    assert isinstance(row, ValidFieldRow)
    assert (row.field_name, row.field_type, row.is_original_source) == ("Ngày sinh", "date", True)
    assert row.report_date == date(2025, 12, 1)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"field_name": "  "}, "missing_field"),
        ({"field_type": ""}, "missing_field"),
        ({"is_original_source": None}, "missing_field"),
        ({"agency_code": "XYZ"}, "unknown_agency"),
        ({"database_code": "MPS-POPULATION"}, "agency_mismatch"),
        ({"database_code": "MOJ-NOPE"}, "unknown_database"),
        ({"report_date": "01/12/2025"}, "bad_date"),
        ({"report_date": "2025-12-21"}, "future_date"),
        ({"is_original_source": "có"}, "bad_boolean"),
        ({"field_name": {"vi": "Ngày sinh"}}, "malformed_row"),
    ],
)
def test_dictionary_rows_break_one_rule_each(registry, changes, reason):
    result = _validate_field(registry, **changes)
    assert isinstance(result, RowRejection)
    assert result.reason_code == reason
    assert reason in contract.DICTIONARY_ROW_CHECK_ORDER


def test_status_only_fields_are_not_required_in_a_dictionary(registry):
    assert isinstance(_validate_field(registry, platform_status=None), ValidFieldRow)


def test_a_field_listed_twice_is_keyed_without_regard_to_case(registry):
    first = RawRecord(2, "line 2", dict(GOOD_FIELD), "raw")
    second = RawRecord(3, "line 3", {**GOOD_FIELD, "field_name": "NGÀY SINH"}, "raw")
    other_day = RawRecord(4, "line 4", {**GOOD_FIELD, "report_date": "2025-11-30"}, "raw")
    keys = [duplicate_key(record, contract.DICTIONARY_FEED) for record in (first, second)]
    assert keys[0] == keys[1]
    assert duplicate_key(other_day, contract.DICTIONARY_FEED) != keys[0]
    repeated = {keys[0]: (2, "line 2")}
    result = _validate_field(registry, repeated, line=3, field_name="NGÀY SINH")
    assert isinstance(result, RowRejection)
    assert result.reason_code == "duplicate_field_in_file"
    assert "'NGÀY SINH' of MOJ-CIVIL-STATUS for 2025-12-01 appears 2 times" in result.detail
