"""Least privilege (issue 5): log in as each tracker role and prove what it can and cannot do.

One database of its own (the roles already exist: the session database's migration created them,
as another database on a shared server would), loaded by the ingest (as tracker_loader) and built
by dbt (as tracker_transformer). Every refusal must be PostgreSQL's own: InsufficientPrivilege, or
the audit trail's append-only trigger (RaiseException).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from conftest import FEED_HEADER, VALID_MOJ_ROW, fresh_database
from psycopg import errors, sql

from r71_tracker import cli, database, transform
from r71_tracker.feeds.ingest import ingest_paths

pytestmark = pytest.mark.integration

LOADER, TRANSFORMER = database.LOADER_ROLE, database.TRANSFORMER_ROLE
LIAISON, AUDITOR = database.LIAISON_ROLE, database.AUDITOR_ROLE
GATE, OPERATOR = database.GATE_ROLE, database.OPERATOR_ROLE
RUN_DATE = date(2025, 12, 15)
TEST_DATABASE = os.environ.get("TRACKER_TEST_DATABASE", "tracker_test")

NEW_FILE = (
    "insert into raw.feed_files (file_id, sha256, original_name, size_bytes, file_status,"
    " rows_received, rows_loaded, rows_rejected)"
    " overriding system value"
    " values (nextval(pg_get_serial_sequence('raw.feed_files', 'file_id')), md5(random()::text),"
    " 'role_test.csv', 1, 'loaded', 1, 1, 0) returning file_id"
)
NEW_RESULT = (
    "insert into audit.expectation_results (run_id, suite_name, expectation_type,"
    " expectation_kwargs, success, run_date) values ('roles_test', 'suite', 'type', '{}', true,"
    " '2025-12-15')"
)

# A forged verdict: a passing gate run the gate never ran.
FORGED_RUN = (
    "insert into audit.gate_runs (run_id, run_date, code_version, started_at, success,"
    " blocking_failures, warnings) values ('forged', '2025-12-15', 'x', now(), true, 0, 0)"
)
FORGED_VERDICT = (
    "insert into audit.file_verdicts (file_id, verdict, gate_run_id) values (1, 'published', 'x')"
)
FORGED_PUBLICATION = (
    "insert into audit.publications (gate_run_id, run_date, candidate_schema,"
    " files_first_published) values ('forged', '2025-12-15', 'marts', 0)"
)
WITHDRAWAL = (
    "insert into audit.file_events (file_id, action, reason, actor)"
    " values (1, 'withdraw', 'roles test', 'tester')"
)
# What each role must be refused: (statement, the error PostgreSQL raises).
DENIED = errors.InsufficientPrivilege
REFUSED: dict[str, list[str]] = {
    LOADER: [
        "update raw.feed_files set original_name = 'x'",
        "delete from raw.status_reports",
        "truncate raw.rejected_rows",
        "update raw.feed_file_chunks set chunk_number = chunk_number",
        "select 1 from marts.database_current_status",
        "select 1 from audit.expectation_results",
        NEW_RESULT,
        FORGED_RUN,
        FORGED_VERDICT,
        WITHDRAWAL,
        "select 1 from staging.stg_feeds__status_reports",  # staging: the registry seeds only
        "select 1 from staging.verification_rules",
        "create table raw.extra (x int)",
        "create table staging.extra (x int)",
        "create schema extra",
    ],
    TRANSFORMER: [
        "insert into raw.status_reports select * from raw.status_reports limit 1",
        "update raw.feed_files set original_name = 'x'",
        "delete from raw.feed_files",
        "truncate raw.status_reports",
        "create table raw.extra (x int)",
        # the role that builds the marts cannot write (or forge) the gate's record
        NEW_RESULT,
        FORGED_RUN,
        FORGED_VERDICT,
        FORGED_PUBLICATION,
        WITHDRAWAL,
        "insert into audit.alerts (alert_kind, recipient, subject, body)"
        " values ('x', 'x', 'x', 'x')",
        "select 1 from audit.gate_runs",
        "update audit.expectation_results set success = not success",
        "delete from audit.expectation_results",
        "delete from audit.gate_runs",
        "update audit.alerts set body = ''",
        "truncate audit.expectation_results",
        "create table audit.extra (x int)",
        "create schema extra",
    ],
    LIAISON: [
        "select 1 from raw.feed_files",
        "select 1 from raw.status_reports",
        "select 1 from staging.registry_databases",
        "select 1 from staging.stg_feeds__status_reports",
        "select 1 from audit.expectation_results",
        "select 1 from audit.gate_runs",
        "insert into marts.stage_summary select * from marts.stage_summary",
        "delete from marts.database_current_status",
        "create table marts.extra (x int)",
        "create temp table scratch (x int)",
        "create schema extra",
    ],
    AUDITOR: [
        NEW_RESULT,
        FORGED_RUN,
        WITHDRAWAL,
        "update audit.expectation_results set success = not success",
        "delete from audit.alerts",
        "insert into raw.feed_files (sha256, original_name, size_bytes, file_status,"
        " rows_received, rows_loaded, rows_rejected) values ('x', 'x', 0, 'loaded', 0, 0, 0)",
        "delete from raw.status_reports",
        "update raw.rejected_rows set message = ''",
        "select 1 from staging.registry_databases",
        "select 1 from staging.int_status_reports_received",
        "insert into marts.stage_summary select * from marts.stage_summary",
        "create table marts.extra (x int)",
        "create temp table scratch (x int)",
        "create schema extra",
    ],
    GATE: [
        "update audit.gate_runs set success = true",
        "delete from audit.file_verdicts",
        "truncate audit.expectation_results",
        WITHDRAWAL,  # operators' recourse is not the gate's
        "delete from raw.feed_files",
        "select 1 from raw.status_reports",
        "create table marts.extra (x int)",
        "create schema extra",
    ],
    OPERATOR: [
        NEW_RESULT,
        FORGED_RUN,
        FORGED_VERDICT,
        "update audit.file_events set reason = 'x'",
        "delete from audit.file_events",
        "update raw.feed_files set original_name = 'x'",
        "select 1 from marts.database_current_status",
        "create schema extra",
    ],
}


def login_url(url: str, user: str, password: str | None = None) -> str:
    """The same server and database, logging in as `user`."""
    parts = urlsplit(url)
    where = parts.netloc.rpartition("@")[2]
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit(parts._replace(netloc=f"{auth}@{where}"))


def _can_log_in(url: str) -> bool:
    try:
        psycopg.connect(url).close()
    except psycopg.OperationalError:
        return False
    return True


@contextmanager
def _login_passwords(admin_url: str, users: tuple[str, ...]) -> Iterator[dict[str, str | None]]:
    """Each user's password for this test session: none where the server lets it in without one
    (the embedded server trusts local sockets), else a random one, set here and undone after."""
    passwords: dict[str, str | None] = {}
    saved: dict[str, str | None] = {}
    with psycopg.connect(admin_url, autocommit=True) as admin:
        try:
            for user in users:
                if _can_log_in(login_url(admin_url, user)):
                    passwords[user] = None
                    continue
                try:
                    row = admin.execute(
                        "select rolpassword from pg_authid where rolname = %s", (user,)
                    ).fetchone()
                    saved[user] = row[0] if row else None
                except psycopg.errors.InsufficientPrivilege:
                    saved[user] = None
                passwords[user] = secrets.token_urlsafe(24)
                admin.execute(
                    sql.SQL("alter role {} password {}").format(
                        sql.Identifier(user), sql.Literal(passwords[user])
                    )
                )
            yield passwords
        finally:
            for user, old in saved.items():
                admin.execute(
                    sql.SQL("alter role {} password {}").format(
                        sql.Identifier(user), sql.Literal(old)
                    )
                )


@pytest.fixture(scope="module")
def built(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database of its own: schema 7, one feed file ingested, dbt built for RUN_DATE."""
    url = fresh_database(server_url, f"{TEST_DATABASE}_roles")
    database.ensure_tracker_schema(url)
    feed = tmp_path_factory.mktemp("feeds") / "moj_2025-12-15.csv"
    feed.write_text(f"{FEED_HEADER}\n{','.join(VALID_MOJ_ROW.values())}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_DATABASE_URL", url)
        patch.setenv("TRACKER_LOCAL_DIR", str(tmp_path_factory.mktemp("local")))
        (report,) = ingest_paths([feed], url, progress=False)
        assert (report.outcome, report.rows_loaded) == ("loaded", 1), report.message
        transform.build(url, RUN_DATE)
    return url


@pytest.fixture(scope="module")
def passwords(built: str) -> Iterator[dict[str, str | None]]:
    with _login_passwords(built, database.TRACKER_ROLES) as found:
        yield found


@pytest.fixture
def login(built: str, passwords: dict[str, str | None]):
    """`login(role)`: a new autocommit connection that logged in as the role itself."""
    opened: list[psycopg.Connection] = []

    def connect(role: str) -> psycopg.Connection:
        conn = psycopg.connect(login_url(built, role, passwords[role]), autocommit=True)
        opened.append(conn)
        assert conn.execute("select session_user, current_user").fetchone() == (role, role)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def _scalar(conn: psycopg.Connection, query: str) -> object:
    return conn.execute(query).fetchone()[0]


def _relations(url: str, schema: str) -> list[tuple[str, str]]:
    """Every table and view in a schema, with its owner."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select c.relname, pg_get_userbyid(c.relowner) from pg_class c"
            " where c.relnamespace = %s::regnamespace and c.relkind in ('r', 'p', 'v', 'm')"
            " order by c.relname",
            (schema,),
        ).fetchall()


def test_the_roles_are_plain_login_roles(built: str) -> None:
    with psycopg.connect(built) as conn:
        roles = conn.execute(
            "select rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
            " from pg_roles where rolname = any(%s) order by rolname",
            (list(database.TRACKER_ROLES),),
        ).fetchall()
    expected = [(role, True, False, False, False, False) for role in database.TRACKER_ROLES]
    assert roles == sorted(expected)


def test_loader_inserts_into_raw_and_reads_the_registry(login) -> None:
    conn = login(LOADER)
    with conn.transaction(force_rollback=True):
        file_id = _scalar(conn, NEW_FILE)
        conn.execute(
            "insert into raw.status_reports select %s, line_number, report_date, agency_code,"
            " database_code, platform_status, data_status, process_integrated,"
            " connected_national, record_count, records_updated_30d, consumer_agencies, notes"
            " from raw.status_reports limit 1",
            (file_id,),
        )
        conn.execute(
            "insert into raw.rejected_rows values (%s, 3, 'bad_date', 'm', 'r')", (file_id,)
        )
        conn.execute(
            "insert into raw.feed_file_chunks values (md5(random()::text), 0, '\\x00')"
            " on conflict do nothing"
        )
        assert _scalar(conn, "select count(*) from raw.status_reports") == 2
        conn.execute("create temp table scratch (x int) on commit drop")  # the set-based path
    assert _scalar(conn, "select count(*) from staging.registry_databases") == 105
    assert _scalar(conn, "select count(*) from staging.registry_agencies") > 0
    assert _scalar(conn, "select count(*) from staging.registry_provinces") > 0


def test_transformer_reads_raw_and_owns_the_marts(login) -> None:
    conn = login(TRANSFORMER)
    assert _scalar(conn, "select count(*) from raw.status_reports") == 1
    assert _scalar(conn, "select count(*) from raw.feed_file_chunks") == 1
    assert _scalar(conn, "select count(*) from raw.file_states") == 1  # what a build reads
    with conn.transaction(force_rollback=True):
        conn.execute("create table marts.role_test as select * from marts.stage_summary")
        conn.execute("create view staging.role_test as select * from raw.feed_files")
        conn.execute("drop table marts.database_current_status cascade")  # dbt replaces relations
        conn.execute("create temp table scratch (x int) on commit drop")  # dbt snapshots


def test_gate_appends_the_verdict_and_alerts_and_the_operator_withdrawals(login) -> None:
    gate = login(GATE)
    with gate.transaction(force_rollback=True):
        gate.execute(FORGED_RUN.replace("'forged'", "'roles_gate'"))
        gate.execute(NEW_RESULT)
        gate.execute(FORGED_VERDICT)
        gate.execute(FORGED_PUBLICATION)
        gate.execute(
            "insert into audit.alerts (alert_kind, recipient, subject, body)"
            " values ('x', 'x', 'x', 'x')"
        )
        assert _scalar(gate, "select count(*) from raw.feed_files") >= 1  # names files
    operator = login(OPERATOR)
    with operator.transaction(force_rollback=True):
        operator.execute(WITHDRAWAL)
        assert _scalar(operator, "select count(*) from audit.file_events") == 1
        assert _scalar(operator, "select count(*) from raw.feed_files") >= 1


def test_liaison_reads_every_marts_relation(built: str, login) -> None:
    conn = login(LIAISON)
    marts = _relations(built, "marts")
    assert {"database_current_status", "database_status_snapshots", "stage_summary"} <= {
        name for name, _ in marts
    }
    for name, _ in marts:  # what dbt created after the migration: default privileges
        conn.execute(sql.SQL("select * from marts.{} limit 1").format(sql.Identifier(name)))
    assert _scalar(conn, "select count(*) from marts.database_current_status") == 105


def test_auditor_reads_audit_marts_and_raw(built: str, login) -> None:
    with psycopg.connect(built) as admin:
        admin.execute(NEW_RESULT)
    conn = login(AUDITOR)
    assert _scalar(conn, "select count(*) from audit.expectation_results") >= 1
    conn.execute("select * from audit.gate_runs")
    conn.execute("select * from audit.alerts")
    for name, _ in _relations(built, "marts"):
        conn.execute(sql.SQL("select * from marts.{} limit 1").format(sql.Identifier(name)))
    # and the raw feed rows and files behind every figure (the tracker's pages read as this role)
    for name in ("feed_files", "feed_file_chunks", "status_reports", "rejected_rows"):
        conn.execute(sql.SQL("select * from raw.{} limit 1").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    ("role", "statement"),
    [(role, statement) for role, statements in REFUSED.items() for statement in statements],
)
def test_each_role_is_refused_what_it_may_not_do(login, role: str, statement: str) -> None:
    conn = login(role)
    with pytest.raises(DENIED):
        conn.execute(statement)


def test_the_audit_trail_refuses_changes_even_from_its_owner(built: str) -> None:
    with psycopg.connect(built) as admin:
        admin.execute(NEW_RESULT)
        admin.commit()
        for change in (
            "update audit.expectation_results set success = true",
            "delete from audit.expectation_results",
        ):
            with pytest.raises(errors.RaiseException, match="append-only"):
                admin.execute(change)
            admin.rollback()


def test_dbt_built_everything_as_the_transformer(built: str) -> None:
    for schema in ("staging", "marts"):
        owners = {owner for _, owner in _relations(built, schema)}
        assert owners == {TRANSFORMER}, schema


def test_a_role_connection_stays_the_role_after_a_rollback(built: str) -> None:
    with database.connect(built, role=LOADER) as conn:
        assert _scalar(conn, "select current_user") == LOADER
        conn.rollback()
        with pytest.raises(DENIED):
            conn.execute("delete from raw.feed_files")
        conn.rollback()
        assert _scalar(conn, "select current_user") == LOADER


def _force_migration(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("comment on schema raw is 'tracker raw/audit schema 6'")
    database.ensure_tracker_schema(url)


def test_the_migration_hands_relations_made_by_another_user_to_the_transformer(
    built: str, login
) -> None:
    """A database built before schema 7 has dbt relations owned by the administering user."""
    with psycopg.connect(built) as admin:
        admin.execute("create table marts.before_roles as select 1 as x")
        admin.execute("create view staging.before_roles as select 1 as x")
    try:
        _force_migration(built)
        owners = dict(_relations(built, "marts")) | {
            f"staging.{name}": owner for name, owner in _relations(built, "staging")
        }
        assert owners["before_roles"] == owners["staging.before_roles"] == TRANSFORMER
        assert _scalar(login(LIAISON), "select x from marts.before_roles") == 1
        assert _scalar(login(LOADER), "select count(*) from staging.registry_databases") == 105
        with pytest.raises(DENIED):
            login(LOADER).execute("select x from staging.before_roles")
    finally:
        with psycopg.connect(built) as admin:
            admin.execute("drop table if exists marts.before_roles")
            admin.execute("drop view if exists staging.before_roles")


@contextmanager
def _server_user(server_url: str, name: str, options: str) -> Iterator[str]:
    """A login user (superuser-made) owning a fresh database of its own; its URL. Dropped after."""
    with psycopg.connect(server_url, autocommit=True) as admin:
        if not _scalar(admin, "select rolsuper from pg_roles where rolname = current_user"):
            pytest.skip(
                "the test server's user is not a superuser, so it cannot create the login users"
                " this test needs (the embedded server's user is one; CI runs it)"
            )
        admin.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL(f"create role {{}} login {options}").format(sql.Identifier(name)))
        try:
            admin.execute(
                sql.SQL("create database {} owner {}").format(
                    sql.Identifier(name), sql.Identifier(name)
                )
            )
            url = database.with_database(server_url, name)
            with _login_passwords(url, (name,)) as passwords:
                yield login_url(url, name, passwords[name])
        finally:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
            admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))


def test_an_administering_user_without_createrole_gets_one_line_naming_what_is_missing(
    server_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    with _server_user(server_url, f"{TEST_DATABASE}_plain_admin", "nocreaterole") as url:
        with pytest.raises(database.RolesNotGranted, match=f"grant {LOADER} to"):
            database.ensure_tracker_schema(url)
        monkeypatch.setenv("TRACKER_DATABASE_URL", url)
        monkeypatch.delenv("TRACKER_DEBUG", raising=False)
        assert cli.main(["status"]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "Traceback" not in error
        assert f"is not a member of role {LOADER}" in error


def test_a_non_superuser_member_of_the_roles_migrates_and_ingests(
    server_url: str, tmp_path: Path
) -> None:
    """The external-server case: roles made elsewhere, granted to the administering user."""
    name = f"{TEST_DATABASE}_member_admin"
    with _server_user(server_url, name, "nocreaterole") as url:
        with psycopg.connect(server_url, autocommit=True) as admin:
            for role in database.TRACKER_ROLES:
                admin.execute(
                    sql.SQL("grant {} to {} with inherit true, set true").format(
                        sql.Identifier(role), sql.Identifier(name)
                    )
                )
        database.ensure_tracker_schema(url)
        feed = tmp_path / "moj_2025-12-15.csv"
        feed.write_text(f"{FEED_HEADER}\n{','.join(VALID_MOJ_ROW.values())}\n", encoding="utf-8")
        (report,) = ingest_paths([feed], url, progress=False)
        assert (report.outcome, report.rows_loaded) == ("loaded", 1), report.message
        with psycopg.connect(url) as conn:
            acl = _scalar(
                conn, "select relacl::text from pg_class where oid = 'raw.feed_files'::regclass"
            )
        assert f"{LOADER}=ar/{name}" in acl
