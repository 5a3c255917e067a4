"""Alerts: a failing blocking suite, a late agency feed, a failed DAG run, each sent to who can act.

An agency's problems go to its liaison (seed registry_liaisons), everything else to the platform
team (TRACKER_PLATFORM_TEAM_EMAIL). Every alert is logged, e-mailed and/or posted to a webhook when
the environment configures them, and recorded in audit.alerts with the channels used. Delivery
never raises: an alert must not fail the run it reports on.

The Airflow notifiers (`BlockingSuiteNotifier`, `DagRunFailedNotifier`) subclass the Task SDK's
BaseNotifier but are built on first access (module `__getattr__`): the CLI raises the same alerts
and must not pay Airflow's import (1.4 s, and it writes an AIRFLOW_HOME).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from r71_tracker import config
from r71_tracker.registry import Liaison, RegistryError, load_liaisons

if TYPE_CHECKING:  # psycopg is imported late: not at DAG parse time
    import psycopg
    from psycopg.rows import DictRow

LOG = logging.getLogger("r71_tracker.alerts")

BLOCKING_SUITE_FAILED = "blocking_suite_failed"
AGENCY_HELD = "agency_held"
LATE_FEED = "late_feed"
DAG_RUN_FAILED = "dag_run_failed"

DEFAULT_PLATFORM_TEAM_EMAIL = "data-platform@example.invalid"
DEFAULT_SENDER = "r71-tracker@example.invalid"
_TIMEOUT_SECONDS = 10
_MAX_ROWS_LISTED = 20  # per expectation and agency; the gate keeps a sample anyway
_ALERT_LOCK_KEY = 710_073  # pg advisory lock (with a hash of the key): raise each alert once


@dataclass(frozen=True)
class Alert:
    """One alert to one recipient, as recorded in audit.alerts."""

    kind: str
    agency_code: str | None
    recipient: str
    subject: str
    body: str
    run_id: str | None = None  # the gate run's id (blocking suite alerts)
    dag_run_id: str | None = None  # Airflow's run id; None for CLI runs
    run_date: date | None = None

    def as_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["run_date"] = self.run_date.isoformat() if self.run_date else None
        return payload


def platform_team_email() -> str:
    return os.environ.get("TRACKER_PLATFORM_TEAM_EMAIL") or DEFAULT_PLATFORM_TEAM_EMAIL


# Delivery: log always, e-mail and webhook when configured; failures are recorded, never raised.


def deliver(alert: Alert, url: str | None = None) -> list[str]:
    """Log, send and record one alert; returns its delivered_via."""
    with _connect(url) as conn:
        return _deliver(conn, alert)


def _connect(url: str | None) -> psycopg.Connection:
    from r71_tracker import database  # psycopg: not at DAG parse time

    conn = database.connect(url, role=database.GATE_ROLE)  # may append to audit only
    conn.autocommit = True  # each alert commits on its own (see _raise_once)
    return conn


def _deliver(conn: psycopg.Connection, alert: Alert) -> list[str]:
    LOG.warning(
        "alert %s to %s: %s (agency %s, dag run %s, gate run %s)",
        alert.kind,
        alert.recipient,
        " ".join(alert.subject.split()),
        alert.agency_code or "-",
        alert.dag_run_id or "-",
        alert.run_id or "-",
    )
    via = ["log"]
    if os.environ.get("TRACKER_ALERT_SMTP_HOST"):
        via.append(_attempt("email", _send_email, alert))
    if os.environ.get("TRACKER_ALERT_WEBHOOK_URL"):
        via.append(_attempt("webhook", _post_webhook, alert))
    conn.execute(
        "insert into audit.alerts (alert_kind, agency_code, recipient, subject, body, run_id,"
        " dag_run_id, run_date, delivered_via) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            alert.kind,
            alert.agency_code,
            alert.recipient,
            alert.subject,
            alert.body,
            alert.run_id,
            alert.dag_run_id,
            alert.run_date,
            via,
        ),
    )
    return via


def _attempt(channel: str, send: Callable[[Alert], None], alert: Alert) -> str:
    """`channel` when sent, `<channel>_failed` (logged with its reason) when not."""
    try:
        send(alert)
    except Exception as error:  # any failure to deliver is reported, never propagated
        reason = f"{type(error).__name__}: {error}"
        LOG.error(
            "alert %s to %s: %s delivery failed: %s", alert.kind, alert.recipient, channel, reason
        )
        return f"{channel}_failed"
    return channel


def _send_email(alert: Alert) -> None:
    """SMTP to TRACKER_ALERT_SMTP_HOST; STARTTLS when offered; credentials only over TLS."""
    import smtplib
    import ssl
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    sender = os.environ.get("TRACKER_ALERT_SMTP_SENDER") or DEFAULT_SENDER
    message = EmailMessage()
    message["From"] = sender
    message["To"] = alert.recipient
    message["Subject"] = alert.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["X-R71-Alert-Kind"] = alert.kind
    message.set_content(alert.body, cte="quoted-printable")  # 7-bit safe through any relay
    host = os.environ["TRACKER_ALERT_SMTP_HOST"]
    port = config.alert_smtp_port()
    user = os.environ.get("TRACKER_ALERT_SMTP_USER")
    with smtplib.SMTP(host, port, timeout=_TIMEOUT_SECONDS) as smtp:
        smtp.ehlo()
        encrypted = smtp.has_extn("starttls")
        if encrypted:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if user:
            if not encrypted:
                raise RuntimeError(f"{host}:{port} offers no STARTTLS: credentials not sent")
            smtp.login(user, os.environ.get("TRACKER_ALERT_SMTP_PASSWORD", ""))
        smtp.send_message(message)


def _post_webhook(alert: Alert) -> None:
    """JSON POST of the alert to TRACKER_ALERT_WEBHOOK_URL (never logged: it may hold a token)."""
    import urllib.request

    url = os.environ["TRACKER_ALERT_WEBHOOK_URL"]
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("TRACKER_ALERT_WEBHOOK_URL must be an http(s) URL")
    request = urllib.request.Request(
        url,
        data=json.dumps(alert.as_json(), ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
        response.read()


def _raise_once(
    conn: psycopg.Connection, alert: Alert, already_raised_sql: str, params: tuple
) -> bool:
    """Deliver `alert` unless `already_raised_sql` finds it in audit.alerts; True when raised.

    The check and the insert share one transaction under an advisory lock on the alert's identity,
    so two processes (the task's and the DAG's callback, two runs of one date) raise it once.
    """
    identity = "|".join(str(value) for value in (alert.kind, *params))
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (_ALERT_LOCK_KEY, identity))
        if conn.execute(already_raised_sql, params).fetchone():
            LOG.info("alert %s already raised (%s): not repeated", alert.kind, identity)
            return False
        _deliver(conn, alert)
    return True


# Recipients.


def _liaisons() -> dict[str, Liaison]:
    try:
        return load_liaisons()
    except RegistryError as error:  # alerts still go out, to the platform team
        LOG.error("liaison registry unusable (%s): agency alerts go to the platform team", error)
        return {}


def _recipient(agency_code: str, liaisons: dict[str, Liaison]) -> tuple[str, str]:
    """The agency's liaison address and a note for the body when there is none."""
    liaison = liaisons.get(agency_code)
    if liaison is None:
        return platform_team_email(), (
            f"(No liaison is registered for agency {agency_code} in registry_liaisons.csv: this"
            " alert went to the platform team, who should forward it and add the liaison.)\n\n"
        )
    return liaison.email, ""


# (a) The gate stopped or held something. A failed national rule: one alert to the platform team
# (nothing was published; no agency can fix it alone). Held files: one alert per held agency to its
# liaison, naming every held file with its count of failing rows (counted over every offending row
# when the gate attributed the failure, never a sample), and one summary to the platform team.


@dataclass(frozen=True)
class _FailedExpectation:
    word: str | None
    suite_name: str
    expectation_type: str
    notes: str | None
    unexpected_count: int | None  # offending rows found; the gate records a sample of them
    sampled: int

    @property
    def truncated(self) -> bool:
        return (self.unexpected_count or 0) > self.sampled


def alert_blocking_failures(gate_run_id: str, url: str | None = None) -> list[Alert]:
    """The platform team hears once that gate run `gate_run_id` stopped the publication, with
    each failed blocking expectation and a sample of its offending rows (file and line).

    Liaisons are not alerted from this sample: an agency hears only of its own held files
    (alert_held_agencies, counted over every offending row). Calling it again raises nothing new.
    """
    with _connect(url) as conn:
        run = conn.execute(
            "select run_date, dag_run_id, national_failures, held_agencies from audit.gate_runs"
            " where run_id = %s",
            (gate_run_id,),
        ).fetchone()
        results = conn.execute(
            "select word, suite_name, expectation_type, expectation_notes, unexpected_count,"
            " unexpected_rows from audit.expectation_results"
            " where run_id = %s and severity = 'blocking' and not success"
            " order by word, suite_name, expectation_type, result_id",
            (gate_run_id,),
        ).fetchall()
        if run is None or not results:
            LOG.info("gate run %s has no failed blocking expectation: no alert", gate_run_id)
            return []
        run_date, dag_run_id, national, held = run
        listing = []
        for word, suite, expectation_type, notes, count, rows in results:
            rows = [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []
            failed = _FailedExpectation(word, suite, expectation_type, notes, count, len(rows))
            listing.append(_failure_listing(failed, rows))
        run_line = _run_line(gate_run_id, dag_run_id)
        held_line = (
            f"Held agencies (their liaisons were alerted separately): {', '.join(held)}\n"
            if held
            else ""
        )
        alert = Alert(
            kind=BLOCKING_SUITE_FAILED,
            agency_code=None,
            recipient=platform_team_email(),
            subject=f"[R71 tracker] Quality gate stopped the publication of {run_date}",
            body=(
                f"The quality gate of {run_date} failed {national or len(results)} national"
                " rule(s): nothing was published and every mart stays as the last publication"
                " left it. The candidate stays for inspection (tracker status --candidate);"
                f" raw data stays loaded.\n{held_line}\n{run_line}\n\n" + "\n".join(listing)
            ),
            run_id=gate_run_id,
            dag_run_id=dag_run_id,
            run_date=run_date,
        )
        already = (
            "select 1 from audit.alerts where alert_kind = %s and run_id = %s"
            " and agency_code is null"
        )
        return [alert] if _raise_once(conn, alert, already, (alert.kind, gate_run_id)) else []


def alert_blocking_failures_of_dag_run(dag_run_id: str, url: str | None = None) -> list[Alert]:
    """The blocking-failure alert of the last failed gate run of Airflow run `dag_run_id`."""
    with _connect(url) as conn:
        row = conn.execute(
            "select run_id from audit.gate_runs where dag_run_id = %s and not success"
            " order by finished_at desc limit 1",
            (dag_run_id,),
        ).fetchone()
    if row is None:
        LOG.info("DAG run %s recorded no failed gate run: no blocking suite alert", dag_run_id)
        return []
    return alert_blocking_failures(row[0], url)


def alert_held_agencies(gate_run_id: str, url: str | None = None) -> list[Alert]:
    """Each agency whose files gate run `gate_run_id` held hears once, naming every held file,
    the rules and the count of failing rows (with a sample of rows); the platform team gets one
    summary. Calling it again raises nothing new."""
    with _connect(url) as conn:
        held = conn.execute(
            "select v.agency_code, v.file_id, f.original_name, v.rule, v.reason, v.failing_rows,"
            " v.dag_run_id, g.run_date from audit.file_verdicts as v"
            " join raw.feed_files as f on f.file_id = v.file_id"
            " join audit.gate_runs as g on g.run_id = v.gate_run_id"
            " where v.gate_run_id = %s and v.verdict = 'held' order by v.agency_code, v.file_id",
            (gate_run_id,),
        ).fetchall()
        if not held:
            return []
        samples = _held_row_samples(conn, gate_run_id)
        by_agency: dict[str, list[tuple]] = defaultdict(list)
        for row in held:
            by_agency[row[0] or "?"].append(row)
        liaisons = _liaisons()
        dag_run_id, run_date = held[0][6], held[0][7]
        raised = []
        already = (
            "select 1 from audit.alerts where alert_kind = %s and run_id = %s"
            " and agency_code is not distinct from %s"
        )
        for agency_code, files in sorted(by_agency.items()):
            alert = _held_alert(
                agency_code, files, samples, liaisons, gate_run_id, dag_run_id, run_date
            )
            if _raise_once(conn, alert, already, (alert.kind, gate_run_id, agency_code)):
                raised.append(alert)
        summary = Alert(
            kind=AGENCY_HELD,
            agency_code=None,
            recipient=platform_team_email(),
            subject=f"[R71 tracker] {len(by_agency)} agency(ies) held back on {run_date}",
            body=(
                f"The quality gate of {run_date} held back the new files of"
                f" {', '.join(sorted(by_agency))}; every other agency was published. Each held"
                " agency's liaison was alerted.\n"
                f"{_run_line(gate_run_id, dag_run_id)}\n\n"
                + "\n".join(
                    f"- {agency}: file {file_id} {name} ({reason})"
                    for agency, file_id, name, _, reason, *_ in held
                )
            ),
            run_id=gate_run_id,
            dag_run_id=dag_run_id,
            run_date=run_date,
        )
        if _raise_once(conn, summary, already, (summary.kind, gate_run_id, None)):
            raised.append(summary)
        return raised


def _held_row_samples(conn: psycopg.Connection, gate_run_id: str) -> dict[int, list[dict]]:
    """The gate's sample of offending rows of this run, by feed file."""
    samples: dict[int, list[dict]] = defaultdict(list)
    for (rows,) in conn.execute(
        "select unexpected_rows from audit.expectation_results"
        " where run_id = %s and not success and severity = 'blocking'",
        (gate_run_id,),
    ):
        for row in rows or []:
            if isinstance(row, dict) and row.get("file_id") is not None:
                samples[int(row["file_id"])].append(row)
    return samples


def _held_alert(
    agency_code: str,
    files: list[tuple],
    samples: dict[int, list[dict]],
    liaisons: dict[str, Liaison],
    gate_run_id: str,
    dag_run_id: str | None,
    run_date: date,
) -> Alert:
    recipient, note = _recipient(agency_code, liaisons)
    total = sum(row[5] or 0 for row in files)  # failing_rows
    lines = []
    for _, file_id, name, rule, reason, failing, *_ in files:
        lines.append(f"- file {file_id} {name}: {failing} failing row(s); rules {rule} ({reason})")
        for sample in samples.get(file_id, [])[:_MAX_ROWS_LISTED]:
            lines.append(
                f"    line {sample.get('line_number') or '?'}:"
                f" database {sample.get('database_code') or '?'}"
            )
    intro = (
        f"VI: Lần chạy ngày {run_date}: {len(files)} tệp của cơ quan {agency_code} không đạt"
        f" kiểm tra chất lượng ({total} dòng không đạt) và bị GIỮ LẠI: dữ liệu mới của cơ quan"
        " trong lần chạy này không được công bố, kết quả đã công bố lần trước được giữ nguyên;"
        " các cơ quan khác vẫn được công bố. Đề nghị sửa các dòng dưới đây và gửi tệp mới;"
        " cơ quan hết bị giữ lại khi một tệp mới của cơ quan đạt kiểm tra.\n"
        f"EN: Run of {run_date}: {len(files)} file(s) of agency {agency_code} failed a quality"
        f" check ({total} failing rows) and are HELD: the agency's new data of this run is not"
        " published and its last published state stays; every other agency was published."
        " Please correct the rows below and send a new file; the agency is no longer held once"
        " a new file of its own passes.\n"
    )
    return Alert(
        kind=AGENCY_HELD,
        agency_code=agency_code,
        recipient=recipient,
        subject=f"[R71 tracker] {agency_code}: {len(files)} file(s) held back on {run_date}",
        body=f"{note}{intro}\n{_run_line(gate_run_id, dag_run_id)}\n\n" + "\n".join(lines),
        run_id=gate_run_id,
        dag_run_id=dag_run_id,
        run_date=run_date,
    )


def _run_line(gate_run_id: str, dag_run_id: str | None) -> str:
    return f"Gate run / Lần kiểm tra: {gate_run_id}" + (
        f" (Airflow DAG run {dag_run_id})" if dag_run_id else " (tracker build)"
    )


def _failure_listing(failed: _FailedExpectation, rows: list[dict]) -> str:
    head = f"[{failed.word or '-'}] {failed.suite_name}: {failed.expectation_type}"
    lines = [head + (f" ({failed.notes})" if failed.notes else "")]
    if failed.truncated:
        lines.append(
            f"  {failed.unexpected_count} offending rows; a sample of {failed.sampled} follows"
            " (audit.expectation_results)."
        )
    for row in rows[:_MAX_ROWS_LISTED]:
        lines.append(
            f"  - file {row.get('file_name') or '?'} (file id {row.get('file_id') or '?'})"
            f" line {row.get('line_number') or '?'}: database {row.get('database_code') or '?'}"
            f" agency {row.get('agency_code') or '?'}"
        )
    if len(rows) > _MAX_ROWS_LISTED:
        lines.append(f"  - ... and {len(rows) - _MAX_ROWS_LISTED} more row(s)")
    return "\n".join(lines)


# (b) A late agency feed: one alert per late agency and run date, to its liaison.


def alert_late_feeds(
    run_date: date,
    dag_run_id: str | None = None,
    url: str | None = None,
    candidate: str | None = None,
) -> list[Alert]:
    """Alert the liaison of each agency late on `run_date` (agency_feed_freshness of the run's
    candidate, or of the published marts when the candidate was published), once."""
    from r71_tracker import database

    url = url or database.tracker_url()
    late = _late_agencies(url, run_date, candidate)
    liaisons = _liaisons()
    raised = []
    with _connect(url) as conn:
        for row in late:
            alert = _late_alert(row, liaisons, run_date, dag_run_id)
            already = (
                "select 1 from audit.alerts where alert_kind = %s and agency_code = %s"
                " and run_date = %s"
            )
            if _raise_once(conn, alert, already, (alert.kind, alert.agency_code, run_date)):
                raised.append(alert)
    return raised


def late_feeds_task(candidate: dict, dag_run_id: str | None) -> list[str]:
    """The DAG task: the agencies alerted (as XCom), judged as of the run's date. None when
    nothing changed since the last publication: its run judged this date and raised its alerts."""
    if candidate.get("unchanged_since"):
        return []
    run_date = date.fromisoformat(candidate["run_date"])
    alerted = alert_late_feeds(run_date, dag_run_id, candidate=candidate["candidate"])
    # a late-feed alert always names its agency (a row of agency_feed_freshness)
    return [alert.agency_code for alert in alerted if alert.agency_code is not None]


def _late_agencies(url: str, run_date: date, candidate: str | None) -> list[dict]:
    """Late agencies of the freshness mart as of `run_date`, under the warehouse lock: from the
    run's candidate (the gate may not have judged it yet: lateness is not a quality verdict), or
    from the published marts once the candidate became them."""
    import psycopg
    from psycopg import sql
    from psycopg.rows import dict_row

    from r71_tracker import publication

    with publication.warehouse_lock(url), psycopg.connect(url, row_factory=dict_row) as conn:
        schema = _freshness_schema(conn, candidate)
        if schema is None:
            LOG.warning("candidate %s is gone and was not published: no late-feed alert", candidate)
            return []
        query = sql.SQL(
            "select agency_code, agency_name_vi, agency_name_en, last_report_date,"
            " days_since_last_report, freshness_max_age_days, as_of_date"
            " from {}.agency_feed_freshness where is_late and as_of_date = %s order by agency_code"
        ).format(sql.Identifier(schema))
        return conn.execute(query, (run_date,)).fetchall()


def _freshness_schema(conn: psycopg.Connection[DictRow], candidate: str | None) -> str | None:
    """Where this run's freshness mart is: its candidate, or marts when that is the candidate
    published (the publication names it in the schema's comment), or marts for a CLI call."""
    if candidate is None:
        return "marts"
    found = conn.execute(
        "select nspname, coalesce(obj_description(oid, 'pg_namespace'), '') as note"
        " from pg_namespace where nspname in (%s, 'marts')",
        (candidate,),
    ).fetchall()
    for row in found:
        if row["nspname"] == candidate:
            return candidate
    for row in found:
        if f"candidate {candidate}" in row["note"]:
            return "marts"
    return None


def _late_alert(
    row: dict, liaisons: dict[str, Liaison], run_date: date, dag_run_id: str | None
) -> Alert:
    code = row["agency_code"]
    recipient, note = _recipient(code, liaisons)
    limit = row["freshness_max_age_days"]
    last = row["last_report_date"]
    if last is None:
        vi = f"chưa gửi báo cáo trạng thái nào tính đến ngày {run_date}"
        en = f"has sent no status report up to {run_date}"
    else:
        days = row["days_since_last_report"]
        vi = (
            f"gửi báo cáo trạng thái gần nhất ngày {last}, đã {days} ngày tính đến ngày"
            f" {run_date} (quá hạn {limit} ngày)"
        )
        en = (
            f"last reported on {last}, {days} days before {run_date} (more than the {limit}"
            " days allowed)"
        )
    name_vi = row.get("agency_name_vi") or code
    name_en = row.get("agency_name_en") or code
    body = (
        f"{note}VI: {name_vi} ({code}) {vi}. Đề nghị gửi báo cáo theo hợp đồng dữ liệu"
        " (docs/FEED_CONTRACT.md).\n"
        f"EN: {name_en} ({code}) {en}. Please send the status feed as the feed contract"
        " says (docs/FEED_CONTRACT.md).\n"
    )
    return Alert(
        kind=LATE_FEED,
        agency_code=code,
        recipient=recipient,
        subject=f"[R71 tracker] {code}: status feed late on {run_date}",
        body=body,
        dag_run_id=dag_run_id,
        run_date=run_date,
    )


# (c) A DAG run failed: one alert to the platform team per failed run (and per clearing of it).


def alert_dag_run_failed(
    dag_id: str,
    dag_run_id: str,
    *,
    run_date: date | None = None,
    failed_tasks: Iterable[str] = (),
    exception_line: str | None = None,
    reason: str | None = None,
    run_started_at: datetime | None = None,
    url: str | None = None,
) -> Alert | None:
    """Alert the platform team that `dag_run_id` failed, unless already done since it started.

    Both the failing task's callback (which knows the exception) and the DAG's (which Airflow
    calls without it) call this; the first one raises the alert, the other finds it recorded.
    """
    tasks = ", ".join(failed_tasks) or "(not named by Airflow)"
    exception = exception_line or (
        "(Airflow gives a DAG-level callback no exception: see the failed task's log)"
    )
    lines = [
        f"DAG run {dag_run_id} of {dag_id} failed.",
        f"Run date (logical date): {run_date or '-'}",
        f"Failed task(s): {tasks}",
        f"Exception: {exception}",
    ]
    if reason:
        lines.append(f"Reason given by Airflow: {reason}")
    alert = Alert(
        kind=DAG_RUN_FAILED,
        agency_code=None,
        recipient=platform_team_email(),
        subject=f"[R71 tracker] DAG run failed: {dag_id} {dag_run_id}",
        body="\n".join(lines) + "\n",
        dag_run_id=dag_run_id,
        run_date=run_date,
    )
    already = (
        "select 1 from audit.alerts where alert_kind = %s and dag_run_id = %s"
        " and raised_at >= coalesce(%s::timestamptz, '-infinity')"
    )
    with _connect(url) as conn:
        # the run's (re)start time, so a cleared and re-failed run is alerted again
        if _raise_once(conn, alert, already, (alert.kind, dag_run_id, run_started_at)):
            return alert
    return None


def exception_line(exception: BaseException | str | None) -> str | None:
    """`Type: first line of the message` (Airflow passes a string for some failures)."""
    if exception is None:
        return None
    if isinstance(exception, BaseException):
        text = str(exception).strip()
        first = text.splitlines()[0] if text else ""
        return f"{type(exception).__name__}: {first}" if first else type(exception).__name__
    text = str(exception).strip()
    return text.splitlines()[0] if text else None


# Airflow callbacks. Airflow calls a notifier with its context: `dag_run`, `task_instance` and,
# from a task's callback, `exception`; a DAG's callback gets `reason` and the last failed task.


def notify_dag_run_failed(context: dict) -> Alert | None:
    """What DagRunFailedNotifier does: the DAG-run-failed alert from an Airflow context."""
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    dag_run_id = getattr(dag_run, "run_id", None) or context.get("run_id")
    dag_id = getattr(dag_run, "dag_id", None) or getattr(dag, "dag_id", None) or "?"
    if dag_run_id is None:
        LOG.error("DAG-run-failed callback without a run id: no alert (context %s)", list(context))
        return None
    task_instance = context.get("task_instance") or context.get("ti")
    failed = []
    if task_instance is not None:
        map_index = getattr(task_instance, "map_index", -1)
        failed.append(
            task_instance.task_id
            + (f"[{map_index}]" if map_index is not None and map_index >= 0 else "")
        )
    logical = getattr(dag_run, "logical_date", None)
    return alert_dag_run_failed(
        dag_id,
        dag_run_id,
        run_date=date(logical.year, logical.month, logical.day) if logical else None,
        failed_tasks=failed,
        exception_line=exception_line(context.get("exception")),
        reason=context.get("reason"),
        run_started_at=getattr(dag_run, "start_date", None),
    )


def notify_blocking_suite_failed(context: dict) -> list[Alert]:
    """What BlockingSuiteNotifier does: the quality gate's failed run of this DAG run, alerted."""
    dag_run_id = getattr(context.get("dag_run"), "run_id", None) or context.get("run_id")
    if dag_run_id is None:
        LOG.error("blocking-suite callback without a run id: no alert")
        return []
    return alert_blocking_failures_of_dag_run(dag_run_id)


def _never_raising(function: Callable[[dict], object], context: dict) -> None:
    try:
        function(context)
    except Exception:  # a callback that raises only adds noise to the failure it reports
        LOG.exception("alert callback %s failed", function.__name__)


@functools.cache
def _notifier_classes() -> dict[str, type]:
    from airflow.sdk import BaseNotifier

    class BlockingSuiteNotifier(BaseNotifier):
        """on_failure_callback of quality_gate: each agency's liaison hears of its failed rows."""

        __qualname__ = "BlockingSuiteNotifier"

        def notify(self, context):
            _never_raising(notify_blocking_suite_failed, context)

    class DagRunFailedNotifier(BaseNotifier):
        """on_failure_callback of the DAG and its tasks: the platform team hears once per run."""

        __qualname__ = "DagRunFailedNotifier"

        def notify(self, context):
            _never_raising(notify_dag_run_failed, context)

    for notifier in (BlockingSuiteNotifier, DagRunFailedNotifier):
        notifier.__module__ = __name__
    return {cls.__name__: cls for cls in (BlockingSuiteNotifier, DagRunFailedNotifier)}


def __getattr__(name: str) -> type:
    if name in ("BlockingSuiteNotifier", "DagRunFailedNotifier"):
        return _notifier_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
