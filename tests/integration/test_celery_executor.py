"""The tracker DAG on CeleryExecutor, on real services: api-server, scheduler, dag-processor,
triggerer and two Celery workers started from the project's virtualenv by the on-demand services
(`TRACKER_CELERY_BROKER_URL`), a real Redis broker (`TRACKER_TEST_REDIS_URL`, with a key prefix of
this test session's own) and the tracker's PostgreSQL (metadata, Celery results, warehouse).

The run is triggered through the REST API on the demo feeds and must succeed with every task
instance run by one of the two workers (their Celery hostnames, queue `default`), the mapped
ingest shared between both, and every file loaded exactly once. The same DAG on the same data
then runs on the LocalExecutor, and both wall times are printed.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from conftest import admin_api, airflow_deployment, empty_tracker_tables, task_instances

from r71_tracker import demo_feeds
from r71_tracker.airflow_runs import ready, run_dag_once
from r71_tracker.airflow_services import running_services
from r71_tracker.config import settings

pytestmark = pytest.mark.integration

DAG = "resolution71_tracker"
RUN_DATE = demo_feeds.LATEST_REPORT_DATE


def _redis_url() -> str:
    """TRACKER_TEST_REDIS_URL when a Redis answers there; otherwise the test skips, saying why."""
    url = os.environ.get("TRACKER_TEST_REDIS_URL", "").strip()
    why = "no Redis: set TRACKER_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/5) to a Redis server"
    if not url:
        pytest.skip(f"{why} to run the CeleryExecutor test", allow_module_level=True)
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 3):
            pass
    except OSError as error:
        where = f"{parts.hostname}:{parts.port or 6379}"
        pytest.skip(f"{why}: {where} does not answer ({error})", allow_module_level=True)
    return url


BROKER = _redis_url()  # or the whole module skips, in one line


def _forget_keys(url: str, prefix: str) -> None:
    """Remove this test session's queues and bindings from the shared Redis db."""
    import redis

    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)


def _wall_seconds(client, run_id: str) -> float:
    run = client.get(f"/api/v2/dags/{DAG}/dagRuns/{quote(run_id, safe='')}").json()
    start, end = (datetime.fromisoformat(run[key]) for key in ("start_date", "end_date"))
    return (end - start).total_seconds()


@pytest.fixture(scope="module")
def celery_run(tmp_path_factory, server_url, tracker_db_url) -> Iterator[tuple[dict, object]]:
    """The demo date run once on CeleryExecutor: (deployment settings, run outcome)."""
    broker = BROKER
    root = tmp_path_factory.mktemp("celery")
    prefix = f"r71-{os.environ.get('TRACKER_TEST_DATABASE', 'tracker_test')}-{os.getpid()}:"
    extra = {
        "TRACKER_CELERY_BROKER_URL": broker,
        "TRACKER_CELERY_WORKERS": "2",
        "TRACKER_CELERY_CONCURRENCY": "4",
        # Queues and results of this test session only: parallel runs share the Redis db.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": prefix,
        # For the kill: a task whose worker died is failed (then retried on the other worker)
        # after 30 s without heartbeat, and a message the dead worker had taken but not started
        # goes back to the queue after 120 s (Airflow's defaults: 5 min and 24 h).
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "120",
    }
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        with airflow_deployment(root, server_url, tracker_db_url, "celery") as env:
            ready(settings())
            lines: list[str] = []
            outcome = run_dag_once(RUN_DATE, echo=lines.append)
            assert outcome.succeeded, "\n".join(lines + outcome.failures)
            services = running_services(settings())
            yield {**env, **extra, "services": ",".join(sorted(services))}, outcome
    finally:
        _forget_keys(broker, prefix)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_the_dag_runs_on_two_celery_workers_sharing_the_mapped_ingest(celery_run, tracker_db_url):
    env, outcome = celery_run
    assert env["services"].split(",") == sorted(
        ["api-server", "dag-processor", "scheduler", "triggerer", "worker1", "worker2"]
    )
    client = admin_api(env)
    tis = task_instances(client, outcome.run_id)
    host = socket.gethostname()
    workers = {f"worker1@{host}", f"worker2@{host}"}
    for ti in tis:
        assert ti["state"] == "success", ti
        assert ti["hostname"] in workers, ti
        assert ti["queue"] == "default", ti
    files = list(Path(env["TRACKER_LANDING_DIR"]).iterdir())
    ingest = [ti for ti in tis if ti["task_id"] == "ingest_feed_file"]
    assert len(ingest) == len(files) > 50
    assert {ti["hostname"] for ti in ingest} == workers, "one worker ran every ingest task"

    with psycopg.connect(tracker_db_url) as conn:
        loaded, distinct = conn.execute(
            "select count(*), count(distinct sha256) from raw.feed_files"
        ).fetchone()
    assert loaded == distinct == len({path.read_bytes() for path in files})


def test_wall_time_against_the_local_executor(
    celery_run, tmp_path_factory, server_url, tracker_db_url, capsys, monkeypatch
):
    """The same DAG on the same demo data on the LocalExecutor (same machine): both figures."""
    env, outcome = celery_run
    celery_seconds = _wall_seconds(admin_api(env), outcome.run_id)
    root = tmp_path_factory.mktemp("local")
    monkeypatch.delenv("TRACKER_CELERY_BROKER_URL")  # the Celery services stay idle meanwhile
    with airflow_deployment(root, server_url, tracker_db_url, "local") as env:
        ready(settings())
        assert "worker1" not in running_services(settings())
        began = time.monotonic()
        outcome = run_dag_once(RUN_DATE, echo=lambda _: None)
        assert outcome.succeeded, outcome.failures
        client = admin_api(env)
        local_seconds = _wall_seconds(client, outcome.run_id)
        followed = time.monotonic() - began
    with capsys.disabled():
        print(
            f"\nwall time of one demo DAG run, start to end ({os.cpu_count()} cores):"
            f" CeleryExecutor (2 workers x 4 slots) {celery_seconds:.1f} s,"
            f" LocalExecutor {local_seconds:.1f} s (tracker run {followed:.1f} s)"
        )


def test_a_worker_killed_during_the_mapped_ingest_costs_no_file_and_loads_none_twice(
    celery_run, tracker_db_url
):
    """SIGKILL of worker2's process group while it runs ingest tasks: the run still succeeds (the
    other worker retries them) and every file is loaded exactly once."""
    env, _ = celery_run
    empty_tracker_tables(tracker_db_url)  # the same date runs again and finds every file new
    client = admin_api(env)
    worker2 = running_services(settings())["worker2"][0]
    killed_hostname = f"worker2@{socket.gethostname()}"
    outcomes: list = []
    runner = threading.Thread(
        target=lambda: outcomes.append(run_dag_once(RUN_DATE, echo=lambda _: None))
    )
    runner.start()
    killed_while: list[dict] = []
    deadline = time.monotonic() + 600
    while not killed_while and runner.is_alive() and time.monotonic() < deadline:
        runs = client.get(
            f"/api/v2/dags/{DAG}/dagRuns", params={"state": ["running"], "limit": 1}
        ).json()["dag_runs"]
        if runs:
            tis = task_instances(client, runs[0]["dag_run_id"])
            ingest = [ti for ti in tis if ti["task_id"] == "ingest_feed_file"]
            running = [
                ti
                for ti in ingest
                if ti["state"] == "running" and ti["hostname"] == killed_hostname
            ]
            waiting = [ti for ti in ingest if ti["state"] in (None, "scheduled", "queued")]
            if running and waiting:
                os.killpg(worker2, signal.SIGKILL)
                killed_while = running
        time.sleep(0.5)
    runner.join(timeout=900)
    assert killed_while, "worker2 ran no ingest task while others waited: nothing was killed"
    assert outcomes and outcomes[0].succeeded, outcomes and outcomes[0].failures
    assert "worker2" not in running_services(settings())

    files = list(Path(env["TRACKER_LANDING_DIR"]).iterdir())
    tis = task_instances(client, outcomes[0].run_id)
    assert all(ti["state"] == "success" for ti in tis)
    survivor = f"worker1@{socket.gethostname()}"
    ends = {ti["map_index"]: ti for ti in tis if ti["task_id"] == "ingest_feed_file"}
    retried_elsewhere = [
        ends[victim["map_index"]]
        for victim in killed_while
        if ends[victim["map_index"]]["try_number"] > victim["try_number"]
        and ends[victim["map_index"]]["hostname"] == survivor
    ]
    assert retried_elsewhere, ("no killed task was retried on worker1", killed_while)
    with psycopg.connect(tracker_db_url) as conn:
        loaded, distinct = conn.execute(
            "select count(*), count(distinct sha256) from raw.feed_files"
        ).fetchone()
    assert loaded == distinct == len({path.read_bytes() for path in files})
    first = min(ti["try_number"] for ti in tis)  # the cleared run starts above try 1
    retried = sum(ti["try_number"] > first for ti in tis)
    print(f"killed worker2 during {len(killed_while)} ingest task(s); {retried} task(s) retried")
