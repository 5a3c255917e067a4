"""The steps of one tracker run, shared by the Airflow DAG and the CLI (one way to do each thing).

Each step is idempotent: files already received are skipped by their bytes, dbt rebuilds its
models from the raw tables, every gate run appends its own record to the audit trail (a retry is a
new gate run of the same DAG run), publish overwrites its outputs and keeps one page per gate run.

The marts are one shared state "as of a run date". Runs may overlap (a backfill beside the daily
run, two runs of the same date), so build, gate and publish each hold the warehouse lock and, when
another run rebuilt the marts for a different date in between, rebuild them for their own date
first: every gate judges, and every publication shows, its own run's date.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import psycopg

from r71_tracker import database
from r71_tracker.config import settings

_WAREHOUSE_LOCK_KEY = 710_072  # pg advisory lock: one run at a time rebuilds or reads the marts


def find_new_feed_files() -> list[str]:
    """Feed files in the landing folder whose bytes have not been received yet."""
    from r71_tracker.feeds.ingest import find_new_files

    config = settings()
    return [str(path) for path in find_new_files(config.landing_dir, database.tracker_url(config))]


def ingest_feed_file(path: str) -> dict:
    """Ingest one feed file (one transaction); returns its load report."""
    from r71_tracker.feeds.ingest import ingest_paths

    (report,) = ingest_paths([Path(path)], database.tracker_url())
    return report.to_dict()


def latest_report_date(url: str | None = None) -> date | None:
    """The latest report date loaded, or None when nothing is loaded."""
    with database.connect(url) as conn:
        return conn.execute("select max(report_date) from raw.status_reports").fetchone()[0]


def resolve_run_date(run_date: date | None, url: str | None = None) -> date:
    """The date a run judges: the given date, else the latest report date loaded."""
    if run_date is not None:
        return run_date
    latest = latest_report_date(url)
    if latest is None:
        raise RuntimeError("no feed rows are loaded yet: ingest feeds first (tracker ingest PATH)")
    return latest


@contextmanager
def warehouse_lock(url: str) -> Iterator[None]:
    """Hold the session-level advisory lock that serialises builds, gates and publications."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_WAREHOUSE_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_WAREHOUSE_LOCK_KEY,))


def _marts_as_of(url: str) -> date | None:
    with psycopg.connect(url) as conn:
        if conn.execute("select to_regclass('marts.database_current_status')").fetchone()[0]:
            row = conn.execute("select max(as_of_date) from marts.database_current_status")
            return row.fetchone()[0]
    return None


def _ensure_marts_as_of(url: str, run_date: date) -> None:
    """Rebuild the marts for run_date unless they already are (caller holds the lock)."""
    from r71_tracker import transform

    if _marts_as_of(url) != run_date:
        transform.build(url, run_date)


def build_models(run_date: date) -> None:
    """dbt build (seeds, models, tests) for the run's date."""
    from r71_tracker import transform

    url = database.tracker_url()
    with warehouse_lock(url):
        transform.build(url, run_date)


def new_gate_run_id(base: str) -> str:
    """A gate run's own id: the DAG run id (or `cli__<date>`) plus a suffix, so a retry of the
    same DAG run is a new record in the append-only audit trail."""
    return f"{base}__gate_{uuid.uuid4().hex[:8]}"


def run_quality_gate(run_id: str, run_date: date, dag_run_id: str | None = None):
    """Run the six-word gate and record every result in the audit schema; raise GateFailed when
    a blocking word fails (warnings are recorded and returned)."""
    from r71_tracker.quality import gate

    url = database.tracker_url()
    with warehouse_lock(url):
        _ensure_marts_as_of(url, run_date)
        result = gate.run_gate(url, run_id, run_date, dag_run_id)
    gate.enforce(result)
    return result


@dataclass(frozen=True)
class Publication:
    """What a run published and where."""

    run_id: str
    run_date: str
    summary: dict
    summary_path: str
    dashboard_path: str
    quality_runs_path: str
    dbt_docs_path: str
    validation_report_path: str
    data_docs_path: str


def publish(run_id: str, run_date: date) -> Publication:
    """Write the dashboard, the dbt docs site, the gate's run pages and report, the GX Data Docs
    and the stage summary."""
    from r71_tracker import status, transform
    from r71_tracker.dashboard import write_dashboard
    from r71_tracker.quality import gate
    from r71_tracker.quality.report import write_run_reports, write_validation_report

    config = settings()
    url = database.tracker_url(config)
    published = config.published_dir
    published.mkdir(parents=True, exist_ok=True)
    with warehouse_lock(url):
        _ensure_marts_as_of(url, run_date)
        dbt_docs = transform.generate_docs(url, published / "dbt_docs")
        report = write_validation_report(url, run_id, published / "validation_report.html")
        runs_index = write_run_reports(url, published / "quality_runs")
        gate.build_data_docs(url)
        data_docs = _copy_data_docs(config.gx_dir, published / "data_docs")
        summary = status.stage_counts(url, run_date)
        summary_path = published / "summary.json"
        summary_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", "utf-8")
        dashboard = write_dashboard(url, run_date, summary, published / "index.html")
    return Publication(
        run_id=run_id,
        run_date=run_date.isoformat(),
        summary=summary,
        summary_path=str(summary_path),
        dashboard_path=str(dashboard),
        quality_runs_path=str(runs_index),
        dbt_docs_path=str(dbt_docs),
        validation_report_path=str(report),
        data_docs_path=str(data_docs),
    )


def _copy_data_docs(gx_dir: Path, target: Path) -> Path:
    """Copy GX's local Data Docs site next to the other published outputs."""
    sites = sorted(gx_dir.glob("**/data_docs/local_site/index.html"))
    if not sites:
        raise RuntimeError(f"no GX Data Docs under {gx_dir}: the quality gate has not run yet")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(sites[0].parent, target)
    return target / "index.html"


def publication_as_dict(publication: Publication) -> dict:
    return asdict(publication)


# Airflow task bodies: the DAG file calls these so that it only wires tasks.


def run_date_of(logical_date) -> date:
    """The date a DAG run judges: its logical date, else (no logical date) the latest report."""
    if logical_date is not None:
        return date(logical_date.year, logical_date.month, logical_date.day)
    return resolve_run_date(None)


def quality_gate_task(run_id: str, run_date: str) -> dict:
    """The gate as an Airflow task: a failed blocking word fails the run at once (data does not
    heal on retry); warnings are logged and the run goes on."""
    import logging

    from airflow.sdk.exceptions import AirflowFailException

    from r71_tracker.quality.gate import GateFailed

    gate_run_id = new_gate_run_id(run_id)
    try:
        result = run_quality_gate(gate_run_id, date.fromisoformat(run_date), dag_run_id=run_id)
    except GateFailed as failure:
        failed = "; ".join(failure.result.failures)
        raise AirflowFailException(
            f"quality gate {gate_run_id} failed for {run_date}: {failed}"
        ) from None
    for warning in result.warnings:
        logging.getLogger(__name__).warning("quality warning: %s", warning)
    return {"gate_run_id": gate_run_id, "warnings": result.warnings}


def publish_task(run_id: str, run_date: str) -> dict:
    return publication_as_dict(publish(run_id, date.fromisoformat(run_date)))
