"""`tracker files`: the received feed files, their verdicts, and operators' recourse on them.

`withdraw` takes a file's rows out of every later build, `restore` undoes it. Each appends one row
to audit.file_events (who, when, why) acting as tracker_operator; nothing is ever updated or
deleted: the file's bytes and rows stay in raw, and the latest event of a file decides whether it
is withdrawn. The builds read these events (and audit.file_verdicts) when they start, so an event
takes effect at the next build (`tracker run` or `tracker build`).

Who acted: the OS user (getpass.getuser()), or TRACKER_ACTOR when set (a service account acting
for a person); when TRACKER_ACTOR differs from the OS user both are recorded ("alice via airflow").
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import date, datetime
from typing import Any

import psycopg

from r71_tracker import database

WITHDRAW, RESTORE = "withdraw", "restore"
ACTOR_VARIABLE = "TRACKER_ACTOR"
_EVENTS_LOCK = 710_075  # advisory lock (with the file id): one withdraw/restore of a file at a time

_FILE_COLUMNS = """
    f.file_id, f.original_name, f.agency_code, f.feed_kind, f.feed_format, f.received_at,
    f.rows_received, f.rows_loaded, f.rows_rejected, f.file_status, f.file_reason_code,
    f.file_reason_message, v.verdict, v.rule as verdict_rule, v.reason as verdict_reason,
    v.gate_run_id as verdict_gate_run_id, v.decided_at as verdict_decided_at,
    coalesce(e.action = 'withdraw', false) as is_withdrawn,
    e.action as last_action, e.actor as last_actor, e.reason as last_reason,
    e.acted_at as last_acted_at
"""
_FILE_FROM = """
    from raw.feed_files as f
    left join audit.file_verdicts as v on v.file_id = f.file_id
    left join lateral (
        select action, actor, reason, acted_at from audit.file_events as events
        where events.file_id = f.file_id order by event_id desc limit 1
    ) as e on true
"""


class FileNotFound(LookupError):
    """No received file has this id (one line)."""


class FileActionRefused(ValueError):
    """A withdraw or restore that would record nothing sensible (one line saying why)."""


def current_actor() -> str:
    """Who is acting: TRACKER_ACTOR if set, else the OS user; both when they differ."""
    try:
        os_user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        os_user = ""
    named = (os.environ.get(ACTOR_VARIABLE) or "").strip()
    if not named and not os_user:
        raise FileActionRefused(
            f"cannot tell who is acting (no OS user name): set {ACTOR_VARIABLE}; nothing recorded"
        )
    if named and os_user and named != os_user:
        return f"{named} via {os_user}"
    return named or os_user


def list_files(url: str | None = None, agency: str | None = None) -> list[dict[str, Any]]:
    """Every received file (of `agency`, if given), newest first, with its verdict and whether
    it is withdrawn. Reads as tracker_operator."""
    with database.connect(url, role=database.OPERATOR_ROLE) as conn:
        cursor = conn.execute(
            f"select {_FILE_COLUMNS} {_FILE_FROM}"
            " where %(agency)s::text is null or upper(f.agency_code) = upper(%(agency)s)"
            " order by f.received_at desc, f.file_id desc",
            {"agency": agency},
        )
        return database.dict_rows(cursor)


def _file(conn: psycopg.Connection, file_id: int) -> dict[str, Any]:
    cursor = conn.execute(
        f"select {_FILE_COLUMNS}, f.sha256, f.size_bytes, f.extra_columns {_FILE_FROM}"
        " where f.file_id = %s",
        (file_id,),
    )
    rows = database.dict_rows(cursor)
    if not rows:
        raise FileNotFound(f"no received file has id {file_id} (tracker files lists them)")
    return rows[0]


def file_detail(url: str | None, file_id: int) -> dict[str, Any]:
    """One file: its counts, rejections by reason, verdict, withdraw/restore history, the gate
    runs that used it and the later published files of its agency that superseded it.

    The gate runs that used it: the run that decided its verdict, and — when it was published —
    every publication from that verdict on at which the file was not withdrawn (its latest event
    before the publication was not a withdraw). A held file is in no publication.
    """
    with database.connect(url, role=database.OPERATOR_ROLE) as conn:
        detail = _file(conn, file_id)
        detail["rejected_by_reason"] = dict(
            conn.execute(
                "select reason_code, count(*) from raw.rejected_rows where file_id = %s"
                " group by reason_code order by count(*) desc, reason_code",
                (file_id,),
            ).fetchall()
        )
        detail["events"] = database.dict_rows(
            conn.execute(
                "select event_id, action, actor, reason, acted_at from audit.file_events"
                " where file_id = %s order by event_id",
                (file_id,),
            )
        )
        detail["verdict_gate_run"] = None
        detail["publications"] = []
        if detail["verdict"] is not None:
            runs = database.dict_rows(
                conn.execute(
                    "select run_id, dag_run_id, run_date, success, started_at, finished_at,"
                    " candidate_schema from audit.gate_runs where run_id = %s",
                    (detail["verdict_gate_run_id"],),
                )
            )
            detail["verdict_gate_run"] = runs[0] if runs else None
        if detail["verdict"] == "published":
            detail["publications"] = database.dict_rows(
                conn.execute(
                    "select p.publication_id, p.gate_run_id, p.dag_run_id, p.run_date,"
                    " p.published_at from audit.publications as p"
                    " where (p.gate_run_id = %(run)s or p.published_at >= %(decided)s)"
                    " and coalesce((select e.action from audit.file_events as e"
                    "   where e.file_id = %(file)s and e.acted_at <= p.published_at"
                    "   order by e.event_id desc limit 1), 'restore') <> 'withdraw'"
                    " order by p.publication_id",
                    {
                        "run": detail["verdict_gate_run_id"],
                        "decided": detail["verdict_decided_at"],
                        "file": file_id,
                    },
                )
            )
        detail["superseded_by"] = database.dict_rows(
            conn.execute(
                "select f.file_id, f.original_name, f.received_at, v.decided_at"
                " from raw.feed_files as f join audit.file_verdicts as v using (file_id)"
                " where f.agency_code = %s and f.feed_kind is not distinct from %s"
                " and f.file_id > %s and v.verdict = 'published' order by f.file_id",
                (detail["agency_code"], detail["feed_kind"], file_id),
            )
        )
    return detail


def record_event(
    url: str | None, file_id: int, action: str, reason: str | None, actor: str | None = None
) -> dict[str, Any]:
    """Append one withdraw or restore event for a file, acting as tracker_operator.

    Refuses (FileActionRefused / FileNotFound, nothing recorded): a blank reason, an unknown file,
    withdrawing a file already withdrawn, restoring a file that is not withdrawn. One event of a
    file at a time (advisory lock), so two operators cannot both withdraw it.
    """
    if action not in (WITHDRAW, RESTORE):
        raise ValueError(f"unknown action {action!r}")
    reason = (reason or "").strip()
    if not reason:
        raise FileActionRefused(
            f"a reason is required (--reason TEXT): why {action} file {file_id}; nothing recorded"
        )
    actor = actor or current_actor()
    with database.connect(url, role=database.OPERATOR_ROLE) as conn:
        conn.execute("select pg_advisory_xact_lock(%s, %s)", (_EVENTS_LOCK, file_id % 2**31))
        current = _file(conn, file_id)
        name = f"file {file_id} ({current['original_name']})"
        if action == WITHDRAW and current["is_withdrawn"]:
            raise FileActionRefused(
                f"{name} is already withdrawn (by {current['last_actor']}"
                f" at {_when(current['last_acted_at'])}); nothing recorded"
            )
        if action == RESTORE and not current["is_withdrawn"]:
            raise FileActionRefused(
                f"{name} is not withdrawn: nothing to restore; nothing recorded"
            )
        event_id, acted_at = database.one_row(
            conn,
            "insert into audit.file_events (file_id, action, reason, actor)"
            " values (%s, %s, %s, %s) returning event_id, acted_at",
            (file_id, action, reason, actor),
        )
    return {
        "event_id": event_id,
        "file_id": file_id,
        "original_name": current["original_name"],
        "agency_code": current["agency_code"],
        "action": action,
        "actor": actor,
        "reason": reason,
        "acted_at": acted_at,
    }


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S %Z}" if moment is not None else "-"


def verdict_text(row: dict[str, Any]) -> str:
    if row["verdict"] == "published":
        return "published"
    if row["verdict"] == "held":
        return f"held ({row['verdict_rule'] or row['verdict_reason']})"
    return "not yet judged"


def _status_text(row: dict[str, Any]) -> str:
    if row["file_status"] == "rejected":
        return f"rejected ({row['file_reason_code']})"
    return row["file_status"]


def confirmation(event: dict[str, Any]) -> str:
    """The one line printed after a withdraw or restore."""
    effect = (
        "its rows stay out of every build from the next one"
        if event["action"] == WITHDRAW
        else "its rows count again (as its verdict allows) from the next build"
    )
    done = "withdrawn" if event["action"] == WITHDRAW else "restored"
    return (
        f"file {event['file_id']} ({event['original_name']}) {done} by {event['actor']}"
        f" at {_when(event['acted_at'])}, reason: {event['reason']}"
        f" (audit.file_events event {event['event_id']}); {effect}"
        " (tracker run or tracker build)"
    )


def format_files(rows: list[dict[str, Any]]) -> str:
    """The table people read: one line per file, newest first."""
    if not rows:
        return "no received files"
    header = (
        f"{'id':>6}  {'received at':<16}  {'agency':<8} {'kind':<6} {'rows':>8} {'loaded':>8}"
        f" {'rejected':>8}  {'file':<22} {'verdict':<24} {'withdrawn':<9}  name"
    )
    lines = [header]
    for row in rows:
        lines.append(
            f"{row['file_id']:>6}  {row['received_at']:%Y-%m-%d %H:%M}  "
            f"{row['agency_code'] or '-':<8} {row['feed_kind'] or '-':<6}"
            f" {row['rows_received']:>8} {row['rows_loaded']:>8} {row['rows_rejected']:>8}"
            f"  {_status_text(row):<22} {verdict_text(row):<24}"
            f" {'yes' if row['is_withdrawn'] else 'no':<9}  {row['original_name']}"
        )
    return "\n".join(lines)


def format_detail(detail: dict[str, Any]) -> str:
    """Everything about one file, for people."""
    lines = [
        f"file {detail['file_id']}: {detail['original_name']}",
        f"  agency {detail['agency_code'] or '-'}, {detail['feed_kind'] or 'unknown'} feed"
        f" ({detail['feed_format'] or 'unknown format'}), {detail['size_bytes']} bytes,"
        f" received {_when(detail['received_at'])}, sha256 {detail['sha256']}",
        f"  file: {_status_text(detail)}"
        + (f": {detail['file_reason_message']}" if detail["file_reason_message"] else ""),
        f"  rows: {detail['rows_received']} received, {detail['rows_loaded']} loaded,"
        f" {detail['rows_rejected']} rejected",
    ]
    for reason, count in detail["rejected_by_reason"].items():
        lines.append(f"    {reason}: {count}")
    verdict = f"  verdict: {verdict_text(detail)}"
    if detail["verdict"] is not None:
        verdict += (
            f", decided {_when(detail['verdict_decided_at'])}"
            f" by gate run {detail['verdict_gate_run_id']}"
        )
        if detail["verdict"] == "held" and detail["verdict_reason"]:
            verdict += f": {detail['verdict_reason']}"
    lines.append(verdict)
    lines.append(f"  withdrawn: {'yes' if detail['is_withdrawn'] else 'no'}")
    if detail["events"]:
        lines.append("  withdraw/restore history (audit.file_events):")
        for event in detail["events"]:
            lines.append(
                f"    event {event['event_id']}: {event['action']} by {event['actor']}"
                f" at {_when(event['acted_at'])}: {event['reason']}"
            )
    run = detail["verdict_gate_run"]
    if run is not None:
        outcome = "passed" if run["success"] else "failed"
        lines.append(
            f"  judged by gate run {run['run_id']}"
            + (f" (DAG run {run['dag_run_id']})" if run["dag_run_id"] else "")
            + f": data as of {run['run_date']}, {outcome}, finished {_when(run['finished_at'])}"
        )
    if detail["publications"]:
        lines.append("  publications that included it (audit.publications):")
        for publication in detail["publications"]:
            lines.append(
                f"    publication {publication['publication_id']}: gate run"
                f" {publication['gate_run_id']}, data as of {publication['run_date']},"
                f" published {_when(publication['published_at'])}"
            )
    elif detail["verdict"] == "published":
        lines.append("  publications that included it: none yet")
    if detail["superseded_by"]:
        lines.append(f"  superseded by later published files of {detail['agency_code']}:")
        for later in detail["superseded_by"]:
            lines.append(
                f"    file {later['file_id']} ({later['original_name']}),"
                f" published {_when(later['decided_at'])}"
            )
    else:
        lines.append("  superseded by: no later published file of its agency")
    return "\n".join(lines)


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def as_json(value: object) -> str:
    """JSON for tools: times as ISO 8601 text."""
    return json.dumps(value, ensure_ascii=False, default=_json_value, indent=2)
