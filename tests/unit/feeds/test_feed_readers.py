"""Whole-file checks and record readers, on bytes built in the test (no database)."""

from __future__ import annotations

import codecs
import gzip
import json

import pytest

from r71_tracker.feeds import contract
from r71_tracker.feeds.readers import CsvFeed, FileProblem, JsonFeed, check_whole_file, open_feed

HEADER = ",".join(contract.FIELDS)
ROW = "2025-12-15,MOJ,MOJ-CIVIL-STATUS,operational,centralized,true,true,10,1,1,"
LIMIT = 10_000


def _problem(name, content, limit=LIMIT):
    with pytest.raises(FileProblem) as raised:
        fmt = check_whole_file(name, content, limit)
        open_feed(content, fmt)
    return raised.value


def test_bom_is_dropped_and_csv_reads():
    content = codecs.BOM_UTF8 + f"{HEADER}\r\n{ROW}\r\n".encode()
    feed = open_feed(content, check_whole_file("moj.csv", content, LIMIT))
    [record] = list(feed.records())
    assert record.values["report_date"] == "2025-12-15"
    assert record.line_number == 2


def test_bad_encoding_names_the_line():
    content = f"{HEADER}\n{ROW}\n".encode() + f"{ROW}Đang xây\n".encode("cp1258")
    problem = _problem("moj.csv", content)
    assert (problem.reason_code, problem.location) == ("bad_encoding", "line 3")


def test_utf16_is_bad_encoding():
    assert _problem("moj.csv", f"{HEADER}\n{ROW}\n".encode("utf-16")).reason_code == "bad_encoding"


@pytest.mark.parametrize("content", [b"", b"   \n\r\n", codecs.BOM_UTF8])
def test_empty_files(content):
    assert _problem("moj.csv", content).reason_code == "empty_file"


def test_header_only_csv_has_no_records():
    """It opens; ingest then finds no data rows and rejects it as empty_file."""
    content = f"{HEADER}\n\n".encode()
    assert list(open_feed(content, check_whole_file("moj.csv", content, LIMIT)).records()) == []


def test_gzip_bomb_is_too_large_and_broken_gzip_is_bad_format():
    bomb = gzip.compress(f"{HEADER}\n".encode() + b" " * (LIMIT * 2))
    assert len(bomb) < LIMIT
    assert _problem("moj.csv.gz", bomb).reason_code == "too_large"
    assert _problem("moj.csv.gz", b"not gzip at all").reason_code == "bad_format"
    assert _problem("moj.csv.gz", gzip.compress(b"x" * 100)[:-8]).reason_code == "bad_format"


def test_size_limit_and_unknown_extension():
    assert _problem("moj.csv", b"x" * (LIMIT + 1)).reason_code == "too_large"
    assert _problem("moj.xlsx", b"anything").reason_code == "bad_format"


def test_missing_columns_are_listed_on_line_1():
    content = f"{HEADER.replace(',record_count', '')}\n{ROW}\n".encode()
    problem = _problem("moj.csv", content)
    assert problem.reason_code == "missing_columns"
    assert problem.location == "line 1" and "record_count" in problem.detail


def test_semicolon_separated_file_gets_a_hint():
    content = f"{HEADER.replace(',', ';')}\n{ROW.replace(',', ';')}\n".encode()
    problem = _problem("moj.csv", content)
    assert problem.reason_code == "missing_columns"
    assert problem.detail.endswith("columns must be separated by commas")


def test_repeated_header_column_is_bad_format():
    assert _problem("moj.csv", f"{HEADER},notes\n{ROW},\n".encode()).reason_code == "bad_format"


def test_csv_line_numbers_are_physical_lines_and_blank_lines_are_skipped():
    multi_line = ROW.replace(",1,", ',"one\ntwo",', 1)
    content = f'{HEADER},extra\n{ROW},x\n\n,,,,,,,,,,,\n{multi_line},y\n{ROW}\n"broken,x\n'.encode()
    feed = open_feed(content, check_whole_file("moj.csv", content, LIMIT))
    assert isinstance(feed, CsvFeed)
    assert feed.extra_columns == ["extra"]
    records = list(feed.records())
    assert [record.line_number for record in records] == [2, 5, 7, 8]
    assert records[1].raw_text.endswith('"one\ntwo",1,,y')
    assert records[2].values is None and "12" in records[2].problem
    assert records[3].values is None and "quoting" in records[3].problem


def test_nul_character_makes_a_row_malformed():
    content = f"{HEADER}\n{ROW}note\x00\n".encode()
    [record] = list(open_feed(content, check_whole_file("moj.csv", content, LIMIT)).records())
    assert record.values is None and "NUL" in record.problem


def _json(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def test_json_entry_report_date_wins_and_agency_comes_from_the_file():
    content = _json(
        {
            "agency_code": "MOJ",
            "report_date": "2025-12-15",
            "generated_by": "x",
            "databases": [{"database_code": "A", "report_date": "2025-11-01", "extra": 1}, {}],
        }
    )
    feed = open_feed(content, check_whole_file("moj.json", content, LIMIT))
    assert isinstance(feed, JsonFeed)
    first, second = feed.records()
    assert first.values["report_date"] == "2025-11-01"
    assert second.values["report_date"] == "2025-12-15"
    assert second.values["agency_code"] == "MOJ"
    assert (second.line_number, second.location) == (1, "databases[1]")
    assert feed.extra_columns == ["generated_by", "extra"]
    assert feed.new_agency_context().fixed


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"agency_code": "MOJ",\n "databases": [}', "bad_format"),
        (b"[1, 2]", "bad_format"),
        (b'{"agency_code": "MOJ", "databases": {}}', "bad_format"),
        (b'{"databases": [{}]}', "missing_columns"),
        (b'{"agency_code": "MOJ"}', "missing_columns"),
        (b'{"agency_code": "MOJ", "databases": []}', "empty_file"),
        (b"[" * 100_000 + b"]" * 100_000, "bad_format"),
    ],
)
def test_json_file_level_problems(content, reason):
    assert _problem("moj.json", content, limit=10**6).reason_code == reason


def test_json_parse_error_names_the_line():
    assert _problem("moj.json", b'{"agency_code": "MOJ",\n "databases": [}').location == "line 2"


def test_json_entries_that_are_not_objects_or_hold_nul_are_malformed():
    content = b'{"agency_code": "MOJ", "databases": [3, {"notes": "a\\u0000b"}, {"n": "\\ud800"}]}'
    feed = open_feed(content, check_whole_file("moj.json", content, LIMIT))
    assert [record.values for record in feed.records()] == [None, None, None]
