"""Shared fixtures: a real PostgreSQL database for the tests, never a mock.

The server is the embedded one under .local/ (started if needed) or the one named by
TRACKER_DATABASE_URL. Each test session gets a fresh database (TRACKER_TEST_DATABASE, default
`tracker_test`) so tests never touch the data of `make demo`.
"""

from __future__ import annotations

import os

import psycopg
import pytest

from r71_tracker import database


def fresh_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the server; return its URL."""
    with psycopg.connect(database.with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    return database.with_database(server_url, name)


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
            "truncate raw.status_reports, raw.rejected_rows, raw.feed_files, raw.feed_file_chunks,"
            " audit.expectation_results restart identity"
        )


@pytest.fixture
def clean_raw(tracker_db_url: str) -> str:
    """The test database with nothing loaded."""
    empty_tracker_tables(tracker_db_url)
    return tracker_db_url


def pytest_configure(config: pytest.Config) -> None:
    """Airflow reads its settings when first imported: point it at a private home, no examples."""
    from r71_tracker.config import settings

    local = settings().local_dir
    os.environ.setdefault("AIRFLOW_HOME", str(local / "airflow_test"))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(settings().project_root / "dags"))
