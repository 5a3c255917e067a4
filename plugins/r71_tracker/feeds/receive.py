"""Receipt, the first step of a file's way through: what becomes of its bytes, not of its rows.

It opens the file once (readers.open_regular_file refuses what is not a regular file) and reads a
small one whole (open_file); it hashes a large one and spools its bytes as gzip chunks from one
read while its rows load (digest_and_spool), telling whether it changed meanwhile (identity).
Then, in the file's transaction and under its digest's advisory lock (lock_key): the duplicate
check and the verbatim bytes (keep_bytes, raw.feed_file_chunks), the raw.feed_files row
(INSERT_FILE with file_params; a duplicate's report: duplicate_report), and the record of files
nothing of which was received (record_refusals, raw.refused_files).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import psycopg

from r71_tracker import database
from r71_tracker.feeds import contract
from r71_tracker.feeds.chunks import CHUNK_BYTES, gzip_chunk
from r71_tracker.feeds.readers import RefusedPath, open_regular_file
from r71_tracker.feeds.report import (
    DUPLICATE,
    LOADED,
    REJECTED,
    FileReport,
    display_name,
    storable,
)

SPOOL_MEMORY_BYTES = 16 * 1024 * 1024  # compressed chunks beyond this wait in a temporary file
TOO_LARGE_HEAD_BYTES = CHUNK_BYTES  # what is kept of a file received over the size limit

LOCK = "select pg_advisory_xact_lock(%s)"
FIND_FILE = """
select file_id, original_name, received_at, agency_code from raw.feed_files where sha256 = %s
"""
INSERT_FILE = """
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
# Binary: bytea as text would be escaped, which costs more than compressing it.
_COPY_CHUNKS = (
    "copy raw.feed_file_chunks (sha256, chunk_number, compressed) from stdin (format binary)"
)
_INSERT_REFUSED = (
    "insert into raw.refused_files (original_name, reason_code, message) values (%s, %s, %s)"
)
_HAS_CHUNKS = "select exists (select from raw.feed_file_chunks where sha256 = %s)"


def open_file(path: Path, small_below: int, max_bytes: int) -> tuple[FileReport, bytes | None]:
    """Open a file once, with no database work: its report and, when it is small (under
    `small_below` bytes and within `max_bytes`), its bytes, hashed. A large file is hashed
    while it loads (digest_and_spool). The report is REJECTED when nothing can be received
    (a refused path, an unreadable file)."""
    name = display_name(path)
    report = FileReport(path=path, original_name=name, outcome=LOADED)
    report.feed_format = contract.feed_format(name)
    try:
        with open_regular_file(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            small = size < small_below and size <= max_bytes
            content: bytes | None = handle.read() if small else None
        if content is not None:
            report.sha256, report.size_bytes = hashlib.sha256(content).hexdigest(), len(content)
        else:
            report.size_bytes = size  # hashed while it loads (_large)
    except RefusedPath as refused:
        report.outcome, report.reason_code = REJECTED, refused.reason_code
        report.message = f"{name}: refused ({refused.reason_code}): {refused.detail}"
        return report, None
    except OSError as error:
        report.outcome, report.reason_code = REJECTED, contract.UNREADABLE
        report.message = f"{name}: cannot be read ({error.strerror or error}); nothing was received"
        return report, None
    report.received_at = datetime.now(UTC)
    return report, content


def lock_key(sha256: str) -> int:
    """The advisory lock of a digest: its first 8 bytes as a signed bigint."""
    return int.from_bytes(bytes.fromhex(sha256)[:8], "big", signed=True)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open_regular_file(path) as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


@dataclass
class Digest:
    """One read of a file: its SHA-256 and length, and the bytes kept (as gzip chunks)."""

    sha256: str
    size: int
    spool: IO[bytes] | None  # the kept bytes' chunks, length-prefixed; None when none are kept
    kept_size: int
    kept_sha256: str


def digest_and_spool(path: Path, keep: int | None) -> Digest:
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
    return Digest(digest.hexdigest(), size, spool, kept_size, kept_digest.hexdigest())


def identity(path: Path) -> tuple[int, ...]:
    """What changes when a file is written to or replaced (no file has the same after a write)."""
    stat = os.stat(path, follow_symlinks=False)
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class AlreadyReceived(Exception):
    """These bytes are loaded already: roll the transaction back, report a duplicate."""

    def __init__(self, existing: tuple) -> None:
        super().__init__("already received")
        self.existing = existing


def keep_bytes(conn: psycopg.Connection, sha256: str, spool: IO[bytes] | None) -> None:
    """Under the digest's lock: AlreadyReceived if these bytes are loaded already, else their
    chunks stored (unless these very bytes are stored already: content-addressed)."""
    conn.execute(LOCK, (lock_key(sha256),))
    existing = conn.execute(FIND_FILE, (sha256,)).fetchone()
    if existing is not None:
        raise AlreadyReceived(existing)
    stored = database.scalar(conn, _HAS_CHUNKS, (sha256,))
    if spool is not None and not stored:
        _store_chunks(conn, sha256, spool)


def _store_chunks(conn: psycopg.Connection, sha256: str, spool: IO[bytes]) -> None:
    """The bytes (unless these very bytes are stored already: content-addressed)."""
    with conn.cursor().copy(_COPY_CHUNKS) as copy:
        copy.set_types(["text", "int4", "bytea"])
        number = 0
        while header := spool.read(4):
            copy.write_row((sha256, number, spool.read(int.from_bytes(header, "big"))))
            number += 1


def file_params(report: FileReport) -> dict[str, object]:
    """The raw.feed_files row of a report (INSERT_FILE's parameters)."""
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


def duplicate_report(report: FileReport, existing: tuple | None) -> FileReport:
    """The report of bytes received already (`existing`: FIND_FILE's row of the first file)."""
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


def record_refusals(conn: psycopg.Connection, reports: list[FileReport]) -> None:
    """The files nothing of which was received (refused paths, unreadable files, internal
    errors), one raw.refused_files row each: every file of a call is on record."""
    refused = [
        (storable(report.original_name), report.reason_code, storable(report.message or ""))
        for report in reports
        if report.outcome == REJECTED and report.file_id is None
    ]
    if refused:
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(_INSERT_REFUSED, refused)
