"""The Celery workers' configuration (`[celery] celery_config_options`): Airflow's default, plus
the tracker's heavy libraries imported, and dbt warmed, once per worker before its pool forks.

Airflow's Celery worker forks its pool processes from the worker process, and each task's
supervisor forks the task from a pool process; so a module the worker imported before its pool
started is in every task for free, as with TrackerLocalExecutor (airflow_executor.py, which says
what is preloaded and why no thread may be started). Without it every gate, build and publish
task imports Great Expectations and dbt again. Celery sends `worker_init` in the worker process
before it creates its pool. Set by airflow_env (CeleryExecutor) and docker-compose.yml.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery import signals  # type: ignore[import-untyped]

CELERY_CONFIG: dict[str, Any] = dict(DEFAULT_CELERY_CONFIG)


@signals.worker_init.connect
def preload_before_the_pool_forks(**_: Any) -> None:
    from r71_tracker.airflow_executor import preload

    preload()
