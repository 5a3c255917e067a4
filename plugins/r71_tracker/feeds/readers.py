"""Whole-file checks and record readers for CSV and JSON feeds (plain or gzip).

The checks stream the file in chunks, so a large or hostile file is judged (size, gzip, UTF-8,
emptiness) before it is parsed. CSV records are read one at a time; a JSON document is streamed too
(ijson, its C backend yajl2_c), once, an entry at a time, its entries kept in a spool (on disk past
16 MB) for the passes over them. A source is the file's bytes (small files) or its path (large
files, re-read from disk, never held).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import marshal
import os
import re
import stat
import tempfile
import zlib
from collections import Counter, deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson  # type: ignore[import-untyped]

from r71_tracker.feeds import contract
from r71_tracker.feeds.validation import (
    MAX_INTEGER_DIGITS,
    AgencyContext,
    RawRecord,
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


class _RawSink:
    """A text written a piece at a time, kept as RawText: whole while it is at most
    RAW_EXCERPT_CHARS long; past that, its excerpt, with a running length and SHA-256."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._chars = 0
        self._excerpt = ""
        self._hash: hashlib._Hash | None = None

    def write(self, text: str) -> None:
        self._chars += len(text)
        if self._hash is not None:
            self._hash.update(text.encode("utf-8", "surrogatepass"))
            return
        self._parts.append(text)
        if self._chars > contract.RAW_EXCERPT_CHARS:
            whole = "".join(self._parts)
            self._excerpt = whole[: contract.RAW_EXCERPT_CHARS]
            self._hash = hashlib.sha256(whole.encode("utf-8", "surrogatepass"))
            self._parts = []

    def take(self) -> RawText:
        if self._hash is None:
            return RawText("".join(self._parts))
        return RawText(self._excerpt, self._chars, self._hash.hexdigest())


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
        self._record = _RawSink()
        self._held = ""  # the last line's ending: part of the record only if another line follows

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
        self._record.write(self._held + body)
        self._held = piece[len(body) :]

    def take(self) -> RawText:
        """The raw text of the record read since the last take."""
        raw = self._record.take()
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


# -- JSON: streamed (ijson, its C backend yajl2_c), never held whole ------------------------------

# Containers nested deeper than this reject the file (bad_format): the old whole-document parser
# stopped near 1,000 levels (Python's recursion limit), and entries are later copied recursively.
MAX_JSON_DEPTH = 512
# A JSON string of more bytes than this has more than MAX_FIELD_CHARS characters whatever it holds
# (the densest, an escaped astral character, is 12 bytes): such a string never reaches the parser,
# which holds a whole string while it reads it.
_LONG_TOKEN_BYTES = 12 * contract.MAX_FIELD_CHARS
# An entry is read into memory up to this many characters (its keys' and strings' characters, plus
# one for each key and value); past that its text is only measured and hashed, as for a long field.
MAX_JSON_ENTRY_CHARS = contract.MAX_LINE_CHARS
_JSON_TOO_LONG = (
    f"a key or value longer than {contract.MAX_FIELD_CHARS:,} characters, or an entry of more"
    f" than {MAX_JSON_ENTRY_CHARS:,} characters in all"
)
_LISTS = (contract.JSON_ENTRIES_KEY, contract.DICTIONARY_ENTRIES_KEY)
_LIST_FIELDS = {kind.entries_key: frozenset(kind.fields) for kind in contract.FEED_KINDS}
_PARSER_PIECE_BYTES = 64 * 1024  # bytes handed to the parser at once (its events wait in a list)
_SPOOL_MEMORY_BYTES = 16 * 1024 * 1024  # a list's entries kept in memory before a temporary file
_SPOOL_BATCH_CHARS = 256 * 1024  # entries marshalled together, about
_PARSER_ERRORS = (ijson.JSONError, UnicodeDecodeError)
_WORD_BYTES = b"+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# A run of more than MAX_INTEGER_DIGITS digits, from its first (a character class first, so the
# regex engine skips to digits; the look-behind then keeps only the start of a run).
_LONG_DIGITS = re.compile(rb"[0-9](?<![0-9]{2})[0-9]{%d,}" % MAX_INTEGER_DIGITS)
_DIGIT_MARKS = bytes(1 if byte in b"0123456789" else 0 for byte in range(256))  # for translate
_LONG_RUN = b"\x01" * (MAX_INTEGER_DIGITS + 1)
_INTEGER_TO_END = re.compile(rb"-?[1-9][0-9]*\Z")
_HIGH_SURROGATE_AT_END = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\Z")
_NOT_DIGIT = re.compile(rb"[^0-9]")
_REPLACED = 0xFFFF  # what a lone surrogate is handed to the parser as (queued, put back after)
Event = tuple[str, Any]


def _json_problem(detail: str, line: int | None = None) -> FileProblem:
    return FileProblem("bad_format", detail, f"line {line}" if line else None)


def _long_outside() -> FileProblem:
    return _json_problem(
        f"a JSON text longer than {contract.MAX_FIELD_CHARS:,} characters outside the"
        f" {contract.JSON_ENTRIES_KEY} (or {contract.DICTIONARY_ENTRIES_KEY}) list"
    )


def _too_deep() -> FileProblem:
    return _json_problem(f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)")


def _unescaped(np: Any, positions: Any, last_plain: Any) -> Any:
    """Which of these positions (of a quote, or of a backslash) follow an even run of backslashes:
    a quote that is not escaped, a backslash that starts an escape. `last_plain` is, for each byte
    of the buffer, the index of the last byte at or before it that is not a backslash."""
    before = positions - 1
    runs = before - last_plain[np.maximum(before, 0)]
    runs[before < 0] = 0
    return (runs & 1) == 0


def _safe_cut(raw: bytes) -> int:
    """Where the content of a long JSON string read so far can be cut and decoded alone: not
    inside a UTF-8 character, an escape, or between the two escapes of a surrogate pair."""
    cut = len(raw)
    lead = cut - 1
    while lead > cut - 4 and lead > 0 and raw[lead] & 0xC0 == 0x80:
        lead -= 1
    if lead >= 0 and raw[lead] >= 0xC0:
        width = 2 if raw[lead] < 0xE0 else 3 if raw[lead] < 0xF0 else 4
        if lead + width > cut:
            cut = lead
    last = raw.rfind(b"\\", max(cut - 12, 0), cut)
    if last >= 0:
        run = len(raw[: last + 1]) - len(raw[: last + 1].rstrip(b"\\"))
        if run % 2:  # the last backslash starts an escape: it goes with the next piece
            cut = last
    start = cut - 6
    if start >= 0 and _HIGH_SURROGATE_AT_END.search(raw, start, cut):
        if (start - len(raw[:start].rstrip(b"\\"))) % 2 == 0:  # a real escape, not \\ud800
            cut = start
    return cut


class _JsonBytes:
    """A JSON feed's bytes as the parser is handed them, a chunk at a time, in bounded memory.

    yajl (ijson's C backend) holds a whole string or number while it reads it, crashes the process
    on an integer of more than 4,300 digits, and turns a lone surrogate escape into '?' (or fails).
    So each chunk is looked at first (with numpy):
    - an integer of more than MAX_INTEGER_DIGITS digits is handed over as a string of its digits
      (the row rules reject it as bad_integer, as when json.loads kept it as text);
    - a lone surrogate escape is handed over as \\uffff, and its code point is queued in `restore`
      with every other U+FFFF the parser will give, so the reader puts it back (_restored);
    - a string (or integer) longer than _LONG_TOKEN_BYTES is not handed over: its text, decoded a
      piece at a time (and checked: bad_format if it is not valid JSON), goes to the reader as
      pseudo-events ("long_start"), ("long_piece", text)..., ("long_end"), and the parser gets ""
      in its place;
    - a number with a run of more than MAX_FIELD_CHARS digits that is not an integer rejects the
      file, and so does a string still open at the end of the file (on the line where it starts:
      the parser lets one pass after the top-level value).
    A token that may go on in the next chunk (an open string, a number or word at the end) is held
    back until it ends. Yields bytes for the parser, or a list of pseudo-events."""

    def __init__(self, content: Source, feed_format: str, restore: deque[int]) -> None:
        import numpy  # only the JSON path needs it (about 0.1 s to import)

        self._np = numpy
        self._content = content
        self._feed_format = feed_format
        self._restore = restore
        self._lines = 0  # line breaks in the bytes before the buffer being looked at
        self._long: str | None = None  # "string" or "digits" while a long token is read
        self._long_line = 0  # the line it starts on

    def pieces(self) -> Iterator[bytes | list[Event]]:
        with _binary_stream(self._content, self._feed_format) as stream:
            held = stream.read(len(_BOM))
            held = b"" if held == _BOM else held
            while True:
                chunk = stream.read(CHUNK_BYTES)
                final = not chunk
                held = yield from self._buffer(held + chunk if held else chunk, final)
                if final:
                    return

    def _buffer(self, buf: bytes, final: bool) -> Generator[bytes | list[Event], None, bytes]:
        """Hand over what can be of `buf`; return the bytes held back for the next chunk."""
        while True:
            if self._long is not None:
                buf = yield from self._read_long(buf, final)
                if self._long is not None:
                    return buf
            if not buf:
                return b""
            fed, end, action = self._scan(buf, final)
            if fed:
                yield fed
            line = self._lines + buf.count(b"\n", 0, end) + 1
            self._lines = line - 1
            if action is None:
                return buf[end:]
            if action == "number":
                raise _json_problem(
                    f"a JSON number with more than {contract.MAX_FIELD_CHARS:,} digits", line
                )
            if action == "open":  # (the parser lets one pass after the top-level value)
                raise _json_problem("not valid JSON (the file ends inside a string)", line)
            self._long, self._long_line = action, line
            yield [("long_start", None)]
            if action == "string":
                buf = buf[end + 1 :]  # the content, after the opening quote
            elif buf[end] == ord("-"):
                yield [("long_piece", "-")]
                buf = buf[end + 1 :]
            else:
                buf = buf[end:]

    def _read_long(self, buf: bytes, final: bool) -> Generator[bytes | list[Event], None, bytes]:
        """Read on through a long token: its text as pseudo-events; what follows it, returned
        (or, while it goes on, the few bytes held back)."""
        if self._long == "digits":
            stop = _NOT_DIGIT.search(buf)
            end = stop.start() if stop else len(buf)
            if end:
                yield [("long_piece", buf[:end].decode("ascii"))]
            if stop is None and not final:
                return b""
            if stop is not None and buf[end] in b".eE":
                raise _json_problem(
                    f"a JSON number with more than {contract.MAX_FIELD_CHARS:,} digits",
                    self._lines + 1,
                )
            rest = buf[end:]
        else:
            np = self._np
            a = np.frombuffer(buf, np.uint8)
            quotes = np.flatnonzero(a == 34)
            if quotes.size and b"\\" in buf:
                plain = np.maximum.accumulate(np.where(a == 92, -1, np.arange(a.size)))
                quotes = quotes[_unescaped(np, quotes, plain)]
            if not quotes.size:
                if final:
                    raise _json_problem(
                        "not valid JSON (the file ends inside a string)", self._long_line
                    )
                cut = _safe_cut(buf)
                yield [("long_piece", self._decoded(buf[:cut]))]
                return buf[cut:]
            end = int(quotes[0])
            yield [("long_piece", self._decoded(buf[:end]))]
            rest = buf[end + 1 :]
        self._long = None
        yield [("long_end", None)]
        yield b'""'
        return rest

    def _decoded(self, raw: bytes) -> str:
        """A piece of a long string's content, decoded as json.loads decodes it."""
        try:
            text: str = json.loads(b'"' + raw + b'"')
        except json.JSONDecodeError as error:
            line = self._lines + raw.count(b"\n", 0, max(error.pos - 1, 0)) + 1
            raise _json_problem(f"not valid JSON ({error.msg})", line) from None
        except UnicodeDecodeError:
            raise _json_problem(
                "not valid JSON (text that is not UTF-8)", self._lines + 1
            ) from None
        self._lines += raw.count(b"\n")
        return text

    def _scan(self, buf: bytes, final: bool) -> tuple[bytes, int, str | None]:
        """The bytes to hand over from the start of `buf` (rewritten), where they end in `buf`,
        and what starts there: None (the rest is held back), or a long "string", a long integer
        ("digits"), a "number" too long, a string "open" at the end of the file."""
        np = self._np
        a = np.frombuffer(buf, np.uint8)
        plain = None
        if b"\\" in buf:
            plain = np.maximum.accumulate(np.where(a == 92, -1, np.arange(a.size)))
        quotes = np.flatnonzero(a == 34)
        if plain is not None and quotes.size:
            quotes = quotes[_unescaped(np, quotes, plain)]
        end, action = self._first_long(buf, quotes, final)
        bounds, end, action = self._integers(buf, quotes, end, action)
        fed = buf[:end]
        if b"\\u" in fed or b"\xef\xbf\xbf" in fed:
            fed = self._unicode(fed, a[:end], plain)
        if bounds:
            fed = b'"'.join(fed[i:j] for i, j in zip([0, *bounds], [*bounds, end], strict=True))
        return fed, end, action

    def _first_long(self, buf: bytes, quotes: Any, final: bool) -> tuple[int, str | None]:
        """Where the first string longer than _LONG_TOKEN_BYTES starts ("string"); else where
        the bytes held back start (an open string, a trailing word; a long word is a long
        integer, "digits", or a "number" too long), or a string left "open" by the end of the
        file; else the end of `buf`."""
        size = len(buf)
        opens = quotes[0::2]
        closes = quotes[1::2]
        long = self._np.flatnonzero(closes - opens[: closes.size] - 1 > _LONG_TOKEN_BYTES)
        if long.size:
            return int(opens[long[0]]), "string"
        if quotes.size % 2:
            start = int(quotes[-1])
            if size - start - 1 > _LONG_TOKEN_BYTES:
                return start, "string"
            return start, "open" if final else None
        if final:
            return size, None
        end = len(buf.rstrip(_WORD_BYTES))
        if size - end <= _LONG_TOKEN_BYTES:
            return end, None
        if _INTEGER_TO_END.match(buf, end):
            return end, "digits"
        if buf[end] in b"-0123456789":
            return end, "number"
        return size, None  # not a token: the parser says what is wrong with it

    def _integers(
        self, buf: bytes, quotes: Any, end: int, action: str | None
    ) -> tuple[list[int], int, str | None]:
        """The integers of more than MAX_INTEGER_DIGITS digits before `end`, outside strings, to
        hand over as strings (start, stop, start, stop...). A long one, or a run of digits too
        long in another number, ends what is handed over."""
        bounds: list[int] = []
        if buf.translate(_DIGIT_MARKS).find(_LONG_RUN, 0, end) < 0:  # 1 ms a MB: most chunks
            return bounds, end, action
        for run in _LONG_DIGITS.finditer(buf, 0, end):
            start, stop = run.span()
            if int(self._np.searchsorted(quotes, start)) % 2:
                continue  # digits inside a string
            token = start - 1 if start and buf[start - 1] == ord("-") else start
            if token < start:
                in_number = token > 0 and buf[token - 1] in b"eE"
            else:
                in_number = start > 0 and buf[start - 1] in b".eE+"
            if in_number or (stop < len(buf) and buf[stop] in b".eE"):
                if stop - start > contract.MAX_FIELD_CHARS:
                    return bounds, start, "number"
                continue
            if buf[start] == ord("0"):
                continue  # a leading zero: not JSON, the parser says so
            if stop - token > _LONG_TOKEN_BYTES:
                return bounds, token, "digits"
            bounds += (token, stop)
        return bounds, end, action

    def _unicode(self, fed: bytes, a: Any, plain: Any) -> bytes:
        """Lone surrogate escapes handed over as \\uffff; every U+FFFF the parser will give is
        queued with the code point it stands for, in order."""
        np = self._np
        places = [np.flatnonzero((a[:-2] == 0xEF) & (a[1:-1] == 0xBF) & (a[2:] == 0xBF))]
        points = [np.full(places[0].size, _REPLACED)]
        escapes = np.flatnonzero((a[:-1] == 92) & (a[1:] == ord("u")))
        escapes = escapes[escapes + 6 <= a.size]
        if plain is not None and escapes.size:
            escapes = escapes[_unescaped(np, escapes, plain)]
            digits = [a[escapes + offset] | 0x20 for offset in (2, 3, 4, 5)]
            hexadecimal = np.ones(escapes.size, bool)
            value = np.zeros(escapes.size, np.int64)
            for digit in digits:
                number = (digit >= ord("0")) & (digit <= ord("9"))
                letter = (digit >= ord("a")) & (digit <= ord("f"))
                hexadecimal &= number | letter
                value = value * 16 + np.where(number, digit - ord("0"), digit - ord("a") + 10)
            escapes, value = escapes[hexadecimal], value[hexadecimal]
            high = (value >= 0xD800) & (value <= 0xDBFF)
            low = (value >= 0xDC00) & (value <= 0xDFFF)
            paired_high = np.isin(escapes[high] + 6, escapes[low])
            paired_low = np.isin(escapes[low] - 6, escapes[high][paired_high])
            lone = np.concatenate((escapes[high][~paired_high], escapes[low][~paired_low]))
            places += [lone, escapes[value == _REPLACED]]
            points += [
                np.concatenate((value[high][~paired_high], value[low][~paired_low])),
                value[value == _REPLACED],
            ]
            if lone.size:
                rewritten = a.copy()
                for offset in (2, 3, 4, 5):
                    rewritten[lone + offset] = ord("f")
                fed = rewritten.tobytes()
        where = np.concatenate(places)
        if where.size:
            self._restore.extend(np.concatenate(points)[np.argsort(where, kind="stable")].tolist())
        return fed


def _restored(text: str, restore: deque[int]) -> str:
    """A string from the parser with each U+FFFF back to what the file held there."""
    if "\uffff" not in text:
        return text
    first, *rest = text.split("\uffff")
    return first + "".join(chr(restore.popleft()) + part for part in rest)


def _parser_message(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "text that is not valid UTF-8"
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    first = str(text).split("\n", 1)[0].strip().rstrip(".")
    for prefix in ("parse error: ", "lexical error: "):
        first = first.removeprefix(prefix)
    if first == "premature EOF":
        return "the file ends before the JSON document does"
    return first or "invalid"


def _json_events(content: Source, feed_format: str, restore: deque[int]) -> Iterator[list[Event]]:
    """The parser's events (ijson basic_parse: numbers as int or Decimal), in batches, with the
    reader's pseudo-events between them in file order. Invalid JSON is bad_format on its line."""
    events = ijson.sendable_list()
    parser = ijson.basic_parse_coro(events, use_float=False)
    sent = lines = 0
    for piece in _JsonBytes(content, feed_format, restore).pieces():
        if isinstance(piece, list):
            yield piece
            continue
        for start in range(0, len(piece), _PARSER_PIECE_BYTES):
            part = piece[start : start + _PARSER_PIECE_BYTES]
            try:
                parser.send(part)
            except _PARSER_ERRORS as error:
                line = _error_line(content, feed_format, sent)
                raise _json_problem(f"not valid JSON ({_parser_message(error)})", line) from None
            sent += 1
            lines += part.count(b"\n")
            if events:
                yield events
                del events[:]
    try:
        parser.close()
    except _PARSER_ERRORS as error:
        raise _json_problem(f"not valid JSON ({_parser_message(error)})", lines + 1) from None
    if events:
        yield events


def _error_line(content: Source, feed_format: str, failed: int) -> int | None:
    """The line of the byte the parser refused in its `failed`-th piece: the pieces before it
    handed over again, then that one a byte at a time (only for a file already rejected)."""
    events = ijson.sendable_list()
    parser = ijson.basic_parse_coro(events, use_float=False)
    sent = lines = 0
    try:
        for piece in _JsonBytes(content, feed_format, deque()).pieces():
            if isinstance(piece, list):
                continue
            for start in range(0, len(piece), _PARSER_PIECE_BYTES):
                part = piece[start : start + _PARSER_PIECE_BYTES]
                if sent < failed:
                    parser.send(part)
                    sent += 1
                    lines += part.count(b"\n")
                    del events[:]
                    continue
                for at in range(len(part)):
                    try:
                        parser.send(part[at : at + 1])
                    except _PARSER_ERRORS:
                        return lines + part.count(b"\n", 0, at) + 1
                    del events[:]
                return None
    except (*_PARSER_ERRORS, FileProblem):
        return None  # the file changed since
    return None


def _raw_text(text: str) -> RawText:
    sink = _RawSink()
    sink.write(text)
    return sink.take()


def _dumped(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


class _EntryText:
    """json.dumps(entry, ensure_ascii=False) of an entry too long to hold, written as it is read
    (the part already read replayed first) into a _RawSink: the row's bounded, exact evidence."""

    def __init__(self) -> None:
        self.sink = _RawSink()
        self.levels: list[list[bool]] = []  # per open container: [is_dict, has_items, has_key]
        self._long_key = False

    @classmethod
    def replay(
        cls,
        parents: list[tuple[dict | list, str | None]],
        current: dict | list,
        key: str | None,
    ) -> _EntryText:
        """The text of an entry read so far: its open containers, outermost first (each one's
        open child is its last item), and a key read whose value is not yet."""
        text = cls()
        chain = [*(container for container, _ in parents), current]
        for depth, container in enumerate(chain):
            innermost = depth == len(chain) - 1
            text.open(isinstance(container, dict))
            if isinstance(container, dict):
                items = list(container.items())
                for name, item in items if innermost else items[:-1]:
                    text.key(name)
                    text.value_text(_dumped(item))
                child_key = key if innermost else parents[depth][1]
                if child_key is not None:
                    text.key(child_key)
            else:
                for item in container if innermost else container[:-1]:
                    text.value_text(_dumped(item))
        return text

    def _before_value(self) -> None:
        if not self.levels:
            return
        level = self.levels[-1]
        if level[0]:  # a dict: the separator went with the key
            level[2] = False
            return
        if level[1]:
            self.sink.write(", ")
        level[1] = True

    def key(self, name: str) -> None:
        level = self.levels[-1]
        self.sink.write(f"{', ' if level[1] else ''}{_dumped(name)}: ")
        level[1] = level[2] = True

    def value_text(self, text: str) -> None:
        self._before_value()
        self.sink.write(text)

    def open(self, is_dict: bool) -> None:
        self._before_value()
        self.sink.write("{" if is_dict else "[")
        self.levels.append([is_dict, False, False])

    def close(self) -> bool:
        """Close the innermost container; True when that was the entry itself."""
        self.sink.write("}" if self.levels.pop()[0] else "]")
        return not self.levels

    def long_start(self) -> None:
        level = self.levels[-1] if self.levels else None
        self._long_key = level is not None and level[0] and not level[2]
        if self._long_key:
            assert level is not None
            self.sink.write(", " if level[1] else "")
            level[1] = True
        else:
            self._before_value()
        self.sink.write('"')

    def long_piece(self, text: str) -> None:
        self.sink.write(_dumped(text)[1:-1])

    def long_end(self) -> None:
        self.sink.write('": ' if self._long_key else '"')
        if self._long_key:
            self.levels[-1][2] = True


def _number(value: object) -> object:
    """A JSON number as json.loads gives it: int, or float (ijson gives a Decimal)."""
    return value if type(value) is int else float(value)  # type: ignore[arg-type]


class _EntrySpool:
    """The entries of one list as read, for records() to go through as often as it is called, in
    bounded memory: marshal batches in a temporary file (in memory up to _SPOOL_MEMORY_BYTES).
    An entry too long to hold is its bounded text: a tuple (text, chars, sha256)."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY_BYTES)
        self._batch: list[object] = []
        self._batch_size = 0
        self.entries = 0

    def add(self, entry: object, size: int) -> None:
        self._batch.append(entry)
        self._batch_size += size
        self.entries += 1
        if len(self._batch) >= 512 or self._batch_size >= _SPOOL_BATCH_CHARS:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            data = marshal.dumps(self._batch)
            self._file.write(len(data).to_bytes(4, "big"))
            self._file.write(data)
            self._batch, self._batch_size = [], 0

    def __iter__(self) -> Iterator[object]:
        """The entries from the first (one pass at a time: each starts from the first)."""
        self._flush()
        self._file.seek(0)
        while header := self._file.read(4):
            yield from marshal.loads(self._file.read(int.from_bytes(header, "big")))

    def close(self) -> None:
        self._file.close()


@dataclass
class _JsonList:
    """A top-level databases or fields value (its last occurrence counts, as with json.loads)."""

    is_array: bool = False
    spool: _EntrySpool | None = None  # its entries, when it is an array
    extra: list[str] = field(default_factory=list)  # its entries' keys that are not the kind's
    known: set[str] = field(default_factory=set)  # the kind's keys and those seen

    def start(self, name: str) -> None:
        self.is_array, self.spool, self.known = True, _EntrySpool(), set(_LIST_FIELDS[name])

    def key(self, name: str) -> None:
        """A key of an entry: listed when it is not the kind's (at most the first 100; a key
        over the field limit is never listed: its entry is field_too_long)."""
        self.known.add(name)
        if len(self.extra) < MAX_LISTED_EXTRA_COLUMNS and len(name) <= contract.MAX_FIELD_CHARS:
            self.extra.append(name)


@dataclass
class _JsonShape:
    """The top level of a JSON feed, as its one pass finds it."""

    is_object: bool = False
    agency: object = None
    agency_single: bool = True
    report_date: object = None
    keys: list[str] = field(default_factory=list)  # distinct top-level keys (enough to list)
    lists: dict[str, _JsonList] = field(default_factory=dict)

    def top_key(self, name: str) -> None:
        if name in _LISTS:
            if name in self.lists and self.lists[name].spool is not None:
                self.lists[name].spool.close()  # type: ignore[union-attr]
            self.lists[name] = _JsonList()
        if len(self.keys) < MAX_LISTED_EXTRA_COLUMNS + 4 and name not in self.keys:
            self.keys.append(name)

    def top_value(self, name: str, event: str, value: object) -> _JsonList | None:
        """The value of a top-level key starts (or is a scalar); the list, if one starts."""
        container = event in ("start_map", "start_array")
        if name == "agency_code":
            self.agency, self.agency_single = (None, False) if container else (value, True)
        elif name == "report_date":  # a container only needs to stay one (malformed_row)
            self.report_date = {"start_map": {}, "start_array": []}.get(event, value)
        elif name in _LISTS and event == "start_array":
            self.lists[name].start(name)
            return self.lists[name]
        return None

    def close(self) -> None:
        for entries in self.lists.values():
            if entries.spool is not None:
                entries.spool.close()


def _json_entries(  # noqa: C901
    content: Source, feed_format: str, shape: _JsonShape
) -> Iterator[tuple[_JsonList, object, RawText | None, int]]:
    """The one pass over a JSON feed: the whole file parsed (invalid JSON anywhere is bad_format,
    as with json.loads), its top level into `shape`, and every entry of every databases or fields
    list, one at a time: (list, entry, None, size), or (list, None, its bounded text, size) for an
    entry too long to hold (contract.FIELD_TOO_LONG). `size` counts the characters of the entry's
    keys and strings and one for each key and value: past MAX_JSON_ENTRY_CHARS the entry is no
    longer held, only its text measured and hashed."""
    restore: deque[int] = deque()
    depth = 0  # containers open around the entry being read
    name = ""  # the top-level key whose value is read
    entries: _JsonList | None = None  # the list whose entries are read (at depth 2)
    known: set[str] = set()  # its entries' keys seen
    root: dict | list | None = None
    current: dict | list | None = None  # the innermost container of the entry being read
    parents: list[tuple[dict | list, str | None]] = []
    key: str | None = None
    size = 0
    too_long = False
    text: _EntryText | None = None  # of an entry too long to hold
    swallow = False  # the "" the parser got for a long string is next
    for batch in _json_events(content, feed_format, restore):
        for event, value in batch:
            if current is not None:
                if event == "map_key":
                    if restore:
                        value = _restored(value, restore)
                    key = value
                    size += len(value) + 1
                    too_long = too_long or len(value) > contract.MAX_FIELD_CHARS
                    if not parents and value not in known:
                        entries.key(value)  # type: ignore[union-attr]
                elif event == "end_map" or event == "end_array":
                    if parents:
                        current, key = parents.pop()[0], None
                        continue
                    entry, root, current = root, None, None
                    yield entries, entry, _raw_text(_dumped(entry)) if too_long else None, size  # type: ignore[misc]
                    continue
                elif event == "start_map" or event == "start_array":
                    child: dict | list = {} if event == "start_map" else []
                    if isinstance(current, dict):
                        current[key] = child
                    else:
                        current.append(child)
                    parents.append((current, key))
                    current, key = child, None
                    size += 1
                    if len(parents) + 3 > MAX_JSON_DEPTH:
                        raise _too_deep()
                elif event == "long_start":
                    text = _EntryText.replay(parents, current, key)
                    text.long_start()
                    root = current = None
                    parents = []
                    continue
                else:
                    if event == "string":
                        if restore:
                            value = _restored(value, restore)
                        size += len(value)
                        too_long = too_long or len(value) > contract.MAX_FIELD_CHARS
                    elif event == "number" and type(value) is not int:
                        value = float(value)
                    size += 1
                    if isinstance(current, dict):
                        current[key] = value
                        key = None
                    else:
                        current.append(value)
                if size > MAX_JSON_ENTRY_CHARS:
                    text = _EntryText.replay(parents, current, key)
                    root = current = None
                    parents = []
            elif text is not None:
                if swallow:  # the "" the parser got for a long string
                    swallow = False
                    if not text.levels:  # the entry was that string
                        yield entries, None, text.sink.take(), size  # type: ignore[misc]
                        text = None
                elif event == "long_piece":
                    text.long_piece(value)
                elif event == "long_end":
                    text.long_end()
                    swallow = True
                elif event == "long_start":
                    text.long_start()
                elif event == "map_key":
                    value = _restored(value, restore) if restore else value
                    if len(text.levels) == 1 and value not in known:
                        entries.key(value)  # type: ignore[union-attr]
                    text.key(value)
                elif event == "start_map" or event == "start_array":
                    text.open(event == "start_map")
                    if len(text.levels) + 2 > MAX_JSON_DEPTH:
                        raise _too_deep()
                elif event == "end_map" or event == "end_array":
                    if text.close():
                        yield entries, None, text.sink.take(), size  # type: ignore[misc]
                        text = None
                else:
                    if event == "string" and restore:
                        value = _restored(value, restore)
                    elif event == "number":
                        value = _number(value)
                    text.value_text(_dumped(value))
            elif entries is not None and depth == 2:  # the list itself
                if event == "end_array":
                    entries, depth = None, 1
                elif event == "start_map" or event == "start_array":
                    root = current = {} if event == "start_map" else []
                    parents, key, size, too_long = [], None, 1, False
                elif event == "long_start":
                    text, size = _EntryText(), 0
                    text.long_start()
                else:
                    if event == "string" and restore:
                        value = _restored(value, restore)
                    elif event == "number":
                        value = _number(value)
                    long = isinstance(value, str) and len(value) > contract.MAX_FIELD_CHARS
                    size = len(value) if isinstance(value, str) else 1
                    yield entries, value, _raw_text(_dumped(value)) if long else None, size
            else:  # the top level, and any other value in it
                if event.startswith("long_"):
                    raise _long_outside()
                if event == "string" or event == "map_key":
                    if restore:
                        value = _restored(value, restore)
                    if len(value) > contract.MAX_FIELD_CHARS:
                        raise _long_outside()
                    if event == "map_key":
                        if depth == 1 and shape.is_object:
                            name = value
                            shape.top_key(name)
                        continue
                elif event == "number":
                    value = _number(value)
                if depth == 0:
                    shape.is_object = event == "start_map"
                elif depth == 1 and shape.is_object and not event.startswith("end_"):
                    entries = shape.top_value(name, event, value)
                    if entries is not None:
                        known = entries.known
                if event == "start_map" or event == "start_array":
                    depth += 1
                    if depth > MAX_JSON_DEPTH:
                        raise _too_deep()
                elif event == "end_map" or event == "end_array":
                    depth -= 1


@dataclass
class JsonFeed:
    """A JSON feed: one object with agency_code, an optional report_date and a databases list
    (status feed) or a fields list (data dictionary).

    Streamed: open() reads the file once, checking its structure and keeping the entries as they
    are read in a spool (_EntrySpool: in memory up to 16 MB, then a temporary file), which
    records() goes through as often as it is called: parsing the file again for each call (the
    loader makes two) took a 100,000-row export 58 % longer to ingest than the whole-document
    parse did, 24 % with the spool (reading it back costs about an eighth of a parse)."""

    content: Source
    feed_format: str
    agency: str | None
    report_date: object
    kind: contract.FeedKind
    extra_columns: list[str] = field(default_factory=list)
    _entries: _EntrySpool = field(default_factory=_EntrySpool, repr=False, compare=False)

    @classmethod
    def open(cls, content: Source, feed_format: str) -> JsonFeed:
        shape = _JsonShape()
        try:
            for entries, entry, too_long, size in _json_entries(content, feed_format, shape):
                item = (
                    entry if too_long is None else (too_long.text, too_long.chars, too_long.sha256)
                )
                entries.spool.add(item, size)  # type: ignore[union-attr]
            return cls._checked(content, feed_format, shape)
        except BaseException:
            shape.close()
            raise

    @classmethod
    def _checked(cls, content: Source, feed_format: str, shape: _JsonShape) -> JsonFeed:
        """The checks json.loads's document had, on what the pass found, in the same order."""
        if not shape.is_object:
            raise FileProblem(
                "bad_format",
                "the top level must be a JSON object with agency_code and databases (or fields)",
            )
        kind = contract.kind_of_document(dict.fromkeys(shape.lists))
        if not shape.agency_single:
            raise FileProblem("bad_format", "agency_code must be a single text value")
        agency = text_value(shape.agency, "agency_code")
        key = kind.entries_key
        missing = [name for name in ("agency_code",) if agency is None]
        if key not in shape.lists:
            missing.append(f"{key} (or {contract.DICTIONARY_ENTRIES_KEY}, for a data dictionary)")
        if missing:
            raise FileProblem("missing_columns", f"file key(s) missing: {', '.join(missing)}")
        entries = shape.lists[key]
        if entries.spool is None:
            raise FileProblem("bad_format", f"{key} must be a JSON array of objects")
        if not entries.spool.entries:
            raise FileProblem("empty_file", f"the {key} list is empty")
        extra = [name for name in shape.keys if name not in kind.file_keys]
        extra += [name for name in entries.extra if name not in extra]
        for other in shape.lists.values():
            if other is not entries and other.spool is not None:
                other.spool.close()
        return cls(
            content,
            feed_format,
            agency,
            shape.report_date,
            kind,
            extra[:MAX_LISTED_EXTRA_COLUMNS],
            entries.spool,
        )

    def new_agency_context(self) -> AgencyContext:
        return AgencyContext(file_agency=self.agency, set_at="the file's agency_code", fixed=True)

    def records(self) -> Iterator[RawRecord]:
        """Entries in array order; an entry's own report_date or agency_code beats the file's.
        Each call goes through them from the first (one call at a time)."""
        for index, entry in enumerate(self._entries):
            location = f"{self.kind.entries_key}[{index}]"
            if isinstance(entry, tuple):  # too long to hold: its bounded text
                text, chars, sha256 = entry
                yield RawRecord(
                    index,
                    location,
                    None,
                    text,
                    _JSON_TOO_LONG,
                    contract.FIELD_TOO_LONG,
                    chars,
                    sha256,
                )
                continue
            raw_text = _dumped(entry)
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
