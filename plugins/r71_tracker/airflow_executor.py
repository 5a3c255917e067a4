"""Airflow's LocalExecutor, with the heavy libraries imported (and dbt warmed) once per scheduler.

On Linux the LocalExecutor forks its workers from the scheduler, and each task process is forked
from a worker, so a module the scheduler imported before starting its workers is already in every
task for free. Great Expectations (about 4 s to import) and dbt (about 1.5 s) would otherwise be
imported again by every gate, build and publish task.

Importing is not all: dbt generates the (de)serializers of its manifest classes and their JSON
schemas on first use in a process, which a cold build or publish task pays again when it parses
the project. So the scheduler also parses a tiny dbt project of one node of each kind
(`dbt_warm_up/`, never built, so never connected) before its workers fork.

A fork copies no thread: a pool whose threads the scheduler started is dead in every task, and a
task waiting on it hangs. So warming must start none. dbt's static parser (`dbt_extractor`)
starts a native thread pool on first use: the warm-up parses without it, and its project holds
no snapshot (whose `relation: ref(...)` dbt_extractor parses whatever the flags). GX is imported,
not exercised (a validation starts threads).

Only third-party libraries stay loaded: tasks import the tracker's own modules from disk.
The services `tracker run` and `make airflow` start use this executor (`AIRFLOW__CORE__EXECUTOR`,
airflow_env.py); Celery workers call `preload` the same way before their pool forks
(celery_config.py).
"""

from __future__ import annotations

import importlib
import logging
import tempfile
from pathlib import Path

from airflow.executors.local_executor import LocalExecutor

LOG = logging.getLogger(__name__)
PRELOADED_MODULES = ("great_expectations", "dbt.cli.main", "dbt.adapters.postgres")
WARM_UP_PROJECT = Path(__file__).with_name("dbt_warm_up")


def preload() -> None:
    """Import the libraries the tracker's tasks use, then warm dbt up."""
    import_libraries()
    warm_up_dbt()


def import_libraries() -> None:
    """Import PRELOADED_MODULES (quietly: GX logs its API registry)."""
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    for name in PRELOADED_MODULES:
        importlib.import_module(name)


def warm_up_dbt(target_dir: Path | None = None) -> None:
    """`dbt parse` of the warm-up project, its output in `target_dir` (by default a temporary
    folder, removed after). A failure only costs the tasks their warm start."""
    from dbt.cli.main import dbtRunner

    with tempfile.TemporaryDirectory(prefix="dbt-warm-up-") as scratch:
        target = target_dir or Path(scratch)
        args = ["parse", "--quiet", "--no-static-parser", "--no-partial-parse"]
        args += ["--no-send-anonymous-usage-stats", "--target-path", str(target)]
        args += ["--project-dir", str(WARM_UP_PROJECT), "--profiles-dir", str(WARM_UP_PROJECT)]
        args += ["--log-path", str(target / "logs")]
        try:
            failure = dbtRunner().invoke(args).exception
        except Exception as error:  # noqa: BLE001 (the scheduler must start whatever happens)
            failure = error
        if failure is not None:
            LOG.warning("dbt warm-up failed (%s); build and publish tasks start cold", failure)


class TrackerLocalExecutor(LocalExecutor):
    """LocalExecutor whose forked workers start with PRELOADED_MODULES imported and dbt warm."""

    def start(self) -> None:
        if self.is_mp_using_fork:  # a spawned worker would import everything again anyway
            preload()
        super().start()
