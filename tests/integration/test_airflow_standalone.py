"""`make airflow` and Airflow 3 backfill: the tracker's pages refuse anonymous requests, the UI's
API shows the tracker DAG, and a backfill of a past date runs through the real scheduler and
LocalExecutor and judges that date's data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import empty_tracker_tables, free_port, fresh_database, tracker_route_urls

from r71_tracker import demo_feeds

pytestmark = pytest.mark.integration

BACKFILL_DATE = "2025-12-14"


@pytest.fixture(scope="module")
def standalone(tmp_path_factory, server_url, tracker_db_url):
    """`tracker airflow-standalone` (what `make airflow` runs) in a deployment of its own."""
    root = tmp_path_factory.mktemp("standalone")
    airflow_db = os.environ.get("TRACKER_TEST_DATABASE", "tracker_test") + "_standalone"
    airflow_url = fresh_database(server_url, airflow_db)
    empty_tracker_tables(tracker_db_url)
    demo_feeds.write_demo_feeds(root / "landing")
    port = free_port()
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": tracker_db_url,
        "TRACKER_AIRFLOW_DATABASE_URL": airflow_url,
        "TRACKER_LANDING_DIR": str(root / "landing"),
        "TRACKER_PUBLISHED_DIR": str(root / "published"),
        "TRACKER_LOCAL_DIR": str(root / "local"),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        # Only the backfill may run here: no scheduled run of "today" competing with it.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }
    for key in ("AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER"):
        env.pop(key, None)
    log = (root / "standalone.log").open("w")
    tracker = Path(sys.executable).with_name("tracker")
    process = subprocess.Popen(
        [str(tracker), "airflow-standalone"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, (root / "standalone.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        else:
            pytest.fail("airflow standalone did not answer within 180 s")
        passwords = root / "local" / "airflow" / "simple_auth_manager_passwords.json.generated"
        password = json.loads(passwords.read_text())["admin"]
        token = httpx.post(
            f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=10
        ).json()["access_token"]
        # closed before the services stop: an open keep-alive connection holds the api-server
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            yield client, tracker_db_url
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            # standalone stops its components in seconds when the machine is quiet, but under
            # the parallel suite one of them may take over 30 s: what follows kills them
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # The scheduler's children may outlive the standalone process: end the whole group.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


def _wait_for_dag(client: httpx.Client) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = client.get("/api/v2/dags/resolution71_tracker")
        if response.status_code == 200:
            return response.json()
        time.sleep(2)
    pytest.fail("the dag-processor did not register resolution71_tracker within 120 s")


def test_the_tracker_pages_refuse_an_anonymous_request(standalone):
    """The plugin's pages (every route of its app, enumerated from the app) are Airflow's to
    guard: without a login, 401 or 403 (plain HTTP; tests/browser does it in Chromium too)."""
    client, _ = standalone
    urls = tracker_route_urls()
    for expected in ("/tracker/", "/tracker/static/vega-bundle.js", "/tracker/dbt-docs/"):
        assert expected in urls, urls
    with httpx.Client(base_url=client.base_url, timeout=30, trust_env=False) as anonymous:
        statuses = {url: anonymous.get(url).status_code for url in urls}
    assert {url: status for url, status in statuses.items() if status not in (401, 403)} == {}


def test_ui_shows_the_tracker_dag_and_a_backfill_judges_its_own_date(standalone):
    client, tracker_url = standalone
    dag = _wait_for_dag(client)
    assert dag["owners"] == ["data-platform"]
    assert {tag["name"] for tag in dag["tags"]} >= {"resolution71", "quality-gate"}

    created = client.post(
        "/api/v2/backfills",
        json={
            "dag_id": "resolution71_tracker",
            "from_date": f"{BACKFILL_DATE}T00:00:00Z",
            "to_date": f"{BACKFILL_DATE}T00:00:00Z",
            "reprocess_behavior": "failed",
            "max_active_runs": 1,
            "dag_run_conf": {},
        },
    )
    assert created.status_code == 200, created.text
    # Paused DAGs run nothing, backfills included: unpause as an operator would.
    client.patch("/api/v2/dags/resolution71_tracker", json={"is_paused": False}).raise_for_status()

    deadline = time.monotonic() + 420
    state = None
    while time.monotonic() < deadline:
        runs = client.get("/api/v2/dags/resolution71_tracker/dagRuns").json()["dag_runs"]
        backfills = [run for run in runs if run["run_type"] == "backfill"]
        state = backfills[0]["state"] if backfills else None
        if state in ("success", "failed"):
            break
        time.sleep(5)
    assert state == "success"
    assert backfills[0]["logical_date"].startswith(BACKFILL_DATE)

    with psycopg.connect(tracker_url) as conn:
        as_of = conn.execute(
            "select distinct as_of_date from marts.database_current_status"
        ).fetchall()
        judged = conn.execute("select distinct run_date from audit.expectation_results").fetchall()
    assert [row[0].isoformat() for row in as_of] == [BACKFILL_DATE]
    assert [row[0].isoformat() for row in judged] == [BACKFILL_DATE]
