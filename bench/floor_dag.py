"""Airflow's floor for a daily run: the tracker DAG's shape with tasks that do nothing.

`make bench` (daily_run_bench.py) runs this DAG and the tracker's DAG in turn, the same way
(`tracker run`: triggered through the REST API, or cleared when its date already ran, and run by
the same scheduler, LocalExecutor and workers), so the ratio of their times is what the tracker's
own work costs above what Airflow needs to run six tasks: find, the mapped ingest (one task per
file: as many as the run compared had new files, read from the file conf `files_from` names),
build, gate, alert beside the gate, publish. It lives outside dags/ so that no deployment ever
schedules it; the bench gives it a DAG folder of its own.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import dag, task

FLOOR_DAG_ID = "resolution71_floor"


@dag(
    dag_id=FLOOR_DAG_ID,
    schedule="@daily",
    start_date=pendulum.datetime(2020, 1, 1, tz="UTC"),  # its runs take dates of their own
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 2},
    tags=["bench"],
)
def resolution71_floor():
    @task
    def find_new_feed_files(dag_run=None) -> list[str]:
        # as many mapped ingest tasks as the tracker's run being compared had new files: read
        # from the file the bench names (a cleared run keeps its conf but maps anew)
        files_from = Path((dag_run.conf or {}).get("files_from", "")) if dag_run else None
        files = int(files_from.read_text()) if files_from and files_from.is_file() else 1
        return [f"file-{number}" for number in range(files)]

    @task(map_index_template="{{ task.op_kwargs['path'] }}", multiple_outputs=False)
    def ingest_feed_file(path: str) -> dict:
        return {"path": path}

    @task(trigger_rule="none_failed", multiple_outputs=False)
    def build_models(found: list[str]) -> dict:
        return {}

    @task(multiple_outputs=False)
    def quality_gate(candidate: dict) -> dict:
        return candidate

    @task
    def alert_late_feeds(candidate: dict) -> list[str]:
        return []

    @task(multiple_outputs=False)
    def publish(judged: dict) -> dict:
        return judged

    found = find_new_feed_files()
    loads = ingest_feed_file.expand(path=found)
    candidate = build_models(found)
    loads >> candidate
    publish(quality_gate(candidate))
    alert_late_feeds(candidate)


resolution71_floor()
