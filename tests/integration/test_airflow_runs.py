"""`tracker run` goes through Airflow's scheduler: on-demand services of the deployment's own
Airflow home (scheduler with LocalExecutor, dag-processor, api-server) run the DAG, and what the
UI shows is checked through the REST API: a manual run of the logical date, a readable log for
every task instance, true start and end dates. Services are reused by the next run, a run in
flight is followed rather than duplicated, runs of two dates take turns (max_active_runs=1), and
`tracker airflow stop` leaves no process of the home behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest
from conftest import admin_api, airflow_deployment, task_instances

from r71_tracker import demo_feeds
from r71_tracker.airflow_runs import ServicesError, run_dag_once
from r71_tracker.airflow_services import ensure_services
from r71_tracker.config import settings

pytestmark = pytest.mark.integration

DAG = "resolution71_tracker"
RUN_DATE = demo_feeds.LATEST_REPORT_DATE
OTHER_DATE = date(2025, 12, 14)
TRACKER = str(Path(sys.executable).with_name("tracker"))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, server_url, tracker_db_url):
    """A tracker deployment of its own: private Airflow metadata database, home and ports."""
    root = tmp_path_factory.mktemp("airflow_runs")
    with airflow_deployment(root, server_url, tracker_db_url, "runs") as env:
        yield env


@pytest.fixture(scope="module")
def first_run(deployment):
    """The demo date, run once through the scheduler; the test's start time and printed lines."""
    began = datetime.now(UTC)
    lines: list[str] = []
    outcome = run_dag_once(RUN_DATE, echo=lines.append)
    assert outcome.succeeded, "\n".join(lines + outcome.failures)
    return began, lines, outcome


def _run_of(client: httpx.Client, logical: date) -> dict:
    stamp = f"{logical.isoformat()}T00:00:00Z"
    runs = client.get(
        f"/api/v2/dags/{DAG}/dagRuns",
        params={"logical_date_gte": stamp, "logical_date_lte": stamp},
    ).json()["dag_runs"]
    assert len(runs) == 1, runs
    return runs[0]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _sessions(env: dict) -> set[int]:
    state = Path(env["TRACKER_LOCAL_DIR"]) / "airflow" / "services" / "services.json"
    return {pid for pid, _ in json.loads(state.read_text())["pids"].values()}


def test_a_run_goes_through_the_scheduler_with_readable_logs_and_true_durations(
    deployment, first_run
):
    began, lines, outcome = first_run
    client = admin_api(deployment)
    run = _run_of(client, RUN_DATE)

    # A manual run of the date, started by the scheduler after the test began, lasting minutes.
    assert run["run_type"] == "manual"
    assert run["state"] == "success"
    assert run["dag_run_id"] == outcome.run_id and quote(run["dag_run_id"], safe="") in outcome.url
    started, ended = _when(run["start_date"]), _when(run["end_date"])
    assert began - timedelta(seconds=1) <= started < ended
    assert ended - started < timedelta(minutes=30)

    tis = task_instances(client, run["dag_run_id"])
    mapped = [ti for ti in tis if ti["task_id"] == "ingest_feed_file"]
    assert len(mapped) == len(list(Path(deployment["TRACKER_LANDING_DIR"]).iterdir()))
    assert {ti["task_id"] for ti in tis} == {
        "find_new_feed_files",
        "ingest_feed_file",
        "build_models",
        "alert_late_feeds",
        "quality_gate",
        "publish",
    }
    for ti in tis:
        assert ti["state"] == "success", ti
        ti_start, ti_end = _when(ti["start_date"]), _when(ti["end_date"])
        assert started <= ti_start <= ti_end <= ended, ti
        assert 0 < ti["duration"] < 30 * 60, ti

        # Each task instance's log, read back as the UI reads it, is the task's own output.
        response = client.get(
            f"/api/v2/dags/{DAG}/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances"
            f"/{ti['task_id']}/logs/{ti['try_number']}",
            params={"map_index": ti["map_index"], "full_content": "true"},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 200, response.text
        content = response.json()["content"]
        events = [str(entry.get("event", "")) for entry in content]
        timestamped = [entry for entry in content if entry.get("timestamp")]
        assert len(timestamped) >= 3, (ti["task_id"], ti["map_index"], events)
        assert not any(
            "log file not found" in event.lower() or "could not read served logs" in event.lower()
            for event in events
        ), events
        assert any(event.startswith("Done.") for event in events), events
        if ti["map_index"] >= 0:
            name = Path(ti["rendered_map_index"]).name
            assert any(name in event for event in events), (name, events)

    # What `tracker run` printed: one line per task instance as it ended, mapped ones with their
    # file, with durations, then the outcome; the same lines are kept in the outcome's log file.
    for ti in tis:
        label = ti["task_id"]
        if ti["map_index"] >= 0:
            label += f"[{ti['map_index']}] {Path(ti['rendered_map_index']).name}"
        assert any(line.startswith(f"  {label} ") and " success " in line for line in lines), label
    assert all(line.rstrip().endswith(" s") for line in lines if line.startswith("  "))
    assert lines[-1].startswith(f"DAG run {run['dag_run_id']}: success in ")
    assert outcome.log_path.read_text("utf-8").splitlines()[: len(lines)] == lines


def test_runs_reuse_the_services_follow_a_run_in_flight_and_dates_take_turns(deployment, first_run):
    sessions = _sessions(deployment)
    with ThreadPoolExecutor(max_workers=3) as pool:
        same_a = pool.submit(run_dag_once, RUN_DATE, echo=lambda line: None)
        same_b = pool.submit(run_dag_once, RUN_DATE, echo=lambda line: None)
        other = pool.submit(run_dag_once, OTHER_DATE, echo=lambda line: None)
        outcomes = [same_a.result(), same_b.result(), other.result()]
    assert all(outcome.succeeded for outcome in outcomes), [o.failures for o in outcomes]
    assert _sessions(deployment) == sessions  # the services of the first run, reused

    client = admin_api(deployment)
    again, second = _run_of(client, RUN_DATE), _run_of(client, OTHER_DATE)
    # One run per logical date: the finished run was cleared and ran again once, followed by both
    # callers; the other date's run waited for it or it for the other (max_active_runs=1).
    assert outcomes[0].run_id == outcomes[1].run_id == again["dag_run_id"]
    rerun = task_instances(client, again["dag_run_id"])
    assert {ti["try_number"] for ti in rerun} <= {1, 2}
    # The cleared run ran in order again: its build waited for the files found and loaded anew.
    [find] = [ti for ti in rerun if ti["task_id"] == "find_new_feed_files"]
    [build] = [ti for ti in rerun if ti["task_id"] == "build_models"]
    assert _when(find["end_date"]) <= _when(build["start_date"]), (find, build)
    assert again["run_type"] == second["run_type"] == "manual"
    first, then = sorted([again, second], key=lambda run: run["start_date"])
    assert _when(first["end_date"]) <= _when(then["start_date"])


def test_a_date_run_again_after_finding_nothing_loads_what_landed_before_it_builds(
    deployment, first_run
):
    """A cleared run whose last try found no file: Airflow expands the mapped ingest from that
    try's empty list as soon as the run is cleared, so the build must wait for the files found
    again itself, or it would build, judge and publish without the files that landed since."""
    assert run_dag_once(RUN_DATE, echo=lambda line: None).succeeded  # this try finds nothing
    landing = Path(deployment["TRACKER_LANDING_DIR"])
    latest = landing / f"GI_{RUN_DATE.isoformat()}.csv"
    resent = landing / f"GI_{RUN_DATE.isoformat()}_resent.csv"
    lines = latest.read_text(encoding="utf-8").splitlines()
    resent.write_text(
        "\n".join(lines[:1] + [line + "re-sent" for line in lines[1:]]) + "\n", encoding="utf-8"
    )
    outcome = run_dag_once(RUN_DATE, echo=lambda line: None)
    assert outcome.succeeded, outcome.failures

    tis = task_instances(admin_api(deployment), outcome.run_id)
    [find] = [ti for ti in tis if ti["task_id"] == "find_new_feed_files"]
    [build] = [ti for ti in tis if ti["task_id"] == "build_models"]
    assert _when(find["end_date"]) <= _when(build["start_date"]), (find, build)
    # the file is loaded, and the marts this run published were built with it
    with psycopg.connect(deployment["TRACKER_DATABASE_URL"]) as conn:
        published = conn.execute(
            "select rows_loaded from marts.feed_file_loads where original_name = %s",
            (resent.name,),
        ).fetchall()
    assert published == [(len(lines) - 1,)]


def test_services_of_another_home_are_not_reused(deployment, first_run, tmp_path, monkeypatch):
    # Same port, another Airflow home: the running services are someone else's.
    monkeypatch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(ServicesError, match=f"port {deployment['AIRFLOW__API__PORT']} is taken"):
        ensure_services(settings())


def test_stop_leaves_no_process_of_the_home(deployment, first_run):
    sessions = _sessions(deployment)
    env = {**os.environ, **deployment}
    status = subprocess.run([TRACKER, "airflow", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "scheduler      running" in status.stdout

    stopped = subprocess.run(
        [TRACKER, "airflow", "stop"], env=env, capture_output=True, text=True, timeout=120
    )
    assert stopped.returncode == 0, stopped.stderr
    for name in ("scheduler", "dag-processor", "api-server"):
        assert name in stopped.stdout

    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) in sessions:
            left.append(f"{entry.name}: {cmdline}")
    assert left == []
    with pytest.raises(httpx.ConnectError):
        port = deployment["AIRFLOW__API__PORT"]
        httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", trust_env=False)
    status = subprocess.run([TRACKER, "airflow", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 1
    assert "scheduler      not running" in status.stdout
