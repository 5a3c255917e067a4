"""The fast path for large CSV files: blocks of whole lines parsed by Arrow, judged by vectorised
rules, and the rows that certainly pass streamed to COPY while the next block is parsed.

Why: a row-by-row judge in Python costs several times a raw COPY. Here the client judges a block
on one core while PostgreSQL COPYs the previous one on the other, so a file loads at close to
the speed of COPY.

Like the set-based SQL path, it only decides which rows are certainly valid, exactly as
validation.py would; every other row is set aside (by line number) for the Python rules, which
explain it. Anything this reading could read differently from Python's csv module and from COPY
(a quote that is not part of a whole quoted field, a record over several lines, a blank line, a
lone carriage return, a NUL byte, invalid UTF-8, a row with the wrong number of fields) raises
NotFast, and the loader takes an exact path instead.
"""

from __future__ import annotations

import codecs
import functools
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from r71_tracker.feeds import contract
from r71_tracker.feeds.readers import FileProblem, decoded_chunks
from r71_tracker.registry import Registry

P = ParamSpec("P")
R = TypeVar("R")
BLOCK_BYTES = 4 * 1024 * 1024
FIRST_BLOCK_BYTES = 256 * 1024  # the first block is small, so the server starts loading sooner
FIRST_BLOCK_BYTES = 256 * 1024  # small, so the server starts loading sooner
# Report dates judged here (others are left to the Python rules): from this day to the day received.
EARLIEST_FAST_DATE = date(1990, 1, 1)
DATE_BITS = 20  # a duplicate key: registry index << DATE_BITS | index of the date
MAX_CACHED_NOTES = 200_000
_NEWLINE, _CR, _QUOTE, _COMMA = 10, 13, 34, 44
# Spellings loaded as sent: PostgreSQL reads each as the boolean the Python rules read.
_BOOLEAN_SPELLINGS = tuple(
    variant
    for spelling in sorted(contract.TRUE_SPELLINGS | contract.FALSE_SPELLINGS)
    for variant in {spelling, spelling.upper(), spelling.title()}
)
# Digits that fit the column whatever they are (a longer number is left to the Python rules).
_MAX_DIGITS = {"record_count": 18, "records_updated_30d": 18, "consumer_agencies": 9}


class _PandasBlocker:
    """An import finder under which `import pandas` fails."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not used by the Arrow path")


_BLOCKER = _PandasBlocker()
_blocker_lock = threading.Lock()
_blocker_users = 0


def _without_pandas(function: Callable[P, R]) -> Callable[P, R]:
    """Run as if pandas were not installed (unless it is imported already).

    pyarrow imports pandas (0.2 s, a tenth of a large file's load) the first time it converts a
    value, only to check whether it is a pandas object; the judge never passes one. pyarrow
    works without pandas and imports it later for callers that ask for pandas objects.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        global _blocker_users
        with _blocker_lock:
            if _blocker_users == 0 and "pandas" not in sys.modules:
                sys.meta_path.insert(0, _BLOCKER)
            _blocker_users += 1
        try:
            return function(*args, **kwargs)
        finally:
            with _blocker_lock:
                _blocker_users -= 1
                if _blocker_users == 0 and _BLOCKER in sys.meta_path:
                    sys.meta_path.remove(_BLOCKER)

    return wrapper


@_without_pandas
def warm_up() -> None:
    """Pay Arrow's first-use costs now: the loader calls this in a thread while it hashes."""
    pc.equal(pa.array(["warm"]), "up")


class NotFast(Exception):
    """This file must take an exact path; nothing the fast path did may be kept."""


@dataclass
class BlockVerdict:
    """A block judged: COPY text of its certainly valid rows, and what the loader must finish."""

    copy_text: bytes
    rows: int
    loaded: int  # rows in copy_text
    set_aside: list[int]


class FastCsvJudge:
    """Judges the blocks of one CSV file whose reporting agency is known."""

    @_without_pandas
    def __init__(
        self,
        columns: list[str],
        registry: Registry,
        agency: str,
        received_day: date,
        file_id: int,
    ) -> None:
        if any(name not in contract.FIELDS for name in columns):
            raise NotFast("columns outside the contract")
        self.columns = columns
        self.position = {name: index for index, name in enumerate(columns)}
        self.agency = agency
        self.file_id = file_id
        owned = sorted(code for code, owner in registry.database_owners.items() if owner == agency)
        self.database_index = {code: index for index, code in enumerate(owned)}
        self.owned = pa.array(owned, pa.string())
        days = max((received_day - EARLIEST_FAST_DATE).days + 1, 0)
        if days >= 1 << DATE_BITS:
            raise NotFast("the received day is out of the fast date range")
        dates = [(EARLIEST_FAST_DATE + timedelta(days=day)).isoformat() for day in range(days)]
        self.dates = pa.array(dates, pa.string())
        self.date_index = {value: index for index, value in enumerate(dates)}
        self.clean_notes: dict[str, bool] = {}
        self._keys: list[np.ndarray] = []  # duplicate keys of the loaded rows, per block
        self._line_head = b"\n%d,%%d," % file_id  # "\n<file id>,<line>," before each line
        self._names = [f"c{index}" for index in range(len(columns))]
        self._read = pa_csv.ReadOptions(column_names=self._names, use_threads=False)
        self._parse = pa_csv.ParseOptions(newlines_in_values=False)
        self._convert = pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in self._names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=False,
        )

    def repeats_a_key(self) -> bool:
        """After the last block: whether two loaded rows share a (database, report date) key."""
        keys = np.sort(np.concatenate(self._keys)) if self._keys else np.empty(0, np.int64)
        self._keys = [keys]
        return bool((keys[1:] == keys[:-1]).any())

    def loaded_key(self, database_code: str, report_date: str) -> bool:
        """After repeats_a_key(): whether a loaded row has this (database, ISO date) key."""
        database = self.database_index.get(database_code)
        day = self.date_index.get(report_date)
        if database is None or day is None:
            return False
        keys = self._keys[0]
        index = int(np.searchsorted(keys, database << DATE_BITS | day))
        return index < len(keys) and int(keys[index]) == database << DATE_BITS | day

    @_without_pandas
    def judge(self, block: bytes, first_line: int) -> BlockVerdict:
        """Judge a block of whole lines (ending in a newline) whose first line is `first_line`."""
        _check_line_structure(block)
        try:
            table = pa_csv.read_csv(
                pa.py_buffer(block),
                read_options=self._read,
                parse_options=self._parse,
                convert_options=self._convert,
            )
        except pa.ArrowException as error:
            raise NotFast(f"Arrow cannot read the block ({error})") from None
        lines = block.split(b"\n")
        lines.pop()  # after the last newline: nothing
        if table.num_rows != len(lines):
            raise NotFast("Arrow read a different number of rows")
        field = {name: table.column(self.position[name]) for name in self.columns}
        database_index = pc.index_in(field["database_code"], value_set=self.owned)
        date_index = pc.index_in(field["report_date"], value_set=self.dates)
        ok = pc.and_(pc.equal(field["agency_code"], self.agency), pc.is_valid(database_index))
        ok = pc.and_(ok, pc.is_valid(date_index))
        for name, allowed in contract.ENUM_VALUES.items():
            ok = pc.and_(ok, pc.is_in(field[name], value_set=pa.array(allowed, pa.string())))
        spellings = pa.array(_BOOLEAN_SPELLINGS, pa.string())
        for name in contract.BOOLEAN_FIELDS:
            ok = pc.and_(ok, pc.is_in(field[name], value_set=spellings))
        for name in contract.INTEGER_FIELDS:
            ok = pc.and_(ok, pc.ascii_is_decimal(field[name]))
            ok = pc.and_(ok, pc.less_equal(pc.binary_length(field[name]), _MAX_DIGITS[name]))
        ok = pc.fill_null(ok, False)
        # Casts of rows already known to be plain digits (the others cast to anything: masked).
        digits = {
            name: pc.cast(pc.if_else(ok, field[name], "0"), pa.int64(), safe=False)
            for name in ("record_count", "records_updated_30d")
        }
        ok = pc.and_(ok, pc.less_equal(digits["records_updated_30d"], digits["record_count"]))
        if "notes" in field:
            ok = pc.and_(ok, self._clean_notes(field["notes"]))
            # a field over the contract's limit is field_too_long: the Python rules say so
            short = pc.less_equal(pc.utf8_length(field["notes"]), contract.MAX_FIELD_CHARS)
            ok = pc.and_(ok, pc.fill_null(short, True))
        mask = ok.to_numpy(zero_copy_only=False)
        self._keys.append(
            (_indexes(database_index)[mask] << DATE_BITS) | _indexes(date_index)[mask]
        )
        if mask.all():
            chosen = lines
            set_aside: list[int] = []
            numbers: Sequence[int] = range(first_line, first_line + len(lines))
        else:
            rows = np.flatnonzero(mask)
            chosen = [lines[row] for row in rows.tolist()]
            numbers = (rows + first_line).tolist()
            set_aside = (np.flatnonzero(~mask) + first_line).tolist()
        # "\n<file id>,<line>," before each chosen line, joined: COPY text with a newline too many
        # at the start and one too few at the end.
        parts: list[bytes] = [b""] * (2 * len(chosen))
        parts[0::2] = map(self._line_head.__mod__, numbers)
        parts[1::2] = chosen
        text = b"".join(parts)[1:] + b"\n" if chosen else b""
        return BlockVerdict(text, len(lines), len(chosen), set_aside)

    def _clean_notes(self, notes: pa.ChunkedArray) -> pa.ChunkedArray:
        """True where notes are absent or already what normalise_text makes of them (NFC, trimmed).

        Judged once per distinct text (notes repeat a lot in history exports); the answers are
        kept for the next blocks.
        """
        cache = self.clean_notes
        unseen = [text for text in pc.unique(notes).to_pylist() if text is not None]
        unseen = [text for text in unseen if text not in cache]
        if len(cache) + len(unseen) > MAX_CACHED_NOTES:
            cache.clear()
        for text in unseen:
            cache[text] = (
                text != "" and text.strip() == text and unicodedata.is_normalized("NFC", text)
            )
        unclean = [text for text, clean in cache.items() if not clean]
        if not unclean:
            return pc.invert(pc.is_in(notes, value_set=pa.array([""], pa.string())))
        return pc.invert(pc.is_in(notes, value_set=pa.array(unclean, pa.string())))


def line_blocks(
    path: Path, feed_format: str, max_bytes: int, advance: Callable[[int], None]
) -> Iterator[bytes]:
    """The data lines of a CSV (BOM and header line dropped) in blocks of whole lines, each
    ending in a newline; NotFast if the header line holds a quote (it could span lines)."""
    pending: list[bytes] = []
    size = blocks = 0
    header_done = False
    try:
        for chunk in decoded_chunks(path, feed_format, max_bytes):
            advance(len(chunk))
            if not header_done:
                chunk = b"".join([*pending, chunk])
                pending, size = [], 0
                if chunk.startswith(codecs.BOM_UTF8):
                    chunk = chunk[len(codecs.BOM_UTF8) :]
                end = chunk.find(b"\n")
                if end < 0:
                    pending, size = [chunk], len(chunk)
                    continue
                if b'"' in chunk[:end]:
                    raise NotFast("a quote in the header line")
                chunk, header_done = chunk[end + 1 :], True
            pending.append(chunk)
            size += len(chunk)
            if size >= (BLOCK_BYTES if blocks else FIRST_BLOCK_BYTES):
                data = b"".join(pending)
                cut = data.rfind(b"\n") + 1
                if cut:
                    yield data[:cut]
                    blocks += 1
                    pending, size = [data[cut:]], len(data) - cut
    except FileProblem as problem:
        raise NotFast(problem.detail) from None
    if not header_done:
        raise NotFast("no data line")
    rest = b"".join(pending)
    if rest:
        yield rest if rest.endswith(b"\n") else rest + b"\n"


def _indexes(indexes: pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(indexes, 0).to_numpy(zero_copy_only=False).astype(np.int64)


def _check_line_structure(block: bytes) -> None:
    """NotFast unless every line is one record that Python's csv module, Arrow and COPY read alike.

    Line endings are LF or CRLF, no NUL byte, and every quote belongs to a whole quoted field:
    counting quotes from the start of each line, an odd one opens a field (after a comma or at
    the line start) or is the second of a doubled quote; an even one closes a field (before a
    comma or the line end) or is the first of a doubled quote. (A blank line is caught after
    parsing: Arrow skips it, so the row count differs from the line count.)
    """
    if b"\x00" in block:
        raise NotFast("a NUL byte")
    if b"\r" in block and block.count(b"\r") != block.count(b"\r\n"):
        raise NotFast("a carriage return that does not end a line")
    if b'"' not in block:
        return
    data = np.frombuffer(block, dtype=np.uint8)
    quotes = np.flatnonzero(data == _QUOTE)
    line_ends = np.flatnonzero(data == _NEWLINE)
    line_of_quote = np.searchsorted(line_ends, quotes)
    first_quote_of_line = np.searchsorted(quotes, np.concatenate(([0], line_ends + 1)))
    order = np.arange(len(quotes)) - first_quote_of_line[line_of_quote]
    before = np.where(quotes > 0, data[quotes - 1], _NEWLINE)
    after = data[quotes + 1]  # a quote is never the block's last byte (a newline is)
    opening = (before == _COMMA) | (before == _NEWLINE) | (before == _QUOTE)
    closing = (after == _COMMA) | (after == _NEWLINE) | (after == _CR) | (after == _QUOTE)
    if not np.where(order % 2 == 0, opening, closing).all():
        raise NotFast("a quote that is not part of a whole quoted field")
    if (np.bincount(line_of_quote) % 2).any():
        raise NotFast("a quoted field that does not end on its line")
