"""Whole-file checks and record readers for CSV and JSON feeds (plain or gzip).

The checks stream the file in chunks, so a large or hostile file is judged (size, gzip, UTF-8,
emptiness) before it is parsed. CSV records are read one at a time; a JSON document is parsed whole.
A source is the file's bytes (small files) or its path (large files, re-read from disk, never held).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import os
import stat
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from r71_tracker.feeds import contract
from r71_tracker.feeds.validation import (
    MAX_INTEGER_DIGITS,
    AgencyContext,
    RawRecord,
    RowProblem,
    text_value,
)

CHUNK_BYTES = 1024 * 1024
MAX_LISTED_EXTRA_COLUMNS = 100
_BOM = codecs.BOM_UTF8
_BLANK_BYTES = b" \t\r\n"


class FileProblem(Exception):
    """The file as a whole breaks a rule: a file-level reason code, a detail, maybe a line."""

    def __init__(self, reason_code: str, detail: str, location: str | None = None) -> None:
        super().__init__(detail)
        self.reason_code = reason_code
        self.detail = detail
        self.location = location


Source = bytes | Path


class RefusedPath(OSError):
    """A path the tracker never reads: a symbolic link, or not a regular file (contract reason)."""

    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(detail)
        self.reason_code = reason_code
        self.detail = detail


def open_regular_file(path: Path) -> io.BufferedReader:
    """Open a feed file for reading, only if it is a regular file: a symbolic link is refused
    without following it (O_NOFOLLOW), a FIFO, socket or device without blocking (O_NONBLOCK,
    then fstat on the very descriptor that is read, so the file cannot be swapped in between)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        mode = os.lstat(path).st_mode  # raises for a path that is not there
        if stat.S_ISLNK(mode):
            raise RefusedPath(
                contract.SYMBOLIC_LINK, "a symbolic link: refused, its target is never opened"
            ) from None
        if not stat.S_ISREG(mode):  # a socket cannot even be opened
            raise _not_regular(mode) from None
        raise
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise _not_regular(mode)
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def _not_regular(mode: int) -> RefusedPath:
    kinds = ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "folder"))
    kind = next((name for test, name in kinds if test(mode)), "device")
    return RefusedPath(
        contract.NOT_A_REGULAR_FILE, f"a {kind}, not a regular file: refused without reading"
    )


def _source_size(source: Source) -> int:
    return source.stat().st_size if isinstance(source, Path) else len(source)


def _binary_stream(
    source: Source, feed_format: str
) -> io.BufferedReader | io.BytesIO | gzip.GzipFile:
    raw = open_regular_file(source) if isinstance(source, Path) else io.BytesIO(source)
    return gzip.GzipFile(fileobj=raw, mode="rb") if feed_format.endswith(".gz") else raw


def decoded_chunks(source: Source, feed_format: str, max_bytes: int) -> Iterator[bytes]:
    """The (decompressed) bytes in chunks: too_large past the limit, bad_format if not gzip."""
    with _binary_stream(source, feed_format) as stream:
        total = 0
        while True:
            try:
                chunk = stream.read(CHUNK_BYTES)
            except (OSError, EOFError, zlib.error) as error:
                raise FileProblem("bad_format", f"not a valid gzip file ({error})") from None
            if not chunk:
                return
            total += len(chunk)
            if total > max_bytes:
                raise FileProblem(
                    "too_large", f"the gzip content is larger than the limit of {max_bytes} bytes"
                )
            yield chunk


def check_whole_file(original_name: str, content: Source, max_bytes: int) -> str:
    """Judge the file before parsing it; return its feed format or raise FileProblem."""
    feed_format = contract.feed_format(original_name)
    if feed_format is None:
        raise FileProblem(
            "bad_format", "the name must end in .csv, .json, .csv.gz or .json.gz", None
        )
    size = _source_size(content)
    if size > max_bytes:
        raise FileProblem("too_large", f"{size} bytes is over the limit of {max_bytes}")
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines_before = 0
    has_content = False
    first = True
    for chunk in decoded_chunks(content, feed_format, max_bytes):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            line = lines_before + chunk[: max(error.start, 0)].count(b"\n") + 1
            raise FileProblem(
                "bad_encoding",
                f"byte 0x{chunk[max(error.start, 0)]:02x} is not UTF-8;"
                " feeds must be UTF-8 (with or without BOM)",
                f"line {line}",
            ) from None
        if not has_content:
            text = chunk[len(_BOM) :] if first and chunk.startswith(_BOM) else chunk
            has_content = bool(text.strip(_BLANK_BYTES))
        first = False
        lines_before += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise FileProblem(
            "bad_encoding",
            "the file ends inside a UTF-8 character; feeds must be UTF-8 (with or without BOM)",
            f"line {lines_before + 1}",
        ) from None
    if not has_content:
        raise FileProblem("empty_file", "the file is empty")
    return feed_format


def _text_stream(content: Source, feed_format: str) -> io.TextIOWrapper:
    """Decoded text (BOM dropped), line endings kept as sent so CSV quoting rules apply."""
    return io.TextIOWrapper(
        _binary_stream(content, feed_format), encoding="utf-8-sig", errors="strict", newline=""
    )


class _LineTooLong(Exception):
    """A physical line longer than MAX_LINE_CHARS: read no further, the rest of it skipped."""


@dataclass(frozen=True)
class RawText:
    """A record's raw text as kept: whole, or its first RAW_EXCERPT_CHARS with the whole
    text's length and SHA-256 (None when `text` is whole)."""

    text: str
    chars: int | None = None
    sha256: str | None = None


class _LineTap:
    """Feeds lines to csv.reader, each read at most MAX_LINE_CHARS far (so one huge line never
    sits in memory), and remembers the record's raw text: whole while it is at most
    RAW_EXCERPT_CHARS long; past that, its excerpt plus a running length and SHA-256. The raw
    text is the record's lines as sent, without the line ending after its last line."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text
        self.lines = 0  # physical lines read, a line cut short included
        self._reset()

    def _reset(self) -> None:
        self._whole: list[str] = []
        self._held = ""  # the last line's ending: part of the record only if another line follows
        self._chars = 0
        self._excerpt = ""
        self._hash: hashlib._Hash | None = None

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = self._text.readline(contract.MAX_LINE_CHARS)
        if not line:
            raise StopIteration
        self.lines += 1
        self._keep(line)
        if len(line) == contract.MAX_LINE_CHARS and not line.endswith("\n"):
            while piece := self._text.readline(contract.MAX_LINE_CHARS):
                self._keep(piece)
                if piece.endswith("\n"):
                    break
            raise _LineTooLong()
        return line

    def _keep(self, piece: str) -> None:
        body = piece.rstrip("\r\n")
        counted, self._held = self._held + body, piece[len(body) :]
        self._chars += len(counted)
        if self._hash is not None:
            self._hash.update(counted.encode("utf-8", "surrogatepass"))
            return
        self._whole.append(counted)
        if self._chars > contract.RAW_EXCERPT_CHARS:
            whole = "".join(self._whole)
            self._excerpt = whole[: contract.RAW_EXCERPT_CHARS]
            self._hash = hashlib.sha256(whole.encode("utf-8", "surrogatepass"))
            self._whole = []

    def take(self) -> RawText:
        """The raw text of the record read since the last take."""
        if self._hash is None:
            raw = RawText("".join(self._whole))
        else:
            raw = RawText(self._excerpt, self._chars, self._hash.hexdigest())
        self._reset()
        return raw


def _csv_records(text: io.TextIOWrapper) -> Iterator[tuple[int, list[str] | None, RawText, str]]:
    """(start line, fields or None, raw text, error) for each record, header included. The error
    is csv's message, or contract.FIELD_TOO_LONG for a field or line over the contract's limits."""
    tap = _LineTap(text)
    csv.field_size_limit(contract.MAX_FIELD_CHARS)
    reader = csv.reader(tap, strict=True)
    previous_line = 0
    while True:
        try:
            fields: list[str] | None = next(reader)
            error = ""
        except StopIteration:
            return
        except _LineTooLong:
            fields, error = None, contract.FIELD_TOO_LONG
        except csv.Error as problem:
            too_long = str(problem).startswith("field larger than field limit")
            fields, error = None, contract.FIELD_TOO_LONG if too_long else str(problem)
        start, previous_line = previous_line + 1, tap.lines
        yield start, fields, tap.take(), error


def _header_hint(columns: list[str]) -> str:
    """Why a header matches no contract field, when the cause is a common one."""
    if {name for kind in contract.FEED_KINDS for name in kind.fields} & set(columns):
        return ""
    if len(columns) == 1 and (";" in columns[0] or "\t" in columns[0]):
        return "; columns must be separated by commas"
    return "; line 1 must be the header row"


@dataclass
class CsvFeed:
    """A CSV feed whose header passed the checks; records() re-reads it from the start."""

    content: Source
    feed_format: str
    columns: list[str]
    kind: contract.FeedKind
    extra_columns: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, content: Source, feed_format: str) -> CsvFeed:
        with _text_stream(content, feed_format) as text:
            header = next(_csv_records(text), None)
        if header is None or header[1] is None:
            detail = header[3] if header else "no header row"
            raise FileProblem("bad_format", f"the header row cannot be read ({detail})", "line 1")
        columns = [name.strip() for name in header[1]]
        if not any(columns):
            raise FileProblem("bad_format", "line 1 must be the header row; it is blank", "line 1")
        named = [name for name in columns if name]
        repeated = sorted(name for name, times in Counter(named).items() if times > 1)
        if repeated:
            raise FileProblem(
                "bad_format",
                f"column(s) named twice in the header: {', '.join(repeated)}",
                "line 1",
            )
        kind = contract.kind_of_columns(columns)
        missing = [name for name in kind.required_fields if name not in columns]
        if missing:
            hint = _header_hint(columns)
            what = " of a data dictionary (fields feed)" if kind is contract.DICTIONARY_FEED else ""
            raise FileProblem(
                "missing_columns",
                f"required column(s){what} missing: {', '.join(missing)}{hint}",
                "line 1",
            )
        extra = [name for name in named if name not in kind.fields]
        return cls(content, feed_format, columns, kind, extra[:MAX_LISTED_EXTRA_COLUMNS])

    def new_agency_context(self) -> AgencyContext:
        return AgencyContext()

    def records(self) -> Iterator[RawRecord]:
        """Data records in file order; blank lines (or only commas) are skipped."""
        with _text_stream(self.content, self.feed_format) as text:
            yield from self._records(_csv_records(text))

    def _records(
        self, rows: Iterator[tuple[int, list[str] | None, RawText, str]]
    ) -> Iterator[RawRecord]:
        next(rows)  # the header, checked in open()
        for line, fields, raw_text, error in rows:
            record = csv_record(self.columns, line, fields, raw_text, error)
            if record is not None:
                yield record


def csv_record(
    columns: list[str], line: int, fields: list[str] | None, raw: RawText, error: str
) -> RawRecord | None:
    """One CSV data record as the rules see it; None for a blank line (or only commas)."""
    location = f"line {line}"
    if fields is not None and not any(value.strip() for value in fields):
        return None

    def record(
        values: dict[str, object] | None, problem: str | None = None, code: str = "malformed_row"
    ) -> RawRecord:
        return RawRecord(line, location, values, raw.text, problem, code, raw.chars, raw.sha256)

    if error == contract.FIELD_TOO_LONG:
        return record(
            None,
            f"a field longer than {contract.MAX_FIELD_CHARS:,} characters, or a line longer"
            f" than {contract.MAX_LINE_CHARS:,}: not read further",
            error,
        )
    if fields is None:
        return record(None, f"broken CSV quoting ({error})")
    width = len(columns)
    if len(fields) != width:
        return record(None, f"{len(fields)} fields, the header has {width}")
    if any("\x00" in value for value in fields):
        return record(None, "contains a NUL character")
    return record(dict(zip(columns, fields, strict=True)))


def csv_lines(
    source: Source, feed_format: str, columns: list[str], wanted: Iterable[int]
) -> Iterator[RawRecord | None]:
    """The records that start on the `wanted` physical lines (ascending) of a CSV whose records
    are one line each.

    Used to explain rows the set-based path set aside: the same reader, the same raw text.
    """
    lines_wanted = iter(wanted)
    next_wanted = next(lines_wanted, None)
    with _text_stream(source, feed_format) as text:
        records = _csv_records(text)  # one line each: what the set-based paths stage
        next(records, None)  # the header
        for number, fields, raw, error in records:
            if next_wanted is None:
                return
            if number != next_wanted:
                continue
            next_wanted = next(lines_wanted, None)
            yield csv_record(columns, number, fields, raw, error)


def _unstorable_text(value: object) -> bool:
    """A JSON string PostgreSQL text cannot hold (NUL, or a lone surrogate from an escape)."""
    if not isinstance(value, str):
        return False
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _may_be_unstorable(raw_text: str) -> bool:
    """False when an entry's JSON text shows no NUL escape and encodes as UTF-8 (then none of its
    strings is unstorable); only then are its values checked one by one."""
    if "\\u0000" in raw_text:
        return True
    try:
        raw_text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_integer(text: str) -> int | str:
    """A JSON integer as a Python int, except one longer than any count can be (more digits than
    bigint holds): kept as its digits, so the row rules reject it as `bad_integer` with its line
    (Python refuses to convert 4,300 digits or more, which stopped the whole call)."""
    if len(text.lstrip("-").lstrip("0")) > MAX_INTEGER_DIGITS:
        return text
    return int(text)


@dataclass
class JsonFeed:
    """A JSON feed: one object with agency_code, an optional report_date and a databases list
    (status feed) or a fields list (data dictionary)."""

    feed_format: str
    entries: list[object]
    agency: str | None
    report_date: object
    kind: contract.FeedKind
    extra_columns: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, content: Source, feed_format: str) -> JsonFeed:
        with _text_stream(content, feed_format) as stream:
            text = stream.read()
        try:
            document = json.loads(text, parse_int=_json_integer)
        except json.JSONDecodeError as error:
            raise FileProblem(
                "bad_format", f"not valid JSON ({error.msg})", f"line {error.lineno}"
            ) from None
        except RecursionError:
            raise FileProblem("bad_format", "JSON nested too deeply") from None
        if not isinstance(document, dict):
            raise FileProblem(
                "bad_format",
                "the top level must be a JSON object with agency_code and databases (or fields)",
            )
        kind = contract.kind_of_document(document)
        try:
            agency = text_value(document.get("agency_code"), "agency_code")
        except RowProblem:
            raise FileProblem("bad_format", "agency_code must be a single text value") from None
        key = kind.entries_key
        missing = [name for name in ("agency_code",) if agency is None]
        if key not in document:
            missing.append(f"{key} (or {contract.DICTIONARY_ENTRIES_KEY}, for a data dictionary)")
        if missing:
            raise FileProblem("missing_columns", f"file key(s) missing: {', '.join(missing)}")
        entries = document[key]
        if not isinstance(entries, list):
            raise FileProblem("bad_format", f"{key} must be a JSON array of objects")
        if not entries:
            raise FileProblem("empty_file", f"the {key} list is empty")
        extra = [name for name in document if name not in kind.file_keys]
        for entry in entries:
            if isinstance(entry, dict):
                extra += [name for name in entry if name not in kind.fields and name not in extra]
            if len(extra) >= MAX_LISTED_EXTRA_COLUMNS:
                break
        return cls(
            feed_format,
            entries,
            agency,
            document.get("report_date"),
            kind,
            extra[:MAX_LISTED_EXTRA_COLUMNS],
        )

    def new_agency_context(self) -> AgencyContext:
        return AgencyContext(file_agency=self.agency, set_at="the file's agency_code", fixed=True)

    def records(self) -> Iterator[RawRecord]:
        """Entries in array order; an entry's own report_date or agency_code beats the file's."""
        for index, entry in enumerate(self.entries):
            location = f"{self.kind.entries_key}[{index}]"
            raw_text = json.dumps(entry, ensure_ascii=False)
            if not isinstance(entry, dict):
                kind = type(entry).__name__ if entry is not None else "null"
                yield RawRecord(
                    index, location, None, raw_text, f"the entry is a {kind}, not an object"
                )
                continue
            if _may_be_unstorable(raw_text) and any(
                _unstorable_text(key) or _unstorable_text(v) for key, v in entry.items()
            ):
                problem = "contains a NUL character or text that is not valid Unicode"
                yield RawRecord(index, location, None, raw_text, problem)
                continue
            values = dict(entry)
            for key, file_value in (
                ("agency_code", self.agency),
                ("report_date", self.report_date),
            ):
                own = values.get(key)
                if own is None or (isinstance(own, str) and not own.strip()):
                    values[key] = file_value
            yield RawRecord(index, location, values, raw_text)


def open_feed(content: Source, feed_format: str) -> CsvFeed | JsonFeed:
    """Parse the structure of a file that passed check_whole_file (header or top-level object)."""
    if feed_format.startswith("csv"):
        return CsvFeed.open(content, feed_format)
    return JsonFeed.open(content, feed_format)
