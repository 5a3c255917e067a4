"""`tracker`: the command line of the Resolution 71 tracker (README lists every command)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the commands import what they need when they run
    from r71_tracker.airflow_runs import DagRunOutcome


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_ingest(args: argparse.Namespace) -> int:
    from r71_tracker import database
    from r71_tracker.feeds.ingest import ingest_paths, print_reports

    paths = [Path(p) for p in args.paths]
    reports = ingest_paths(paths, database.tracker_url(), progress=False if args.json else None)
    return print_reports(reports, as_json=args.json, stream=sys.stdout)


def cmd_check(args: argparse.Namespace) -> int:
    """Judge feed files as ingest would, loading nothing; exit 0 when every one would load
    cleanly, 1 otherwise."""
    from r71_tracker.feeds.check import check_paths

    results = check_paths([Path(path) for path in args.paths], sys.stdout)
    return 0 if all(result.clean for result in results) else 1


def cmd_schemas(args: argparse.Namespace) -> int:
    """Write the feed contract's schemas (Table Schema for CSV, JSON Schema for JSON)."""
    from r71_tracker.feeds.schemas import write_schemas

    for path in write_schemas(Path(args.out)):
        print(f"wrote {path}")
    return 0


def cmd_audit_ingest(args: argparse.Namespace) -> int:
    from r71_tracker import database
    from r71_tracker.feeds.audit import audit_ingest

    problems = audit_ingest(database.tracker_url())
    for problem in problems:
        print(problem)
    if not problems:
        print(
            "ingest audit: every file accounted for (received = loaded + rejected),"
            " every stored row has its file, every file's bytes verify against its SHA-256"
        )
    return 1 if problems else 0


def cmd_build(args: argparse.Namespace) -> int:
    """The DAG's build, gate and publish steps for what is loaded (write–audit–publish)."""
    import uuid

    from r71_tracker import alerts, pipeline
    from r71_tracker.quality.gate import GateFailed

    run_date = pipeline.resolve_run_date(args.date)
    run_id = args.run_id or f"cli__{run_date.isoformat()}__{uuid.uuid4().hex[:8]}"
    print(f"dbt build of the candidate for {run_date} (run {run_id}) ...", flush=True)
    candidate = pipeline.build_models(run_date, run_id, full=args.full or None)
    if candidate.unchanged_since is not None:
        print(
            f"nothing changed since the publication of gate run {candidate.unchanged_since}"
            " (same run date, dbt project and files): it stands; `--full` builds again"
        )
        return 0
    late = alerts.alert_late_feeds(run_date, candidate=candidate.schema)  # once per agency, date
    if late:
        print(f"late feeds alerted: {', '.join(alert.agency_code or '?' for alert in late)}")
    print(f"quality gate on {candidate.schema} ...", flush=True)
    try:
        result = pipeline.run_quality_gate(candidate, base_id=run_id)
    except GateFailed as failure:
        print(pipeline.failure_line(failure.result, run_date), file=sys.stderr)
        sent = alerts.alert_blocking_failures(failure.result.run_id)
        print(f"alerts: {len(sent)} sent (audit.alerts)", file=sys.stderr)
        print(f"candidate kept: tracker status --candidate {candidate.schema}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"warning: {warning}")
    held = pipeline.held_summary(result)
    if held:
        print(f"held agencies (their new files wait; the rest is published): {held}")
    print(
        f"quality gate passed: {len(result.results)} expectations,"
        f" {len(result.warnings)} warning(s) (tracker audit --run {result.run_id})"
    )
    publication = pipeline.publish(candidate, result.run_id)
    print(f"published {candidate.schema} as marts; pages: {publication.overview_path}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from r71_tracker import database
    from r71_tracker.quality.audit import AuditNotFound, audit_runs, format_runs, runs_as_json

    if args.events:
        from r71_tracker.quality.audit import file_events, format_events

        events = file_events(database.tracker_url())
        print(runs_as_json(events) if args.json else format_events(events, args.lang))
        return 0
    try:
        runs = audit_runs(database.tracker_url(), args.run, args.date)
    except AuditNotFound as missing:
        print(f"tracker audit: {missing}", file=sys.stderr)
        return 1
    print(runs_as_json(runs) if args.json else format_runs(runs, args.lang))
    return 0


def cmd_files(args: argparse.Namespace) -> int:
    """tracker files [show|withdraw|restore]: refusals are one line on stderr and exit 1."""
    from r71_tracker import database, files

    url = database.tracker_url()
    action = args.files_action
    try:
        if action is None:
            rows = files.list_files(url, args.agency)
            print(files.as_json(rows) if args.json else files.format_files(rows))
        elif action == "show":
            detail = files.file_detail(url, args.file_id)
            print(files.as_json(detail) if args.json else files.format_detail(detail))
        else:
            event = files.record_event(url, args.file_id, action, args.reason)
            print(files.confirmation(event))
    except (files.FileNotFound, files.FileActionRefused) as refused:
        print(f"tracker files {action or ''}".rstrip() + f": {refused}", file=sys.stderr)
        return 1
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from r71_tracker import database, publication, status

    url = database.tracker_url()
    schema = "marts"
    if args.candidate:
        kept = publication.latest_candidate(url) if args.candidate == "latest" else args.candidate
        if kept is None or not kept.startswith(publication.CANDIDATE_PREFIX):
            print(f"tracker status: no candidate {args.candidate!r} is kept", file=sys.stderr)
            return 1
        schema = kept
    counts = status.stage_counts(url, args.as_of, schema)
    if args.candidate:
        counts["candidate"] = schema
    if args.json:
        print(json.dumps(counts))
    else:
        if args.candidate:
            print(f"candidate {schema} (NOT published: what that run would have published)")
        print(status.format_counts(counts))
    return 0


def cmd_feeds(args: argparse.Namespace) -> int:
    from r71_tracker import database, status

    rows = status.agency_feed_status(database.tracker_url())
    print(
        json.dumps(rows, ensure_ascii=False)
        if args.json
        else status.format_agency_feed_status(rows)
    )
    return 0


def cmd_demo_feeds(args: argparse.Namespace) -> int:
    from r71_tracker.demo_feeds import write_demo_feeds

    paths = write_demo_feeds(Path(args.dir))
    print(f"wrote {len(paths)} demo feed files to {args.dir}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from r71_tracker.airflow_runs import run_dag_once

    outcome = run_dag_once(args.date)
    if outcome.succeeded:
        print(f"DAG run for {outcome.run_date} succeeded (log: {outcome.log_path})")
        return 0
    _print_failed_run(outcome)
    return 1


def _print_failed_run(outcome: DagRunOutcome) -> None:
    """One line saying why the run failed and what to do, then each failed task's error."""
    print(f"DAG run for {outcome.run_date} FAILED: {outcome.advice}", file=sys.stderr)
    for line in outcome.failures:
        print(f"  {line}", file=sys.stderr)
    print(f"  (log: {outcome.log_path})", file=sys.stderr)


def cmd_demo(args: argparse.Namespace) -> int:
    """Everything `make demo` promises, in order, each step safe to repeat."""
    from r71_tracker import database, demo_feeds, status
    from r71_tracker.airflow_runs import run_dag_once
    from r71_tracker.config import settings

    config = settings()
    url = database.tracker_url(config)
    print(f"PostgreSQL: {_redacted(url)}")
    paths = demo_feeds.write_demo_feeds(config.landing_dir)
    print(f"demo feeds: {len(paths)} files in {config.landing_dir}")
    run_date = demo_feeds.LATEST_REPORT_DATE
    print(
        f"running DAG resolution71_tracker through Airflow's scheduler for {run_date} ...",
        flush=True,
    )
    outcome = run_dag_once(run_date, config)
    if not outcome.succeeded:
        _print_failed_run(outcome)
        return 1
    print()
    print(status.format_counts(status.stage_counts(url, run_date)))
    quarantined = status.quarantine_counts(url)
    if quarantined:
        reasons = ", ".join(f"{reason} {count}" for reason, count in quarantined.items())
        print(f"quarantined (raw.rejected_rows / rejected files): {reasons}")
    published = config.published_dir
    print()
    print(f"pages in Airflow:  {outcome.url.split('/dags/')[0]}/tracker/")
    print(f"static site:       {published / 'index.html'} (English: index.en.html)")
    print(f"quality gate runs: {published / 'quality_runs' / 'index.html'}")
    print(f"dbt docs site:     {published / 'dbt_docs' / 'index.html'}")
    print(f"summary:           {published / 'summary.json'}")
    print(f"Airflow run:       {outcome.url}")
    print(f"Airflow run log:   {outcome.log_path}")
    print("Airflow services keep running for the next run: `tracker airflow stop` stops them")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from r71_tracker import database, pipeline

    last = pipeline.last_publication(database.tracker_url())
    if last is None:
        print("tracker docs: nothing is published yet: run `tracker build` or `tracker run` first")
        return 1
    publication = pipeline.write_outputs(*last)
    print(f"static site:       {publication.overview_path}")
    print(f"quality gate runs: {publication.quality_runs_path}")
    print(f"last run's page:   {publication.quality_run_path}")
    print(f"dbt docs site:     {publication.dbt_docs_path}")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from r71_tracker import database
    from r71_tracker.config import settings

    config = settings()
    if args.action == "stop":
        if config.database_url:
            print("TRACKER_DATABASE_URL is set: the tracker runs no server of its own to stop")
        elif database.stop_embedded_server(config):
            print(f"stopped the embedded PostgreSQL ({config.embedded_pgdata})")
        else:
            print("the embedded PostgreSQL was not running")
        return 0
    url = database.tracker_url(config)
    database.ensure_tracker_schema(url)
    print(_redacted(url) if args.action == "start" else url)
    return 0


def cmd_airflow_standalone(args: argparse.Namespace) -> int:
    from r71_tracker.airflow_runs import prepare_airflow
    from r71_tracker.airflow_services import base_environment, record_standalone, stop_services
    from r71_tracker.config import settings

    config = settings()
    # The on-demand services of this home would share its port and run a second scheduler.
    stopped = stop_services(config)
    if stopped:
        print(f"stopped the on-demand Airflow services of this home: {', '.join(stopped)}")
    prepare_airflow(config)
    env = base_environment(config)
    record_standalone(config, env)  # `tracker run` uses this standalone while it runs
    airflow = Path(sys.executable).with_name("airflow")
    print(
        f"Airflow UI on http://localhost:{env['AIRFLOW__API__PORT']} (Ctrl-C stops it); "
        f"admin password in {env['AIRFLOW_HOME']}/simple_auth_manager_passwords.json.generated"
    )
    os.execve(str(airflow), [str(airflow), "standalone"], env)


def cmd_airflow(args: argparse.Namespace) -> int:
    """The on-demand Airflow services of this home (scheduler, dag-processor, api-server)."""
    from r71_tracker.airflow_api import password_file
    from r71_tracker.airflow_services import service_status, stop_services
    from r71_tracker.config import settings

    config = settings()
    home = config.airflow_home
    if args.action == "stop":
        stopped = stop_services(config)
        print(f"stopped {', '.join(stopped)} ({home})" if stopped else f"nothing runs for {home}")
        return 0
    if args.action == "start":
        from r71_tracker.airflow_runs import ready

        services = ready(config, echo=lambda line: print(line, flush=True))
        print(f"Airflow UI on {services.ui_url} (user admin, password in {password_file(home)})")
        print(f"logs and pids in {services.log_dir}; `tracker airflow stop` stops them")
        return 0
    state = service_status(config)
    health = state["health"]
    for name, pid in state["services"].items():
        part = (health.get(name.replace("-", "_")) or {}).get("status")
        print(
            f"{name:<14} {f'running (pid {pid})' if pid else 'not running'}"
            + (f", {part}" if part and pid else "")
        )
    if state["standalone_pid"]:
        print(f"airflow standalone (make airflow) runs, pid {state['standalone_pid']}")
    up = state["standalone_pid"] or all(state["services"].values())
    if up:
        print(f"UI and API on http://localhost:{state['port']}")
    print(f"logs and pids in {state['logs']}; {state['processes']} process(es) of {home}")
    return 0 if up else 1


def cmd_lint_sql(args: argparse.Namespace) -> int:
    import subprocess

    from r71_tracker import database, transform
    from r71_tracker.config import settings

    config = settings()
    env = {**os.environ, **transform.dbt_env(database.tracker_url(config))}
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    return subprocess.run(
        [str(sqlfluff), "lint", "models", "tests"],
        cwd=config.dbt_project_dir,
        env=env,
    ).returncode


def _redacted(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracker", description="Resolution 71/NQ-CP database tracker"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="ingest feed files or folders")
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--json", action="store_true", help="machine-readable report")
    ingest.set_defaults(handler=cmd_ingest)

    check = commands.add_parser(
        "check", help="judge feed files as ingest would, loading nothing (no database needed)"
    )
    check.add_argument("paths", nargs="+", metavar="PATH")
    check.set_defaults(handler=cmd_check)

    schemas = commands.add_parser(
        "schemas", help="write the feed contract as Table Schema (CSV) and JSON Schema files"
    )
    schemas.add_argument("--out", default="docs/schemas", metavar="DIR")
    schemas.set_defaults(handler=cmd_schemas)

    audit_ingest = commands.add_parser(
        "audit-ingest", help="check every file's accounting, stored rows and verbatim bytes"
    )
    audit_ingest.set_defaults(handler=cmd_audit_ingest)

    build = commands.add_parser("build", help="dbt build + quality gate on what is loaded")
    build.add_argument("--date", type=_date, help="the run's date (default: latest report date)")
    build.add_argument("--run-id", help="id recorded with the gate's results")
    build.add_argument(
        "--full",
        action="store_true",
        help="build even when nothing changed, with every dbt test (unit, staging, intermediate)",
    )
    build.set_defaults(handler=cmd_build)

    audit = commands.add_parser(
        "audit", help="a quality gate run: what passed and failed, why, and the feed rows behind"
    )
    which = audit.add_mutually_exclusive_group()
    which.add_argument("--run", metavar="RUN_ID", help="a gate run id or an Airflow DAG run id")
    which.add_argument("--date", type=_date, help="every gate run of this logical date")
    which.add_argument(
        "--events", action="store_true", help="every operator's withdraw/restore (tracker files)"
    )
    audit.add_argument(
        "--lang",
        choices=("en", "vi"),
        default="en",
        help="language of the text: en (default) or vi; --json is the same in both",
    )
    audit.add_argument(
        "--json", action="store_true", help="every stored detail (raw arguments, rows) as JSON"
    )
    audit.set_defaults(handler=cmd_audit)

    files = commands.add_parser(
        "files", help="received files, their verdicts; withdraw or restore a file (recorded)"
    )
    files.add_argument("--agency", help="only this agency's files")
    files.add_argument("--json", action="store_true")
    files.set_defaults(handler=cmd_files, files_action=None)
    file_actions = files.add_subparsers(dest="files_action", metavar="ACTION")
    show = file_actions.add_parser("show", help="one file: counts, verdict, history, gate runs")
    show.add_argument("file_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    for action, what in (
        ("withdraw", "take a file's rows out of every later build (audit.file_events)"),
        ("restore", "undo a withdraw from the next build on (audit.file_events)"),
    ):
        acting = file_actions.add_parser(action, help=what)
        acting.add_argument("file_id", type=int, metavar="ID")
        acting.add_argument("--reason", required=True, help="why (recorded with who and when)")

    status = commands.add_parser("status", help="stage counts on a date")
    status.add_argument("--as-of", type=_date, help="default: the date the last publication judged")
    status.add_argument(
        "--candidate",
        nargs="?",
        const="latest",
        metavar="SCHEMA",
        help="read a kept candidate (default: the latest build's) instead of the published marts",
    )
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)

    feeds = commands.add_parser(
        "feeds", help="per agency: last report date, late or missing feeds, rejected files"
    )
    feeds.add_argument("--json", action="store_true")
    feeds.set_defaults(handler=cmd_feeds)

    demo_feeds = commands.add_parser("demo-feeds", help="write the deterministic demo feeds")
    demo_feeds.add_argument("dir")
    demo_feeds.set_defaults(handler=cmd_demo_feeds)

    run = commands.add_parser("run", help="run the DAG once through Airflow's scheduler")
    run.add_argument("--date", type=_date, help="logical date (default: now)")
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser("demo", help="demo feeds → DAG run → summary (make demo)")
    demo.set_defaults(handler=cmd_demo)

    docs = commands.add_parser(
        "docs", help="rewrite the dbt docs site and pages of the last publication"
    )
    docs.set_defaults(handler=cmd_docs)

    db = commands.add_parser("db", help="the embedded PostgreSQL: start, stop, url")
    db.add_argument("action", choices=["start", "stop", "url"])
    db.set_defaults(handler=cmd_db)

    standalone = commands.add_parser("airflow-standalone", help="Airflow UI (airflow standalone)")
    standalone.set_defaults(handler=cmd_airflow_standalone)

    airflow_services = commands.add_parser(
        "airflow", help="the on-demand Airflow services `tracker run` uses: start, stop, status"
    )
    airflow_services.add_argument("action", choices=["start", "stop", "status"])
    airflow_services.set_defaults(handler=cmd_airflow)

    lint_sql = commands.add_parser("lint-sql", help="sqlfluff on the dbt project")
    lint_sql.set_defaults(handler=cmd_lint_sql)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one clear line for the operator, never a traceback
        if os.environ.get("TRACKER_DEBUG"):
            raise
        from r71_tracker.config import ConfigError

        # A ConfigError's message is the whole story (the variable, its value, what it must be).
        kind = "" if isinstance(error, ConfigError) else f"{type(error).__name__}: "
        print(f"tracker {args.command}: {kind}{error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
