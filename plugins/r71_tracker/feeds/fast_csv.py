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
import csv
import functools
import itertools
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from r71_tracker.feeds import contract, validation
from r71_tracker.feeds.readers import FileProblem, RawText, csv_record, decoded_chunks
from r71_tracker.feeds.validation import AgencyContext, RawRecord, RowProblem
from r71_tracker.registry import Registry

P = ParamSpec("P")
R = TypeVar("R")
BLOCK_BYTES = 4 * 1024 * 1024
FIRST_BLOCK_BYTES = 256 * 1024  # the first block is small, so the server starts loading sooner
OVERLONG_LINE_BYTES = 4 * contract.MAX_LINE_CHARS  # certainly over it: 4 bytes a character at most
BLOCK_LINES = 131_072  # and a block has at most this many lines (a valid 4 MB block: 40,000)
# A text whose normalised form is itself and that the rules' messages quote as it is.
_PLAIN_TEXT = "^[A-Za-z0-9_.:/+-]{1,40}$"
# The agency and database rules, in the order the Python rules check them (_explain).
_NO_REGISTRY_RULE, _UNKNOWN_AGENCY, _ANOTHER_AGENCY, _UNKNOWN_DATABASE, _OWNED_BY_ANOTHER = range(5)
_TEXT_FIELDS = ("agency_code", "database_code", "report_date", "platform_status", "data_status")
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
class BulkRejections:
    """Rows rejected without a Python reading each, with the reason and detail the Python rules
    give them: lines with the wrong number of fields (malformed_row), and plain rows that break
    an agency, database, date, status or boolean rule. `texts` are the lines as sent, without
    their line ending (each at most RAW_EXCERPT_CHARS bytes: the evidence is the whole line)."""

    numbers: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    texts: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.numbers)

    def extend(self, other: BulkRejections) -> None:
        self.numbers += other.numbers
        self.reasons += other.reasons
        self.details += other.details
        self.texts += other.texts


@dataclass
class BlockVerdict:
    """A block judged: COPY text of its certainly valid rows, and what the loader must finish."""

    copy_text: bytes
    rows: int  # the block's lines
    loaded: int  # rows in copy_text
    set_aside: np.ndarray  # line numbers, ascending, for the Python rules
    rejected: BulkRejections


class FastCsvJudge:
    """Judges the blocks of one CSV file whose reporting agency is known."""

    @_without_pandas
    def __init__(
        self,
        columns: list[str],
        registry: Registry,
        agency: str | None,
        received_day: date,
        file_id: int,
        agency_at: str | None = None,
    ) -> None:
        if any(name not in contract.FIELDS for name in columns):
            raise NotFast("columns outside the contract")
        self.columns = columns
        self.position = {name: index for index, name in enumerate(columns)}
        self.agency, self.agency_at = agency, agency_at  # the file's, and where it is set
        self.registry = registry
        self.received_day = received_day
        self._agency_codes = pa.array(sorted(registry.agency_codes), pa.string())
        words = sorted(contract.TRUE_SPELLINGS | contract.FALSE_SPELLINGS)
        self._boolean_words = pa.array(words, pa.string())  # any case, once lower-cased
        databases = sorted(registry.database_owners)
        self._databases = pa.array(databases, pa.string())
        self._owners = pa.array([registry.database_owners[code] for code in databases], pa.string())
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
        self._rejected_keys: list[np.ndarray] = []  # of rows rejected in bulk that matter
        self._file_head = pa.scalar(b"%d," % file_id, pa.binary())
        self._comma = pa.scalar(b",", pa.binary())
        self._names = [f"c{index}" for index in range(len(columns))]
        self._read = pa_csv.ReadOptions(column_names=self._names, use_threads=False)
        self._parse_options = pa_csv.ParseOptions(newlines_in_values=False)
        self._convert = pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in self._names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=False,
        )

    def repeats_a_key(self) -> bool:
        """After the last block: whether two loaded rows share a (database, report date) key, or
        a loaded row shares one with a row rejected in bulk (the Python rules would reject it as
        a duplicate). The rejected rows' keys then count as loaded ones for loaded_key."""
        rejected = np.unique(np.concatenate([np.empty(0, np.int64), *self._rejected_keys]))
        keys = np.sort(np.concatenate([np.empty(0, np.int64), *self._keys, rejected]))
        self._keys, self._rejected_keys = [keys], []
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
    def judge(self, block: bytes, first_line: int, lines: int | None = None) -> BlockVerdict:
        """Judge a block of whole lines (ending in a newline; `lines` of them, if counted
        already) whose first line is `first_line`.

        Lines are sorted by what they certainly are: certainly valid (Arrow and the vectorised
        rules), rejected in bulk (the wrong number of fields; plain values the rules reject),
        blank (only commas and ASCII blanks: the Python rules skip them), or anything else, set
        aside by line number for the Python rules. Arrow reads the block first; only when it
        cannot (another number of fields) or skips a line (an empty one) are the lines sorted by
        vectorised passes over the block's bytes, and the others read again."""
        rows = block.count(b"\n") if lines is None else lines
        numbers = np.arange(first_line, first_line + rows, dtype=np.int64)
        set_aside = np.empty(0, np.int64)
        if b"\x00" in block:  # a line with a NUL (or an overlong line's stand-in): the rules say
            data, newlines, starts = _line_bounds(block)
            nul = _any_per_line(data == 0, starts)
            if (nul & _any_per_line(data == _QUOTE, starts)).any():
                raise NotFast("a NUL byte in a line with quotes")
            set_aside = numbers[nul]
            block = data[np.repeat(~nul, newlines - starts + 1)].tobytes()
            numbers = numbers[~nul]
        _check_line_structure(block)
        rejected = BulkRejections()
        table = self._parse(block)
        if table is None or table.num_rows != len(numbers):
            data, newlines, starts = _line_bounds(block)
            ends = newlines - (data[np.maximum(newlines - 1, 0)] == _CR)  # without the ending
            # blank: only commas and ASCII blanks (a line that starts otherwise is not)
            blank = _BLANK_BYTES[data[starts]] & (ends - starts <= contract.MAX_FIELD_CHARS)
            if blank.any():
                blank &= ~_any_per_line(~_BLANK_BYTES[data], starts)
            width = len(self.columns)
            widths = np.where(blank, width, field_counts(block, starts))
            rejected, wrong_aside = _wrong_width_lines(
                block, data, (starts, ends), numbers, widths, width
            )
            set_aside = np.union1d(set_aside, wrong_aside)
            keep = ~(blank | (widths != width))
            block = data[np.repeat(keep, newlines - starts + 1)].tobytes()
            numbers = numbers[keep]
            table = self._parse(block)
            if block and (table is None or table.num_rows != len(numbers)):
                raise NotFast("Arrow reads the lines of the header's width differently")
        if table is None or not block:
            return BlockVerdict(b"", rows, 0, set_aside, rejected)
        # The lines as an Arrow array over the block's bytes (each with its newline), no copy.
        _, newlines, starts = _line_bounds(block)
        offsets = np.append(starts, len(block)).astype(np.int32)
        kept_lines: pa.BinaryArray = pa.Array.from_buffers(
            pa.binary(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(block)]
        )
        mask, explained = self._certainly_valid(table, kept_lines, numbers)
        rejected.extend(explained)
        chosen_numbers = numbers
        if not mask.all():
            judged_in_bulk = np.array(explained.numbers, dtype=np.int64)
            set_aside = np.union1d(set_aside, np.setdiff1d(numbers[~mask], judged_in_bulk))
            kept_lines, chosen_numbers = kept_lines.filter(pa.array(mask)), numbers[mask]
        # "<file id>,<line>," before each chosen line: the COPY text, built by Arrow.
        text = b""
        if len(chosen_numbers):
            heads = pc.cast(pc.cast(pa.array(chosen_numbers), pa.string()), pa.binary())
            text = _concatenated(
                pc.binary_join_element_wise(self._file_head, heads, self._comma, kept_lines, b"")
            )
        return BlockVerdict(text, rows, len(chosen_numbers), set_aside, rejected)

    def _parse(self, block: bytes) -> pa.Table | None:
        """The block's lines as columns of text (None when Arrow cannot read it)."""
        if not block:
            return None
        try:
            return pa_csv.read_csv(
                pa.py_buffer(block),
                read_options=self._read,
                parse_options=self._parse_options,
                convert_options=self._convert,
            )
        except pa.ArrowException:
            return None

    def _certainly_valid(
        self, table: pa.Table, lines: pa.BinaryArray, numbers: np.ndarray
    ) -> tuple[np.ndarray, BulkRejections]:
        """Which lines of a block (each with the header's number of fields, as parsed in `table`)
        certainly pass every rule (their duplicate keys kept for repeats_a_key), and the others
        that _explain can reject in bulk."""
        field = {name: table.column(self.position[name]) for name in self.columns}
        database_index = pc.index_in(field["database_code"], value_set=self.owned)
        date_index = pc.index_in(field["report_date"], value_set=self.dates)
        ok = pc.and_(pc.equal(field["agency_code"], self.agency or ""), pc.is_valid(database_index))
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
        mask: np.ndarray = ok.to_numpy(zero_copy_only=False)
        keys = (_indexes(database_index) << DATE_BITS) | _indexes(date_index)
        if mask.all():
            self._keys.append(keys)
            return mask, BulkRejections()
        self._keys.append(keys[mask])
        owned = pc.is_valid(database_index).to_numpy(zero_copy_only=False)
        in_range = pc.is_valid(date_index).to_numpy(zero_copy_only=False)
        explained = self._explain(table, lines, numbers, ~mask, (keys, owned, in_range))
        return mask, explained

    def _explain(
        self,
        table: pa.Table,
        lines: pa.BinaryArray,
        numbers: np.ndarray,
        not_valid: np.ndarray,
        keys: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> BulkRejections:
        """The rows that are not certainly valid and are plain (a short line, every required
        text plain ASCII as _PLAIN_TEXT says, so normalising changes nothing, and the counts
        present) that break an agency, database, date, status or boolean rule, with the reason
        and detail of the Python rules themselves (validation.check_texts, check_status_enums,
        parse_boolean), without a second reading of the line. The others are left to the Python
        rules. A rejected row's key matters when a valid row could share it (a database of the
        file's agency, a date up to the day received: that row is a duplicate): such keys join
        the loaded ones (repeats_a_key, loaded_key); a row whose key the arrays cannot hold (a
        date before EARLIEST_FAST_DATE) is left to the Python rules."""
        rejected = BulkRejections()
        rows = np.flatnonzero(not_valid)  # usually few: the checks below read only these
        # a line (its newline too) short enough that its evidence is the whole line
        length = pc.binary_length(lines.take(rows)).to_numpy(zero_copy_only=False)
        rows = rows[length <= contract.RAW_EXCERPT_CHARS + 1]
        names = (*_TEXT_FIELDS, *contract.BOOLEAN_FIELDS)
        checks = [(name, _PLAIN_TEXT) for name in names]
        checks += [(name, "[!-~]") for name in contract.INTEGER_FIELDS]  # present: not blank
        for name, pattern in checks:
            if not len(rows):
                return rejected
            column = table.column(self.position[name]).take(rows)
            matches = pc.match_substring_regex(column, pattern)
            rows = rows[pc.fill_null(matches, False).to_numpy(zero_copy_only=False)]
        if not len(rows):
            return rejected
        kept_keys: list[int] = []
        by_registry = self._agency_or_database_rule(table, rows)
        if self.agency is None and (by_registry != _UNKNOWN_AGENCY).any():
            raise NotFast("a registered agency where none was found")
        # Rows an agency or database rule rejects: which one, found in bulk; its words, the
        # rules' own. The others: the rules in order on the row's texts.
        broken = rows[by_registry != _NO_REGISTRY_RULE]
        agencies, databases = (
            table.column(self.position[name]).take(broken).to_pylist()
            for name in ("agency_code", "database_code")
        )
        context = AgencyContext(self.agency, self.agency_at, fixed=True)
        problems = [
            self._registry_problem(rule, agency, database, context)
            for rule, agency, database in zip(
                by_registry[by_registry != _NO_REGISTRY_RULE].tolist(),
                agencies,
                databases,
                strict=True,
            )
        ]
        self._keep(rejected, kept_keys, table, lines, numbers, keys, broken, problems)
        others = rows[by_registry == _NO_REGISTRY_RULE]
        others = others[~self._passes_date_status_boolean(table, others, keys[2])]
        values = zip(
            *(table.column(self.position[name]).take(others).to_pylist() for name in names),
            strict=True,
        )
        answers: list[tuple[str, str] | None] = []
        for number, fields in zip(numbers[others].tolist(), values, strict=True):
            texts = dict(zip(names, fields, strict=True))
            try:
                validation.check_texts(
                    texts, self.registry, self.received_day, context, f"line {number}"
                )
                validation.check_status_enums(texts)
                for name in contract.BOOLEAN_FIELDS:
                    validation.parse_boolean(texts[name], name)
                answers.append(None)  # broken further on (counts, notes): the rules say how
            except RowProblem as problem:
                answers.append((problem.reason_code, problem.detail))
        self._keep(rejected, kept_keys, table, lines, numbers, keys, others, answers)
        self._rejected_keys.append(np.array(kept_keys, dtype=np.int64))
        return rejected

    def _agency_or_database_rule(self, table: pa.Table, rows: np.ndarray) -> np.ndarray:
        """For each row (plain texts), the first agency or database rule it breaks, as the Python
        rules check them (validation._check_agency): _UNKNOWN_AGENCY, _ANOTHER_AGENCY,
        _UNKNOWN_DATABASE, _OWNED_BY_ANOTHER, or _NO_REGISTRY_RULE."""
        agency = table.column(self.position["agency_code"]).take(rows)
        database = table.column(self.position["database_code"]).take(rows)
        registered = pc.is_in(agency, value_set=self._agency_codes).to_numpy(zero_copy_only=False)
        same = pc.equal(agency, self.agency or "").to_numpy(zero_copy_only=False)
        at = pc.index_in(database, value_set=self._databases)
        known = pc.is_valid(at).to_numpy(zero_copy_only=False)
        owner = pc.take(self._owners, pc.fill_null(at, 0))
        owned = pc.equal(owner, agency).to_numpy(zero_copy_only=False)
        return np.select(
            [~registered, ~same, ~known, ~owned],
            [_UNKNOWN_AGENCY, _ANOTHER_AGENCY, _UNKNOWN_DATABASE, _OWNED_BY_ANOTHER],
            _NO_REGISTRY_RULE,
        )

    def _passes_date_status_boolean(
        self, table: pa.Table, rows: np.ndarray, in_range: np.ndarray
    ) -> np.ndarray:
        """Which rows certainly pass the date, status and boolean rules (a date from
        EARLIEST_FAST_DATE to the day received, the contract's words, a boolean spelling in any
        case): those break a later rule (counts, notes), which only the Python rules explain."""
        passes = in_range[rows]
        for name, allowed in contract.ENUM_VALUES.items():
            column = table.column(self.position[name]).take(rows)
            passes &= pc.is_in(column, value_set=pa.array(allowed, pa.string())).to_numpy(
                zero_copy_only=False
            )
        for name in contract.BOOLEAN_FIELDS:
            column = pc.utf8_lower(table.column(self.position[name]).take(rows))
            words = self._boolean_words
            passes &= pc.is_in(column, value_set=words).to_numpy(zero_copy_only=False)
        result: np.ndarray = passes
        return result

    def _registry_problem(
        self, rule: int, agency: str, database: str, context: AgencyContext
    ) -> tuple[str, str]:
        """The reason and detail of the agency or database rule `rule`, in the rules' words."""
        if rule == _UNKNOWN_AGENCY:
            return validation.unknown_agency(agency)
        if rule == _ANOTHER_AGENCY:
            return validation.another_agency(agency, context)
        if rule == _UNKNOWN_DATABASE:
            return validation.unknown_database(database)
        return validation.owned_by_another(
            database, self.registry.database_owners[database], agency
        )

    def _keep(
        self,
        rejected: BulkRejections,
        kept_keys: list[int],
        table: pa.Table,
        lines: pa.BinaryArray,
        numbers: np.ndarray,
        keys: tuple[np.ndarray, np.ndarray, np.ndarray],
        rows: np.ndarray,
        problems: Sequence[tuple[str, str] | None],
    ) -> None:
        """The rows with a problem, rejected in bulk, unless their key could be a valid row's
        and the arrays cannot hold it (then the Python rules decide): see _explain."""
        row_keys, owned, in_range = (array[rows].tolist() for array in keys)
        dates = table.column(self.position["report_date"]).take(rows).to_pylist()
        for row, number, problem, key, of_agency, dated, report_date in zip(
            rows.tolist(),
            numbers[rows].tolist(),
            problems,
            row_keys,
            owned,
            in_range,
            dates,
            strict=True,
        ):
            if problem is None:
                continue
            if of_agency and dated:
                kept_keys.append(key)
            elif of_agency:
                day = validation.parse_date(report_date)
                if day is not None and day <= self.received_day:
                    continue  # its key could be a valid row's: the Python rules decide
            line = lines[row].as_py()[:-1]  # without its newline
            rejected.numbers.append(number)
            rejected.reasons.append(problem[0])
            rejected.details.append(problem[1])
            rejected.texts.append(line[:-1] if line.endswith(b"\r") else line)

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
) -> Iterator[tuple[bytes, int]]:
    """The data lines of a CSV (BOM and header line dropped) in blocks of whole lines, each
    ending in a newline, with their number of lines; NotFast if the header line holds a quote
    (it could span lines).

    A line longer than OVERLONG_LINE_BYTES is never held: it is longer than the Python rules
    read (field_too_long, whatever it holds), so its bytes are dropped as they come and a NUL
    stands in for it, which sends it to the Python rules, which read it in bounded pieces.
    """
    pending: list[bytes] = []
    size = blocks = 0
    tail = 0  # bytes of the pending line not yet ended
    overlong = False  # inside a line being dropped
    for chunk in _data_chunks(path, feed_format, max_bytes, advance):
        if overlong:
            end = chunk.find(b"\n")
            if end < 0:
                continue
            pending.append(b"\x00\n")
            size += 2
            chunk, overlong = chunk[end + 1 :], False
        last = chunk.rfind(b"\n")
        tail = tail + len(chunk) if last < 0 else len(chunk) - last - 1
        if tail > OVERLONG_LINE_BYTES:  # keep the lines before it, drop it
            if last >= 0:
                pending.append(chunk[: last + 1])
            data = b"".join(pending)
            cut = data.rfind(b"\n") + 1
            pending, size, tail, overlong = [data[:cut]], cut, 0, True
            continue
        pending.append(chunk)
        size += len(chunk)
        if size >= (BLOCK_BYTES if blocks else FIRST_BLOCK_BYTES):
            data = b"".join(pending)
            cut = data.rfind(b"\n") + 1
            if cut:
                yield from _at_most_block_lines(data[:cut])
                blocks += 1
                pending, size = [data[cut:]], len(data) - cut
    if overlong:
        pending.append(b"\x00\n")
    rest = b"".join(pending)
    if rest:
        yield from _at_most_block_lines(rest if rest.endswith(b"\n") else rest + b"\n")


def _data_chunks(
    path: Path, feed_format: str, max_bytes: int, advance: Callable[[int], None]
) -> Iterator[bytes]:
    """The decoded bytes after the header line (and a BOM); NotFast for a quote in the header,
    no data line, or anything the exact path must explain (too large, not gzip)."""
    pending = b""
    header_done = False
    try:
        for chunk in decoded_chunks(path, feed_format, max_bytes):
            advance(len(chunk))
            if header_done:
                yield chunk
                continue
            pending += chunk
            if pending.startswith(codecs.BOM_UTF8):
                pending = pending[len(codecs.BOM_UTF8) :]
            end = pending.find(b"\n")
            if end < 0:
                if len(pending) > OVERLONG_LINE_BYTES:
                    raise NotFast("an overlong header line")
                continue
            if b'"' in pending[:end]:
                raise NotFast("a quote in the header line")
            header_done = True
            yield pending[end + 1 :]
            pending = b""
    except FileProblem as problem:
        raise NotFast(problem.detail) from None
    if not header_done:
        raise NotFast("no data line")


def _at_most_block_lines(block: bytes) -> Iterator[tuple[bytes, int]]:
    """A block (with its number of lines) cut into blocks of at most BLOCK_LINES lines: a block
    is judged with a few arrays of one number per line, so 4 MB of two-byte lines must not be
    one block."""
    lines = block.count(b"\n")
    if lines <= BLOCK_LINES:
        yield block, lines
        return
    newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == _NEWLINE)
    cuts = [0, *(newlines[BLOCK_LINES - 1 :: BLOCK_LINES] + 1).tolist()]
    if cuts[-1] != len(block):
        cuts.append(len(block))
    del newlines
    for start, end in itertools.pairwise(cuts):
        yield block[start:end], min(BLOCK_LINES, lines)
        lines -= BLOCK_LINES


@_without_pandas
def file_agency(
    path: Path,
    feed_format: str,
    columns: list[str],
    max_bytes: int,
    registry: Registry,
    agency_of: Callable[[RawRecord], str | None],
) -> tuple[str | None, str | None]:
    """The file's agency as the Python rules set it, and where: `agency_of` the first record
    with the header's number of fields that could name one (usually on line 2). Arrow reads the
    agency column of each block; only rows whose agency is a registered code, or not plain
    text (it may become one once normalised), are read by Python, so a file of bad lines, or of
    another agency's rows, costs a vectorised pass. NotFast for anything the exact path must
    read."""
    width = len(columns)
    codes = pa.array(sorted(registry.agency_codes), pa.string())
    names = [f"c{index}" for index in range(width)]
    agency_column = names[columns.index("agency_code")]
    read = pa_csv.ReadOptions(column_names=names, use_threads=False)
    convert = pa_csv.ConvertOptions(
        column_types={agency_column: pa.string()}, include_columns=[agency_column]
    )
    first_line = 2
    for block, _ in line_blocks(path, feed_format, max_bytes, lambda _: None):
        _check_line_structure(block)
        data, newlines, starts = _line_bounds(block)
        right = np.flatnonzero(field_counts(block, starts) == width)
        if len(right):
            keep = np.zeros(len(newlines), dtype=bool)
            keep[right] = True
            kept = data[np.repeat(keep, newlines - starts + 1)].tobytes()
            try:
                agencies = pa_csv.read_csv(
                    pa.py_buffer(kept),
                    read_options=read,
                    parse_options=pa_csv.ParseOptions(newlines_in_values=False),
                    convert_options=convert,
                ).column(0)
            except pa.ArrowException as error:
                raise NotFast(f"Arrow cannot read the block ({error})") from None
            if len(agencies) != len(right):
                raise NotFast("Arrow read a different number of rows")
            maybe = pc.or_(
                pc.is_in(agencies, value_set=codes),
                pc.invert(pc.match_substring_regex(agencies, _PLAIN_TEXT)),
            )
            for row in right[pc.fill_null(maybe, False).to_numpy(zero_copy_only=False)].tolist():
                line = block[starts[row] : newlines[row]]
                if len(line) >= contract.MAX_FIELD_CHARS:  # the exact reader's limits decide
                    raise NotFast("a long line")
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError:
                    raise NotFast("a line that is not UTF-8") from None
                fields = next(csv.reader([text], strict=True))
                raw = RawText(text.rstrip("\r"))
                record = csv_record(columns, first_line + row, fields, raw, "")
                agency = agency_of(record) if record is not None else None
                if agency is not None:
                    return agency, f"line {first_line + row}"
        first_line += len(newlines)
    return None, None


def field_counts(block: bytes, starts: np.ndarray | None = None) -> np.ndarray:
    """How many fields each line of a block has, for a block that passed _check_line_structure
    (every quoted field whole on its line): one more than its commas outside quoted fields.
    `starts`: where each line starts, if known."""
    data = np.frombuffer(block, dtype=np.uint8)
    if starts is None:
        starts = _line_bounds(block)[2]
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    commas = data == _COMMA
    if b'"' in block:  # a comma after an odd number of the line's quotes is inside a field
        commas &= ~np.bitwise_xor.accumulate(data == _QUOTE)
    counts: np.ndarray = np.add.reduceat(commas.view(np.uint8), starts, dtype=np.int64)
    return counts + 1


def _concatenated(array: pa.BinaryArray) -> bytes:
    """The values of a binary array one after the other (its data buffer, as far as they go)."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    start, end = int(offsets[array.offset]), int(offsets[array.offset + len(array)])
    data: bytes = array.buffers()[2].to_pybytes()[start:end]
    return data


def _line_bounds(block: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A block's bytes, the offset of each newline and where each line starts."""
    data = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(data == _NEWLINE)
    return data, newlines, np.concatenate(([0], newlines + 1))[:-1]


def _any_per_line(byte_mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Whether the mask marks a byte of each line (from its start to its newline included; no
    line is empty, it has its newline), in one pass and no more memory than the answer."""
    if not len(starts):
        return np.zeros(0, dtype=bool)
    answer: np.ndarray = np.logical_or.reduceat(byte_mask, starts)
    return answer


def _byte_table(members: Iterable[int]) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[list(members)] = True
    return table


# Bytes a field made only of (with commas) is blank to the Python rules: ASCII whitespace (and
# the line ending).
_BLANK_BYTES = _byte_table(b", \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f")
# Bytes that make a field certainly not blank: printable ASCII but the comma and the quote.
_CERTAIN_BYTES = _byte_table(set(range(0x21, 0x7F)) - {_COMMA, _QUOTE})


def _wrong_width_lines(
    block: bytes,
    data: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    numbers: np.ndarray,
    widths: np.ndarray,
    header_width: int,
) -> tuple[BulkRejections, np.ndarray]:
    """Of the lines with the wrong number of fields (and not blank): those the Python rules
    reject malformed_row and nothing else, for bulk quarantine (a byte that is certainly not
    blank, at most RAW_EXCERPT_CHARS bytes, so their evidence is the whole line), and the line
    numbers of the others, for the rules. NotFast when the block is not UTF-8 (the exact path
    says bad_encoding: Arrow, which checks the other lines, never reads these)."""
    starts, ends = bounds
    rejected = BulkRejections()
    wrong = widths != header_width
    if not wrong.any():
        return rejected, np.empty(0, np.int64)
    if (data >= 0x80).any():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            raise NotFast("a line that is not UTF-8") from None
    certain = _any_per_line(_CERTAIN_BYTES[data], starts)
    bulk = wrong & certain & (ends - starts <= contract.RAW_EXCERPT_CHARS)
    for number, start, end, fields in zip(
        numbers[bulk].tolist(),
        starts[bulk].tolist(),
        ends[bulk].tolist(),
        widths[bulk].tolist(),
        strict=True,
    ):
        rejected.numbers.append(number)
        rejected.reasons.append(contract.MALFORMED_ROW)
        rejected.details.append(f"{fields} fields, the header has {header_width}")
        rejected.texts.append(block[start:end])
    return rejected, numbers[wrong & ~bulk]


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
