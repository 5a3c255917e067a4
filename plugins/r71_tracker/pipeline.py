"""The steps of one tracker run, shared by the Airflow DAG and the CLI (one way to do each thing).

Write–audit–publish (r71_tracker.publication): the build writes the run's own candidate, the gate
judges it, and only a passing gate's candidate is published as `marts` (a rename, in one
transaction). A failed run changes nothing people read. A failed agency rule holds that agency's
new files and the rest of the country publishes (bars.yml says which rules are an agency's).

Each step is idempotent: files already received are skipped by their bytes, a retried build
re-creates its candidate, every gate run appends its own record to the audit trail (a retry is a
new gate run of the same DAG run), publish refuses a candidate without a passing verdict and
rewrites its outputs, keeping one page per gate run. Runs may overlap (a backfill beside the daily
run, two runs of the same date): each has its own candidate, and build, gate and publish each hold
the warehouse lock, so the last publication wins whole.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import psycopg.sql

from r71_tracker import database, publication
from r71_tracker.config import settings
from r71_tracker.publication import Candidate, warehouse_lock

if TYPE_CHECKING:
    from r71_tracker.quality.gate import GateResult

LOG = logging.getLogger(__name__)


def find_new_feed_files() -> list[str]:
    """Feed files in the landing folder whose bytes have not been received yet."""
    from r71_tracker.feeds.ingest import find_new_files

    config = settings()
    return [str(path) for path in find_new_files(config.landing_dir, database.tracker_url(config))]


def ingest_feed_file(path: str) -> dict:
    """Ingest one feed file (one transaction); returns its load report."""
    from r71_tracker import lineage
    from r71_tracker.feeds.ingest import ingest_paths

    (report,) = ingest_paths([Path(path)], database.tracker_url())
    loaded = report.to_dict()
    lineage.emit_feed_file(loaded)
    return loaded


def latest_report_date(url: str | None = None) -> date | None:
    """The latest report date loaded, or None when nothing is loaded."""
    with database.connect(url) as conn:
        return database.scalar(conn, "select max(report_date) from raw.status_reports")


def resolve_run_date(run_date: date | None, url: str | None = None) -> date:
    """The date a run judges: the given date, else the latest report date loaded."""
    if run_date is not None:
        return run_date
    latest = latest_report_date(url)
    if latest is None:
        raise RuntimeError("no feed rows are loaded yet: ingest feeds first (tracker ingest PATH)")
    return latest


def build_models(run_date: date, run_id: str, *, full: bool | None = None) -> Candidate:
    """Write–audit–publish, step 1: dbt build (seeds, models, tests) of the run's candidate.

    The candidate reads the files received when it starts (frozen list); files committed later
    wait for the next build. Nothing people read changes here. When the candidate would be built
    from exactly what the last publication was (same run date, project and files), it is dropped
    and returned with `unchanged_since` set: that publication stands, and nothing is built,
    judged or published. `full` (`tracker build --full`) always builds, with every dbt test; None
    lets `transform.build` choose the daily or the full build.
    """
    from r71_tracker import transform

    url = database.tracker_url()
    with warehouse_lock(url):
        candidate = publication.prepare_candidate(url, run_id, run_date)
        standing = None if full else publication.publication_standing(url, candidate)
        if standing is not None:
            publication.drop_candidate(url, candidate)
            LOG.info(_unchanged_line(standing))
            return dataclasses.replace(candidate, unchanged_since=standing)
        transform.build(url, run_date, candidate.schema, full=full or None)
    return candidate


def new_gate_run_id(base: str) -> str:
    """A gate run's own id: the DAG run id (or `cli__<date>`) plus a suffix, so a retry of the
    same DAG run is a new record in the append-only audit trail."""
    return f"{base}__gate_{uuid.uuid4().hex[:8]}"


def run_quality_gate(
    candidate: Candidate, dag_run_id: str | None = None, base_id: str | None = None
) -> GateResult:
    """Write–audit–publish, step 2: the six-word gate judges the candidate.

    A failed national rule raises GateFailed (nothing is published). A failed agency rule holds
    the new files it failed on (their verdict is recorded by the gate), the held agencies' other
    new files of this run wait for the next run, the candidate is built again without them and
    judged again: every other agency publishes. Held agencies' liaisons and the platform team
    are alerted. Warnings are recorded and returned; the result returned is the last gate run's,
    with the files held on the way.
    """
    from r71_tracker import alerts, lineage, transform
    from r71_tracker.quality import gate

    url = database.tracker_url()
    base = base_id or dag_run_id or f"cli__{candidate.run_date.isoformat()}"
    with warehouse_lock(url):
        result = gate.run_gate(
            url, new_gate_run_id(base), candidate.run_date, dag_run_id, candidate.schema
        )
        lineage.emit_gate(result)
        if result.success or result.national_failures or not result.held:
            gate.enforce(result)
            return result
        alerts.alert_held_agencies(result.run_id, url)
        publication.exclude_files(url, candidate, _held_back(url, candidate, result))
        transform.build(url, candidate.run_date, candidate.schema)
        again = gate.run_gate(
            url, new_gate_run_id(base), candidate.run_date, dag_run_id, candidate.schema
        )
        lineage.emit_gate(again)
    gate.enforce(again)
    return dataclasses.replace(again, held=result.held)  # what this run held on the way


def _held_back(url: str, candidate: Candidate, result: GateResult) -> dict[int, str]:
    """The files a rebuild leaves out: the held files, and the held agencies' other new files of
    this run (`deferred`: not judged yet, they wait for the next run)."""
    held = set(result.held)
    with psycopg.connect(url) as conn:
        others = conn.execute(
            psycopg.sql.SQL(
                "select file_id from {} where file_state = 'new' and agency_code = any(%s)"
            ).format(psycopg.sql.Identifier(candidate.work_schema, "file_states")),
            (result.held_agencies,),
        ).fetchall()
    return {file_id: "held" for file_id in held} | {
        file_id: "deferred" for (file_id,) in others if file_id not in held
    }


@dataclass(frozen=True)
class Publication:
    """What a run published and where."""

    run_id: str
    run_date: str
    summary: dict
    summary_path: str
    overview_path: str  # the static site's overview (Vietnamese; English beside it)
    quality_runs_path: str
    quality_run_path: str  # the page of the gate run that let this be published
    dbt_docs_path: str


def publish(candidate: Candidate, gate_run_id: str, dag_run_id: str | None = None) -> Publication:
    """Write–audit–publish, step 3: the candidate becomes `marts` (refused without a passing
    verdict of the gate on it), the snapshot records what was published, and the outputs people
    read are written from the published marts."""
    from r71_tracker import lineage, transform

    url = database.tracker_url()
    with warehouse_lock(url):
        publication.publish_candidate(url, candidate, gate_run_id, dag_run_id)
        lineage.emit_publication(candidate.schema)
        transform.snapshot(url, candidate.run_date)
        return write_outputs(gate_run_id, candidate.run_date, locked=True, daily=True)


def write_outputs(
    run_id: str, run_date: date, *, locked: bool = False, daily: bool = False
) -> Publication:
    """Write the published static site (the tracker's pages: overview, agencies, databases, every
    quality run; the same templates as the pages inside Airflow), the dbt docs site and the stage
    summary, all from the published marts and the audit trail.

    `daily` (a publication): the dbt docs site is generated again only when the project changed.
    GX Data Docs are not published (README, "Where outputs land"): their assets come from
    public CDNs, so offline they list nothing; a data_docs folder an earlier version published
    is removed, and so are the pages an earlier version wrote in place of these.
    """
    from r71_tracker import status, transform
    from r71_tracker.web.site import run_page, write_site

    config = settings()
    url = database.tracker_url(config)
    published = config.published_dir
    published.mkdir(parents=True, exist_ok=True)
    with contextlib.nullcontext() if locked else warehouse_lock(url):
        dbt_docs = transform.generate_docs(
            url, published / "dbt_docs", only_if_project_changed=daily
        )
        shutil.rmtree(published / "data_docs", ignore_errors=True)
        (published / "validation_report.html").unlink(missing_ok=True)
        summary = status.stage_counts(url, run_date)
        summary_path = published / "summary.json"
        summary_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", "utf-8")
        overview = write_site(url, published)
    return Publication(
        run_id=run_id,
        run_date=run_date.isoformat(),
        summary=summary,
        summary_path=str(summary_path),
        overview_path=str(overview),
        quality_runs_path=str(published / "quality_runs" / "index.html"),
        quality_run_path=str(published / run_page(run_id)),
        dbt_docs_path=str(dbt_docs),
    )


def last_publication(url: str) -> tuple[str, date] | None:
    """The gate run and run date of the last publication, or None before the first."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select gate_run_id, run_date from audit.publications"
            " order by publication_id desc limit 1"
        ).fetchone()
    return (row[0], row[1]) if row else None


def publication_as_dict(publication: Publication) -> dict:
    return asdict(publication)


# Airflow task bodies: the DAG file calls these so that it only wires tasks.


def run_date_of(logical_date: datetime | None) -> date:
    """The date a DAG run judges: its logical date, else (no logical date) the latest report."""
    if logical_date is not None:
        return date(logical_date.year, logical_date.month, logical_date.day)
    return resolve_run_date(None)


def ingest_files_left_over(found: list[str]) -> list[dict]:
    """Ingest the files this run found whose bytes are still not received; their load reports.

    Normally there are none: the mapped ingest_feed_file loads every file find_new_feed_files
    found. But when a run is cleared after a try that found no file, Airflow expands the mapped
    task from that try's empty list before find runs again (a task's map length is replaced only
    when it runs), marks its instances removed and does not expand it again: the build would
    start beside find, and the files found would wait for the next run while this one built,
    judged and published without them. Unreadable files are left to the next run's ingest, which
    reports them (they are never received, so ingesting them here would report them twice).
    """
    from r71_tracker.feeds.ingest import readable_files_not_received

    left = readable_files_not_received([Path(path) for path in found], database.tracker_url())
    if left:
        LOG.warning(
            "%d file(s) this run found were not ingested by its mapped ingest_feed_file (Airflow"
            " expanded it from the run's previous try): ingesting them before the build: %s",
            len(left),
            ", ".join(path.name for path in left),
        )
    return [ingest_feed_file(str(path)) for path in left]


def build_task(
    run_id: str | None, logical_date: datetime | None, found: list[str] | None = None
) -> dict:
    """build_models as an Airflow task: the candidate, named by the run, for the next tasks.
    `found`: the files find_new_feed_files found, any left over ingested first."""
    if run_id is None:  # Airflow gives every task of a DAG run the run's id
        raise ValueError("build_task runs as a task of a DAG run: it needs the run's id")
    ingest_files_left_over(found or [])
    candidate = build_models(run_date_of(logical_date), run_id)
    return _candidate_as_dict(candidate)


def quality_gate_task(candidate: dict) -> dict:
    """The gate as an Airflow task: a failed national rule fails the run at once (data does not
    heal on retry); held agencies and warnings are logged and the run goes on. When nothing
    changed since the last publication, nothing is judged: its gate run stands (a success, not
    a skip: Airflow's supervisor lingers about 5 s over a skipped task)."""
    from airflow.sdk.exceptions import AirflowFailException

    from r71_tracker.quality.gate import GateFailed

    judged = _candidate_of(candidate)
    if judged.unchanged_since is not None:
        LOG.info(_unchanged_line(judged.unchanged_since))
        return {"gate_run_id": judged.unchanged_since, "warnings": [], **candidate}
    try:
        result = run_quality_gate(judged, dag_run_id=judged.run_id)
    except GateFailed as failure:
        raise AirflowFailException(failure_line(failure.result, judged.run_date)) from None
    for warning in result.warnings:
        LOG.warning("quality warning: %s", warning)
    held = held_summary(result)
    if held:
        LOG.warning("held agencies: %s", held)
    return {"gate_run_id": result.run_id, "warnings": result.warnings, **candidate}


def publish_task(judged: dict) -> dict:
    """publish as an Airflow task; nothing to do when nothing changed (the publication stands)."""
    candidate = _candidate_of(judged)
    if candidate.unchanged_since is not None:
        LOG.info(_unchanged_line(candidate.unchanged_since))
        return {"unchanged_since": candidate.unchanged_since, "run_date": judged["run_date"]}
    return publication_as_dict(publish(candidate, judged["gate_run_id"], candidate.run_id))


def _unchanged_line(gate_run_id: str) -> str:
    return (
        f"nothing changed since the publication of gate run {gate_run_id} (same run date, dbt"
        " project and files): it stands; nothing to build, judge or publish"
    )


def failure_line(result: GateResult, run_date: date) -> str:
    """One line: why the gate stopped the publication, and what to do about it."""
    failures = result.national_failures or result.failures
    first = failures[0] if failures else "see tracker audit"
    more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
    hint = f"details: tracker audit --run {result.run_id}"
    latest = latest_report_date()
    if (
        latest is not None
        and latest < run_date
        and any("effective_report_date" in line for line in failures)
    ):
        hint = (
            f"the latest report loaded is {latest.isoformat()}: judge that date with"
            f" `tracker run --date {latest.isoformat()}`, or load newer feeds; {hint}"
        )
    return (
        f"quality gate {result.run_id} failed for {run_date.isoformat()}, nothing was published"
        f" (the last publication stays): {first}{more}; {hint}"
    )


def held_summary(result: GateResult) -> str:
    """`AGENCY (file N name: rule ...)`, one entry per held agency, or '' when none."""
    by_agency: dict[str, list[str]] = {}
    for held in result.held.values():
        entry = f"file {held.file_id} {held.file_name}: {held.reason}"
        by_agency.setdefault(held.agency_code or "?", []).append(entry)
    return "; ".join(f"{agency} ({', '.join(files)})" for agency, files in by_agency.items())


def _candidate_as_dict(candidate: Candidate) -> dict:
    return {
        "candidate": candidate.schema,
        "run_id": candidate.run_id,
        "run_date": candidate.run_date.isoformat(),
        "unchanged_since": candidate.unchanged_since,
    }


def _candidate_of(values: dict) -> Candidate:
    return Candidate(
        values["candidate"],
        values["run_id"],
        date.fromisoformat(values["run_date"]),
        values.get("unchanged_since"),
    )
