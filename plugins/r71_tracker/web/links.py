"""Links from Airflow's task pages to the tracker's: the `quality_gate` and `publish` tasks of a
DAG run link to that run's quality page (its expectations, verdict and held files).

Airflow 3 computes a task's extra links when the task ends (success or failure) and keeps them as
XComs the UI reads, so the link exists even for a gate that failed; the plugin registers the
link class so the UI knows its name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from airflow.sdk import BaseOperatorLink

PAGES_PREFIX = "/tracker"


def _base_path() -> str:
    """The API server's base path ([api] base_url may put Airflow under a sub-path)."""
    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


class QualityRunLink(BaseOperatorLink):
    """The quality page of the task's DAG run (the page resolves a DAG run id to its gate run)."""

    name = "Quality run (tracker)"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return f"{_base_path()}{PAGES_PREFIX}/quality-runs/{quote(ti_key.run_id, safe='')}"


def link_quality_run(*tasks: Any) -> None:
    """Give these tasks (the XComArgs of @task calls in the DAG file) the quality-run link."""
    for task in tasks:
        task.operator.operator_extra_links = [QualityRunLink()]
