"""Run Airflow against the tracker's PostgreSQL: one environment for every Airflow command.

Airflow's metadata lives in the `airflow` database of the same server; its home under
.local/airflow; its DAGs and plugins are this repository's dags/ and plugins/.

The executor is the tracker's LocalExecutor unless `TRACKER_CELERY_BROKER_URL` names a Celery
broker (e.g. `redis://127.0.0.1:6379/0`): then CeleryExecutor, its results kept in Airflow's
metadata database (`db+postgresql+psycopg://...`), and the on-demand services add the triggerer
and `TRACKER_CELERY_WORKERS` Celery workers (default 2) of `TRACKER_CELERY_CONCURRENCY` task
slots each (default 4), see airflow_services.py; each worker preloads the tracker's libraries
before its pool forks (celery_config.py). Lineage: every process runs Airflow's
OpenLineage provider (`openlineage_settings`; the tracker's own events: r71_tracker.lineage).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from r71_tracker import database
from r71_tracker.config import Settings, settings, whole_number

DAG_ID = "resolution71_tracker"
CELERY_BROKER_VARIABLE = "TRACKER_CELERY_BROKER_URL"
# Set by the services in each Celery worker's environment: the hostname its tasks report.
WORKER_HOSTNAME_VARIABLE = "TRACKER_CELERY_WORKER_HOSTNAME"
NAMESPACE = "resolution71"  # the OpenLineage job namespace of the tracker's DAG, tasks and models
# Airflow's Celery settings, with the libraries preloaded in each worker (celery_config.py).
CELERY_CONFIG = "r71_tracker.celery_config.CELERY_CONFIG"


def celery_broker_url() -> str | None:
    """TRACKER_CELERY_BROKER_URL: the Celery broker of CeleryExecutor; unset: LocalExecutor."""
    return os.environ.get(CELERY_BROKER_VARIABLE, "").strip() or None


def celery_workers() -> int:
    """TRACKER_CELERY_WORKERS: how many Celery workers the on-demand services start (default 2)."""
    return whole_number("TRACKER_CELERY_WORKERS", 2, unit="workers", minimum=1, maximum=32)


def celery_concurrency() -> int:
    """TRACKER_CELERY_CONCURRENCY: task slots of each Celery worker (default 4)."""
    return whole_number("TRACKER_CELERY_CONCURRENCY", 4, unit="task slots", minimum=1)


def worker_hostname() -> str:
    """`[core] hostname_callable` of the Celery workers: each worker's own Celery hostname
    (`worker<N>@<host>`), so task instances show which of several workers on one machine ran
    them; the machine's name elsewhere."""
    return os.environ.get(WORKER_HOSTNAME_VARIABLE) or socket.getfqdn()


def openlineage_settings(config: Settings, env: Mapping[str, str]) -> dict[str, str]:
    """`[openlineage]` of every Airflow process (the provider's listener, r71_tracker.lineage).

    One job namespace: OPENLINEAGE_NAMESPACE, default `resolution71`. Events go over HTTP to
    OPENLINEAGE_URL when it is set (the OpenLineage client's own variables: OPENLINEAGE_ENDPOINT,
    OPENLINEAGE_API_KEY), else one JSON file per event under the local state folder
    (`<TRACKER_LOCAL_DIR>/lineage/`). A transport of one's own in AIRFLOW__OPENLINEAGE__TRANSPORT
    is kept; OPENLINEAGE_DISABLED=true turns lineage off.
    """
    values = {"AIRFLOW__OPENLINEAGE__NAMESPACE": env.get("OPENLINEAGE_NAMESPACE") or NAMESPACE}
    if env.get("OPENLINEAGE_URL") or env.get("AIRFLOW__OPENLINEAGE__TRANSPORT"):
        return values
    config.lineage_dir.mkdir(parents=True, exist_ok=True)  # the file transport does not create it
    transport = {
        "type": "file",
        "log_file_path": str(config.lineage_dir / "event"),
        "append": False,
    }
    return values | {"AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport)}


def airflow_environment(config: Settings | None = None) -> dict[str, str]:
    """The process environment for Airflow commands (and so for the DAG's tasks)."""
    config = config or settings()
    tracker = database.tracker_url(config)
    metadata = database.sqlalchemy_url(database.airflow_url(config))
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(config.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(config.dags_dir),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(config.project_root / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "r71_tracker.airflow_executor.TrackerLocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            # psycopg 3 also serves Airflow's async engine (no asyncpg needed).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(config.airflow_home / "logs"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "TRACKER_DATABASE_URL": tracker,
            "TRACKER_PROJECT_ROOT": str(config.project_root),
            "TRACKER_LANDING_DIR": str(config.landing_dir),
            "TRACKER_PUBLISHED_DIR": str(config.published_dir),
            "TRACKER_LOCAL_DIR": str(config.local_dir),
            "DO_NOT_TRACK": "1",
            "NO_PROXY": "*",
            # `airflow standalone` and the executors start `airflow` sub-commands from PATH.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        }
    )
    env.update(openlineage_settings(config, env))
    # Workers reach the API server's Execution API; follow the port the API server listens on.
    broker = celery_broker_url()
    if broker:
        env["AIRFLOW__CORE__EXECUTOR"] = "CeleryExecutor"
        env["AIRFLOW__CELERY__BROKER_URL"] = broker
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = f"db+{metadata}"
        env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] = CELERY_CONFIG
    port = env.setdefault("AIRFLOW__API__PORT", "8080")
    env.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://localhost:{port}/execution/")
    return env


def airflow_command(
    args: list[str], env: dict[str, str], **kwargs: Any
) -> subprocess.CompletedProcess:
    """Run `airflow ARGS` from this virtualenv with the tracker's Airflow environment."""
    airflow = Path(sys.executable).with_name("airflow")
    return subprocess.run([str(airflow), *args], env=env, **kwargs)
