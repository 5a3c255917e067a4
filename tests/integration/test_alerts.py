"""Alerts (issue 5): each failure reaches who can act on it once, and audit.alerts records it.

The module has a database of its own. The freshness mart is a table created here with the rows
each test needs (dbt builds the real one: test_agency_feed_freshness.py); gate results are
inserted the way the gate records them (audit.gate_runs, audit.expectation_results). Delivery
goes to servers these tests run on 127.0.0.1: a webhook (http.server) and an SMTP sink.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from conftest import fresh_database
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from r71_tracker import alerts, database
from r71_tracker.registry import load_liaisons, load_registry

pytestmark = pytest.mark.integration

RUN_DATE = date(2025, 12, 15)
DAG_RUN_ID = "scheduled__2025-12-15T00:00:00+00:00"
PLATFORM = "platform-test@example.invalid"

# The columns of marts.agency_feed_freshness the alerts read (dbt_project/models/marts/operations).
FRESHNESS_TABLE = """
    create table marts.agency_feed_freshness (
        agency_code text, agency_name_vi text, agency_name_en text, databases_owned bigint,
        databases_reported bigint, files_received bigint, files_rejected bigint,
        rows_rejected bigint, days_since_last_report integer, freshness_max_age_days integer,
        is_late boolean, last_report_date date, as_of_date date, last_received_at timestamptz
    )
"""


@pytest.fixture(scope="module")
def alerts_db(server_url: str) -> str:
    url = fresh_database(
        server_url, os.environ.get("TRACKER_TEST_DATABASE", "tracker_test") + "_alerts"
    )
    database.ensure_tracker_schema(url)
    with psycopg.connect(url) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute(FRESHNESS_TABLE)
    return url


@pytest.fixture
def alerts_env(alerts_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The alerts database, emptied; no delivery channel configured; the real liaison seed."""
    monkeypatch.setenv("TRACKER_DATABASE_URL", alerts_db)
    monkeypatch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("TRACKER_PLATFORM_TEAM_EMAIL", PLATFORM)
    monkeypatch.setenv("NO_PROXY", "*")
    for name in (
        "TRACKER_SEEDS_DIR",
        "TRACKER_ALERT_SMTP_HOST",
        "TRACKER_ALERT_SMTP_USER",
        "TRACKER_ALERT_WEBHOOK_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    with psycopg.connect(alerts_db) as conn:  # as the owner: the audit tables refuse deletes
        conn.execute(
            "truncate audit.alerts, audit.gate_runs, audit.expectation_results,"
            " audit.file_verdicts, raw.feed_files, marts.agency_feed_freshness restart identity"
        )
    return alerts_db


def _alerts(url: str) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("select * from audit.alerts order by alert_id").fetchall()


def _liaison(code: str) -> str:
    return load_liaisons()[code].email


def test_every_registry_agency_has_one_placeholder_liaison():
    liaisons = load_liaisons()
    assert set(liaisons) == set(load_registry().agency_codes)
    assert all(liaison.email.endswith("@example.invalid") for liaison in liaisons.values())
    assert all(liaison.name.startswith("[Placeholder]") for liaison in liaisons.values())


# (b) Late feeds.


def _freshness(url: str, *rows: tuple[str, date | None, bool]) -> None:
    """Mart rows as of RUN_DATE: (agency, last report date, is late), limit 14 days."""
    with psycopg.connect(url) as conn:
        for code, last, late in rows:
            conn.execute(
                "insert into marts.agency_feed_freshness (agency_code, agency_name_vi,"
                " agency_name_en, days_since_last_report, freshness_max_age_days, is_late,"
                " last_report_date, as_of_date) values (%s, %s, %s, %s, 14, %s, %s, %s)",
                (code, f"Cơ quan {code}", f"Agency {code}",
                 (RUN_DATE - last).days if last else None, late, last, RUN_DATE),
            )  # fmt: skip


def test_each_late_agency_gets_one_alert_to_its_liaison_once_per_run_date(alerts_env):
    _freshness(
        alerts_env,
        ("MOFA", date(2025, 11, 17), True),
        ("OOG", None, True),  # never reported
        ("MOJ", RUN_DATE, False),
    )
    raised = alerts.alert_late_feeds(RUN_DATE, DAG_RUN_ID)
    assert sorted(alert.agency_code for alert in raised) == ["MOFA", "OOG"]

    recorded = _alerts(alerts_env)
    assert [(row["alert_kind"], row["agency_code"], row["recipient"]) for row in recorded] == [
        ("late_feed", "MOFA", _liaison("MOFA")),
        ("late_feed", "OOG", _liaison("OOG")),
    ]
    for row in recorded:
        assert (row["run_date"], row["dag_run_id"], row["run_id"]) == (RUN_DATE, DAG_RUN_ID, None)
        assert row["delivered_via"] == ["log"]
    assert "2025-11-17, 28 days before 2025-12-15" in recorded[0]["body"]
    assert "Cơ quan MOFA" in recorded[0]["body"]
    assert "has sent no status report up to 2025-12-15" in recorded[1]["body"]

    # the same run date again (a retry, a second run of the date, the CLI): nothing new
    assert alerts.alert_late_feeds(RUN_DATE, "manual__2025-12-15T08:00:00+00:00") == []
    candidate = {"candidate": None, "run_date": RUN_DATE.isoformat()}  # the published marts
    assert alerts.late_feeds_task(candidate, None) == []
    assert len(_alerts(alerts_env)) == 2


# (a) Blocking suites.


def _feed_row(agency: str | None, line: int, database_code: str = "X-DB") -> dict:
    return {
        "file_id": 7 if agency else 9,
        "file_name": f"{(agency or 'unknown').lower()}_2025-12-15.csv",
        "line_number": line,
        "agency_code": agency,
        "database_code": database_code,
    }


def _gate_run(url: str, run_id: str, dag_run_id: str | None, results: list[tuple]) -> None:
    """A failed gate run and its results: (word, severity, success, expectation, rows[, count]).

    count: the offending rows found (default: as many as listed; more when rows is a sample).
    """
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into audit.gate_runs (run_id, dag_run_id, run_date, code_version, started_at,"
            " success, blocking_failures, warnings) values (%s, %s, %s, 'test', now(), false,"
            " %s, %s)",
            (
                run_id,
                dag_run_id,
                RUN_DATE,
                sum(1 for _, severity, ok, *_ in results if severity == "blocking" and not ok),
                sum(1 for _, severity, ok, *_ in results if severity == "warning" and not ok),
            ),
        )
        for word, severity, success, expectation, rows, *count in results:
            conn.execute(
                "insert into audit.expectation_results (run_id, dag_run_id, suite_name,"
                " expectation_type, expectation_kwargs, success, run_date, word, severity,"
                " expectation_notes, unexpected_count, unexpected_rows) values (%s, %s, %s, %s,"
                " '{}', %s, %s, %s, %s, %s, %s, %s)",
                (
                    run_id,
                    dag_run_id,
                    f"{word}.status_reports",
                    expectation,
                    success,
                    RUN_DATE,
                    word,
                    severity,
                    f"notes of {expectation}",
                    count[0] if count else len(rows or []),
                    None if rows is None else Jsonb(rows),
                ),
            )


def test_a_national_failure_alerts_the_platform_team_once_and_no_liaison(alerts_env):
    _gate_run(
        alerts_env,
        "gate-run-1",
        DAG_RUN_ID,
        [
            ("complete", "blocking", False, "expect_column_values_to_be_between",
             [_feed_row("MOJ", 4, "MOJ-CIVIL-STATUS"), _feed_row("MOH", 12)], 103),
            ("live", "warning", False, "expect_column_max_to_be_between", [_feed_row("MOF", 2)]),
            ("clean", "blocking", True, "expect_column_values_to_be_unique", []),
            ("unified", "blocking", False, "expect_table_row_count_to_equal", None),
        ],
    )  # fmt: skip
    raised = alerts.alert_blocking_failures_of_dag_run(DAG_RUN_ID)
    # a sample of 2 of 103 stale rows names no agency's fault: only the platform team hears
    assert [(alert.agency_code, alert.recipient) for alert in raised] == [(None, PLATFORM)]
    (recorded,) = _alerts(alerts_env)
    assert recorded["alert_kind"] == "blocking_suite_failed"
    assert (recorded["run_id"], recorded["dag_run_id"], recorded["run_date"]) == (
        "gate-run-1",
        DAG_RUN_ID,
        RUN_DATE,
    )
    body = recorded["body"]
    assert "nothing was published" in body
    assert "[complete] complete.status_reports: expect_column_values_to_be_between" in body
    assert "103 offending rows; a sample of 2 follows" in body
    assert "file moj_2025-12-15.csv (file id 7) line 4: database MOJ-CIVIL-STATUS" in body
    assert "[unified]" in body and "[live]" not in body and "[clean]" not in body

    # the callback and the CLI may both ask: the same gate run is alerted once
    assert alerts.alert_blocking_failures("gate-run-1") == []
    assert len(_alerts(alerts_env)) == 1


def _held(url: str, run_id: str, files: list[tuple[str, str, int]]) -> None:
    """Held verdicts of gate run `run_id`: (agency, file name, failing rows) each."""
    with psycopg.connect(url) as conn:
        for agency, name, failing in files:
            (file_id,) = conn.execute(
                "insert into raw.feed_files (sha256, original_name, size_bytes, agency_code,"
                " file_status, rows_received, rows_loaded, rows_rejected) values"
                " (md5(%s), %s, 10, %s, 'loaded', 100, 100, 0) returning file_id",
                (name, name, agency),
            ).fetchone()
            conn.execute(
                "insert into audit.file_verdicts (file_id, verdict, agency_code, gate_run_id,"
                " dag_run_id, rule, reason, failing_rows) values (%s, 'held', %s, %s, %s,"
                " 'contract_values', %s, %s)",
                (file_id, agency, run_id, DAG_RUN_ID, f"contract_values: {failing} rows", failing),
            )


def test_held_files_alert_exactly_their_agencies_with_every_file_and_count(alerts_env):
    # the gate's sample names MOJ only; the attribution held files of MOJ and MOH (all rows)
    _gate_run(
        alerts_env,
        "gate-run-3",
        None,
        [("correct", "blocking", False, "expect_every_value_in_set", [_feed_row("MOJ", 4)], 57)],
    )
    _held(
        alerts_env,
        "gate-run-3",
        [("MOJ", "moj_a.csv", 40), ("MOJ", "moj_b.csv", 2), ("MOH", "moh_a.csv", 15)],
    )
    raised = alerts.alert_held_agencies("gate-run-3")
    assert [(alert.agency_code, alert.recipient) for alert in raised] == [
        ("MOH", _liaison("MOH")),
        ("MOJ", _liaison("MOJ")),
        (None, PLATFORM),
    ]
    moh, moj, platform = (alert.body for alert in raised)
    assert "moj_a.csv: 40 failing row(s)" in moj and "moj_b.csv: 2 failing row(s)" in moj
    assert "(42 failing rows)" in moj and "HELD" in moj and "GIỮ LẠI" in moj
    assert "moh_a.csv: 15 failing row(s)" in moh and "moj_" not in moh
    assert "MOH, MOJ" in platform and DAG_RUN_ID in platform
    assert alerts.alert_held_agencies("gate-run-3") == []  # once


def test_a_dag_run_without_a_failed_gate_run_raises_no_suite_alert(alerts_env):
    assert alerts.alert_blocking_failures_of_dag_run("manual__nothing") == []
    assert _alerts(alerts_env) == []


# Delivery.


def _alert(agency: str = "MOJ") -> alerts.Alert:
    return alerts.Alert(
        kind="late_feed",
        agency_code=agency,
        recipient=_liaison(agency),
        subject=f"[R71 tracker] {agency}: status feed late on {RUN_DATE}",
        body="VI: Bộ Tư pháp chưa gửi báo cáo.\nEN: no report.\n",
        dag_run_id=DAG_RUN_ID,
        run_date=RUN_DATE,
    )


def test_without_configuration_an_alert_is_only_logged_and_recorded(alerts_env, caplog):
    with caplog.at_level(logging.INFO, logger="r71_tracker.alerts"):
        assert alerts.deliver(_alert()) == ["log"]
    lines = [record for record in caplog.records if record.name == "r71_tracker.alerts"]
    assert len(lines) == 1 and "\n" not in lines[0].getMessage()
    assert "late_feed to liaison.moj@example.invalid" in lines[0].getMessage()
    assert [row["delivered_via"] for row in _alerts(alerts_env)] == [["log"]]


@contextmanager
def _webhook_server() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"type": self.headers["Content-Type"], "json": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/r71?token=not-logged", received
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_receives_the_alert_as_json(alerts_env, monkeypatch, caplog):
    with _webhook_server() as (url, received), caplog.at_level(logging.INFO):
        monkeypatch.setenv("TRACKER_ALERT_WEBHOOK_URL", url)
        alert = _alert()
        assert alerts.deliver(alert) == ["log", "webhook"]
    assert received == [{"type": "application/json; charset=utf-8", "json": alert.as_json()}]
    assert received[0]["json"]["run_date"] == "2025-12-15"
    assert received[0]["json"]["body"].startswith("VI: Bộ Tư pháp")
    assert [row["delivered_via"] for row in _alerts(alerts_env)] == [["log", "webhook"]]
    assert "not-logged" not in caplog.text


class _SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO (no extensions), MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 sink ESMTP")
        envelope: dict = {"rcpt": []}
        while line := self.rfile.readline():
            command = line.decode("ascii").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb == "MAIL":
                envelope["from"] = command
                self.reply("250 OK")
            elif verb == "RCPT":
                envelope["rcpt"].append(command.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with .")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                envelope["data"] = b"".join(data)
                self.server.received.append(envelope)
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


def test_email_reaches_an_smtp_server_addressed_to_the_liaison(alerts_env, monkeypatch):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpSink)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("TRACKER_ALERT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("TRACKER_ALERT_SMTP_PORT", str(server.server_address[1]))
        monkeypatch.setenv("TRACKER_ALERT_SMTP_SENDER", "tracker-test@example.invalid")
        assert alerts.deliver(_alert()) == ["log", "email"]
    finally:
        server.shutdown()
        server.server_close()
    (envelope,) = server.received
    assert envelope["rcpt"] == ["<liaison.moj@example.invalid>"]
    message = email.message_from_bytes(envelope["data"], policy=email.policy.default)
    assert message["To"] == "liaison.moj@example.invalid"
    assert message["From"] == "tracker-test@example.invalid"
    assert message["Subject"] == "[R71 tracker] MOJ: status feed late on 2025-12-15"
    assert message["X-R71-Alert-Kind"] == "late_feed"
    assert message.get_content().replace("\r\n", "\n") == _alert().body  # SMTP lines end CRLF
    assert [row["delivered_via"] for row in _alerts(alerts_env)] == [["log", "email"]]


def test_credentials_are_never_sent_without_tls(alerts_env, monkeypatch):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpSink)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("TRACKER_ALERT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("TRACKER_ALERT_SMTP_PORT", str(server.server_address[1]))
        monkeypatch.setenv("TRACKER_ALERT_SMTP_USER", "tracker")
        monkeypatch.setenv("TRACKER_ALERT_SMTP_PASSWORD", "not-sent")
        assert alerts.deliver(_alert()) == ["log", "email_failed"]
    finally:
        server.shutdown()
        server.server_close()
    assert server.received == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_delivery_error_is_logged_and_recorded_never_raised(alerts_env, monkeypatch, caplog):
    port = _closed_port()
    monkeypatch.setenv("TRACKER_ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TRACKER_ALERT_SMTP_PORT", str(port))
    monkeypatch.setenv("TRACKER_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{port}/hook")
    with caplog.at_level(logging.INFO, logger="r71_tracker.alerts"):
        assert alerts.deliver(_alert()) == ["log", "email_failed", "webhook_failed"]
    failures = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.getMessage().split(" delivery failed")[0][-7:] for record in failures] == [
        ": email",
        "webhook",
    ]
    assert [row["delivered_via"] for row in _alerts(alerts_env)] == [
        ["log", "email_failed", "webhook_failed"]
    ]


# (c) Failed DAG runs, and the notifiers as Airflow calls them.


def _dag_run(run_id: str = DAG_RUN_ID, started: datetime | None = None):
    from airflow.sdk.api.datamodels._generated import DagRun

    logical = datetime(2025, 12, 15, tzinfo=UTC)
    return DagRun(
        dag_id="resolution71_tracker",
        run_id=run_id,
        logical_date=logical,
        data_interval_start=logical,
        data_interval_end=logical,
        run_after=logical,
        start_date=started or datetime(2025, 12, 16, 0, 5, tzinfo=UTC),
        end_date=None,
        run_type="scheduled",
        state="failed",
        consumed_asset_events=[],
        partition_key=None,
    )


def test_dag_run_failed_notifier_records_one_alert_per_failed_run(alerts_env):
    from airflow.sdk.exceptions import AirflowFailException

    from r71_tracker.alerts import DagRunFailedNotifier

    gate = SimpleNamespace(task_id="quality_gate", map_index=-1)
    failure = AirflowFailException("quality gate failed for 2025-12-15: 2 expectation(s)\n- a\n- b")
    # as the failing task's callback calls it, then the DAG's (no exception, a reason)
    DagRunFailedNotifier()({"dag_run": _dag_run(), "task_instance": gate, "exception": failure})
    DagRunFailedNotifier()({"dag_run": _dag_run(), "task_instance": gate, "reason": "task_failure"})

    (row,) = _alerts(alerts_env)
    assert (row["alert_kind"], row["agency_code"], row["recipient"]) == (
        "dag_run_failed",
        None,
        PLATFORM,
    )
    assert (row["dag_run_id"], row["run_date"], row["delivered_via"]) == (
        DAG_RUN_ID,
        RUN_DATE,
        ["log"],
    )
    assert DAG_RUN_ID in row["subject"] and "resolution71_tracker" in row["subject"]
    assert "Failed task(s): quality_gate\n" in row["body"]
    assert (
        "Exception: AirflowFailException: quality gate failed for 2025-12-15: 2 expectation(s)\n"
        in row["body"]
    )

    # the run cleared and failed again (a mapped ingest this time): a new alert
    again = _dag_run(started=datetime.now(UTC))
    ingest = SimpleNamespace(task_id="ingest_feed_file", map_index=3)
    DagRunFailedNotifier()({"dag_run": again, "task_instance": ingest, "reason": "task_failure"})
    latest = _alerts(alerts_env)[-1]
    assert len(_alerts(alerts_env)) == 2
    assert "Failed task(s): ingest_feed_file[3]" in latest["body"]
    assert "Airflow gives a DAG-level callback no exception" in latest["body"]


def test_blocking_suite_notifier_alerts_the_platform_team_of_the_dag_runs_gate(alerts_env):
    from r71_tracker.alerts import BlockingSuiteNotifier

    rows = [_feed_row("VSS", 5), _feed_row("SBV", 6)]
    _gate_run(alerts_env, "gate-run-2", DAG_RUN_ID, [("shared", "blocking", False, "e", rows)])
    gate = SimpleNamespace(task_id="quality_gate", map_index=-1)
    BlockingSuiteNotifier()({"dag_run": _dag_run(), "task_instance": gate, "exception": None})
    assert [(row["agency_code"], row["recipient"]) for row in _alerts(alerts_env)] == [
        (None, PLATFORM)
    ]


def test_a_notifier_never_raises_into_airflow(alerts_env, monkeypatch, caplog):
    from r71_tracker.alerts import DagRunFailedNotifier

    monkeypatch.setenv("TRACKER_DATABASE_URL", database.with_database(alerts_env, "no_such_db"))
    with caplog.at_level(logging.ERROR, logger="r71_tracker.alerts"):
        DagRunFailedNotifier()({"dag_run": _dag_run(), "reason": "task_failure"})
    assert "alert callback notify_dag_run_failed failed" in caplog.text


# Through Airflow's own runner: a task fails, Airflow calls the callbacks, one alert results.

PROBE_DAG = """
import pendulum
from airflow.sdk import dag, task

from r71_tracker.alerts import DagRunFailedNotifier


@dag(
    dag_id="alerts_probe",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    default_args={"retries": 0, "on_failure_callback": DagRunFailedNotifier()},
    on_failure_callback=DagRunFailedNotifier(),
)
def alerts_probe():
    @task
    def ok() -> None:
        pass

    @task
    def unreadable_landing_folder() -> None:
        raise PermissionError("landing folder unreadable (alerts probe)")

    ok() >> unreadable_landing_folder()


alerts_probe()
"""


def test_a_failing_task_under_airflow_alerts_the_platform_team_once(
    alerts_env, server_url, tmp_path, monkeypatch
):
    from r71_tracker.airflow_env import airflow_command, airflow_environment
    from r71_tracker.airflow_runs import prepare_airflow

    airflow_db = os.environ.get("TRACKER_TEST_DATABASE", "tracker_test") + "_alerts_airflow"
    monkeypatch.setenv("TRACKER_AIRFLOW_DATABASE_URL", fresh_database(server_url, airflow_db))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "alerts_probe.py").write_text(PROBE_DAG, "utf-8")
    prepare_airflow()
    env = airflow_environment() | {"AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    done = airflow_command(
        ["dags", "test", "alerts_probe", "2025-12-15"], env, capture_output=True, text=True
    )
    log = done.stdout + done.stderr
    assert "Executing on_failure dag callback" in log, log[-4000:]

    (row,) = _alerts(alerts_env)  # the task's callback raised it; the DAG's found it recorded
    assert (row["alert_kind"], row["recipient"], row["run_date"]) == (
        "dag_run_failed",
        PLATFORM,
        RUN_DATE,
    )
    assert row["dag_run_id"].startswith("manual__")  # named after when it ran
    assert "Failed task(s): unreadable_landing_folder\n" in row["body"]
    assert "Exception: PermissionError: landing folder unreadable (alerts probe)" in row["body"]
