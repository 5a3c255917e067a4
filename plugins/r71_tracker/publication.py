"""Write–audit–publish: every build writes a candidate, only a passing gate publishes it.

A run's dbt build writes its models to a candidate of its own: schema `candidate__<date>__<id>`
(the marts) and `<candidate>__work` (staging and intermediate views, and the build's frozen list
of files, `file_states`, copied from `raw.file_states` when the build starts, so files committed
while it runs wait for the next build). The gate judges the candidate. Publishing renames it to
`marts` in one transaction (the previous `marts` is dropped with it), so what liaisons and
auditors read is always exactly what the last passing gate judged, and the marts always agree with
each other. A candidate that fails stays, named by its run, readable by the auditor and the
platform team, never by the liaison role; the newest few are kept.

Schemas are created and renamed by the administering user (the user of TRACKER_DATABASE_URL, who
runs the migrations): dbt's role creates relations in a candidate but can neither create nor
rename schemas, and the publication refuses a candidate without a passing verdict written by the
gate's role.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from r71_tracker import database, transform

CANDIDATE_PREFIX = "candidate__"
PUBLISHED_SCHEMA = transform.PUBLISHED_MARTS
FAILED_CANDIDATES_KEPT = 5  # the newest unpublished candidates stay for inspection
# Relations that accumulate across publications instead of being rebuilt: carried from the old
# marts into the new one (dbt's snapshot of what each publication showed).
CARRIED_RELATIONS = ("database_status_snapshots",)


_WAREHOUSE_LOCK_KEY = 710_072  # pg advisory lock: one run at a time builds, judges or publishes


@contextmanager
def warehouse_lock(url: str) -> Iterator[None]:
    """Hold the session-level advisory lock that serialises builds, gates and publications."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_WAREHOUSE_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_WAREHOUSE_LOCK_KEY,))


class PublicationRefused(RuntimeError):
    """A candidate may not be published (no passing verdict, or it is gone): one line why."""


@dataclass(frozen=True)
class Candidate:
    """One build's candidate: its schema, its work schema, the run that made it."""

    schema: str
    run_id: str
    run_date: date
    # The gate run of the publication that stands when nothing changed (see publication_standing):
    # the candidate was dropped, nothing is built, judged or published.
    unchanged_since: str | None = None

    @property
    def work_schema(self) -> str:
        return transform.work_schema(self.schema)


def candidate_name(run_id: str, run_date: date) -> str:
    """`candidate__<yyyymmdd>__<12 hex of the run id>`: readable, unique per run, < 63 bytes."""
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:12]
    return f"{CANDIDATE_PREFIX}{run_date:%Y%m%d}__{digest}"


def prepare_candidate(url: str, run_id: str, run_date: date) -> Candidate:
    """Create (or re-create, for a retry of the same run) the run's candidate schemas and freeze
    the build's file list; drop unpublished candidates beyond the newest few."""
    candidate = Candidate(candidate_name(run_id, run_date), run_id, run_date)
    database.ensure_tracker_schema(url)  # raw.file_states and the audit tables are in place
    with psycopg.connect(url) as conn:
        for schema in (candidate.schema, candidate.work_schema):
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
            conn.execute(
                sql.SQL("grant usage, create on schema {} to {}").format(
                    sql.Identifier(schema), sql.Identifier(database.TRANSFORMER_ROLE)
                )
            )
            conn.execute(
                sql.SQL("grant usage on schema {} to {}").format(
                    sql.Identifier(schema), sql.Identifier(database.AUDITOR_ROLE)
                )
            )
        conn.execute(
            sql.SQL("comment on schema {} is {}").format(
                sql.Identifier(candidate.schema),
                sql.Literal(f"candidate of run {run_id} for {run_date.isoformat()}"),
            )
        )
        files = sql.Identifier(candidate.work_schema, "file_states")
        conn.execute(sql.SQL("create table {} as select * from raw.file_states").format(files))
        conn.execute(sql.SQL("alter table {} add primary key (file_id)").format(files))
        conn.execute(
            sql.SQL("grant select on {} to {}, {}").format(
                files,
                sql.Identifier(database.TRANSFORMER_ROLE),
                sql.Identifier(database.AUDITOR_ROLE),
            )
        )
        _drop_old_candidates(conn, keep={candidate.schema})
    return candidate


def inputs_digest(conn: psycopg.Connection, candidate: Candidate) -> str:
    """A hash of everything a candidate's marts are built from: its run date, the dbt project and
    vars, and the files its frozen list includes."""
    files = sql.Identifier(candidate.work_schema, "file_states")
    included = conn.execute(
        sql.SQL("select file_id from {} where is_included order by file_id").format(files)
    ).fetchall()
    inputs = {
        "run_date": candidate.run_date.isoformat(),
        "project": transform.project_digest(),
        "vars": transform.dbt_vars(),
        "files": [file_id for (file_id,) in included],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode("utf-8")).hexdigest()


def publication_standing(url: str, candidate: Candidate) -> str | None:
    """The gate run of the last publication when this candidate, just prepared, would be built
    from exactly the same inputs (same run date, project and included files): its marts are the
    ones published, so the run has nothing to build, judge or publish. None otherwise."""
    with psycopg.connect(url) as conn:
        last = conn.execute(
            "select gate_run_id, inputs_sha256 from audit.publications"
            " order by publication_id desc limit 1"
        ).fetchone()
        if last is None or last[1] is None or not _schema_exists(conn, PUBLISHED_SCHEMA):
            return None
        return last[0] if last[1] == inputs_digest(conn, candidate) else None


def drop_candidate(url: str, candidate: Candidate) -> None:
    """Drop a candidate that will not be built (and its work schema)."""
    with psycopg.connect(url) as conn:
        for schema in (candidate.schema, candidate.work_schema):
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def exclude_files(url: str, candidate: Candidate, states: dict[int, str]) -> None:
    """Take files out of the candidate's frozen list before it is built again (held files, and
    the other new files of a held agency, which wait for the next run)."""
    files = sql.Identifier(candidate.work_schema, "file_states")
    with psycopg.connect(url) as conn:
        for file_id, state in sorted(states.items()):
            conn.execute(
                sql.SQL(
                    "update {} set file_state = %s, is_included = false where file_id = %s"
                ).format(files),
                (state, file_id),
            )


def new_file_ids(conn: psycopg.Connection, candidate: Candidate) -> list[int]:
    """Files this candidate judged for the first time and includes."""
    files = sql.Identifier(candidate.work_schema, "file_states")
    rows = conn.execute(
        sql.SQL(
            "select file_id from {} where file_state = 'new' and is_included order by 1"
        ).format(files)
    )
    return [row[0] for row in rows]


def publish_candidate(
    url: str, candidate: Candidate, gate_run_id: str, dag_run_id: str | None
) -> int:
    """Make the candidate the published marts, in one transaction; return the publication id.

    Refused unless the gate's role recorded a passing verdict on this candidate; a second call
    for the same gate run (a retried task) returns the publication made. The previous
    marts are dropped with the swap, the candidate's work schema too (the published marts are
    tables; nothing reads the views behind them); the snapshot table is carried over. The new
    files of the candidate get their verdict, `published`, in the same transaction.
    """
    with psycopg.connect(url) as conn:
        done = conn.execute(
            "select publication_id from audit.publications where gate_run_id = %s",
            (gate_run_id,),
        ).fetchone()
        if done is not None:
            return done[0]  # a retried publish task: the swap happened, only the outputs remain
        verdict = conn.execute(
            "select success from audit.gate_runs where run_id = %s and candidate_schema = %s",
            (gate_run_id, candidate.schema),
        ).fetchone()
        if verdict is None or not verdict[0]:
            raise PublicationRefused(
                f"candidate {candidate.schema} has no passing gate run {gate_run_id}:"
                " only what passed the gate is published"
            )
        if not _schema_exists(conn, candidate.schema):
            raise PublicationRefused(f"candidate {candidate.schema} no longer exists")
        new_files = new_file_ids(conn, candidate)
        inputs = inputs_digest(conn, candidate)
        retired = f"{PUBLISHED_SCHEMA}__retired"
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(retired)))
        for relation in CARRIED_RELATIONS:
            if database.scalar(conn, "select to_regclass(%s)", (f"marts.{relation}",)):
                conn.execute(
                    sql.SQL("alter table {} set schema {}").format(
                        sql.Identifier(PUBLISHED_SCHEMA, relation), sql.Identifier(candidate.schema)
                    )
                )
        conn.execute(
            sql.SQL("alter schema {} rename to {}").format(
                sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(retired)
            )
        )
        conn.execute(
            sql.SQL("alter schema {} rename to {}").format(
                sql.Identifier(candidate.schema), sql.Identifier(PUBLISHED_SCHEMA)
            )
        )
        _grant_published(conn)
        conn.execute(
            sql.SQL("comment on schema {} is {}").format(
                sql.Identifier(PUBLISHED_SCHEMA),
                sql.Literal(f"published: gate run {gate_run_id}, candidate {candidate.schema}"),
            )
        )
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(retired)))
        conn.execute(
            sql.SQL("drop schema if exists {} cascade").format(
                sql.Identifier(candidate.work_schema)
            )
        )
        held = [agency["agency_code"] for agency in held_agencies(conn)]  # as published
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(database.GATE_ROLE)))
        publication_id = database.scalar(
            conn,
            "insert into audit.publications (gate_run_id, dag_run_id, run_date, candidate_schema,"
            " files_first_published, held_agencies, inputs_sha256)"
            " values (%s, %s, %s, %s, %s, %s, %s) returning publication_id",
            (
                gate_run_id,
                dag_run_id,
                candidate.run_date,
                candidate.schema,
                len(new_files),
                held,
                inputs,
            ),
        )
        conn.cursor().executemany(
            "insert into audit.file_verdicts (file_id, verdict, agency_code, gate_run_id,"
            " dag_run_id) select file_id, 'published', agency_code, %s, %s from raw.feed_files"
            " where file_id = %s on conflict (file_id) do nothing",
            [(gate_run_id, dag_run_id, file_id) for file_id in new_files],
        )
    return publication_id


def _grant_published(conn: psycopg.Connection) -> None:
    """What the published marts grant: read to liaisons and auditors, now and for relations dbt
    adds later (the snapshot); default privileges follow the schema, so they are set again."""
    readers = sql.SQL(", ").join(
        sql.Identifier(role) for role in (database.LIAISON_ROLE, database.AUDITOR_ROLE)
    )
    marts = sql.Identifier(PUBLISHED_SCHEMA)
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(marts, readers))
    conn.execute(
        sql.SQL("grant usage, create on schema {} to {}").format(
            marts, sql.Identifier(database.TRANSFORMER_ROLE)
        )
    )
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(marts, readers))
    conn.execute(
        sql.SQL(
            "alter default privileges for role {} in schema {} grant select on tables to {}"
        ).format(sql.Identifier(database.TRANSFORMER_ROLE), marts, readers)
    )


def _schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    row = conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone()
    return row is not None


def _drop_old_candidates(conn: psycopg.Connection, keep: set[str]) -> None:
    """Keep the newest FAILED_CANDIDATES_KEPT unpublished candidates (and `keep`); drop the rest."""
    rows = conn.execute(
        "select nspname from pg_namespace where nspname like %s and nspname not like %s"
        " order by oid desc",
        (f"{CANDIDATE_PREFIX}%", "%\\_\\_work"),
    ).fetchall()
    names = [name for (name,) in rows if name not in keep]
    for name in names[FAILED_CANDIDATES_KEPT:]:
        for schema in (name, f"{name}__work"):
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def latest_candidate(url: str) -> str | None:
    """The newest candidate that still exists (the last build's, published or not)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select g.candidate_schema from audit.gate_runs as g"
            " join pg_namespace as n on n.nspname = g.candidate_schema"
            " order by g.finished_at desc limit 1"
        ).fetchone()
    return row[0] if row else None


def held_agencies(conn: psycopg.Connection) -> list[dict]:
    """Agencies held now: a held file of theirs is not withdrawn and no file of theirs was
    published after it was held. One dict per agency with its held files and rules."""
    rows = conn.execute(
        """
        with held as (
            select v.file_id, v.agency_code, v.rule, v.reason, v.failing_rows, v.gate_run_id,
                v.dag_run_id, v.decided_at, f.original_name
            from audit.file_verdicts as v
            join raw.feed_files as f on f.file_id = v.file_id
            join raw.file_states as s on s.file_id = v.file_id
            where v.verdict = 'held' and s.file_state = 'held'
                and not exists (
                    select from audit.file_verdicts as later
                    where later.agency_code = v.agency_code and later.verdict = 'published'
                        and later.decided_at > v.decided_at
                )
        )
        select agency_code, file_id, original_name, rule, reason, failing_rows, gate_run_id,
            dag_run_id, decided_at
        from held order by agency_code, file_id
        """
    ).fetchall()
    agencies: dict[str, dict] = {}
    for agency, file_id, name, rule, reason, failing, gate_run, dag_run, decided in rows:
        entry = agencies.setdefault(
            agency, {"agency_code": agency, "files": [], "rules": [], "since": decided}
        )
        entry["files"].append(
            {
                "file_id": file_id,
                "file_name": name,
                "rule": rule,
                "reason": reason,
                "failing_rows": failing,
                "gate_run_id": gate_run,
                "dag_run_id": dag_run,
            }
        )
        if rule not in entry["rules"]:
            entry["rules"].append(rule)
        entry["since"] = min(entry["since"], decided)
    return [{**entry, "since": entry["since"].isoformat()} for _, entry in sorted(agencies.items())]
