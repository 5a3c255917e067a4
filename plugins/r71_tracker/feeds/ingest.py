"""Feed ingestion: keep each file verbatim, judge it whole, then load or quarantine every row.

Each file is one transaction: its raw.feed_files row, its loaded rows (COPY into raw.status_reports)
and its quarantined rows (raw.rejected_rows) commit together or not at all. The same bytes received
again, under any name, are recognised by the unique sha256 and change nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

import psycopg

from r71_tracker import database
from r71_tracker.config import settings
from r71_tracker.feeds import contract
from r71_tracker.feeds.readers import CsvFeed, FileProblem, JsonFeed, check_whole_file, open_feed
from r71_tracker.feeds.validation import (
    RowRejection,
    ValidRow,
    duplicate_key,
    validate_record,
)
from r71_tracker.registry import Registry, load_registry

LOADED, REJECTED, DUPLICATE = "loaded", "rejected", "duplicate"
MAX_RAW_RECORD_CHARS = 10_000
REJECTED_SAMPLES_KEPT = 20
REJECTED_SAMPLES_PRINTED = 5

_INSERT_FILE = """
insert into raw.feed_files (
    sha256, original_name, size_bytes, content, feed_format, file_status,
    rows_received, rows_loaded, rows_rejected
) values (%s, %s, %s, %s, %s, 'loaded', 0, 0, 0)
on conflict (sha256) do nothing
returning file_id, received_at
"""
_FIND_FILE = """
select file_id, original_name, received_at, agency_code from raw.feed_files where sha256 = %s
"""
_REJECT_FILE = """
update raw.feed_files
set file_status = 'rejected', file_reason_code = %s, file_reason_message = %s, feed_format = %s
where file_id = %s
"""
_FINISH_FILE = """
update raw.feed_files
set agency_code = %s, feed_format = %s, rows_received = %s, rows_loaded = %s,
    rows_rejected = %s, extra_columns = %s
where file_id = %s
"""
_COPY_ROWS = """
copy raw.status_reports (
    file_id, line_number, report_date, agency_code, database_code, platform_status, data_status,
    process_integrated, connected_national, record_count, records_updated_30d, consumer_agencies,
    notes, received_at
) from stdin
"""
_COPY_REJECTED = """
copy raw.rejected_rows (file_id, line_number, reason_code, message, raw_record) from stdin
"""


@dataclass
class FileReport:
    """What happened to one file: the load report a ministry or an operator reads."""

    path: Path
    original_name: str
    outcome: str
    sha256: str | None = None
    size_bytes: int | None = None
    feed_format: str | None = None
    file_id: int | None = None
    agency_code: str | None = None
    received_at: datetime | None = None
    rows_received: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    reason_code: str | None = None
    message: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    rejected_samples: list[dict[str, object]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types (paths and times as strings)."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["received_at"] = self.received_at.isoformat() if self.received_at else None
        return data


def _display_name(path: Path) -> str:
    """The file name as text PostgreSQL can store, even when the name's bytes are not UTF-8."""
    return os.fsencode(path.name).decode("utf-8", "replace")


def _storable(text: str, limit: int | None = None) -> str:
    """Text PostgreSQL accepts: no NUL, no lone surrogates; optionally cut to `limit` chars."""
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return text if limit is None or len(text) <= limit else text[:limit] + "…"


def _sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def feed_files_in(folder: Path) -> list[Path]:
    """Feed files directly inside a folder, sorted by name (hidden and other names ignored)."""
    return sorted(
        child
        for child in folder.iterdir()
        if child.is_file() and not child.name.startswith(".") and contract.feed_format(child.name)
    )


def _expand(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        files.extend(feed_files_in(path) if path.is_dir() else [path])
    return files


def _file_message(name: str, problem: FileProblem) -> str:
    where = f" {problem.location}" if problem.location else ""
    return f"{name}{where}: file rejected ({problem.reason_code}): {problem.detail}"


def _row_message(name: str, rejection: RowRejection) -> str:
    return f"{name} {rejection.location}: {rejection.reason_code}: {rejection.detail}"


def _row_values(file_id: int, row: ValidRow, received_at: datetime) -> tuple[object, ...]:
    return (
        file_id,
        row.line_number,
        row.report_date,
        row.agency_code,
        row.database_code,
        row.platform_status,
        row.data_status,
        row.process_integrated,
        row.connected_national,
        row.record_count,
        row.records_updated_30d,
        row.consumer_agencies,
        row.notes,
        received_at,
    )


def _duplicate_keys(feed: CsvFeed | JsonFeed) -> tuple[int, dict[str, tuple[int, str]]]:
    """First pass: how many records, and which (database, date) keys occur more than once.

    Only keys are held in memory, so a large history export is not buffered row by row.
    """
    counts: Counter[str] = Counter()
    first_seen: dict[str, str] = {}
    records = 0
    for record in feed.records():
        records += 1
        key = duplicate_key(record)
        if key is not None:
            counts[key] += 1
            first_seen.setdefault(key, record.location)
    repeated = {key: (count, first_seen[key]) for key, count in counts.items() if count > 1}
    return records, repeated


def _load_rows(
    conn: psycopg.Connection,
    report: FileReport,
    feed: CsvFeed | JsonFeed,
    registry: Registry,
    received_day: date,
) -> None:
    """Second pass: validate every record, COPY the good rows, then the quarantined ones."""
    records, repeated = _duplicate_keys(feed)
    if records == 0:
        raise FileProblem("empty_file", "the file has a header row but no data rows")
    context = feed.new_agency_context()
    rejections: list[RowRejection] = []
    loaded = 0
    with conn.cursor() as cursor:
        with cursor.copy(_COPY_ROWS) as copy:
            for record in feed.records():
                result = validate_record(record, registry, received_day, context, repeated)
                if isinstance(result, ValidRow):
                    copy.write_row(_row_values(report.file_id, result, report.received_at))
                    loaded += 1
                else:
                    rejections.append(result)
        with cursor.copy(_COPY_REJECTED) as copy:
            for rejection in rejections:
                copy.write_row(
                    (
                        report.file_id,
                        rejection.line_number,
                        rejection.reason_code,
                        _storable(_row_message(report.original_name, rejection)),
                        _storable(rejection.raw_text, MAX_RAW_RECORD_CHARS),
                    )
                )
    agency = context.file_agency if context.file_agency in registry.agency_codes else None
    report.agency_code = agency
    report.extra_columns = list(feed.extra_columns)
    report.rows_loaded, report.rows_rejected = loaded, len(rejections)
    report.rows_received = loaded + len(rejections)
    report.rejected_by_reason = dict(Counter(r.reason_code for r in rejections).most_common())
    report.rejected_samples = [
        {
            "line_number": r.line_number,
            "reason_code": r.reason_code,
            "message": _storable(_row_message(report.original_name, r)),
        }
        for r in rejections[:REJECTED_SAMPLES_KEPT]
    ]
    conn.execute(
        _FINISH_FILE,
        (
            agency,
            report.feed_format,
            report.rows_received,
            report.rows_loaded,
            report.rows_rejected,
            [_storable(name) for name in report.extra_columns],
            report.file_id,
        ),
    )


def _read(path: Path, max_bytes: int) -> tuple[bytes, str, int, bool]:
    """(content kept, sha256, size, too large); a file over the limit is hashed, not kept."""
    size = path.stat().st_size
    if size > max_bytes:
        return b"", _sha256_of(path), size, True
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    if len(content) > max_bytes:  # grew after stat
        return b"", digest, len(content), True
    return content, digest, len(content), False


def ingest_file(
    conn: psycopg.Connection, path: Path, registry: Registry, max_bytes: int
) -> FileReport:
    """Receive one file in one transaction; `conn` must be in autocommit mode."""
    name = _display_name(path)
    report = FileReport(path=path, original_name=name, outcome=LOADED)
    try:
        content, report.sha256, report.size_bytes, too_large = _read(path, max_bytes)
    except OSError as error:
        report.outcome, report.reason_code = REJECTED, contract.UNREADABLE
        report.message = f"{name}: cannot be read ({error.strerror or error}); nothing was received"
        return report
    report.feed_format = contract.feed_format(name)
    with conn.transaction():
        inserted = conn.execute(
            _INSERT_FILE, (report.sha256, name, report.size_bytes, content, report.feed_format)
        ).fetchone()
        if inserted is None:
            return _duplicate(conn, report)
        report.file_id, report.received_at = inserted
        received_day = report.received_at.astimezone(contract.RECEIVED_DAY_TIMEZONE).date()
        try:
            if too_large:
                raise FileProblem(
                    "too_large", f"{report.size_bytes} bytes is over the limit of {max_bytes}"
                )
            report.feed_format = check_whole_file(name, content, max_bytes)
            _load_rows(conn, report, open_feed(content, report.feed_format), registry, received_day)
        except FileProblem as problem:
            report.outcome, report.reason_code = REJECTED, problem.reason_code
            report.message = _storable(_file_message(name, problem))
            conn.execute(
                _REJECT_FILE,
                (problem.reason_code, report.message, report.feed_format, report.file_id),
            )
    return report


def _duplicate(conn: psycopg.Connection, report: FileReport) -> FileReport:
    existing = conn.execute(_FIND_FILE, (report.sha256,)).fetchone()
    report.outcome = DUPLICATE
    if existing is not None:
        report.file_id, first_name, report.received_at, report.agency_code = existing
        report.message = (
            f"{report.original_name}: same bytes as file {report.file_id} ({first_name},"
            f" received {report.received_at:%Y-%m-%d %H:%M %Z}); nothing changed"
        )
    return report


def ingest_paths(paths: list[Path], url: str | None = None) -> list[FileReport]:
    """Ingest files and folders (a folder: its feed files, sorted by name), one report per file."""
    registry = load_registry()
    max_bytes = settings().max_feed_bytes
    files = _expand(paths)
    with database.connect(url) as conn:
        conn.autocommit = True
        return [ingest_file(conn, path, registry, max_bytes) for path in files]


def find_new_files(landing_dir: Path, url: str) -> list[Path]:
    """Feed files in the landing folder whose bytes the tracker has not received yet."""
    if not landing_dir.is_dir():
        return []
    digests: dict[Path, str | None] = {}
    for path in feed_files_in(landing_dir):
        try:
            digests[path] = _sha256_of(path)
        except OSError:
            digests[path] = None  # ingest will report it as unreadable
    known_digests = [digest for digest in digests.values() if digest]
    with database.connect(url) as conn:
        rows = conn.execute(
            "select sha256 from raw.feed_files where sha256 = any(%s)", (known_digests,)
        ).fetchall()
    known = {row[0] for row in rows}
    return [path for path, digest in digests.items() if digest not in known]


def totals(reports: list[FileReport]) -> dict[str, object]:
    """Counts over a batch of reports, as printed at the end and in the JSON document."""
    outcomes = Counter(report.outcome for report in reports)
    by_reason: Counter[str] = Counter()
    for report in reports:
        by_reason.update(report.rejected_by_reason)
    return {
        "files": len(reports),
        "loaded": outcomes[LOADED],
        "rejected": outcomes[REJECTED],
        "duplicate": outcomes[DUPLICATE],
        "rows_received": sum(report.rows_received for report in reports),
        "rows_loaded": sum(report.rows_loaded for report in reports),
        "rows_rejected": sum(report.rows_rejected for report in reports),
        "rejected_by_reason": dict(by_reason.most_common()),
    }


def _summary_line(report: FileReport) -> str:
    file_ref = f" [file {report.file_id}]" if report.file_id is not None else ""
    if report.outcome == REJECTED:
        return f"rejected  {report.original_name}: {report.reason_code}{file_ref}"
    if report.outcome == DUPLICATE:
        return f"duplicate {report.message or report.original_name}"
    reasons = ", ".join(f"{code} {count}" for code, count in report.rejected_by_reason.items())
    line = (
        f"loaded    {report.original_name} ({report.agency_code or 'no valid agency'}):"
        f" {report.rows_received} rows received, {report.rows_loaded} loaded,"
        f" {report.rows_rejected} rejected{f' ({reasons})' if reasons else ''}{file_ref}"
    )
    if report.extra_columns:
        line += f"; extra columns ignored: {', '.join(report.extra_columns)}"
    return line


def print_reports(
    reports: list[FileReport], as_json: bool, stream: TextIO, error_stream: TextIO | None = None
) -> int:
    """Print the load reports; the exit code is 1 when any file was rejected whole, else 0.

    Summaries (or one JSON document) go to `stream`; one line per rejected file to `error_stream`
    (default stderr), so a script can read stdout while a person sees what failed.
    """
    error_stream = error_stream if error_stream is not None else sys.stderr
    summary = totals(reports)
    if as_json:
        document = {"files": [report.to_dict() for report in reports], "totals": summary}
        json.dump(document, stream, ensure_ascii=False, indent=2)
        stream.write("\n")
    else:
        for report in reports:
            stream.write(_summary_line(report) + "\n")
            shown = report.rejected_samples[:REJECTED_SAMPLES_PRINTED]
            for sample in shown:
                stream.write(f"    {sample['message']}\n")
            if report.rows_rejected > len(shown):
                stream.write(
                    f"    … {report.rows_rejected - len(shown)} more in raw.rejected_rows\n"
                )
        stream.write(
            f"{summary['files']} file(s): {summary['loaded']} loaded,"
            f" {summary['rejected']} rejected, {summary['duplicate']} duplicate;"
            f" rows: {summary['rows_received']} received,"
            f" {summary['rows_loaded']} loaded, {summary['rows_rejected']} rejected\n"
        )
    failed = [report for report in reports if report.outcome == REJECTED]
    for report in failed:
        error_stream.write(f"error: {report.message}\n")
    return 1 if failed else 0
