"""The services' executor: Airflow's LocalExecutor, with GX and dbt imported, and dbt warmed by a
parse of a tiny project, before its workers fork, so that no gate, build or publish task pays for
them again, and with no thread started that a forked task would wait on for ever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NEVER_CONNECTED = {
    "TRACKER_DATABASE_URL": "postgresql://tracker@db.invalid/tracker",
    "TRACKER_AIRFLOW_DATABASE_URL": "postgresql://airflow@db.invalid/airflow",
}


def _run(code: str) -> subprocess.CompletedProcess:
    """A process of its own: the environment and the imports must not leak into other tests."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | NEVER_CONNECTED,
    )


def test_the_services_run_the_preloading_executor() -> None:
    code = (
        "import os, sys, threading\n"
        "from r71_tracker.airflow_env import airflow_environment\n"
        "os.environ.update(airflow_environment())\n"
        "from airflow.executors.executor_loader import ExecutorLoader\n"
        "from airflow.executors.local_executor import LocalExecutor\n"
        "from r71_tracker.airflow_executor import TrackerLocalExecutor, PRELOADED_MODULES\n"
        "executor = ExecutorLoader.import_default_executor_cls()[0]\n"
        "assert executor is TrackerLocalExecutor, executor\n"
        "assert issubclass(executor, LocalExecutor)\n"
        "assert not any(name in sys.modules for name in PRELOADED_MODULES)\n"
        "from r71_tracker.airflow_executor import import_libraries, preload\n"
        "tracker_modules = {name for name in sys.modules if name.startswith('r71_tracker')}\n"
        "import_libraries()\n"
        "assert all(name in sys.modules for name in PRELOADED_MODULES)\n"
        "threads = set(os.listdir('/proc/self/task'))\n"
        "preload()\n"
        # a thread the warm-up started (Python's or a native library's) is dead in every forked
        # task, and a task waiting on it hangs
        "started = set(os.listdir('/proc/self/task')) - threads\n"
        "assert not started, [open(f'/proc/self/task/{tid}/comm').read() for tid in started]\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        # the tasks forked from here run the tracker's code on disk, not the scheduler's copy
        "left = {name for name in sys.modules if name.startswith('r71_tracker')}\n"
        "assert left == tracker_modules, sorted(left - tracker_modules)\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_warm_up_parses_one_node_of_each_kind_the_daily_run_parses(tmp_path: Path) -> None:
    done = _run(
        "from pathlib import Path\n"
        "from r71_tracker.airflow_executor import warm_up_dbt\n"
        f"warm_up_dbt(Path({str(tmp_path)!r}))\n"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "warm-up failed" not in done.stderr, done.stderr[-3000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    kinds = {node["resource_type"] for node in manifest["nodes"].values()}
    assert {"model", "seed", "test"} <= kinds
    assert manifest["sources"] and manifest["exposures"] and manifest["unit_tests"]
    assert manifest["macros"] and manifest["docs"]


def test_each_celery_worker_preloads_before_its_pool_forks() -> None:
    # CeleryExecutor: the worker process (whose pool processes fork the tasks) imports GX and dbt
    # when Celery sends worker_init, before it creates its pool; Airflow's own settings stay.
    code = (
        "import os, sys\n"
        "os.environ['TRACKER_CELERY_BROKER_URL'] = 'redis://127.0.0.1:9/0'\n"
        "from r71_tracker.airflow_env import airflow_environment\n"
        "os.environ.update(airflow_environment())\n"
        "from airflow.providers.celery.executors.celery_executor_utils import app\n"
        "from r71_tracker.airflow_executor import PRELOADED_MODULES\n"
        "assert app.conf.broker_url == 'redis://127.0.0.1:9/0', app.conf.broker_url\n"
        "assert app.conf.result_backend.startswith('db+postgresql'), app.conf.result_backend\n"
        "assert not any(name in sys.modules for name in PRELOADED_MODULES)\n"
        "from celery import signals\n"
        "signals.worker_init.send(sender=None)\n"
        "assert all(name in sys.modules for name in PRELOADED_MODULES)\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr[-3000:]
