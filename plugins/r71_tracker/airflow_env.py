"""Run Airflow against the tracker's PostgreSQL: one environment for every Airflow command.

Airflow's metadata lives in the `airflow` database of the same server; its home under
.local/airflow; its DAGs and plugins are this repository's dags/ and plugins/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from r71_tracker import database
from r71_tracker.config import Settings, settings

DAG_ID = "resolution71_tracker"


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
    # Workers reach the API server's Execution API; follow the port the API server listens on.
    port = env.setdefault("AIRFLOW__API__PORT", "8080")
    env.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://localhost:{port}/execution/")
    return env


def airflow_command(
    args: list[str], env: dict[str, str], **kwargs: Any
) -> subprocess.CompletedProcess:
    """Run `airflow ARGS` from this virtualenv with the tracker's Airflow environment."""
    airflow = Path(sys.executable).with_name("airflow")
    return subprocess.run([str(airflow), *args], env=env, **kwargs)
