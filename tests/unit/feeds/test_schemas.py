"""The published schemas (docs/schemas/): generated from the contract's code, and as strict as a
schema can be on the bad-feed corpus (tests/data/bad_feeds/, answers in cases.json).

CSV files go through the Table Schema with frictionless, JSON files through the JSON Schema with
jsonschema (format assertion on). Each corpus case is decided: the schema rejects it (EXPRESSED),
or what it breaks is beyond a schema (NOT_EXPRESSED, with why); a case the tracker loads with no
row rejected needs no decision: the schema must accept it, as it must accept every valid sample.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import frictionless
import jsonschema
import pytest

from r71_tracker.cli import main
from r71_tracker.feeds import contract, schemas

ROOT = Path(__file__).resolve().parents[3]
PUBLISHED = ROOT / "docs" / "schemas"
CORPUS = ROOT / "tests" / "data" / "bad_feeds"
SAMPLES = ROOT / "tests" / "data" / "feeds"
CASES: dict[str, dict] = {
    case["file"]: case for case in json.loads((CORPUS / "cases.json").read_text("utf-8"))
}
CLEAN = {
    name
    for name, case in CASES.items()
    if case["outcome"] == "loaded" and not case["rejected_rows"]
}

EXPRESSED: dict[str, str] = {
    "truncated_mid_row.csv": "a row with fewer cells than the header",
    "malformed_rows.csv": "rows with too few or too many cells",
    "thousands_separators.csv": "integer type: separators, exponent and decimals",
    "negative_counts.csv": "minimum 0",
    "count_5000_digits.csv": "integer type and maximum (bigint)",
    "count_5000_digits.json": "integer maximum (bigint)",
    "duplicate_database.csv": "primaryKey (database_code, report_date)",
    "bad_dates.csv": "date type: a day that exists, written YYYY-MM-DD",
    "bad_enum.csv": "enum, exact and lower case",
    "bad_boolean.csv": "trueValues / falseValues",
    "missing_values.csv": "required; spaces alone are no value",
    "blank_lines.csv": "enum (the blank lines between are skipped by the dialect)",
    "multiline_notes.csv": "boolean values, after a quoted value spanning two lines",
    "long_notes_1mb.csv.gz": "maxLength of a field (read after gunzip)",
    "json_missing_database_code.json": "required key in an entry",
    "json_entry_report_date.json": "report_date required in each entry of a file without one",
    "json_bad_values.json": "integer, boolean and object types",
    "fields_bad_values.json": "boolean, non-empty text, object type and date format",
    "json_top_level_list.json": "the document is an object",
    "json_extra_nesting.json": "required file keys agency_code and databases",
    "json_empty_databases.json": "minItems 1",
    "json_databases_object.json": "databases is an array",
    "missing_column.csv": "a required column is missing",
    "fields_missing_column.csv": "a required column of the dictionary is missing",
    "duplicate_header.csv": "columns matched by name need unique labels",
    "semicolon_delimiter.csv": "the dialect's comma: the header is one unknown label",
    "no_header_row.csv": "the header's labels are not the contract's field names",
    "uppercase_header.csv": "field names are exact, lower case",
}
NOT_EXPRESSED: dict[str, str] = {
    "truncated_in_quote.csv": "CSV syntax: the reader runs the open quote to the end of the file",
    "updated_exceeds_records.csv": "compares two values of a row",
    "future_date.csv": "depends on the day the file is received",
    "unknown_agency.csv": "a registry lookup",
    "unknown_database.csv": "a registry lookup",
    "other_agency_database.csv": "registry ownership and the file's agency",
    "sql_in_notes.csv": "a registry lookup (the odd database code)",
    "fields_duplicate_field.csv": "duplicate field names compared without regard to case",
    "json_truncated.json": "not JSON at all: no schema applies",
    "empty.csv": "a Table Schema cannot require a data row",
    "header_only.csv": "a Table Schema cannot require a data row",
    "bom_and_blanks_only.csv": "a Table Schema cannot require a data row",
    "utf16le.csv": "the file's encoding, not a schema rule",
    "windows1258.csv": "the file's encoding, not a schema rule",
    "binary_garbage.csv": "the file's encoding, not a schema rule",
    "not_gzip.csv.gz": "gzip is the file's transport",
    "truncated.csv.gz": "gzip is the file's transport",
    "wrong_extension.xlsx": "the file name",
    "too_large.csv": "the file's size (the operator's limit)",
    "too_large_inside.csv.gz": "the file's size (the operator's limit)",
}
# Rows the tracker rejects for a reason the schema expresses, which the validator still lets pass.
VALIDATOR_GAPS: dict[tuple[str, int], str] = {
    ("bad_dates.csv", 5): "frictionless reads 2025-12-5 as a date (strptime; the schema says ISO)",
    ("thousands_separators.csv", 6): "frictionless reads +5 as an integer (Python int())",
    ("malformed_rows.csv", 5): "CSV syntax: Python's csv reader takes text after a closing quote",
    ("malformed_rows.csv", 6): "CSV syntax: Python's csv reader takes a NUL character",
    ("duplicate_database.csv", 2): "a primary key flags the repeat; the tracker rejects both",
}
FILE_LEVEL = "file"  # what `schema_errors` reports for an error of the file, not of a row


def documents() -> dict[str, dict]:
    return schemas.schema_documents()


def kind_of(name: str) -> str:
    return CASES[name].get("feed_kind", "status") if name in CASES else "status"


def _text_of(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8-sig")


def _record_start_lines(text: str) -> dict[int, int]:
    """frictionless numbers records (the header is 1); the tracker, physical lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    starts, line = {}, 1
    for number, _ in enumerate(reader, start=1):
        starts[number] = line
        line = reader.line_num + 1
    return starts


def csv_errors(path: Path, kind: str) -> set[int | str]:
    """Physical lines (or FILE_LEVEL) the Table Schema and the published dialect reject."""
    text = _text_of(path)
    resource = frictionless.Resource(
        data=text.encode("utf-8"),
        format="csv",
        encoding="utf-8",
        schema=frictionless.Schema.from_descriptor(documents()[f"{kind}_feed.table-schema.json"]),
        dialect=frictionless.Dialect.from_descriptor(documents()[schemas.DIALECT_FILE]),
    )
    report = frictionless.validate(resource)
    starts = _record_start_lines(text)
    return {FILE_LEVEL if row is None else starts[row] for (row,) in report.flatten(["rowNumber"])}


def _number(digits: str) -> int | Decimal:
    """JSON integers as Python ints, beyond Python's digit limit as Decimal (never valid)."""
    return int(digits) if len(digits) <= 4000 else Decimal(digits)


def json_errors(path: Path, kind: str) -> set[int | str]:
    """Entry indexes (or FILE_LEVEL) the JSON Schema rejects. Decimals are read as Decimal, as
    the tracker reads them, so that 5.0 is not an integer."""
    document = json.loads(_text_of(path), parse_float=Decimal, parse_int=_number)
    validator = jsonschema.Draft202012Validator(
        documents()[f"{kind}_feed.schema.json"],
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    entries = contract.FEED_KINDS_BY_NAME[kind].entries_key
    found: set[int | str] = set()
    for error in validator.iter_errors(document):
        where = list(error.absolute_path)
        found.add(where[1] if len(where) > 1 and where[0] == entries else FILE_LEVEL)
    return found


def schema_errors(path: Path, kind: str) -> set[int | str]:
    return json_errors(path, kind) if ".json" in path.name else csv_errors(path, kind)


def test_the_committed_schemas_are_what_the_contract_code_generates():
    expected = {name: schemas.render(document) for name, document in documents().items()}
    committed = {path.name: path.read_text("utf-8") for path in PUBLISHED.iterdir()}
    stale = sorted(
        name
        for name in expected.keys() | committed.keys()
        if expected.get(name) != committed.get(name)
    )
    assert not stale, f"docs/schemas/ is stale ({', '.join(stale)}): run `tracker schemas`"


def test_tracker_schemas_writes_every_file(tmp_path, capsys):
    assert main(["schemas", "--out", str(tmp_path / "out")]) == 0
    written = {path.name: path.read_text("utf-8") for path in (tmp_path / "out").iterdir()}
    assert written == {name: schemas.render(document) for name, document in documents().items()}
    assert capsys.readouterr().out.count("wrote ") == len(written)


def test_one_table_schema_and_one_json_schema_per_feed_kind_each_a_valid_descriptor():
    for kind in contract.FEED_KINDS:
        table = documents()[f"{kind.name}_feed.table-schema.json"]
        assert frictionless.Schema.validate_descriptor(table).valid
        assert [field["name"] for field in table["fields"]] == list(kind.fields)
        document = documents()[f"{kind.name}_feed.schema.json"]
        jsonschema.Draft202012Validator.check_schema(document)
        assert document["required"] == ["agency_code", kind.entries_key]
        for schema in (table, document):
            assert schema["x-contract-version"] == contract.CONTRACT_VERSION
            codes = [*schema["x-expresses"], *schema["x-judged-only-by-tracker-check"]]
            assert sorted(codes) == sorted({*kind.row_check_order, *contract.FILE_REASONS})
            assert "VI: " in schema["description"] and " / EN: " in schema["description"]
    assert frictionless.Dialect.validate_descriptor(documents()[schemas.DIALECT_FILE]).valid


def test_every_corpus_case_is_decided_once():
    decided = [*EXPRESSED, *NOT_EXPRESSED, *CLEAN]
    assert sorted(decided) == sorted(CASES), "decide for each new corpus case: EXPRESSED or not"
    assert {name for name, _ in VALIDATOR_GAPS} <= set(EXPRESSED)


@pytest.mark.parametrize("path", sorted(SAMPLES.iterdir()), ids=lambda path: path.name)
def test_every_valid_sample_feed_passes(path):
    assert schema_errors(path, kind_of(path.name)) == set()


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_every_corpus_file_the_tracker_loads_whole_passes(name):
    assert schema_errors(CORPUS / name, kind_of(name)) == set()


@pytest.mark.parametrize("name", sorted(EXPRESSED))
def test_the_schema_rejects_each_expressible_case_where_the_tracker_does(name):
    case, kind = CASES[name], kind_of(name)
    found = schema_errors(CORPUS / name, kind)
    assert found, f"{name}: the schema accepts it ({EXPRESSED[name]})"
    if case["outcome"] == "rejected":
        assert FILE_LEVEL in found, found
        return
    rejected = {line for line, _ in case["rejected_rows"]}
    assert found <= rejected, f"rows the tracker loads are rejected: {found - rejected}"
    suffix = "schema.json" if ".json" in name else "table-schema.json"
    expressed = set(documents()[f"{kind}_feed.{suffix}"]["x-expresses"])
    must = {line for line, code in case["rejected_rows"] if code in expressed}
    assert must - found == {line for file, line in VALIDATOR_GAPS if file == name}


@pytest.mark.parametrize(
    "name", sorted(name for name in NOT_EXPRESSED if CASES[name]["outcome"] == "loaded")
)
def test_the_schema_never_rejects_a_row_the_tracker_loads(name):
    rejected = {line for line, _ in CASES[name]["rejected_rows"]}
    assert schema_errors(CORPUS / name, kind_of(name)) <= rejected
