"""Two runs of the pipeline for the same date at once end in the state of one sequential run.

Airflow itself allows one DAG run per logical date (`tracker run` of a date already run re-runs
that run), so the overlap tested here is the one that happens in operation: the DAG run of a date
while an operator runs `tracker ingest` + `tracker build` for the same date. Both see the same new
feed files: the ingest keeps each file's bytes once, and the warehouse lock serialises dbt build,
gate and publish. The reference is what one run leaves (the counts the demo feeds define), so the
test fails if either loads a file twice, loses one, or breaks.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from conftest import airflow_deployment

from r71_tracker import demo_feeds, status
from r71_tracker.airflow_runs import ready, run_dag_once

pytestmark = pytest.mark.integration


@pytest.fixture
def concurrent_env(tmp_path, server_url, tracker_db_url):
    with airflow_deployment(tmp_path, server_url, tracker_db_url, "concurrent") as env:
        # Services up and the DAG registered first, so the DAG run starts as the operator's does.
        ready()
        yield env


def _operator_run(landing: str, run_date: str) -> subprocess.CompletedProcess:
    tracker = str(Path(sys.executable).with_name("tracker"))
    return subprocess.run(
        f"{tracker} ingest {landing} && {tracker} build --date {run_date}",
        shell=True,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_dag_run_and_operator_run_of_the_same_date_at_once_end_like_one(concurrent_env):
    url = concurrent_env["TRACKER_DATABASE_URL"]
    run_date = demo_feeds.LATEST_REPORT_DATE
    with ThreadPoolExecutor(max_workers=2) as pool:
        dag_run = pool.submit(run_dag_once, run_date)
        operator = pool.submit(
            _operator_run, concurrent_env["TRACKER_LANDING_DIR"], run_date.isoformat()
        )
        outcome, manual = dag_run.result(), operator.result()
    assert outcome.succeeded, outcome.log_path.read_text()[-3000:]
    assert manual.returncode == 0, manual.stdout[-2000:] + manual.stderr[-2000:]

    files = len(list(Path(concurrent_env["TRACKER_LANDING_DIR"]).iterdir()))
    with psycopg.connect(url) as conn:
        feed_files, distinct_files = conn.execute(
            "select count(*), count(distinct sha256) from raw.feed_files"
        ).fetchone()
        rows = conn.execute(
            "select (select count(*) from raw.status_reports)"
            " + (select count(*) from raw.field_reports)"
        ).fetchone()[0]
        quarantined = conn.execute("select count(*) from raw.rejected_rows").fetchone()[0]
        received = conn.execute("select sum(rows_received) from raw.feed_files").fetchone()[0]
    assert feed_files == distinct_files == files
    assert quarantined == demo_feeds.EXPECTED_BAD_ROWS.count
    assert rows + quarantined == received
    assert status.stage_counts(url, run_date)["stages"] == dict(demo_feeds.EXPECTED_STAGE_COUNTS)
