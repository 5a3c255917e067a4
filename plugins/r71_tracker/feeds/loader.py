"""The ingest engine: one transaction per file, append-only, at close to the speed of COPY.

Every file: SHA-256 first, then (in one transaction) an advisory lock on that digest, the duplicate
check, the verbatim bytes (gzip chunks in raw.feed_file_chunks, keyed by sha256), the rows
(raw.status_reports and raw.rejected_rows) and the raw.feed_files row with its final counts.
Nothing is updated or deleted, so a crash at any point leaves either the whole file or nothing.

This module owns the flow (Loader, ingest_files): which way each file goes, its transaction,
and its account (the report's counts, samples and outcome). The steps, in the order a file meets
them, are each a module of their own (none imports this one):
- receive.py: open once (refusing what is not a regular file), digest and spool the bytes, the
  duplicate check under the digest's lock, the bytes stored, the raw.feed_files row;
- readers.py: decode, whole-file checks, CSV or JSON records as a stream;
- judge: validation.py (the Python rules, the reference), fast_csv.py (the Arrow path, imported
  only when a large CSV comes) and sql_judge.py (the set-based SQL rules);
- write.py: the COPY of loaded rows, a small file's one statement; quarantine.py: rejected rows;
- progress.py: a large file's progress bar.

The Python rules (validation.py) are the reference; the other ways only decide faster which rows
are certainly valid, and every other row is judged by the Python rules, so reason codes,
precedence and messages are always theirs (the Arrow path rejects two kinds in bulk without a
second reading: lines with the wrong number of fields, and plain rows that the rules' own checks,
run on the values Arrow parsed, reject for their agency, database, date, statuses or booleans):
- small files (under TRACKER_SET_BASED_MIN_BYTES, at most SMALL_FILE_MAX_RECORDS records and
  SMALL_FILE_MAX_REJECTIONS bad rows) are judged in Python and written in one pipelined round
  trip on a connection shared by the call;
- large status CSVs are judged by the Arrow path (fast_csv.py), else staged by COPY and judged in
  SQL (sql_judge.py); a file the staging COPY cannot read exactly like Python's csv module
  (records spanning lines, stray quotes, lines too long, more than MAX_STAGED_COLUMNS columns)
  goes the streamed Python way, as do JSON files and data dictionaries.
Rejected rows are quarantined in bounded memory (Quarantine); a large file that changes while it
is read is rejected (changed_while_read), keeping exactly the bytes that were hashed.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import itertools
import logging
import sys
import threading
import uuid
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

import psycopg

from r71_tracker import config, database
from r71_tracker.config import settings
from r71_tracker.feeds import contract, receive, sql_judge, write
from r71_tracker.feeds.chunks import CHUNK_BYTES, gzip_chunk
from r71_tracker.feeds.progress import ProgressBar
from r71_tracker.feeds.quarantine import Quarantine, rejected_json
from r71_tracker.feeds.readers import (
    CsvFeed,
    FileProblem,
    JsonFeed,
    Source,
    check_whole_file,
    csv_lines,
    open_feed,
)
from r71_tracker.feeds.report import (
    REJECTED,
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

LOG = logging.getLogger(__name__)
AGENCY_FIRST_RECORDS = 100  # the file's agency looked for in Python in these, then by Arrow

DEFAULT_SET_BASED_MIN_BYTES = 1024 * 1024
ID_BLOCK = 64
SMALL_FILES_IN_FLIGHT = 16  # small files sent before waiting for their answers
# A small file with more bad rows, or more records than a valid small file can have (a valid
# status row takes 60 bytes or more), goes the large files' way, where bad lines cost less.
SMALL_FILE_MAX_REJECTIONS = 1_000
SMALL_FILE_MAX_RECORDS = 20_000


def large_csv_path() -> str:
    """How large CSV files are judged first: `arrow` (default; the exact SQL path when the file
    needs it) or `sql` (TRACKER_LARGE_CSV_PATH; for comparing the paths)."""
    return config.large_csv_path()


def set_based_min_bytes() -> int:
    """Files of at least this size are judged in SQL (TRACKER_SET_BASED_MIN_BYTES; 0 = all CSV)."""
    return config.set_based_min_bytes(DEFAULT_SET_BASED_MIN_BYTES)


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
        report, content = receive.open_file(path, self.min_set_based, self.max_bytes)
        if report.outcome == REJECTED:
            return report
        if content is not None and len(content) <= self.max_bytes:
            judged = self._judge_small(report, content)
            if judged is not None:
                return _Received(report, path, judged)
            report.sha256 = None  # hashed again while it loads (_large)
        return _Received(report, path, None)

    def _received_day(self, report: FileReport) -> date:
        assert report.received_at is not None
        return report.received_at.astimezone(contract.RECEIVED_DAY_TIMEZONE).date()

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
            results = judged_records(
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
            "rows_json": write.rows_json(report.feed_kind, valid),
            "rejected_json": rejected_json(report, quarantine.rows or []),
        }

    def _send_small(self, report: FileReport, judged: dict[str, object]) -> psycopg.Cursor:
        """Send a small file's transaction (in pipeline mode) without waiting for its answer."""
        conn = self.conn
        conn.execute("begin")
        conn.execute(receive.LOCK, (receive.lock_key(report.sha256 or ""),))
        statement = write.INSERT_SMALL_FILE[report.feed_kind or contract.STATUS_FEED.name]
        inserted = conn.execute(statement, {**receive.file_params(report), **judged})
        conn.execute("commit")
        return inserted

    def _settled(self, report: FileReport, inserted: psycopg.Cursor) -> FileReport:
        if inserted.fetchone() is None:
            existing = self.conn.execute(receive.FIND_FILE, (report.sha256,)).fetchone()
            return receive.duplicate_report(report, existing)
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
        receive.record_refusals(self.conn, done)
        return done

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
        before = receive.identity(path)
        over_limit = size > self.max_bytes
        # of a file over the limit: its head
        keep = receive.TOO_LARGE_HEAD_BYTES if over_limit else None
        digesting = self._pool.submit(receive.digest_and_spool, path, keep)
        try:
            with conn.transaction():
                progress = ProgressBar(report.original_name, size, self.progress)
                try:
                    # A savepoint: a file found changed after its rows loaded takes them back.
                    with conn.transaction(savepoint_name="file_rows"):
                        if over_limit:
                            raise FileProblem(
                                "too_large",
                                f"{size} bytes is over the limit of {self.max_bytes}; its"
                                f" first {min(size, receive.TOO_LARGE_HEAD_BYTES)} bytes are"
                                " kept as evidence",
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
                        if receive.identity(path) != before or digesting.result().size != size:
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
                    receive.keep_bytes(conn, report.sha256, spool)
                conn.execute(receive.INSERT_FILE, receive.file_params(report))
        except receive.AlreadyReceived as known:
            return receive.duplicate_report(report, known.existing)
        return report

    def _streamed(self, report: FileReport, source: Source) -> None:
        """The Python rules over a file read from disk twice (keys, then rows), COPYed as judged."""
        assert report.feed_format is not None
        feed = open_feed(source, report.feed_format)
        context = feed.new_agency_context()
        quarantine = Quarantine(report)
        loaded = 0
        values = write.ROW_VALUES[feed.kind.name]
        file_id = report.file_id or 0
        results = judged_records(feed, self.registry, self._received_day(report), context)
        with self.conn.cursor().copy(write.COPY_ROWS[feed.kind.name]) as copy:
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
        values = write.ROW_VALUES[contract.STATUS_FEED.name]
        assert report.feed_format is not None
        with self.conn.cursor().copy(write.COPY_ROWS[contract.STATUS_FEED.name]) as copy:
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

    def _fast_csv(self, report: FileReport, path: Path, progress: ProgressBar) -> bool:
        """Load a CSV through the Arrow path (fast_csv.py); False (nothing written) when the file
        needs an exact path: anything unusual in its structure, a repeated key, a server error."""
        feed_format = contract.feed_format(report.original_name)
        if large_csv_path() != "arrow" or not (feed_format or "").startswith("csv"):
            return False
        try:
            feed = CsvFeed.open(path, feed_format or "")
            if feed.kind is not contract.STATUS_FEED or feed.extra_columns or "" in feed.columns:
                return False
            # Usually on line 2, read in Python while Arrow warms up in its thread; if not in the
            # first rows, Arrow reads the agency column and Python only the rows that may set it.
            file_agency, agency_at = _file_agency(feed, self.registry, AGENCY_FIRST_RECORDS)
        except (FileProblem, ValueError, OSError, EOFError, zlib.error, csv.Error):
            return False  # the exact path judges (and explains) whatever is wrong
        from r71_tracker.feeds import fast_csv

        try:
            if file_agency is None:
                file_agency, agency_at = fast_csv.file_agency(
                    path,
                    feed.feed_format,
                    feed.columns,
                    self.max_bytes,
                    self.registry,
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
        progress: ProgressBar,
    ) -> None:
        from r71_tracker.feeds import fast_csv

        received_day = self._received_day(report)
        judge = fast_csv.FastCsvJudge(
            feed.columns,
            self.registry,
            file_agency,
            received_day,
            report.file_id or 0,
            agency_at,
        )
        columns = ", ".join(feed.columns)
        set_aside = array("q")  # line numbers, 8 bytes each however many rows are bad
        quarantine = Quarantine(report)
        rows = loaded = 0
        cursor = self.conn.cursor()
        with cursor.copy(
            f"copy raw.status_reports (file_id, line_number, {columns}) from stdin (format csv)"
        ) as copy:
            with write.BackgroundWriter(copy, depth=1) as writer:
                blocks = fast_csv.line_blocks(
                    path, feed.feed_format, self.max_bytes, progress.advance
                )
                for block, lines in blocks:
                    verdict = judge.judge(block, rows + 2, lines)
                    rows += verdict.rows
                    loaded += verdict.loaded
                    set_aside.frombytes(verdict.set_aside.tobytes())  # int64, as array "q"
                    quarantine.add_bulk(verdict.rejected)
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
        sql_judge.load_registry_tables(self.conn, self.registry)
        self._registry_loaded = True

    def _set_based(self, report: FileReport, path: Path, progress: ProgressBar) -> bool:
        """Stage and judge a CSV in SQL; False (nothing written) when it must go the Python way."""
        assert report.feed_format is not None
        feed = CsvFeed.open(path, report.feed_format)
        if feed.kind is not contract.STATUS_FEED:
            return False  # data dictionaries are small; the streamed Python rules judge them
        if self.conn.info.server_version < sql_judge.SET_BASED_MIN_SERVER_VERSION:
            return False  # the SQL rules need pg_input_is_valid (PostgreSQL 16)
        columns = feed.columns
        if len(columns) > sql_judge.MAX_STAGED_COLUMNS:
            return False  # a staging table holds at most 1,600 columns
        conn = self.conn
        self._ensure_registry_table()
        staged = [f"c{index}" for index in range(len(columns))]
        try:
            with conn.transaction(savepoint_name="set_based"):
                exact, rows, nfc = sql_judge.stage(
                    conn, path, report.feed_format, staged, self.max_bytes, progress
                )
                if not exact:
                    raise _Fallback()
                field = {name: staged[index] for index, name in enumerate(columns) if name}
                self._judge_in_sql(report, feed, path, field, rows, nfc)
        except _Fallback:
            return False
        return True

    def _judge_in_sql(
        self,
        report: FileReport,
        feed: CsvFeed,
        path: Path,
        field: dict[str, str],
        rows: int,
        all_nfc: bool,
    ) -> None:
        received_day = self._received_day(report)
        file_agency, agency_at = _file_agency(feed, self.registry)
        verdict = sql_judge.judge_staged(
            self.conn, feed.columns, field, rows, all_nfc, report.file_id, received_day, file_agency
        )
        loaded, repeated = verdict.loaded, verdict.repeated
        quarantine = Quarantine(report)
        if verdict.set_aside:
            # The rows SQL did not load: judged again by the Python rules, which explain them.
            context = AgencyContext(file_agency, agency_at)

            def judge_row(record: RawRecord) -> LoadedRow | RowRejection:
                return validate_record(record, self.registry, received_day, context, repeated)

            loaded += self._judge_set_aside(
                report, feed, path, verdict.set_aside, judge_row, quarantine
            )
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


class _TooManyRecords(Exception):
    """More records than a small file is judged with in Python (SMALL_FILE_MAX_RECORDS)."""


class _Fallback(Exception):
    """The staging cannot stand for Python's reading of the file: roll back, go the Python way."""


def _file_agency(
    feed: CsvFeed, registry: Registry, max_records: int | None = None
) -> tuple[str | None, str | None]:
    """The file's agency as the Python rules set it: the first row with every required field
    and a registered agency (usually the first row, so this reads a line or two); (None, None)
    when there is none, or none in the first `max_records`."""
    records = feed.records()
    if max_records is not None:
        records = itertools.islice(records, max_records)
    for record in records:
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


def judged_records(
    feed: CsvFeed | JsonFeed,
    registry: Registry,
    received_day: date,
    context: AgencyContext,
    max_records: int | None = None,
) -> Iterator[LoadedRow | RowRejection]:
    """Every record judged by the Python rules, in two passes (also what `tracker check` runs).
    The first (keys the file repeats; empty_file) runs when this is called, before the caller
    opens a COPY that a FileProblem would abort; the second runs as the result is iterated.
    _TooManyRecords past `max_records`."""
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
