"""Airflow's LocalExecutor, with the tracker's heavy libraries imported once per scheduler.

On Linux the LocalExecutor forks its workers from the scheduler, and each task process is forked
from a worker, so a module the scheduler imported before starting its workers is already in every
task for free. Great Expectations (about 4 s to import) and dbt (about 1.5 s) would otherwise be
imported again by every gate, build and publish task. Only third-party libraries are preloaded:
the tracker's own modules are imported by each task, so a task always runs the code on disk.
The services `tracker run` and `make airflow` start use this executor
(`AIRFLOW__CORE__EXECUTOR`, airflow_env.py).
"""

from __future__ import annotations

import importlib
import logging

from airflow.executors.local_executor import LocalExecutor

PRELOADED_MODULES = ("great_expectations", "dbt.cli.main", "dbt.adapters.postgres")


def preload() -> None:
    """Import the libraries the tracker's tasks use (quietly: GX logs its API registry)."""
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    for name in PRELOADED_MODULES:
        importlib.import_module(name)


class TrackerLocalExecutor(LocalExecutor):
    """LocalExecutor whose forked workers start with PRELOADED_MODULES imported."""

    def start(self) -> None:
        if self.is_mp_using_fork:  # a spawned worker would import everything again anyway
            preload()
        super().start()
