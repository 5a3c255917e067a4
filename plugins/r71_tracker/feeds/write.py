"""How judged rows reach the raw tables (the write step): the COPY of each feed kind (COPY_ROWS)
with a loaded row's values in column order (ROW_VALUES), fed from a thread while the next block
is judged (BackgroundWriter), and a small file's one statement: its raw.feed_files row, bytes,
loaded and rejected rows together (INSERT_SMALL_FILE, rows as JSON: rows_json).

Rejected rows are written by quarantine.py; the set-based SQL judge inserts its own (sql_judge.py).
"""

from __future__ import annotations

import json
import operator
import queue
import threading
from datetime import date

import psycopg

from r71_tracker.feeds import contract
from r71_tracker.feeds.receive import INSERT_FILE
from r71_tracker.feeds.validation import LoadedRow

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
with f as ({INSERT_FILE}),
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


INSERT_SMALL_FILE = {kind.name: _insert_small_file(kind) for kind in contract.FEED_KINDS}
COPY_ROWS = {
    kind.name: f"copy {kind.raw_table} (file_id, line_number, {', '.join(kind.fields)}) from stdin"
    for kind in contract.FEED_KINDS
}
# A loaded row's values in its raw table's column order (after file_id).
ROW_VALUES = {
    kind.name: operator.attrgetter("line_number", *kind.fields) for kind in contract.FEED_KINDS
}


def rows_json(kind_name: str | None, rows: list[LoadedRow]) -> str:
    """Loaded rows as one JSON array of objects named like the raw table's columns."""
    if not rows:
        return "[]"
    names = ("line_number", *contract.FEED_KINDS_BY_NAME[kind_name or "status"].fields)
    values = ROW_VALUES[kind_name or "status"]
    return json.dumps(
        [dict(zip(names, values(row), strict=True)) for row in rows],
        ensure_ascii=False,
        default=date.isoformat,
    )


class BackgroundWriter:
    """Feeds a COPY from a thread, so the next block is judged while the server loads this one.

    At most `depth` blocks wait (memory stays bounded whatever the file size).
    """

    def __init__(self, copy: psycopg.Copy, depth: int = 3) -> None:
        self._copy = copy
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="copy-writer", daemon=True)

    def __enter__(self) -> BackgroundWriter:
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
