"""`tracker audit-ingest`: prove from the database alone that nothing received was lost.

The raw tables have no foreign keys (a per-row check would cost more than the load); consistency
comes from one transaction per file, and this audit checks it: every file's counts add up and
match the rows stored, no stored row or chunk lacks its file, and every file's bytes are present
and hash to its SHA-256 (of a file received over the size limit, the
head kept of it). All files are verified, not a sample: reading back the gzip chunks costs
about as much as receiving them, far less than the rest of an ingest.
"""

from __future__ import annotations

import hashlib
import zlib

import psycopg

from r71_tracker import database

MAX_LISTED = 50

_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "received != loaded + rejected",
        "select format('file %s (%s): %s received != %s loaded + %s rejected', file_id,"
        " original_name, rows_received, rows_loaded, rows_rejected)"
        " from raw.feed_files where rows_received <> rows_loaded + rows_rejected",
    ),
    (
        "rows_loaded differs from the loaded rows",
        "select format('file %s (%s): rows_loaded %s but %s rows in %s', f.file_id,"
        " f.original_name, f.rows_loaded, coalesce(s.n, 0), case f.feed_kind when 'fields'"
        " then 'raw.field_reports' else 'raw.status_reports' end) from raw.feed_files f"
        " left join (select file_id, count(*) as n from raw.status_reports group by file_id"
        " union all select file_id, count(*) from raw.field_reports group by file_id) s"
        " using (file_id) where f.rows_loaded <> coalesce(s.n, 0)",
    ),
    (
        "rows in the other feed's table",
        "select format('file %s (%s) is a %s feed but has rows in raw.%s', f.file_id,"
        " f.original_name, coalesce(f.feed_kind, 'rejected'), t.source) from ("
        " select distinct 'status_reports' as source, 'status' as kind, file_id"
        " from raw.status_reports union all select distinct 'field_reports', 'fields', file_id"
        " from raw.field_reports) t join raw.feed_files f using (file_id)"
        " where f.feed_kind is distinct from t.kind",
    ),
    (
        "rows_rejected differs from raw.rejected_rows",
        "select format('file %s (%s): rows_rejected %s but %s rows in raw.rejected_rows',"
        " f.file_id, f.original_name, f.rows_rejected, coalesce(r.n, 0))"
        " from raw.feed_files f left join (select file_id, count(*) as n from raw.rejected_rows"
        " group by file_id) r using (file_id) where f.rows_rejected <> coalesce(r.n, 0)",
    ),
    (
        "orphan rows",
        "select format('%s row(s) in raw.%s for file %s, which raw.feed_files does not have',"
        " count(*), t.source, t.file_id) from ("
        " select 'status_reports' as source, file_id from raw.status_reports"
        " union all select 'field_reports', file_id from raw.field_reports"
        " union all select 'rejected_rows', file_id from raw.rejected_rows) t"
        " where not exists (select from raw.feed_files f where f.file_id = t.file_id)"
        " group by t.source, t.file_id",
    ),
    (
        "repeated lines",
        "select format('file %s line %s: %s rows in the loaded and rejected rows',"
        " t.file_id, t.line_number, count(*)) from ("
        " select file_id, line_number from raw.status_reports"
        " union all select file_id, line_number from raw.field_reports"
        " union all select file_id, line_number from raw.rejected_rows) t"
        " group by t.file_id, t.line_number having count(*) > 1",
    ),
    (
        "orphan chunks",
        "select format('%s chunk(s) in raw.feed_file_chunks for sha256 %s, which no file has',"
        " count(*), c.sha256) from raw.feed_file_chunks c"
        " where not exists (select from raw.feed_files f where f.sha256 = c.sha256)"
        " group by c.sha256",
    ),
)


def _verify_bytes(conn: psycopg.Connection, problems: list[str]) -> None:
    """Every file's stored bytes read back and hashed: the whole file, or for a file received
    over the size limit the head kept of it (stored_bytes, stored_sha256). A file whose gzip
    content expands past the limit was received within it and is kept whole, like any other."""
    files = conn.execute(
        "select file_id, original_name, sha256, size_bytes, stored_bytes, stored_sha256,"
        " coalesce(file_reason_code, '') = 'too_large' from raw.feed_files order by file_id"
    ).fetchall()
    for file_id, name, sha256, size, stored_bytes, stored_sha256, too_large in files:
        digest = hashlib.sha256()
        length = 0
        expected = 0
        with conn.cursor(name="audit_chunks") as cursor:
            cursor.execute(
                "select chunk_number, compressed from raw.feed_file_chunks"
                " where sha256 = %s order by chunk_number",
                (sha256,),
            )
            try:
                for number, compressed in cursor:
                    if number != expected:
                        problems.append(f"file {file_id} ({name}): chunk {expected} is missing")
                        break
                    data = zlib.decompress(bytes(compressed), 31)
                    digest.update(data)
                    length += len(data)
                    expected += 1
            except zlib.error as error:
                problems.append(f"file {file_id} ({name}): chunk {expected} is not gzip ({error})")
                continue
        if stored_bytes is None and too_large and length == 0:
            continue  # received over the size limit before its head was kept (schema 10)
        if stored_bytes is not None and not too_large:
            problems.append(f"file {file_id} ({name}): only part of it is kept, but not too_large")
            continue
        kept, kept_sha256 = (size, sha256)
        if stored_bytes is not None:
            kept, kept_sha256 = stored_bytes, stored_sha256
        if length != kept:
            problems.append(f"file {file_id} ({name}): {length} bytes stored, {kept} kept")
        elif digest.hexdigest() != kept_sha256:
            problems.append(f"file {file_id} ({name}): stored bytes do not hash to its sha256")


def audit_ingest(url: str | None = None, verify_bytes: bool = True) -> list[str]:
    """Problems found in the raw tables, one line each (empty: everything adds up)."""
    problems: list[str] = []
    with database.connect(url) as conn:
        with conn.transaction():
            conn.execute("set transaction isolation level repeatable read, read only")
            for _, query in _CHECKS:
                rows = conn.execute(query).fetchmany(MAX_LISTED)
                problems.extend(row[0] for row in rows)
            if verify_bytes:
                _verify_bytes(conn, problems)
    return problems
