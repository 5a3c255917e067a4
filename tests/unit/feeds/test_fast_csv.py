"""The Arrow path's guard: it may only take lines that Python's csv module and COPY read alike."""

from __future__ import annotations

from datetime import date

import pytest

from r71_tracker.feeds import contract, fast_csv, sql_judge
from r71_tracker.feeds.fast_csv import FastCsvJudge, NotFast, _check_line_structure
from r71_tracker.registry import Registry

REGISTRY = Registry(
    agency_codes=frozenset({"MOJ", "MPS"}),
    database_owners={"MOJ-A": "MOJ", "MOJ-B": "MOJ", "MPS-A": "MPS"},
)
ROW = "2025-12-15,MOJ,{db},operational,centralized,true,true,100,10,2,{notes}\n"


@pytest.mark.parametrize(
    "lines",
    [
        "a,b,c\n",
        'a,"b, with comma",c\n',
        '"a","b ""quoted"" inside",""\n',
        '"",""""\n',
        'a,"b"\r\nc,d\r\n',
    ],
)
def test_whole_quoted_fields_pass(lines):
    _check_line_structure(lines.encode())


@pytest.mark.parametrize(
    "lines",
    [
        'a,b"c,d\n',  # a quote inside an unquoted field (COPY would start quoting there)
        'a,"b"c,d\n',  # text after a closing quote
        'a,"b\nc",d\n',  # a quoted field over two lines
        'a,b""c\n',  # doubled quotes in an unquoted field
        'a,"b""\n',  # the field never closes
        "a,b\rc\n",  # a carriage return inside a line
    ],
)
def test_lines_read_differently_are_refused(lines):
    with pytest.raises(NotFast):
        _check_line_structure(lines.encode())


def _judge() -> FastCsvJudge:
    return FastCsvJudge(list(contract.FIELDS), REGISTRY, "MOJ", date(2025, 12, 16), 7)


def test_certainly_valid_rows_go_to_copy_plain_bad_ones_are_explained_the_rest_set_aside():
    block = (
        ROW.format(db="MOJ-A", notes='"Đã kết nối, ổn định"')
        + ROW.format(db="MPS-A", notes="")  # another agency's database
        + ROW.format(db="MOJ-B", notes=" padded ")  # notes the Python rules trim
    ).encode()
    verdict = _judge().judge(block, 2)
    assert (verdict.rows, verdict.loaded, verdict.set_aside.tolist()) == (3, 1, [4])
    # a plain row the Python rules reject for its database: rejected in bulk, in their words
    rejected = verdict.rejected
    assert (rejected.numbers, rejected.reasons) == ([3], ["agency_mismatch"])
    assert rejected.details == ["database MPS-A is owned by MPS, not MOJ"]
    assert verdict.copy_text == b"7,2," + block.split(b"\n")[0] + b"\n"


def test_lines_of_another_width_are_quarantined_in_bulk_skipped_or_set_aside():
    """Arrow cannot read a line with the wrong number of fields: each is taken out of the block
    first. Blank lines (only commas and ASCII blanks) are skipped, as the Python rules skip them;
    a short line with a character that is certainly not blank is malformed_row and nothing else,
    quarantined in bulk; the Python rules judge the others (here: only non-ASCII text, which may
    be blank to them, and a line longer than the raw excerpt kept)."""
    block = (
        ROW.format(db="MOJ-A", notes="")
        + "\n"
        + ", ,\t,\r\n"
        + "x\n"
        + 'a,"b, c"\r\n'
        + "\u00a0\n"
        + "y" * (contract.RAW_EXCERPT_CHARS + 1)
        + "\n"
        + ROW.format(db="MOJ-B", notes="")
    ).encode()
    verdict = _judge().judge(block, 2)
    assert (verdict.rows, verdict.loaded, verdict.set_aside.tolist()) == (8, 2, [7, 8])
    rejected = verdict.rejected
    assert (rejected.numbers, rejected.texts) == ([5, 6], [b"x", b'a,"b, c"'])
    assert rejected.details == ["1 fields, the header has 11", "2 fields, the header has 11"]
    lines = block.split(b"\n")
    assert verdict.copy_text == b"7,2," + lines[0] + b"\n7,9," + lines[7] + b"\n"


def test_lines_with_a_nul_go_to_the_python_rules_unless_quoted():
    """A NUL (also the stand-in line_blocks puts for a line too long to hold) sets the line aside;
    with quotes it could start a record the Python reader reads over several lines: NotFast."""
    verdict = _judge().judge(ROW.format(db="MOJ-A", notes="").encode() + b"a,b\x00c\n\x00\n", 2)
    assert (verdict.rows, verdict.loaded, verdict.set_aside.tolist()) == (3, 1, [3, 4])
    with pytest.raises(NotFast):
        _judge().judge(b'a,"b\x00\n', 2)


def test_a_line_too_long_to_hold_is_dropped_as_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(fast_csv, "OVERLONG_LINE_BYTES", 1000)
    monkeypatch.setattr(fast_csv, "FIRST_BLOCK_BYTES", 10)
    path = tmp_path / "moj.csv"
    big = 3 * 1024 * 1024  # more than a chunk read: a line within one is held (1 MiB at most)
    path.write_bytes(b"h\r\na\n" + b"x" * big + b"\nb\n" + b"y" * big)
    blocks = list(fast_csv.line_blocks(path, "csv", 10**9, lambda _: None))
    assert b"".join(block for block, _ in blocks) == b"a\n\x00\nb\n\x00\n"
    assert sum(lines for _, lines in blocks) == 4


def test_a_block_of_only_bad_lines_needs_no_arrow():
    verdict = _judge().judge(b"x\n\ny\n", 2)
    assert (verdict.rows, verdict.loaded, verdict.copy_text) == (3, 0, b"")
    assert verdict.rejected.numbers == [2, 4]


def test_repeated_keys_are_found_across_blocks():
    judge = _judge()
    judge.judge(ROW.format(db="MOJ-A", notes="").encode(), 2)
    judge.judge(ROW.format(db="MOJ-A", notes="").encode(), 3)
    assert judge.repeats_a_key()


def test_a_key_loaded_is_known_to_the_set_aside_rows():
    judge = _judge()
    judge.judge(ROW.format(db="MOJ-A", notes="").encode(), 2)
    assert not judge.repeats_a_key()
    assert judge.loaded_key("MOJ-A", "2025-12-15")
    assert not judge.loaded_key("MOJ-B", "2025-12-15")


def test_python_whitespace_list_is_every_isspace_character():
    expected = "".join(chr(code) for code in range(0x110000) if chr(code).isspace())
    assert sql_judge.PYTHON_WHITESPACE == expected


def test_the_arrow_path_never_imports_pandas():
    """pyarrow imports pandas (0.16 s, a tenth of a large file's load) on its first conversion
    of a Python value unless the judge keeps it out: a module-level array once brought it back."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from datetime import date\n"
        "from r71_tracker.feeds import contract, fast_csv\n"
        "from r71_tracker.registry import Registry\n"
        "registry = Registry(agency_codes=frozenset({'MOJ'}), database_owners={'MOJ-A': 'MOJ'})\n"
        "columns = list(contract.FIELDS)\n"
        "judge = fast_csv.FastCsvJudge(columns, registry, 'MOJ', date(2025, 12, 16), 7)\n"
        f"judge.judge({ROW.format(db='MOJ-A', notes='x').encode()!r} + b'x\\n', 2)\n"
        "print('pandas' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.strip() == "False"
