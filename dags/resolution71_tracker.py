"""
### Resolution 71 tracker — daily run

Ingests the ministries' status feeds about the 105 databases of Government Resolution 71/NQ-CP,
classifies every database into a stage with dbt, gates the run with Great Expectations and publishes
the answer.

**Inputs:** feed files in the landing folder (`TRACKER_LANDING_DIR`, default `data/landing/`), the
registry seeds in `dbt_project/seeds/`.
**Outputs:** raw tables (schema `raw`), marts (schema `marts`), expectation results (table
`audit.expectation_results`, shown by the quality run pages), the dbt docs site and
`summary.json` under `TRACKER_PUBLISHED_DIR` (default `data/published/`); GX Data Docs are not
published (their assets load from public CDNs, so offline they list nothing).

**Tasks:** find new feed files → ingest each (one mapped task per file, one transaction each) →
dbt build of the run's candidate (its own schema; nothing people read changes; it first ingests
any file found that the mapped ingest left, which a run cleared after a try that found nothing
can leave: see `pipeline.ingest_files_left_over`) → quality gate on
the candidate (a failed national rule fails the run and nothing is published; a failed agency rule
holds that agency's new files and the rest publishes) → publish (the candidate becomes `marts` in
one transaction, then the outputs); beside the gate, alert the liaison of each late agency.

**Alerts** (`r71_tracker.alerts`, recorded in `audit.alerts`): held files alert their agency's
liaison (every file and its failing rows) and the platform team; a national failure alerts the
platform team (quality gate's failure callback); a late feed alerts its agency's liaison once per
run date; a failed run alerts the platform team once (the failing task's
callback, which knows the exception, or else the DAG's).

The run judges data as of its logical date, never the wall clock, so a backfill of 2025 judges 2025
data by 2025's calendar. All logic lives in `plugins/r71_tracker`; this file only wires tasks.

**Pages:** the tracker's [overview](/tracker/) (Airflow's navigation, *Resolution 71*): stages,
charts, agencies, databases down to the feed line; the `quality_gate` and `publish` tasks link to
their run's quality page. **Assets:** the landing folder's feed files in, the published marts out.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from r71_tracker import assets
from r71_tracker.alerts import BlockingSuiteNotifier, DagRunFailedNotifier
from r71_tracker.web.links import link_quality_run

OWNER = "data-platform"


@dag(
    dag_id="resolution71_tracker",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 4, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["resolution71", "feeds", "dbt", "quality-gate"],
    default_args={
        "owner": OWNER,
        "retries": 2,
        "retry_delay": pendulum.duration(seconds=30),
        "on_failure_callback": DagRunFailedNotifier(),
    },
    on_failure_callback=DagRunFailedNotifier(),
    doc_md=__doc__,
)
def resolution71_tracker():
    @task(inlets=[assets.feed_files()])
    def find_new_feed_files() -> list[str]:
        from r71_tracker import pipeline

        return pipeline.find_new_feed_files()

    # Each dict below goes downstream whole (one XCom): `-> dict` alone would make Airflow push
    # every key as an XCom of its own too, which nothing reads.
    @task(map_index_template="{{ task.op_kwargs['path'] }}", multiple_outputs=False)
    def ingest_feed_file(path: str) -> dict:
        from r71_tracker import pipeline

        return pipeline.ingest_feed_file(path)

    @task(trigger_rule="none_failed", multiple_outputs=False)
    def build_models(
        found: list[str], run_id: str | None = None, logical_date: pendulum.DateTime | None = None
    ) -> dict:
        from r71_tracker import pipeline

        return pipeline.build_task(run_id, logical_date, found)

    @task(
        on_failure_callback=[BlockingSuiteNotifier(), DagRunFailedNotifier()],
        multiple_outputs=False,
    )
    def quality_gate(candidate: dict) -> dict:
        from r71_tracker import pipeline

        return pipeline.quality_gate_task(candidate)

    @task
    def alert_late_feeds(candidate: dict, run_id: str | None = None) -> list[str]:
        from r71_tracker import alerts

        return alerts.late_feeds_task(candidate, run_id)

    @task(multiple_outputs=False, outlets=assets.published_marts())
    def publish(judged: dict) -> dict:
        from r71_tracker import pipeline

        return pipeline.publish_task(judged)

    found = find_new_feed_files()
    loads = ingest_feed_file.expand(path=found)
    candidate = build_models(found)  # type: ignore[arg-type]
    loads >> candidate
    # Airflow types a task call's arguments as the function's, but at DAG build time an upstream
    # task's XComArg stands for the dict it will return (apache/airflow#39514): no error here.
    judged = quality_gate(candidate)  # type: ignore[arg-type]
    published = publish(judged)  # type: ignore[arg-type]
    link_quality_run(judged, published)
    alert_late_feeds(candidate)  # type: ignore[arg-type]


resolution71_tracker()
