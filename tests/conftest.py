"""Shared fixtures: a real PostgreSQL database for the tests, never a mock.

The server is the embedded one under .local/ (started if needed) or the one named by
TRACKER_DATABASE_URL. Each test session gets a fresh database (TRACKER_TEST_DATABASE, default
`tracker_test`, suffixed with the worker's id under pytest-xdist) so tests never touch the data of
`make demo` nor each other's.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest

from r71_tracker import database, demo_feeds
from r71_tracker.airflow_env import DAG_ID
from r71_tracker.airflow_services import stop_services
from r71_tracker.config import settings
from r71_tracker.feeds import contract
from r71_tracker.registry import load_registry

# One valid v1 feed row (real registry codes), as a ministry would send it; tests vary it.
VALID_MOJ_ROW = {
    "report_date": "2025-12-15",
    "agency_code": "MOJ",
    "database_code": "MOJ-CIVIL-STATUS",
    "platform_status": "operational",
    "data_status": "centralized",
    "process_integrated": "true",
    "connected_national": "true",
    "record_count": "27400000",
    "records_updated_30d": "412000",
    "consumer_agencies": "6",
    "notes": "",
}


FEED_HEADER = ",".join(contract.FIELDS)  # a status feed's CSV header, in the contract's order


def databases_by_agency() -> dict[str, list[str]]:
    """Database codes of the registry, by owning agency, in the seed file's order."""
    owned: dict[str, list[str]] = {}
    for code, owner in load_registry().database_owners.items():
        owned.setdefault(owner, []).append(code)
    return owned


def fresh_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the server; return its URL."""
    return database.recreate_database(server_url, name)


@pytest.fixture(scope="session")
def server_url() -> str:
    """URL of the PostgreSQL server the tests use (embedded unless TRACKER_DATABASE_URL is set)."""
    return database.tracker_url()


@pytest.fixture(scope="session")
def tracker_db_url(server_url: str) -> str:
    """A fresh tracker database for this test session, with the raw and audit tables."""
    url = fresh_database(server_url, os.environ.get("TRACKER_TEST_DATABASE", "tracker_test"))
    database.ensure_tracker_schema(url)
    return url


@pytest.fixture
def tracker_env(tracker_db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    """Point every tracker command of this test at the test database and a private landing dir."""
    monkeypatch.setenv("TRACKER_DATABASE_URL", tracker_db_url)
    monkeypatch.setenv("TRACKER_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("TRACKER_PUBLISHED_DIR", str(tmp_path / "published"))
    # GX context, dbt target and Airflow home of this test only (the database URL above means no
    # embedded server is started from this directory).
    monkeypatch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "local"))
    return tracker_db_url


def empty_tracker_tables(url: str) -> None:
    """Empty the raw and audit tables so a test starts from nothing loaded."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "truncate raw.status_reports, raw.field_reports, raw.rejected_rows, raw.feed_files,"
            " raw.feed_file_chunks, raw.refused_files, audit.expectation_results, audit.gate_runs,"
            " audit.alerts, audit.file_events, audit.file_verdicts, audit.publications"
            " restart identity"
        )


def raw_state(url: str, *, names: bool = True) -> dict[str, object]:
    """Everything an ingest determines, keyed by sha256 (file ids and times differ between runs).

    names=False leaves out which name of the same bytes was kept (it depends on a race between
    processes) and masks it in quarantine messages.
    """
    name_column = "original_name, " if names else ""
    message = "r.message" if names else "replace(r.message, f.original_name, '<file>')"
    with psycopg.connect(url) as conn:

        def one(sql: str) -> object:
            return conn.execute(sql).fetchone()[0]

        return {
            "counts": conn.execute(
                "select (select count(*) from raw.feed_files),"
                " (select count(*) from raw.status_reports),"
                " (select count(*) from raw.rejected_rows)"
            ).fetchone(),
            "files": conn.execute(
                f"select sha256, {name_column}size_bytes, feed_format, feed_kind, agency_code,"
                " file_status,"
                " file_reason_code, rows_received, rows_loaded, rows_rejected, extra_columns"
                " from raw.feed_files order by sha256"
            ).fetchall(),
            "status_reports": one(
                "select md5(string_agg(concat_ws('|', f.sha256, s.line_number, s.report_date,"
                " s.agency_code, s.database_code, s.platform_status, s.data_status,"
                " s.process_integrated, s.connected_national, s.record_count,"
                " s.records_updated_30d, s.consumer_agencies, s.notes),"
                " E'\\n' order by f.sha256, s.line_number))"
                " from raw.status_reports s join raw.feed_files f using (file_id)"
            ),
            "field_reports": one(
                "select md5(string_agg(concat_ws('|', f.sha256, d.line_number, d.report_date,"
                " d.agency_code, d.database_code, d.field_name, d.field_type,"
                " d.is_original_source), E'\\n' order by f.sha256, d.line_number))"
                " from raw.field_reports d join raw.feed_files f using (file_id)"
            ),
            "rejected_rows": one(
                f"select md5(string_agg(concat_ws('|', f.sha256, r.line_number, r.reason_code,"
                f" {message}, r.raw_record), E'\\n' order by f.sha256, r.line_number))"
                " from raw.rejected_rows r join raw.feed_files f using (file_id)"
            ),
        }


def free_port() -> int:
    """A TCP port nobody listens on now (for an api-server or a log server of a test's own)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def airflow_deployment(
    root: Path, server_url: str, tracker_db_url: str, name: str
) -> Iterator[dict[str, str]]:
    """A tracker deployment of its own under `root`: the test database emptied, a private Airflow
    metadata database (TRACKER_TEST_DATABASE suffixed with `_name`), home and free ports, the demo
    feeds in its landing folder. Its settings are in os.environ while it lasts (what `tracker run`
    and `run_dag_once` read); at the end its Airflow services are stopped and os.environ restored.
    """
    airflow_db = os.environ.get("TRACKER_TEST_DATABASE", "tracker_test") + f"_{name}"
    empty_tracker_tables(tracker_db_url)
    env = {
        "TRACKER_DATABASE_URL": tracker_db_url,
        "TRACKER_AIRFLOW_DATABASE_URL": fresh_database(server_url, airflow_db),
        "TRACKER_LANDING_DIR": str(root / "landing"),
        "TRACKER_PUBLISHED_DIR": str(root / "published"),
        "TRACKER_LOCAL_DIR": str(root / "local"),
        "AIRFLOW__API__PORT": str(free_port()),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    demo_feeds.write_demo_feeds(root / "landing")
    try:
        yield env
    finally:
        stop_services(settings())
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def admin_password(env: dict[str, str]) -> str:
    """The password Airflow's SimpleAuthManager generated for `admin` in the deployment's home."""
    home = Path(env["TRACKER_LOCAL_DIR"]) / "airflow"
    return json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]


def admin_api(env: dict[str, str]) -> httpx.Client:
    """A REST client of the deployment's api-server logged in as the admin user, as a person
    using the UI would be."""
    base = f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}"
    client = httpx.Client(base_url=base, timeout=30, trust_env=False)
    login = {"username": "admin", "password": admin_password(env)}
    token = client.post("/auth/token", json=login).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


# A sample value for each path parameter of the tracker app's routes (a new one needs one here).
ROUTE_SAMPLES = {"code": ["X"], "file_id": ["1"], "line_number": ["1"], "run_id": ["X"]}


def tracker_route_urls() -> list[str]:
    """Every URL the tracker's pages app answers (r71_tracker.web.app), from the app's own routes:
    a sample value per path parameter, every static asset. Tests that an anonymous request is
    refused use it, so a route added without Airflow's check fails them."""
    from fastapi.routing import APIRoute

    from r71_tracker.web.app import ASSETS, PREFIX, create_app

    urls = []
    for route in create_app().routes:
        assert isinstance(route, APIRoute), f"{route!r}: not a route of the guarded router"
        names = re.findall(r"{(\w+)}", route.path)
        choices = [list(ASSETS) if name == "name" else ROUTE_SAMPLES.get(name) for name in names]
        assert None not in choices, f"{route.path}: give its parameters values in ROUTE_SAMPLES"
        for values in itertools.product(*choices):
            path = route.path
            for name, value in zip(names, values, strict=True):
                path = path.replace(f"{{{name}}}", value)
            urls.append(PREFIX + path)
    return urls


@pytest.fixture
def clean_raw(tracker_db_url: str) -> str:
    """The test database with nothing loaded."""
    empty_tracker_tables(tracker_db_url)
    return tracker_db_url


# The longest test files (`make test` prints the slowest tests), run first: pytest-xdist hands
# out whole files in collection order, so starting these early keeps every worker busy to the end
# instead of leaving one to finish an Airflow run alone.
LONGEST_FIRST = (
    "test_airflow_runs.py",
    "test_browser_pages.py",
    "test_pipeline_e2e.py",
    "test_publish_only_what_passed.py",
    "test_airflow_standalone.py",
    "test_concurrent_dag_runs.py",
    "test_ingest_crash_safety.py",
    "test_lint.py",
    "test_agency_feed_freshness.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the files as LONGEST_FIRST says, then the others as collected (a stable sort)."""
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_configure(config: pytest.Config) -> None:
    """Each xdist worker gets databases and an Airflow home of its own (names suffixed with its
    id); the controller starts the embedded server once, before the workers exist. Airflow reads
    its settings when first imported: point it at a private home, no examples."""
    from r71_tracker.config import settings

    worker = os.environ.get("PYTEST_XDIST_WORKER")  # set by pytest-xdist in its workers
    if worker:
        base = os.environ.get("TRACKER_TEST_DATABASE", "tracker_test")
        os.environ["TRACKER_TEST_DATABASE"] = f"{base}_{worker}"
    elif getattr(config.option, "numprocesses", None):
        database.tracker_url()
    local = settings().local_dir
    os.environ.setdefault(
        "AIRFLOW_HOME", str(local / f"airflow_test{'_' + worker if worker else ''}")
    )
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(settings().project_root / "dags"))


def task_instances(client: httpx.Client, run_id: str) -> list[dict]:
    """Every task instance of one run of the tracker DAG, read page by page from the REST API."""
    found: list[dict] = []
    while True:
        page = client.get(
            f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances",
            params={"limit": 100, "offset": len(found)},
        ).json()
        found += page["task_instances"]
        if len(found) >= page["total_entries"]:
            return found
