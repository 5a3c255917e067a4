"""The services' executor: Airflow's LocalExecutor, with GX and dbt imported before its workers
fork, so that no gate, build or publish task pays for importing them again."""

from __future__ import annotations

import os
import subprocess
import sys


def test_the_services_run_the_preloading_executor() -> None:
    code = (
        "import os, sys\n"
        "from r71_tracker.airflow_env import airflow_environment\n"
        "os.environ.update(airflow_environment())\n"
        "from airflow.executors.executor_loader import ExecutorLoader\n"
        "from airflow.executors.local_executor import LocalExecutor\n"
        "from r71_tracker.airflow_executor import TrackerLocalExecutor, PRELOADED_MODULES\n"
        "executor = ExecutorLoader.import_default_executor_cls()[0]\n"
        "assert executor is TrackerLocalExecutor, executor\n"
        "assert issubclass(executor, LocalExecutor)\n"
        "assert not any(name in sys.modules for name in PRELOADED_MODULES)\n"
        "from r71_tracker.airflow_executor import preload\n"
        "preload()\n"
        "assert all(name in sys.modules for name in PRELOADED_MODULES)\n"
    )
    # a process of its own: the environment and the imports must not leak into other tests; URLs
    # that are never connected to (no server is needed to name the executor)
    env = os.environ | {
        "TRACKER_DATABASE_URL": "postgresql://tracker@db.invalid/tracker",
        "TRACKER_AIRFLOW_DATABASE_URL": "postgresql://airflow@db.invalid/airflow",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
