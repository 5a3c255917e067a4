"""Whole-file checks and record readers, on bytes built in the test (no database)."""

from __future__ import annotations

import codecs
import gzip
import hashlib
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


# -- JSON, streamed: read in bounded memory, answering as json.loads did ---------------------------


def _json_feed(content: bytes, name: str = "moj.json") -> JsonFeed:
    feed = open_feed(content, check_whole_file(name, content, 10**9))
    assert isinstance(feed, JsonFeed)
    return feed


def _entries(entries: list, **top) -> bytes:
    return _json({"agency_code": "MOJ", "report_date": "2025-12-15", **top, "databases": entries})


def test_json_is_parsed_by_the_c_backend_of_ijson():
    import ijson

    assert ijson.backend == "yajl2_c"


def test_json_keys_in_any_order_and_records_read_again_each_time():
    content = (
        b'{"databases": [{"database_code": "A", "x": 1}, {"database_code": "B", "y": 2}],'
        b' "generated_by": "tool", "report_date": "2025-12-01", "agency_code": "MOJ"}'
    )
    feed = _json_feed(content)
    assert (feed.agency, feed.report_date, feed.kind) == ("MOJ", "2025-12-01", contract.STATUS_FEED)
    assert feed.extra_columns == ["generated_by", "x", "y"]
    first, again = list(feed.records()), list(feed.records())
    assert first == again and [record.values["database_code"] for record in first] == ["A", "B"]
    assert not hasattr(feed, "entries")


def test_json_gzip_with_bom_is_streamed():
    content = gzip.compress(codecs.BOM_UTF8 + _entries([{"database_code": "A"}] * 3))
    feed = _json_feed(content, "moj.json.gz")
    assert [record.location for record in feed.records()] == [f"databases[{i}]" for i in range(3)]


def test_json_numbers_are_what_json_loads_gave():
    """Integers of more than 19 digits stay text (bad_integer, not a crash: yajl itself would
    crash the process on 4,300 digits or more); other numbers are int or float."""
    digits = "9" * 5_000
    content = (
        b'{"agency_code": "MOJ", "databases": [{"a": 9223372036854775807, "b": -'
        + b"1" * 20
        + b', "c": '
        + digits.encode()
        + b', "d": 5.0, "e": 1e400, "f": -0, "g": 1.5}]}'
    )
    [record] = _json_feed(content).records()
    assert record.values is not None
    values = {key: record.values[key] for key in "abcdefg"}
    assert values == {
        "a": 2**63 - 1,
        "b": "-" + "1" * 20,
        "c": digits,
        "d": 5.0,
        "e": float("inf"),
        "f": 0,
        "g": 1.5,
    }
    assert [type(values[key]) for key in "adfg"] == [int, float, int, float]
    assert record.raw_text == json.dumps(values)  # the big integers quoted, as json.loads kept them


def test_json_unicode_escapes_come_back_exactly():
    """yajl turns a lone surrogate escape into '?': it is handed over as U+FFFF and put back,
    so the entry is still malformed_row, with the text json.loads gave."""
    content = (
        b'{"agency_code": "MOJ", "databases": ['
        b'{"notes": "a\\ud800b"}, {"notes": "\\ud83d\\ude00 \\uffff \xef\xbf\xbf \\\\ud800"},'
        b'{"n\\udc00": 1}, {"notes": "\\ud83d\\ud83d\\ude00"}]}'
    )
    first, second, third, fourth = _json_feed(content).records()
    assert first.values is None and first.raw_text == '{"notes": "a\ud800b"}'
    assert second.values is not None
    assert second.values["notes"] == "\U0001f600 \uffff \uffff \\ud800"
    assert third.values is None and third.raw_text == '{"n\udc00": 1}'
    assert fourth.values is None and fourth.raw_text == '{"notes": "\ud83d\U0001f600"}'


def test_json_deeply_nested_is_bad_format_quickly():
    depth = 1_000_000
    content = b'{"agency_code": "MOJ", "databases": [' + b"[" * depth + b"]" * depth + b"]}"
    problem = _problem("moj.json", content, limit=10**7)
    assert problem.reason_code == "bad_format" and "nested too deeply" in problem.detail


def test_json_parse_errors_name_the_line_far_into_the_file():
    entry = json.dumps({"database_code": "MOJ-CIVIL-STATUS", "notes": "x" * 100})
    lines = ['{"agency_code": "MOJ", "databases": [', *([entry + ","] * 5_000), "{]}"]
    content = "\n".join(lines).encode()
    assert len(content) > 5 * 64 * 1024
    problem = _problem("moj.json", content, limit=10**7)
    assert (problem.reason_code, problem.location) == ("bad_format", f"line {len(lines)}")
    truncated = _problem("moj.json", b'{"agency_code": "MOJ",\n "databases": [{"notes": "abc\n')
    assert (truncated.reason_code, truncated.location) == ("bad_format", "line 2")
    assert "ends inside a string" in truncated.detail
    garbage = _problem("moj.json", b'{"agency_code": "MOJ", "databases": [{}]}\n"x')
    assert (garbage.reason_code, garbage.location) == ("bad_format", "line 2")


def test_json_repeated_list_key_keeps_the_last_list_like_json_loads():
    content = b'{"agency_code": "MOJ", "databases": [{"a": 1}], "databases": [{"b": 2}, {"c": 3}]}'
    feed = _json_feed(content)
    assert [record.raw_text for record in feed.records()] == ['{"b": 2}', '{"c": 3}']
    assert feed.extra_columns == ["b", "c"]


def _evidence(text: str) -> tuple[str, int, str]:
    return (
        text[: contract.RAW_EXCERPT_CHARS],
        len(text),
        hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


@pytest.mark.parametrize(
    "notes", ["é" * (contract.MAX_FIELD_CHARS + 1), "x\\n" * 700_000, "\\ud83d\\ude00" * 70_000]
)
def test_json_value_over_the_field_limit_rejects_its_entry_with_exact_bounded_evidence(notes):
    """A value longer than 65,536 characters: its entry is field_too_long (the CSV rule), with
    the first 4,096 characters of json.dumps(entry), its length and SHA-256, however long the
    value (one over _LONG_TOKEN_BYTES is never held: read a piece at a time); the next loads."""
    row = {"database_code": "MOJ-CIVIL-STATUS", "record_count": 1}
    content = (
        b'{"agency_code": "MOJ", "databases": [{"database_code": "MOJ-CIVIL-STATUS", "notes": "'
        + notes.encode()
        + b'", "record_count": 1}, '
        + _json(row)
        + b"]}"
    )
    entry = json.loads(content)["databases"][0]
    long, short = _json_feed(content).records()
    assert (long.values, long.problem_code) == (None, contract.FIELD_TOO_LONG)
    assert (long.raw_text, long.raw_chars, long.raw_sha256) == _evidence(
        json.dumps(entry, ensure_ascii=False)
    )
    assert short.values is not None and short.line_number == 1


def test_json_entry_over_the_entry_limit_and_long_integer_are_field_too_long():
    many = {f"k{number}": "v" * 1_000 for number in range(2_000)}  # 2 MB, each value short
    digits = "7" * 1_000_000  # an integer too long to hand to the parser: kept as its digits
    content = _entries([many])[:-2] + b', {"record_count": ' + digits.encode() + b"}, {}]}"
    first, second, third = _json_feed(content).records()
    assert first.problem_code == second.problem_code == contract.FIELD_TOO_LONG
    assert (first.raw_text, first.raw_chars, first.raw_sha256) == _evidence(
        json.dumps(many, ensure_ascii=False)
    )
    assert (second.raw_text, second.raw_chars, second.raw_sha256) == _evidence(
        json.dumps({"record_count": digits})
    )
    assert third.values is not None


@pytest.mark.parametrize(
    "content",
    [
        b'{"agency_code": "MOJ", "generated_by": "' + b"x" * 70_000 + b'", "databases": [{}]}',
        b'{"agency_code": "' + b"x" * 1_000_000 + b'", "databases": [{}]}',
        b'{"agency_code": "MOJ", "databases": [{"a": 1.' + b"5" * 70_000 + b"}]}",
    ],
)
def test_json_text_or_number_too_long_outside_an_entry_is_bad_format(content):
    problem = _problem("moj.json", content, limit=10**7)
    assert problem.reason_code == "bad_format"
    assert f"{contract.MAX_FIELD_CHARS:,}" in problem.detail
