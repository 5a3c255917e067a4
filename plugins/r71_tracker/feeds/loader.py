"""The ingest engine: one transaction per file, append-only, at close to the speed of COPY.

Every file: SHA-256 first, then (in one transaction) an advisory lock on that digest, the duplicate
check, the verbatim bytes (gzip chunks in raw.feed_file_chunks, keyed by sha256), the rows
(raw.status_reports and raw.rejected_rows) and the raw.feed_files row with its final counts.
Nothing is updated or deleted, so a crash at any point leaves either the whole file or nothing.

The Python rules (validation.py) are the reference; the other ways only decide faster which rows
are certainly valid (and the Arrow path which lines are certainly malformed_row and nothing else,
quarantined in bulk), and every other row they set aside is judged by the Python rules, so reason
codes, precedence and messages are always theirs:
- small files (under TRACKER_SET_BASED_MIN_BYTES, at most SMALL_FILE_MAX_RECORDS records and
  SMALL_FILE_MAX_REJECTIONS bad rows) are judged in Python and written in one pipelined round
  trip on a connection shared by the call;
- large status CSVs are judged by the Arrow path (fast_csv.py), else staged by COPY and judged in
  SQL; a file the staging COPY cannot read exactly like Python's csv module (records spanning
  lines, stray quotes, lines too long, more than MAX_STAGED_COLUMNS columns) goes the streamed
  Python way, as do JSON files and data dictionaries.
Rejected rows are quarantined in bounded memory (Quarantine); a large file that changes while it
is read is rejected (changed_while_read), keeping exactly the bytes that were hashed.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import csv
import functools
import hashlib
import json
import logging
import operator
import os
import queue
import re
import sys
import tempfile
import threading
import unicodedata
import uuid
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

import psycopg
from psycopg import sql

from r71_tracker import config, database
from r71_tracker.config import settings
from r71_tracker.feeds import contract
from r71_tracker.feeds.chunks import CHUNK_BYTES, gzip_chunk
from r71_tracker.feeds.readers import (
    CsvFeed,
    FileProblem,
    JsonFeed,
    RefusedPath,
    Source,
    check_whole_file,
    csv_lines,
    decoded_chunks,
    open_feed,
    open_regular_file,
)
from r71_tracker.feeds.report import (
    DUPLICATE,
    LOADED,
    REJECTED,
    REJECTED_SAMPLES_KEPT,
    FileReport,
    display_name,
    file_message,
    row_message,
    storable,
)
from r71_tracker.feeds.validation import (
    AgencyContext,
    LoadedRow,
    RawRecord,
    RowProblem,
    RowRejection,
    ValidRow,
    _required_texts,
    duplicate_key,
    validate_record,
)
from r71_tracker.registry import Registry, load_registry

if TYPE_CHECKING:
    import numpy as np
    from rich.progress import Progress

    from r71_tracker.feeds.fast_csv import MalformedLines

LOG = logging.getLogger(__name__)

SPOOL_MEMORY_BYTES = 16 * 1024 * 1024  # compressed chunks beyond this wait in a temporary file
DEFAULT_SET_BASED_MIN_BYTES = 1024 * 1024
ID_BLOCK = 64
SET_BASED_MIN_SERVER_VERSION = 160000  # pg_input_is_valid; older servers use the Python rules
SMALL_FILES_IN_FLIGHT = 16  # small files sent before waiting for their answers
TOO_LARGE_HEAD_BYTES = CHUNK_BYTES  # what is kept of a file received over the size limit
MAX_STAGED_COLUMNS = 1_000  # wider CSVs are judged by the streamed Python rules
# Python's str.strip() whitespace (every character whose isspace() is true; a unit test checks
# the list), so SQL trims exactly what validation.normalise_text trims.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_BOM = codecs.BOM_UTF8
# A quoted CSV field as Python's csv module reads it (quote at the start, doubled quotes inside).
# It starts with the literal quote (the field's start checked behind it) so the regex engine
# jumps from quote to quote instead of trying every byte: about twice as fast.
# Possessive: a backtracking repeat kept state per character (a 5 MB quoted field: 594 MB, 1.6 s).
_QUOTED_FIELD = re.compile(rb'"(?<=[,\n]")(?:[^"]++|"")*+"(?=[,\r\n])')

_LOCK = "select pg_advisory_xact_lock(%s)"
_FIND_FILE = """
select file_id, original_name, received_at, agency_code from raw.feed_files where sha256 = %s
"""
_INSERT_FILE = """
insert into raw.feed_files (
    file_id, sha256, original_name, size_bytes, feed_format, agency_code, file_status,
    file_reason_code, file_reason_message, rows_received, rows_loaded, rows_rejected,
    extra_columns, received_at, feed_kind, stored_bytes, stored_sha256
) overriding system value
select %(file_id)s, %(sha256)s, %(name)s, %(size)s, %(format)s, %(agency)s, %(status)s,
    %(reason)s, %(message)s, %(received)s, %(loaded)s, %(rejected)s, %(extra)s::text[],
    %(received_at)s, %(kind)s, %(stored_bytes)s, %(stored_sha256)s
where not exists (select from raw.feed_files where sha256 = %(sha256)s)
returning file_id
"""
# The raw columns of each feed kind (after file_id), as json_to_recordset reads them.
_RAW_COLUMN_TYPES: dict[str, str] = {
    "status": """line_number integer, report_date date, agency_code text, database_code text,
        platform_status text, data_status text, process_integrated boolean,
        connected_national boolean, record_count bigint, records_updated_30d bigint,
        consumer_agencies integer, notes text""",
    "fields": """line_number integer, report_date date, agency_code text, database_code text,
        field_name text, field_type text, is_original_source boolean""",
}


def _insert_small_file(kind: contract.FeedKind) -> str:
    """A small file in one statement: the file row (unless these bytes are known), then, only if
    it was inserted, its bytes, loaded rows and quarantined rows (data-modifying CTEs reading `f`).
    Rows travel as one JSON text each way: adapting a dozen arrays per file cost more than the
    insert."""
    return f"""
with f as ({_INSERT_FILE}),
chunks as (
    insert into raw.feed_file_chunks (sha256, chunk_number, compressed)
    select %(sha256)s, (c.n - 1)::integer, c.bytes
    from f, unnest(%(chunks)s::bytea[]) with ordinality as c (bytes, n)
    on conflict do nothing
),
loaded as (
    insert into {kind.raw_table} (file_id, line_number, {", ".join(kind.fields)})
    select f.file_id, r.*
    from f, json_to_recordset(%(rows_json)s::json) as r ({_RAW_COLUMN_TYPES[kind.name]})
),
quarantined as (
    insert into raw.rejected_rows (
        file_id, line_number, reason_code, message, raw_record, raw_record_chars,
        raw_record_sha256
    )
    select f.file_id, r.*
    from f, json_to_recordset(%(rejected_json)s::json) as r (
        line_number integer, reason_code text, message text, raw_record text,
        raw_record_chars integer, raw_record_sha256 text
    )
)
select file_id from f
"""


_INSERT_SMALL_FILE = {kind.name: _insert_small_file(kind) for kind in contract.FEED_KINDS}
_COPY_ROWS = {
    kind.name: f"copy {kind.raw_table} (file_id, line_number, {', '.join(kind.fields)}) from stdin"
    for kind in contract.FEED_KINDS
}
# A loaded row's values in its raw table's column order (after file_id).
_ROW_VALUES = {
    kind.name: operator.attrgetter("line_number", *kind.fields) for kind in contract.FEED_KINDS
}
_COPY_REJECTED = """
copy raw.rejected_rows (
    file_id, line_number, reason_code, message, raw_record, raw_record_chars, raw_record_sha256
) from stdin
"""
# Binary: bytea as text would be escaped, which costs more than compressing it.
_COPY_CHUNKS = (
    "copy raw.feed_file_chunks (sha256, chunk_number, compressed) from stdin (format binary)"
)
_INSERT_REFUSED = (
    "insert into raw.refused_files (original_name, reason_code, message) values (%s, %s, %s)"
)
_HAS_CHUNKS = "select exists (select from raw.feed_file_chunks where sha256 = %s)"


def large_csv_path() -> str:
    """How large CSV files are judged first: `arrow` (default; the exact SQL path when the file
    needs it) or `sql` (TRACKER_LARGE_CSV_PATH; for comparing the paths)."""
    return config.large_csv_path()


def set_based_min_bytes() -> int:
    """Files of at least this size are judged in SQL (TRACKER_SET_BASED_MIN_BYTES; 0 = all CSV)."""
    return config.set_based_min_bytes(DEFAULT_SET_BASED_MIN_BYTES)


def lock_key(sha256: str) -> int:
    """The advisory lock of a digest: its first 8 bytes as a signed bigint."""
    return int.from_bytes(bytes.fromhex(sha256)[:8], "big", signed=True)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open_regular_file(path) as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


@dataclass
class _Digest:
    """One read of a file: its SHA-256 and length, and the bytes kept (as gzip chunks)."""

    sha256: str
    size: int
    spool: IO[bytes] | None  # the kept bytes' chunks, length-prefixed; None when none are kept
    kept_size: int
    kept_sha256: str


def _digest_and_spool(path: Path, keep: int | None) -> _Digest:
    """The file's SHA-256, its length and its bytes (the first `keep` of them, if given) as gzip
    chunks, length-prefixed, in a temporary file (in memory while small), from one read of it.

    Runs in a worker thread (hashlib and ISA-L release the GIL) while the rows load, so hashing
    and storing the bytes cost almost no time; the chunks are COPYed after the rows, in the same
    transaction.
    """
    digest, kept_digest = hashlib.sha256(), hashlib.sha256()
    size = kept_size = 0
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) if keep != 0 else None
    for chunk in _file_chunks(path):
        digest.update(chunk)
        size += len(chunk)
        if spool is not None and (keep is None or kept_size < keep):
            kept = chunk if keep is None else chunk[: keep - kept_size]
            kept_digest.update(kept)
            kept_size += len(kept)
            compressed = gzip_chunk(kept)
            spool.write(len(compressed).to_bytes(4, "big"))
            spool.write(compressed)
    if spool is not None:
        spool.seek(0)
    return _Digest(digest.hexdigest(), size, spool, kept_size, kept_digest.hexdigest())


def _identity(path: Path) -> tuple[int, ...]:
    """What changes when a file is written to or replaced (no file has the same after a write)."""
    stat = os.stat(path, follow_symlinks=False)
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class _Progress:
    """A one-line progress bar (rich) on stderr for a large file, only when asked (a terminal, no
    JSON): bytes read of the file's size; the line is cleared when the file is done."""

    def __init__(self, name: str, total: int, stream: TextIO | None) -> None:
        self._bar: Progress | None = None
        if stream is None or total <= 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self._task = self._bar.add_task(name[:40], total=total)
        self._bar.start()

    def advance(self, count: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


@dataclass
class _Received:
    """A file read and hashed (a small one judged too), waiting to be written."""

    report: FileReport
    path: Path
    small_file: dict[str, object] | None  # the parameters of a small file's one statement


def _internal_error(path: Path, error: Exception) -> FileReport:
    """An unexpected error in one file, reported against that file with an id that finds its
    traceback in the log; the ingest goes on with the other files."""
    incident = uuid.uuid4().hex[:8]
    LOG.exception("internal error %s while ingesting %s", incident, path)
    name = display_name(path)
    report = FileReport(path=path, original_name=name, outcome=REJECTED)
    report.reason_code = contract.INTERNAL_ERROR
    report.message = (
        f"{name}: internal error {incident} ({type(error).__name__}): nothing of the file was"
        " stored; its traceback is in the log under that id; the other files go on"
    )
    return report


# A small file with more bad rows, or more records than a valid small file can have (a valid
# status row takes 60 bytes or more), goes the large files' way, where bad lines cost less.
SMALL_FILE_MAX_REJECTIONS = 1_000
SMALL_FILE_MAX_RECORDS = 20_000
_QUARANTINE_SPOOL_BYTES = 8 * 1024 * 1024  # rejected rows kept in memory before a temporary file
_COPY_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


class Quarantine:
    """A file's rejected rows, in bounded memory however many there are.

    Counted by reason, the REJECTED_SAMPLES_KEPT first in file order kept for the report, and
    every one spooled as a line of COPY text (in memory up to _QUARANTINE_SPOOL_BYTES, then in a
    temporary file): one connection runs one COPY at a time, and the file's rows are being COPYed
    while it is judged, so raw.rejected_rows is written when that is done (`write`). A small
    file's rows (`keep_rows`) are kept as objects instead, for its one statement.
    """

    def __init__(self, report: FileReport, *, keep_rows: bool = False) -> None:
        self.report = report
        self.count = 0
        self.by_reason: Counter[str] = Counter()
        self.samples: list[RowRejection] = []
        self.rows: list[RowRejection] | None = [] if keep_rows else None
        self._spool: IO[bytes] | None = None

    def add(self, rejection: RowRejection) -> None:
        self.count += 1
        self.by_reason[rejection.reason_code] += 1
        self._sample(rejection)
        if self.rows is not None:
            self.rows.append(rejection)
            return
        values = _rejected_values(self.report, rejection)
        line = "\t".join(
            "\\N" if value is None else str(value).translate(_COPY_TEXT_ESCAPES) for value in values
        )
        self._spooled().write(line.encode("utf-8") + b"\n")

    def add_malformed(self, lines: MalformedLines, width: int) -> None:
        """Lines the Arrow path found with the wrong number of fields, quarantined in bulk:
        the rows, reason, message and evidence the Python rules give them (malformed_row), each
        without a Python judgement of its own."""
        if not len(lines):
            return
        self.count += len(lines)
        self.by_reason[contract.MALFORMED_ROW] += len(lines)
        block = lines.block
        for number, start, end, fields in zip(
            *(column[:REJECTED_SAMPLES_KEPT].tolist() for column in _columns(lines)), strict=True
        ):
            detail = f"{fields} fields, the header has {width}"
            raw = block[start:end].decode("utf-8")
            where = f"line {number}"
            self._sample(RowRejection(number, where, contract.MALFORMED_ROW, detail, raw))
        name = storable(self.report.original_name).translate(_COPY_TEXT_ESCAPES)
        head = b"%d\t%%d\t%s\t%s line %%d: %s: %%d fields, the header has %d\t" % (
            self.report.file_id or 0,
            contract.MALFORMED_ROW.encode(),
            name.replace("%", "%%").encode("utf-8"),
            contract.MALFORMED_ROW.encode(),
            width,
        )
        spool = self._spooled()
        for first in range(0, len(lines), _BULK_ROWS):
            parts: list[bytes] = []
            batch = (column[first : first + _BULK_ROWS].tolist() for column in _columns(lines))
            for number, start, end, fields in zip(*batch, strict=True):
                text = block[start:end]
                chars = len(text) if text.isascii() else len(text.decode("utf-8"))
                if b"\\" in text or b"\t" in text:
                    evidence = text.replace(b"\\", b"\\\\").replace(b"\t", b"\\t")
                else:
                    evidence = text
                parts.append(head % (number, number, fields))
                sha256 = hashlib.sha256(text).hexdigest().encode()
                parts.append(b"%s\t%d\t%s\n" % (evidence, chars, sha256))
            spool.write(b"".join(parts))

    def _sample(self, rejection: RowRejection) -> None:
        """Keep the rejection if it is among the first REJECTED_SAMPLES_KEPT by line (rows come
        in line order from each way of judging, not across them)."""
        samples = self.samples
        if len(samples) >= REJECTED_SAMPLES_KEPT:
            if rejection.line_number >= samples[-1].line_number:
                return
            samples.pop()
        bisect.insort(samples, rejection, key=operator.attrgetter("line_number"))

    def _spooled(self) -> IO[bytes]:
        if self._spool is None:
            self._spool = tempfile.SpooledTemporaryFile(max_size=_QUARANTINE_SPOOL_BYTES)
        return self._spool

    def write(self, conn: psycopg.Connection) -> None:
        """COPY the spooled rows into raw.rejected_rows (inside the file's transaction)."""
        if self._spool is None:
            return
        with self._spool as spool, conn.cursor().copy(_COPY_REJECTED) as copy:
            spool.seek(0)
            while chunk := spool.read(CHUNK_BYTES):
                copy.write(chunk)
        self._spool = None


_BULK_ROWS = 16_384  # bulk-quarantined rows formatted at a time (bounded memory)


def _columns(lines: MalformedLines) -> tuple[np.ndarray, ...]:
    return (lines.numbers, lines.starts, lines.ends, lines.widths)


class Loader:
    """One ingest call: one connection, the registry loaded once, file ids reserved in blocks."""

    def __init__(
        self,
        conn: psycopg.Connection,
        registry: Registry,
        max_bytes: int,
        min_set_based: int,
        progress: TextIO | None = None,
    ) -> None:
        self.conn = conn
        self.registry = registry
        self.max_bytes = max_bytes
        self.min_set_based = min_set_based
        self.progress = progress
        self._ids: list[int] = []
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._registry_loaded = False

    def close(self) -> None:
        self._pool.shutdown()

    def _file_id(self) -> int:
        """A file id reserved from the identity sequence (unused ones are gaps, as with any id)."""
        if not self._ids:
            rows = self.conn.execute(
                "select nextval(pg_get_serial_sequence('raw.feed_files', 'file_id'))"
                " from generate_series(1, %s)",
                (ID_BLOCK,),
            ).fetchall()
            self._ids = [row[0] for row in reversed(rows)]
        return self._ids.pop()

    # -- one file -------------------------------------------------------------------------------

    def receive(self, path: Path) -> FileReport | _Received:
        """Read, hash and (for a small file) judge a file, with no database work; a FileReport
        when there is nothing to write (the file cannot be read)."""
        name = display_name(path)
        report = FileReport(path=path, original_name=name, outcome=LOADED)
        report.feed_format = contract.feed_format(name)
        try:
            with open_regular_file(path) as handle:
                size = os.fstat(handle.fileno()).st_size
                small = size < self.min_set_based and size <= self.max_bytes
                content: bytes | None = handle.read() if small else None
            if content is not None:
                report.sha256, report.size_bytes = hashlib.sha256(content).hexdigest(), len(content)
            else:
                report.size_bytes = size  # hashed while it loads (_large)
        except RefusedPath as refused:
            report.outcome, report.reason_code = REJECTED, refused.reason_code
            report.message = f"{name}: refused ({refused.reason_code}): {refused.detail}"
            return report
        except OSError as error:
            report.outcome, report.reason_code = REJECTED, contract.UNREADABLE
            report.message = (
                f"{name}: cannot be read ({error.strerror or error}); nothing was received"
            )
            return report
        report.received_at = datetime.now(UTC)
        if content is not None and len(content) <= self.max_bytes:
            judged = self._judge_small(report, content)
            if judged is not None:
                return _Received(report, path, judged)
            report.sha256 = None  # hashed again while it loads (_large)
        return _Received(report, path, None)

    def _received_day(self, report: FileReport) -> date:
        assert report.received_at is not None
        return report.received_at.astimezone(contract.RECEIVED_DAY_TIMEZONE).date()

    def _file_params(self, report: FileReport) -> dict[str, object]:
        return {
            "file_id": report.file_id,
            "sha256": report.sha256,
            "name": report.original_name,
            "size": report.size_bytes,
            "format": report.feed_format,
            "agency": report.agency_code,
            "status": "rejected" if report.outcome == REJECTED else "loaded",
            "reason": report.reason_code,
            "message": report.message,
            "received": report.rows_received,
            "loaded": report.rows_loaded,
            "rejected": report.rows_rejected,
            "extra": [storable(column) for column in report.extra_columns],
            "received_at": report.received_at,
            "kind": report.feed_kind,
            "stored_bytes": report.stored_bytes,
            "stored_sha256": report.stored_sha256,
        }

    def _duplicate(self, report: FileReport, existing: tuple | None) -> FileReport:
        fresh = FileReport(
            path=report.path,
            original_name=report.original_name,
            outcome=DUPLICATE,
            sha256=report.sha256,
            size_bytes=report.size_bytes,
            feed_format=report.feed_format,
        )
        if existing is not None:
            fresh.file_id, first_name, fresh.received_at, fresh.agency_code = existing
            fresh.message = (
                f"{fresh.original_name}: same bytes as file {fresh.file_id} ({first_name},"
                f" received {fresh.received_at:%Y-%m-%d %H:%M %Z}); nothing changed"
            )
        return fresh

    def _reject(self, report: FileReport, problem: FileProblem) -> None:
        report.outcome, report.reason_code = REJECTED, problem.reason_code
        report.message = storable(file_message(report.original_name, problem))
        report.agency_code, report.extra_columns, report.feed_kind = None, [], None
        report.rows_received = report.rows_loaded = report.rows_rejected = 0
        report.rejected_by_reason, report.rejected_samples = {}, []

    def _account(
        self,
        report: FileReport,
        feed: CsvFeed | JsonFeed,
        agency: str | None,
        loaded: int,
        quarantine: Quarantine,
    ) -> None:
        report.feed_kind = feed.kind.name
        extra = feed.extra_columns
        report.agency_code = agency if agency in self.registry.agency_codes else None
        report.extra_columns = list(extra)
        report.rows_loaded, report.rows_rejected = loaded, quarantine.count
        report.rows_received = loaded + quarantine.count
        report.rejected_by_reason = dict(quarantine.by_reason.most_common())
        report.rejected_samples = [
            {
                "line_number": r.line_number,
                "reason_code": r.reason_code,
                "message": storable(row_message(report.original_name, r)),
            }
            for r in quarantine.samples
        ]

    # -- small files: Python rules, one pipelined round trip -------------------------------------

    def _judge_small(self, report: FileReport, content: bytes) -> dict[str, object] | None:
        """The Python rules over a small file: the parameters of its one statement; None when
        it has more than SMALL_FILE_MAX_REJECTIONS bad rows or SMALL_FILE_MAX_RECORDS records
        (a gzip file can hold millions of short lines): those go the large files' way, where
        rejections are spooled rather than held for one statement, and bad lines cost less."""
        valid: list[LoadedRow] = []
        quarantine = Quarantine(report, keep_rows=True)
        try:
            report.feed_format = check_whole_file(report.original_name, content, self.max_bytes)
            feed = open_feed(content, report.feed_format)
            context = feed.new_agency_context()
            results = _judged(
                feed, self.registry, self._received_day(report), context, SMALL_FILE_MAX_RECORDS
            )
            for result in results:
                if isinstance(result, RowRejection):
                    quarantine.add(result)
                    if quarantine.count > SMALL_FILE_MAX_REJECTIONS:
                        return None
                else:
                    valid.append(result)
            self._account(report, feed, context.file_agency, len(valid), quarantine)
        except FileProblem as problem:
            valid, quarantine = [], Quarantine(report, keep_rows=True)
            self._reject(report, problem)
        except _TooManyRecords:
            return None
        chunks = [
            gzip_chunk(content[i : i + CHUNK_BYTES]) for i in range(0, len(content), CHUNK_BYTES)
        ]
        return {
            "chunks": chunks,
            "rows_json": _rows_json(report.feed_kind, valid),
            "rejected_json": _rejected_json(report, quarantine.rows or []),
        }

    def _send_small(self, report: FileReport, judged: dict[str, object]) -> psycopg.Cursor:
        """Send a small file's transaction (in pipeline mode) without waiting for its answer."""
        conn = self.conn
        conn.execute("begin")
        conn.execute(_LOCK, (lock_key(report.sha256 or ""),))
        statement = _INSERT_SMALL_FILE[report.feed_kind or contract.STATUS_FEED.name]
        inserted = conn.execute(statement, {**self._file_params(report), **judged})
        conn.execute("commit")
        return inserted

    def _settled(self, report: FileReport, inserted: psycopg.Cursor) -> FileReport:
        if inserted.fetchone() is None:
            existing = self.conn.execute(_FIND_FILE, (report.sha256,)).fetchone()
            return self._duplicate(report, existing)
        return report

    def ingest_all(self, files: list[Path]) -> list[FileReport]:
        """Every file in order, each in its own transaction.

        Small files are sent in pipeline mode, up to SMALL_FILES_IN_FLIGHT ahead of their
        answers, so the next file is read and judged while the server writes and commits the
        previous ones (one connection: the order of the files is the order of the commits).
        """
        reports: list[FileReport | None] = [None] * len(files)
        in_flight: list[tuple[int, FileReport, psycopg.Cursor]] = []
        pipeline = contextlib.ExitStack()
        with pipeline:
            for index, path in enumerate(files):
                try:
                    received = self.receive(path)
                except Exception as error:  # this file's fault or the tracker's: not the call's
                    reports[index] = _internal_error(path, error)
                    continue
                if isinstance(received, FileReport):
                    reports[index] = received
                    continue
                report = received.report
                report.file_id = self._file_id()
                if received.small_file is None:
                    self._settle(pipeline, in_flight, reports)
                    try:
                        reports[index] = self._large(report, received.path)
                    except psycopg.OperationalError as error:
                        if self.conn.closed or self.conn.broken:
                            raise  # the database is unreachable: every file would fail
                        # a server limit this one file reached (rolled back): its own failure
                        reports[index] = _internal_error(path, error)
                    except Exception as error:  # rolled back: nothing of the file is stored
                        reports[index] = _internal_error(path, error)
                    continue
                if not in_flight:
                    pipeline.enter_context(self.conn.pipeline())
                in_flight.append((index, report, self._send_small(report, received.small_file)))
                if len(in_flight) >= SMALL_FILES_IN_FLIGHT:
                    self._settle(pipeline, in_flight, reports)
            self._settle(pipeline, in_flight, reports)
        done = [report for report in reports if report is not None]
        self._record_refusals(done)
        return done

    def _record_refusals(self, reports: list[FileReport]) -> None:
        """The files nothing of which was received (refused paths, unreadable files, internal
        errors), one raw.refused_files row each: every file of a call is on record."""
        refused = [
            (storable(report.original_name), report.reason_code, storable(report.message or ""))
            for report in reports
            if report.outcome == REJECTED and report.file_id is None
        ]
        if refused:
            with self.conn.transaction(), self.conn.cursor() as cursor:
                cursor.executemany(_INSERT_REFUSED, refused)

    def _settle(
        self,
        pipeline: contextlib.ExitStack,
        in_flight: list[tuple[int, FileReport, psycopg.Cursor]],
        reports: list[FileReport | None],
    ) -> None:
        """Leave pipeline mode (which flushes and waits for every answer), then read them."""
        pipeline.close()
        for index, report, inserted in in_flight:
            reports[index] = self._settled(report, inserted)
        in_flight.clear()

    # -- large files: streamed, judged in SQL ----------------------------------------------------

    def _large(self, report: FileReport, path: Path) -> FileReport:
        """A large file in one transaction. The digest is computed while the rows load, so the
        duplicate check comes last, under the digest's lock: bytes delivered again cost one load,
        rolled back."""
        conn = self.conn
        size = report.size_bytes or 0
        before = _identity(path)
        over_limit = size > self.max_bytes
        keep = TOO_LARGE_HEAD_BYTES if over_limit else None  # of a file over the limit: its head
        digesting = self._pool.submit(_digest_and_spool, path, keep)
        try:
            with conn.transaction():
                progress = _Progress(report.original_name, size, self.progress)
                try:
                    # A savepoint: a file found changed after its rows loaded takes them back.
                    with conn.transaction(savepoint_name="file_rows"):
                        if over_limit:
                            raise FileProblem(
                                "too_large",
                                f"{size} bytes is over the limit of {self.max_bytes}; its first"
                                f" {min(size, TOO_LARGE_HEAD_BYTES)} bytes are kept as evidence",
                            )
                        if not self._fast_csv(report, path, progress):
                            report.feed_format = check_whole_file(
                                report.original_name, path, self.max_bytes
                            )
                            if not (
                                report.feed_format.startswith("csv")
                                and self._set_based(report, path, progress)
                            ):
                                self._streamed(report, path)
                        if _identity(path) != before or digesting.result().size != size:
                            raise FileProblem(
                                contract.CHANGED_WHILE_READ,
                                "the file changed while it was read (still being written?):"
                                " nothing of it loads; its bytes as hashed are kept; send it"
                                " again once it is complete",
                            )
                except FileProblem as problem:
                    self._reject(report, problem)
                finally:
                    progress.close()
                # the size recorded is that of the bytes hashed and stored (a changed file's too)
                read = digesting.result()
                report.sha256, report.size_bytes, spool = read.sha256, read.size, read.spool
                if read.kept_size < read.size:
                    report.stored_bytes, report.stored_sha256 = read.kept_size, read.kept_sha256
                with spool or contextlib.nullcontext():
                    conn.execute(_LOCK, (lock_key(report.sha256),))
                    existing = conn.execute(_FIND_FILE, (report.sha256,)).fetchone()
                    if existing is not None:
                        raise _AlreadyReceived(existing)
                    stored = database.scalar(conn, _HAS_CHUNKS, (report.sha256,))
                    if spool is not None and not stored:
                        self._store_chunks(report, spool)
                conn.execute(_INSERT_FILE, self._file_params(report))
        except _AlreadyReceived as known:
            return self._duplicate(report, known.existing)
        return report

    def _store_chunks(self, report: FileReport, spool: IO[bytes]) -> None:
        """The bytes (unless these very bytes are stored already: content-addressed)."""
        with self.conn.cursor().copy(_COPY_CHUNKS) as copy:
            copy.set_types(["text", "int4", "bytea"])
            number = 0
            while header := spool.read(4):
                copy.write_row((report.sha256, number, spool.read(int.from_bytes(header, "big"))))
                number += 1

    def _streamed(self, report: FileReport, source: Source) -> None:
        """The Python rules over a file read from disk twice (keys, then rows), COPYed as judged."""
        assert report.feed_format is not None
        feed = open_feed(source, report.feed_format)
        context = feed.new_agency_context()
        quarantine = Quarantine(report)
        loaded = 0
        values = _ROW_VALUES[feed.kind.name]
        file_id = report.file_id or 0
        results = _judged(feed, self.registry, self._received_day(report), context)
        with self.conn.cursor().copy(_COPY_ROWS[feed.kind.name]) as copy:
            for result in results:
                if isinstance(result, RowRejection):
                    quarantine.add(result)
                else:
                    copy.write_row((file_id, *values(result)))
                    loaded += 1
        quarantine.write(self.conn)
        self._account(report, feed, context.file_agency, loaded, quarantine)

    def _judge_set_aside(
        self,
        report: FileReport,
        feed: CsvFeed,
        path: Path,
        set_aside: Iterable[int],
        judge_row: Callable[[RawRecord], LoadedRow | RowRejection],
        quarantine: Quarantine,
    ) -> int:
        """The rows the Arrow or SQL path set aside (their line numbers, ascending), judged by
        the Python rules, which explain them: the valid ones COPYed as they come (their number
        returned), the rejected ones quarantined."""
        loaded = 0
        values = _ROW_VALUES[contract.STATUS_FEED.name]
        assert report.feed_format is not None
        with self.conn.cursor().copy(_COPY_ROWS[contract.STATUS_FEED.name]) as copy:
            for record in csv_lines(path, report.feed_format, feed.columns, set_aside):
                if record is None:
                    continue
                result = judge_row(record)
                if isinstance(result, ValidRow):
                    copy.write_row((report.file_id or 0, *values(result)))
                    loaded += 1
                else:  # the status rules (validate_record's default kind): a RowRejection
                    assert isinstance(result, RowRejection), result
                    quarantine.add(result)
        return loaded

    def _fast_csv(self, report: FileReport, path: Path, progress: _Progress) -> bool:
        """Load a CSV through the Arrow path (fast_csv.py); False (nothing written) when the file
        needs an exact path: anything unusual in its structure, a repeated key, a server error."""
        feed_format = contract.feed_format(report.original_name)
        if large_csv_path() != "arrow" or not (feed_format or "").startswith("csv"):
            return False
        from r71_tracker.feeds import fast_csv

        try:
            feed = CsvFeed.open(path, feed_format or "")
            if feed.kind is not contract.STATUS_FEED or feed.extra_columns or "" in feed.columns:
                return False
            file_agency, agency_at = fast_csv.file_agency(
                path,
                feed.feed_format,
                feed.columns,
                self.max_bytes,
                functools.partial(_registered_agency, registry=self.registry),
            )
        except (FileProblem, ValueError, OSError, EOFError, zlib.error, csv.Error):
            return False  # the exact path judges (and explains) whatever is wrong
        except fast_csv.NotFast:
            return False
        try:
            with self.conn.transaction(savepoint_name="fast_csv"):
                self._load_fast(report, feed, path, file_agency, agency_at, progress)
        except (fast_csv.NotFast, psycopg.DataError, psycopg.IntegrityError):
            return False
        return True

    def _load_fast(
        self,
        report: FileReport,
        feed: CsvFeed,
        path: Path,
        file_agency: str | None,
        agency_at: str | None,
        progress: _Progress,
    ) -> None:
        from r71_tracker.feeds import fast_csv

        received_day = self._received_day(report)
        judge = fast_csv.FastCsvJudge(
            feed.columns, self.registry, file_agency, received_day, report.file_id or 0
        )
        columns = ", ".join(feed.columns)
        set_aside = array("q")  # line numbers, 8 bytes each however many rows are bad
        quarantine = Quarantine(report)
        rows = loaded = 0
        cursor = self.conn.cursor()
        with cursor.copy(
            f"copy raw.status_reports (file_id, line_number, {columns}) from stdin (format csv)"
        ) as copy:
            with _BackgroundWriter(copy, depth=1) as writer:
                blocks = fast_csv.line_blocks(
                    path, feed.feed_format, self.max_bytes, progress.advance
                )
                for block in blocks:
                    verdict = judge.judge(block, rows + 2)
                    rows += verdict.rows
                    loaded += verdict.loaded
                    set_aside.frombytes(verdict.set_aside.tobytes())  # int64, as array "q"
                    quarantine.add_malformed(verdict.malformed, len(feed.columns))
                    writer.write(verdict.copy_text)
        if judge.repeats_a_key():
            raise fast_csv.NotFast("a (database, report date) key repeated")
        if set_aside:
            context = AgencyContext(file_agency, agency_at)
            seen: set[str] = set()

            def judge_row(record: RawRecord) -> LoadedRow | RowRejection:
                key = duplicate_key(record)
                if key is not None:
                    if key in seen or judge.loaded_key(*key.split("\x1f")):
                        raise fast_csv.NotFast("a (database, report date) key repeated")
                    seen.add(key)
                return validate_record(record, self.registry, received_day, context)

            loaded += self._judge_set_aside(report, feed, path, set_aside, judge_row, quarantine)
        if loaded + quarantine.count == 0:
            raise fast_csv.NotFast("no data rows")  # the exact path says empty_file
        quarantine.write(self.conn)
        self._account(report, feed, file_agency, loaded, quarantine)

    def _ensure_registry_table(self) -> None:
        """The registry as TEMP tables for the SQL rules (once per connection)."""
        if self._registry_loaded:
            return
        conn = self.conn
        conn.execute(
            "create temp table if not exists feed_registry"
            " (database_code text primary key, owner text not null)"
        )
        conn.execute("create temp table if not exists feed_agencies (agency_code text primary key)")
        conn.execute("truncate feed_registry, feed_agencies")
        with conn.cursor().copy("copy feed_registry from stdin") as copy:
            for code, owner in self.registry.database_owners.items():
                copy.write_row((code, owner))
        with conn.cursor().copy("copy feed_agencies from stdin") as copy:
            for code in self.registry.agency_codes:
                copy.write_row((code,))
        conn.execute("analyze feed_registry")
        conn.execute("analyze feed_agencies")
        self._registry_loaded = True

    def _set_based(self, report: FileReport, path: Path, progress: _Progress) -> bool:
        """Stage and judge a CSV in SQL; False (nothing written) when it must go the Python way."""
        assert report.feed_format is not None
        feed = CsvFeed.open(path, report.feed_format)
        if feed.kind is not contract.STATUS_FEED:
            return False  # data dictionaries are small; the streamed Python rules judge them
        if self.conn.info.server_version < SET_BASED_MIN_SERVER_VERSION:
            return False  # the SQL rules need pg_input_is_valid (PostgreSQL 16)
        columns = feed.columns
        if len(columns) > MAX_STAGED_COLUMNS:
            return False  # a staging table holds at most 1,600 columns
        conn = self.conn
        self._ensure_registry_table()
        staged = [f"c{index}" for index in range(len(columns))]
        try:
            with conn.transaction(savepoint_name="set_based"):
                conn.execute(
                    "create temp table feed_stage (ord bigint generated always as identity, "
                    + ", ".join(f"{column} text" for column in staged)
                    + ") on commit drop"
                )
                try:
                    exact, rows, nfc = self._copy_stage(path, report.feed_format, staged, progress)
                except psycopg.DataError:
                    exact, rows, nfc = False, 0, False
                if not exact:
                    raise _Fallback()
                field = {name: staged[index] for index, name in enumerate(columns) if name}
                self._judge_in_sql(report, feed, path, field, rows, nfc)
        except _Fallback:
            return False
        return True

    def _copy_stage(
        self, path: Path, feed_format: str, staged: list[str], progress: _Progress
    ) -> tuple[bool, int, bool]:
        """COPY the CSV into the staging table: (read exactly as Python would, rows, all NFC)."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        nfc = True
        text_tail = ""
        newlines = 0
        last = b"\n"
        tail = b""
        exact = True
        cursor = self.conn.cursor()
        with cursor.copy(
            f"copy feed_stage ({', '.join(staged)}) from stdin (format csv, header true)"
        ) as copy:
            for number, chunk in enumerate(decoded_chunks(path, feed_format, self.max_bytes)):
                if number == 0 and chunk.startswith(_BOM):
                    chunk = chunk[len(_BOM) :]
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
                if exact:
                    # Quotes are read alike only where Python's csv module sees a quoted field.
                    buffer = tail + chunk
                    cut = buffer.rfind(b"\n") + 1
                    whole, tail = buffer[:cut], buffer[cut:]
                    exact = b'"' not in whole or not _stray_quote(whole)
                    if len(tail) > 4 * contract.MAX_LINE_CHARS:  # UTF-8: at most 4 bytes a char
                        exact, tail = False, b""  # a line too long: the Python rules say so
                if nfc and not chunk.isascii():
                    # Lines never compose across a newline, so whole lines are checked.
                    text = text_tail + decoder.decode(chunk)
                    cut = text.rfind("\n") + 1
                    text_tail = text[cut:]
                    nfc = unicodedata.is_normalized("NFC", text[:cut])
                copy.write(chunk)
                progress.advance(len(chunk))
        if tail and b'"' in tail and _stray_quote(tail + b"\n"):
            exact = False
        nfc = nfc and unicodedata.is_normalized("NFC", text_tail + decoder.decode(b"", final=True))
        lines = newlines + (0 if last == b"\n" else 1)
        return exact and lines == cursor.rowcount + 1, cursor.rowcount, nfc

    def _judge_in_sql(
        self,
        report: FileReport,
        feed: CsvFeed,
        path: Path,
        field: dict[str, str],
        rows: int,
        all_nfc: bool,
    ) -> None:
        conn = self.conn
        received_day = self._received_day(report)
        file_agency, agency_at = _file_agency(feed, self.registry)
        column = {name: sql.Identifier(field[name]) for name in contract.REQUIRED_FIELDS}
        params = {
            "ws": PYTHON_WHITESPACE,
            "file_id": report.file_id,
            "received_day": received_day,
            "agency": file_agency,
        }
        # The staged rows' estimates are guesses: a nested loop over a million rows never pays.
        # The date of a key depends on the key alone, so it is checked per repeated key, not row.
        conn.execute("set local enable_nestloop = off")
        conn.execute("set local datestyle = 'ISO, YMD'")
        groups = conn.execute(
            sql.SQL(
                "select db, d, n, first from ("
                " select db, d, count(*) as n, min(ord) as first from ("
                " select ord, {db} as db, {d} as d from feed_stage offset 0) k"
                " where db <> '' group by db, d having count(*) > 1 offset 0) g"
                " where {date} >= date '0001-01-01'"
            ).format(
                db=_key_text(column["database_code"], all_nfc),
                d=_key_text(column["report_date"], all_nfc),
                date=_iso_date(sql.SQL("d")),
            ),
            params,
        ).fetchall()
        repeated = {
            f"{database}\x1f{day}": (count, f"line {first + 1}")
            for database, day, count, first in groups
        }
        conn.execute(
            "create temp table feed_repeated (db text, d text, primary key (db, d)) on commit drop"
        )
        if groups:
            with conn.cursor().copy("copy feed_repeated from stdin") as copy:
                for database, day, _, _ in groups:
                    copy.write_row((database, day))
        free_text = [  # notes and every other column, named or not, as staged (_set_based)
            f"c{index}"
            for index, name in enumerate(feed.columns)
            if name not in contract.REQUIRED_FIELDS
        ]
        judged = _clean_rows(column, field.get("notes"), all_nfc, bool(groups), free_text)
        loaded = 0
        if file_agency is not None:
            loaded = conn.execute(
                sql.SQL(
                    "insert into raw.status_reports ("
                    " file_id, line_number, report_date, agency_code, database_code,"
                    " platform_status, data_status, process_integrated, connected_national,"
                    " record_count, records_updated_30d, consumer_agencies, notes)"
                    " select %(file_id)s, j.ord + 1, j.dt, j.agency, j.db, j.ps, j.ds, j.pi, j.cn,"
                    " j.rc, j.ru, j.ca, j.notes from ({judged}) j"
                ).format(judged=judged),
                params,
            ).rowcount
        quarantine = Quarantine(report)
        if loaded < rows:
            # The rows SQL did not load: judged again by the Python rules, which explain them.
            query = sql.SQL(
                "select ord from feed_stage except all select ord from ({judged}) j order by 1"
            )
            set_aside = array("q")  # line numbers, 8 bytes each however many rows are bad
            with conn.cursor(name="feed_set_aside") as cursor:
                cursor.itersize = 100_000
                cursor.execute(query.format(judged=judged), params)
                set_aside.extend(ord_ + 1 for (ord_,) in cursor)
            context = AgencyContext(file_agency, agency_at)

            def judge_row(record: RawRecord) -> LoadedRow | RowRejection:
                return validate_record(record, self.registry, received_day, context, repeated)

            loaded += self._judge_set_aside(report, feed, path, set_aside, judge_row, quarantine)
        quarantine.write(self.conn)
        if loaded + quarantine.count == 0:
            raise FileProblem("empty_file", "the file has a header row but no data rows")
        self._account(report, feed, file_agency, loaded, quarantine)


def _warm_up_fast_path(files: list[Path], min_set_based: int) -> None:
    """If a large CSV is coming, import the Arrow path and pay its first-use costs (about 0.5 s)
    in a thread while the registry loads and the file is hashed."""
    if large_csv_path() != "arrow":
        return
    for path in files:
        try:
            large = path.stat().st_size >= min_set_based
        except OSError:
            continue
        if large and (contract.feed_format(path.name) or "").startswith("csv"):
            threading.Thread(target=_import_fast_path, name="warm-up", daemon=True).start()
            return


def _import_fast_path() -> None:
    from r71_tracker.feeds import fast_csv

    fast_csv.warm_up()


class _AlreadyReceived(Exception):
    """These bytes are loaded already: roll the transaction back, report a duplicate."""

    def __init__(self, existing: tuple) -> None:
        super().__init__("already received")
        self.existing = existing


class _TooManyRecords(Exception):
    """More records than a small file is judged with in Python (SMALL_FILE_MAX_RECORDS)."""


class _Fallback(Exception):
    """The staging cannot stand for Python's reading of the file: roll back, go the Python way."""


class _BackgroundWriter:
    """Feeds a COPY from a thread, so the next block is judged while the server loads this one.

    At most `depth` blocks wait (memory stays bounded whatever the file size).
    """

    def __init__(self, copy: psycopg.Copy, depth: int = 3) -> None:
        self._copy = copy
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="copy-writer", daemon=True)

    def __enter__(self) -> _BackgroundWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None and data:
                try:
                    self._copy.write(data)
                except BaseException as error:  # handed to the caller's thread
                    self._error = error

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)


def _stray_quote(lines: bytes) -> bool:
    """A quote Python's csv module reads differently from COPY (not a whole quoted field)."""
    return b'"' in _QUOTED_FIELD.sub(b",", b"\n" + lines)


def _file_agency(feed: CsvFeed, registry: Registry) -> tuple[str | None, str | None]:
    """The file's agency as the Python rules set it: the first row with every required field
    and a registered agency (usually the first row, so this reads a line or two)."""
    for record in feed.records():
        agency = _registered_agency(record, registry)
        if agency is not None:
            return agency, record.location
    return None, None


def _registered_agency(record: RawRecord, registry: Registry) -> str | None:
    """The record's agency if it sets the file's: every required field there, agency registered."""
    if record.values is None:
        return None
    try:
        agency = _required_texts(record.values)["agency_code"]
    except RowProblem:
        return None
    return agency if agency in registry.agency_codes else None


def _key_text(column: sql.Identifier, all_nfc: bool) -> sql.Composable:
    """A field as validation.normalise_text makes it; the costly trim and NFC only if needed.

    ASCII without a leading or trailing space or control character is already normalised.
    """
    normal = sql.SQL("btrim({}, %(ws)s)" if all_nfc else "btrim(normalize({}, nfc), %(ws)s)")
    return sql.SQL(
        "case when octet_length({c}) = length({c}) and left({c}, 1) > ' '"
        " and right({c}, 1) > ' ' then {c} else {normal} end"
    ).format(c=column, normal=normal.format(column))


def _iso_date(value: sql.Composable) -> sql.Composable:
    """The date of text written exactly YYYY-MM-DD (what parse_date accepts), else null.

    Round trip instead of a regular expression (a regex costs ~0.5 s per million rows);
    DateStyle is set to ISO for the transaction.
    """
    return sql.SQL(
        "case when length({v}) = 10 and pg_input_is_valid({v}, 'date')"
        " and {v}::date::text = {v} then {v}::date end"
    ).format(v=value)


def _plain_count(value: sql.Composable, type_name: str) -> sql.Composable:
    """True for plain digits within the column's type (what parse_integer accepts unchanged)."""
    return sql.SQL(
        "(case when pg_input_is_valid({v}, {t}) then {v}::{ty} >= 0 and {v}::{ty}::text = {v} end)"
    ).format(v=value, t=sql.Literal(type_name), ty=sql.SQL(type_name))


def _plain_counts(total: sql.Composable, updated: sql.Composable) -> sql.Composable:
    """Both counts plain bigint digits (as _plain_count) and updated <= total, each cast once."""
    return sql.SQL(
        "(case when pg_input_is_valid({t}, 'bigint') and pg_input_is_valid({u}, 'bigint')"
        " then {t}::bigint >= 0 and {u}::bigint >= 0 and {t}::bigint::text = {t}"
        " and {u}::bigint::text = {u} and {u}::bigint <= {t}::bigint end)"
    ).format(t=total, u=updated)


def _clean_date(value: sql.Composable) -> sql.Composable:
    """True for a date written exactly YYYY-MM-DD (as _iso_date) from 0001-01-01 to the day
    received; the date is parsed once per row."""
    return sql.SQL(
        "(case when length({v}) = 10 and pg_input_is_valid({v}, 'date')"
        " then {v}::date::text = {v} and {v}::date >= date '0001-01-01'"
        " and {v}::date <= %(received_day)s end)"
    ).format(v=value)


_BOOLEAN_SPELLINGS = sql.SQL(
    "('true', '1', 'yes', 'false', '0', 'no', 'TRUE', 'YES', 'FALSE', 'NO',"
    " 'True', 'Yes', 'False', 'No')"
)


def _clean_rows(
    column: dict[str, sql.Identifier],
    notes: str | None,
    all_nfc: bool,
    repeats: bool,
    free_text: list[str],
) -> sql.Composable:
    """Staged rows that are certainly valid, typed; any unusual value is left to the Python rules.

    Values are compared as staged (untrimmed): a value equal to a registry code, an allowed value
    or plain digits is already what normalise_text would make of it. A leading zero, an odd
    spelling or a space sends the row to Python, which decides (and may load it).
    Each cast is checked once per row (a BETWEEN or a repeated CASE evaluates it twice), and the
    anti-join on repeated keys, costly per staged row even when empty, is left out without them.
    `free_text`: the staged columns whose values the rules do not constrain (notes, extra
    columns); a row with one longer than MAX_FIELD_CHARS, or longer than _FREE_TEXT_CHARS
    together (its line could pass MAX_LINE_CHARS), goes to the Python rules (field_too_long).
    """
    if notes is None:
        notes_value: sql.Composable = sql.SQL("null::text")
    else:
        inner: sql.Composable = sql.Identifier(notes)
        if not all_nfc:
            inner = sql.SQL("normalize({}, nfc)").format(inner)
        notes_value = sql.SQL("nullif(btrim({}, %(ws)s), '')").format(inner)
    c = {name: sql.SQL("s.{}").format(identifier) for name, identifier in column.items()}
    return sql.SQL(
        "select s.ord, {agency} as agency, {db} as db, {ps} as ps, {ds} as ds,"
        " lower({pi}) in ('true', '1', 'yes') as pi, lower({cn}) in ('true', '1', 'yes') as cn,"
        " {rc}::bigint as rc, {ru}::bigint as ru, {ca}::integer as ca,"
        " {d}::date as dt, {notes} as notes"
        " from feed_stage s join feed_registry g on g.database_code = {db}"
        " where {agency} = %(agency)s and g.owner = %(agency)s"
        " and {ps} in ('not_started', 'building', 'operational')"
        " and {ds} in ('none', 'digitized', 'partial', 'centralized')"
        " and {pi} in {spellings} and {cn} in {spellings}"
        " and {counts_ok} and {ca_ok} and {date_ok}{unrepeated}{short}"
    ).format(
        agency=c["agency_code"],
        db=c["database_code"],
        d=c["report_date"],
        ps=c["platform_status"],
        ds=c["data_status"],
        pi=c["process_integrated"],
        cn=c["connected_national"],
        rc=c["record_count"],
        ru=c["records_updated_30d"],
        ca=c["consumer_agencies"],
        counts_ok=_plain_counts(c["record_count"], c["records_updated_30d"]),
        ca_ok=_plain_count(c["consumer_agencies"], "integer"),
        date_ok=_clean_date(c["report_date"]),
        unrepeated=sql.SQL(
            " and not exists (select from feed_repeated r where r.db = {db} and r.d = {d})"
            if repeats
            else ""
        ).format(db=c["database_code"], d=c["report_date"]),
        spellings=_BOOLEAN_SPELLINGS,
        notes=notes_value,
        short=_short_free_text(free_text),
    )


# Free text that stays within this many characters (plus the short constrained fields, quotes
# and commas) cannot make a line longer than MAX_LINE_CHARS, however it is quoted.
_FREE_TEXT_CHARS = 500_000


def _short_free_text(free_text: list[str]) -> sql.Composable:
    if not free_text:
        return sql.SQL("")
    lengths = [
        sql.SQL("coalesce(length(s.{}), 0)").format(sql.Identifier(name)) for name in free_text
    ]
    return sql.SQL(" and greatest({each}) <= {field} and {total} <= {line}").format(
        each=sql.SQL(", ").join(lengths),
        field=sql.Literal(contract.MAX_FIELD_CHARS),
        total=sql.SQL(" + ").join(lengths),
        line=sql.Literal(_FREE_TEXT_CHARS),
    )


def _judged(
    feed: CsvFeed | JsonFeed,
    registry: Registry,
    received_day: date,
    context: AgencyContext,
    max_records: int | None = None,
) -> Iterator[LoadedRow | RowRejection]:
    """Every record judged by the Python rules, in two passes. The first (keys the file repeats;
    empty_file) runs when this is called, before the caller opens a COPY that a FileProblem
    would abort; the second runs as the result is iterated. _TooManyRecords past `max_records`."""
    counts: Counter[str] = Counter()
    first_seen: dict[str, str] = {}
    records = 0
    for record in feed.records():
        records += 1
        if max_records is not None and records > max_records:
            raise _TooManyRecords()
        key = duplicate_key(record, feed.kind)
        if key is not None:
            counts[key] += 1
            first_seen.setdefault(key, record.location)
    if records == 0:
        raise FileProblem("empty_file", "the file has a header row but no data rows")
    repeated = {key: (count, first_seen[key]) for key, count in counts.items() if count > 1}
    return (
        validate_record(record, registry, received_day, context, repeated, feed.kind)
        for record in feed.records()
    )


def _rows_json(kind_name: str | None, rows: list[LoadedRow]) -> str:
    """Loaded rows as one JSON array of objects named like the raw table's columns."""
    if not rows:
        return "[]"
    names = ("line_number", *contract.FEED_KINDS_BY_NAME[kind_name or "status"].fields)
    values = _ROW_VALUES[kind_name or "status"]
    return json.dumps(
        [dict(zip(names, values(row), strict=True)) for row in rows],
        ensure_ascii=False,
        default=date.isoformat,
    )


def _rejected_values(report: FileReport, rejection: RowRejection) -> tuple[object, ...]:
    """A raw.rejected_rows row: the first RAW_EXCERPT_CHARS of the raw text, with the whole
    text's length and SHA-256 (of its UTF-8), so the evidence is bounded and still exact."""
    raw = rejection.raw_text
    chars, sha256 = rejection.raw_chars, rejection.raw_sha256
    if sha256 is None:  # the whole text is at hand
        chars = len(raw)
        sha256 = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    return (
        report.file_id,
        rejection.line_number,
        rejection.reason_code,
        storable(row_message(report.original_name, rejection)),
        storable(raw[: contract.RAW_EXCERPT_CHARS]),
        chars,
        sha256,
    )


def _rejected_json(report: FileReport, rejections: list[RowRejection]) -> str:
    names = (
        "line_number",
        "reason_code",
        "message",
        "raw_record",
        "raw_record_chars",
        "raw_record_sha256",
    )
    return json.dumps(
        [dict(zip(names, _rejected_values(report, r)[1:], strict=True)) for r in rejections],
        ensure_ascii=False,
    )


def ingest_files(
    files: list[Path], url: str | None = None, progress: bool | None = None
) -> list[FileReport]:
    """Ingest files, in order, one report per file (feeds.ingest.ingest_paths lists folders).

    `progress`: show a progress bar on stderr for large files (default: when stderr is a terminal).
    The connection acts as tracker_loader: it may insert into raw, never update or delete there.
    """
    # The settings first: an invalid one stops the ingest (ConfigError) before any file is read.
    min_set_based = set_based_min_bytes()
    max_feed_bytes = settings().max_feed_bytes
    large_csv_path()
    _warm_up_fast_path(files, min_set_based)
    registry = load_registry()
    show = sys.stderr.isatty() if progress is None else progress
    with database.connect(url, role=database.LOADER_ROLE) as conn:
        conn.autocommit = True
        loader = Loader(conn, registry, max_feed_bytes, min_set_based, sys.stderr if show else None)
        try:
            return loader.ingest_all(files)
        finally:
            loader.close()
