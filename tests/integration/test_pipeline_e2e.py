"""End to end through Airflow's scheduler on the real PostgreSQL: demo feeds → 31 / 36 / 38.

One module-scoped environment (test tracker database, private Airflow metadata database, landing
and published folders, Airflow services of its own on free ports, stopped at the end), three DAG
runs in order: the demo date, the same date again (nothing is
loaded twice), and a date long after the data (the freshness rule fails the gate, publish is
skipped, raw data stays).
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import psycopg
import pytest
from conftest import airflow_deployment

from r71_tracker import cli, demo_feeds, status
from r71_tracker.airflow_runs import run_dag_once

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline_env(tmp_path_factory, server_url, tracker_db_url):
    """Environment of a tracker deployment of its own for this module."""
    root = tmp_path_factory.mktemp("e2e")
    with airflow_deployment(root, server_url, tracker_db_url, "airflow") as env:
        yield env


def _scalar(url: str, sql: str):
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]


def _task_states(env: dict, logical_date: date) -> dict[str, str]:
    with psycopg.connect(env["TRACKER_AIRFLOW_DATABASE_URL"]) as conn:
        rows = conn.execute(
            """
            select ti.task_id, ti.state
            from task_instance as ti
            join dag_run as dr on dr.dag_id = ti.dag_id and dr.run_id = ti.run_id
            where dr.dag_id = 'resolution71_tracker' and dr.logical_date::date = %s
              and ti.map_index = -1
            order by dr.id desc
            """,
            (logical_date,),
        ).fetchall()
    states: dict[str, str] = {}
    for task_id, state in rows:
        states.setdefault(task_id, state)
    return states


@pytest.fixture(scope="module")
def demo_run(pipeline_env):
    """The first DAG run on the demo feeds, shared by the tests of this module."""
    outcome = run_dag_once(demo_feeds.LATEST_REPORT_DATE)
    assert outcome.succeeded, outcome.log_path.read_text()[-4000:]
    return outcome


def test_demo_run_through_airflow_gives_31_36_38(pipeline_env, demo_run):
    url = pipeline_env["TRACKER_DATABASE_URL"]

    counts = status.stage_counts(url, demo_feeds.LATEST_REPORT_DATE)
    assert counts == {
        "as_of": "2025-12-15",
        "total": 105,
        "stages": {"centralized": 31, "in_progress": 36, "not_started": 38},
        "unreported": counts["unreported"],
        "held_agencies": [],
    }
    assert counts["unreported"] >= 1

    # Every file is accounted for, and the quarantine holds exactly the demo's bad rows.
    files = len(list(Path(pipeline_env["TRACKER_LANDING_DIR"]).iterdir()))
    assert _scalar(url, "select count(*) from raw.feed_files") == files
    balanced = (
        "select bool_and(rows_received = rows_loaded + rows_rejected) from marts.feed_file_loads"
    )
    assert _scalar(url, balanced) is True
    quarantined = _scalar(url, "select count(*) from raw.rejected_rows")
    assert quarantined == demo_feeds.EXPECTED_BAD_ROWS.count

    # The named examples sit in their reported stage, traceable to a feed row.
    expected = demo_feeds.expected_final_stages()
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select database_code, stage, evidence_file_name, evidence_line_number"
            " from marts.database_current_status"
        ).fetchall()
    assert {code: stage for code, stage, _, _ in rows} == expected
    reported = [row for row in rows if row[2] is not None]
    assert all(line is not None for _, _, _, line in reported)

    # The gate's results are recorded for auditors; the published outputs exist.
    assert _scalar(url, "select count(*) from audit.expectation_results where not success") == 0
    assert _scalar(url, "select count(*) from audit.expectation_results") >= 5
    published = Path(pipeline_env["TRACKER_PUBLISHED_DIR"])
    assert (published / "dbt_docs" / "index.html").stat().st_size > 10_000
    assert not (published / "data_docs").exists()  # GX Data Docs are not published (README)
    summary = json.loads((published / "summary.json").read_text("utf-8"))
    assert summary["stages"] == {"centralized": 31, "in_progress": 36, "not_started": 38}
    # The overview shows the figures and links the published run's page, which is kept.
    overview = (published / "index.en.html").read_text("utf-8")
    assert re.search(r'id="count-centralized">31<', overview)
    assert 'href="quality_runs/' in overview
    assert 'class="RED">RED' in overview and "ngay_sinh" in overview
    run_pages = [p for p in (published / "quality_runs").glob("*.en.html") if p.stem != "index.en"]
    assert run_pages and all("PASSED" in page.read_text("utf-8") for page in run_pages)
    with psycopg.connect(url) as conn:
        gate_runs = [row[0] for row in conn.execute("select run_id from audit.gate_runs")]
    runs_index = (published / "quality_runs" / "index.html").read_text("utf-8")
    assert gate_runs and all(run_id in runs_index for run_id in gate_runs)


def test_operators_see_each_agencys_last_report(pipeline_env, demo_run, capsys):
    assert cli.main(["feeds", "--json"]) == 0
    agencies = json.loads(capsys.readouterr().out)
    owners = {database.agency_code for database in demo_feeds.read_registry()}
    assert {row["agency_code"] for row in agencies} == owners
    for row in agencies:  # every agency reports on the last date, but the one that stopped
        last = demo_feeds.AGENCY_LAST_REPORT.get(row["agency_code"], demo_feeds.LATEST_REPORT_DATE)
        assert row["last_report_date"] == last.isoformat(), row["agency_code"]
        assert row["is_late"] is (row["agency_code"] in demo_feeds.AGENCY_LAST_REPORT)

    assert cli.main(["audit-ingest"]) == 0
    assert "every file accounted for" in capsys.readouterr().out

    assert cli.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stages"]["centralized"] == 31


def test_second_run_loads_nothing_twice(pipeline_env, demo_run):
    url = pipeline_env["TRACKER_DATABASE_URL"]
    before = _scalar(url, "select count(*) from raw.status_reports")
    outcome = run_dag_once(demo_feeds.LATEST_REPORT_DATE)
    assert outcome.succeeded
    assert _scalar(url, "select count(*) from raw.status_reports") == before
    assert _scalar(url, "select count(distinct sha256) from raw.feed_files") == _scalar(
        url, "select count(*) from raw.feed_files"
    )


def test_stale_data_fails_the_gate_skips_publish_and_keeps_raw_data(pipeline_env, demo_run):
    url = pipeline_env["TRACKER_DATABASE_URL"]
    loaded = _scalar(url, "select count(*) from raw.status_reports")
    published_summary = Path(pipeline_env["TRACKER_PUBLISHED_DIR"]) / "summary.json"
    summary_before = published_summary.read_text("utf-8")
    late = date(2026, 6, 1)  # half a year after the last report: far past the freshness bar
    marts = "select md5(string_agg(t::text, '|' order by t::text)) from marts.{} as t"
    published_marts = {
        name: _scalar(url, marts.format(name))
        for name in ("database_current_status", "stage_summary", "agency_feed_freshness")
    }

    outcome = run_dag_once(late)

    assert not outcome.succeeded
    assert any("effective_report_date" in line for line in outcome.failures), outcome.failures
    # one line: why, and the command that succeeds
    assert "nothing was published" in outcome.advice
    assert "`tracker run --date 2025-12-15`" in outcome.advice, outcome.advice
    states = _task_states(pipeline_env, late)
    assert states["quality_gate"] == "failed"
    assert states["publish"] == "upstream_failed"
    assert _scalar(url, "select count(*) from raw.status_reports") == loaded
    assert published_summary.read_text("utf-8") == summary_before
    # write-audit-publish: the failed run built its candidate, the marts people read are untouched
    assert {name: _scalar(url, marts.format(name)) for name in published_marts} == published_marts
    assert (
        _scalar(
            url,
            "select count(*) from audit.expectation_results"
            " where run_date = '2026-06-01' and not success",
        )
        >= 1
    )
