"""`make bench` (quality gate part): the six words' GX suites against one hand-written SQL pass
per relation computing the same metrics, on 10,000,000 history rows.

Inputs (bench/gate_data.py, generated once in database `tracker_bench_gate`, then reused): a
registry of 10,000 databases owned by the real agencies and the relations the suites read, two of
them of 10,000,000 rows (the loaded reports and the stage history: 10,000 databases x 1,000
days); every value is valid, so every expectation passes and both sides do a full pass.

- The gate: `run_gate(url, run_id, run_date)` as the DAG calls it (suites built from bars.yml and
  the registry file, GX file context in a private temporary TRACKER_LOCAL_DIR, checkpoint, Data
  Docs, audit records). Great Expectations is imported once before anything is timed.
- The baseline: one SQL statement per relation (seven), executed with psycopg, computing what the
  suites compute: rows checked, missing and unexpected rows per expectation (shares derived from
  them where a suite uses `mostly`), the compound-unique duplicates, the newest report date, the
  table row count, the unexpected-rows queries' counts.

One warm-up of each (GX's file context created, caches warm), then REPEAT alternating runs
(baseline, gate); medians are reported. Target (issue 5): gate <= 1.5 x baseline. Where the
gate's time goes is measured in the same runs (timers around GX's checkpoint and the gate's
own steps; SQLAlchemy cursor events for GX's SQL, by relation).

Database `tracker_bench_gate` (TRACKER_BENCH_GATE_DATABASE) on the embedded server unless
TRACKER_DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gate_data  # noqa: E402

from expectations.words._queries import STAGE_HISTORY_KEY_MISSING  # noqa: E402
from r71_tracker import database  # noqa: E402

BENCH_DATABASE = "tracker_bench_gate"
TARGET_RATIO = 1.5
REPEAT = 5  # this VM's speed drifts by a fifth between runs; five alternating runs per side
RELATIONS = (
    "staging.int_status_reports_received",
    "marts.stage_history",
    "marts.database_current_status",
    "marts.agency_feed_freshness",
    "marts.feed_file_loads",
    "staging.registry_databases",
    "marts.database_fields",
)

# ---------------------------------------------------------------------------------------------
# The baseline: one hand-written statement per relation. Metric names follow the expectations:
# `<what>_rows` = rows an expectation judges, `<what>_missing` = nulls it counts apart,
# `<what>_unexpected` = rows breaking it. Every suite of a relation is in its one statement.
# ---------------------------------------------------------------------------------------------

BASELINE_SQL: dict[str, str] = {
    # correct
    "staging.int_status_reports_received": """
select
    count(*) as row_count,
    count(*) filter (where database_code is null) as database_code_missing,
    count(*) filter (where database_code <> all(%(database_codes)s))
        as database_code_in_registry_unexpected,
    count(*) filter (where agency_code is null) as agency_code_missing,
    count(*) filter (where agency_code <> all(%(agency_codes)s))
        as agency_code_in_registry_unexpected,
    count(*) filter (where platform_status is null) as platform_status_missing,
    count(*) filter (where platform_status <> all(%(platform_statuses)s))
        as platform_status_in_set_unexpected,
    count(*) filter (where data_status is null) as data_status_missing,
    count(*) filter (where data_status <> all(%(data_statuses)s)) as data_status_in_set_unexpected,
    count(*) filter (where record_count is null) as record_count_missing,
    count(*) filter (where record_count < 0) as record_count_non_negative_unexpected,
    count(*) filter (where records_updated_30d is null) as records_updated_30d_missing,
    count(*) filter (where records_updated_30d < 0) as records_updated_30d_non_negative_unexpected,
    count(*) filter (where consumer_agencies is null) as consumer_agencies_missing,
    count(*) filter (where consumer_agencies < 0) as consumer_agencies_non_negative_unexpected,
    count(*) filter (where records_not_updated_30d is null) as records_not_updated_30d_missing,
    count(*) filter (where records_not_updated_30d < 0)
        as records_not_updated_30d_non_negative_unexpected,
    count(*) filter (where days_from_report_to_receipt is null)
        as days_from_report_to_receipt_missing,
    count(*) filter (where days_from_report_to_receipt < 0)
        as days_from_report_to_receipt_non_negative_unexpected
from staging.int_status_reports_received
""",
    # unified: one stage per database per day, guaranteed by the history's primary key; the
    # gate checks the key is in place (the same catalog lookup as the suite's query)
    "marts.stage_history": "select count(*) as stage_history_key_missing from ("
    + STAGE_HISTORY_KEY_MISSING.format(batch="marts.stage_history")
    + ") as problems",
    # correct, complete, clean, live, shared
    "marts.database_current_status": """
select
    count(*) as row_count,
    count(*) filter (where stage is null) as stage_missing,
    count(*) filter (where stage <> all(%(stages)s)) as stage_in_set_unexpected,
    count(*) filter (where database_code is null) as database_code_missing,
    count(*) filter (where copies > 1) as database_code_unique_unexpected,
    count(*) filter (
        where report_notes is not nfc normalized or report_notes != btrim(report_notes)
    ) as report_notes_tidy_unexpected,
    count(*) filter (where effective_report_date is null) as effective_report_date_missing,
    count(*) filter (
        where effective_report_date not between %(fresh_from)s and %(run_date)s
    ) as effective_report_date_fresh_unexpected,
    max(effective_report_date) as effective_report_date_max,
    count(*) filter (where is_unreported = false) as reported_rows,
    count(*) filter (where is_unreported = false and platform_status is null)
        as reported_platform_status_missing,
    count(*) filter (where is_unreported = false and data_status is null)
        as reported_data_status_missing,
    count(*) filter (where is_unreported = false and process_integrated is null)
        as reported_process_integrated_missing,
    count(*) filter (where is_unreported = false and connected_national is null)
        as reported_connected_national_missing,
    count(*) filter (where is_unreported = false and record_count is null)
        as reported_record_count_missing,
    count(*) filter (where is_unreported = false and records_updated_30d is null)
        as reported_records_updated_30d_missing,
    count(*) filter (where is_unreported = false and consumer_agencies is null)
        as reported_consumer_agencies_missing,
    count(*) filter (where is_unreported = false and evidence_file_id is null)
        as reported_evidence_file_id_missing,
    count(*) filter (where is_unreported = false and evidence_line_number is null)
        as reported_evidence_line_number_missing,
    count(*) filter (where stage = 'centralized') as centralized_rows,
    count(*) filter (where stage = 'centralized' and records_updated_30d is null)
        as centralized_records_updated_30d_missing,
    count(*) filter (where stage = 'centralized' and records_updated_30d < 1)
        as centralized_updated_unexpected,
    count(*) filter (where stage = 'centralized' and connected_national is null)
        as centralized_connected_national_missing,
    count(*) filter (where stage = 'centralized' and connected_national <> true)
        as centralized_connected_unexpected,
    count(*) filter (where stage = 'centralized' and connected_national = true)
        as connected_rows,
    count(*) filter (
        where stage = 'centralized' and connected_national = true and consumer_agencies is null
    ) as connected_consumer_agencies_missing,
    count(*) filter (
        where stage = 'centralized' and connected_national = true and consumer_agencies < 1
    ) as connected_used_unexpected
from (
    select *, count(*) over (partition by database_code) as copies
    from marts.database_current_status
) as current_status
""",
    # complete, live
    "marts.agency_feed_freshness": """
select
    count(*) as row_count,
    count(*) filter (where databases_reported is null) as databases_reported_missing,
    count(*) filter (where databases_reported < 1) as databases_reported_at_least_1_unexpected,
    count(*) filter (where days_since_last_report is null) as days_since_last_report_missing,
    count(*) filter (where days_since_last_report > %(max_report_age)s)
        as days_since_last_report_on_time_unexpected
from marts.agency_feed_freshness
""",
    # clean (an unexpected-rows query: its row count)
    "marts.feed_file_loads": """
select
    count(*) as row_count,
    count(*) filter (
        where rows_received > 0 and rows_rejected > %(max_quarantine_share)s * rows_received
        and file_state = 'new'
    ) as file_mostly_quarantined_unexpected
from marts.feed_file_loads
""",
    # unified
    "staging.registry_databases": """
select
    count(*) as row_count,
    count(*) filter (where database_code is null) as database_code_missing,
    count(*) filter (where copies > 1) as database_code_unique_unexpected,
    count(*) filter (where database_code <> all(%(database_codes)s))
        as database_code_in_registry_file_unexpected,
    count(*) filter (where owner_agency_code is null) as owner_agency_code_missing,
    count(*) filter (where owner_agency_code <> all(%(agency_codes)s))
        as owner_agency_code_current_unexpected
from (
    select *, count(*) over (partition by database_code) as copies
    from staging.registry_databases
) as registry
""",
    # unified
    "marts.database_fields": """
select
    count(*) as row_count,
    count(*) filter (where database_code is null) as database_code_missing,
    count(*) filter (where database_code <> all(%(database_codes)s))
        as database_code_in_registry_unexpected
from marts.database_fields
""",
}

# Shares of the `mostly` expectations: (relation, unexpected, rows judged, missing); GX divides
# the unexpected by the non-null rows judged, or (not-null checks) the nulls by the rows.
SHARES = {
    "effective_report_date_reported_share": (
        "marts.database_current_status",
        "effective_report_date_missing",
        "row_count",
        None,
    ),
    "effective_report_date_fresh_share": (
        "marts.database_current_status",
        "effective_report_date_fresh_unexpected",
        "row_count",
        "effective_report_date_missing",
    ),
    "days_since_last_report_on_time_share": (
        "marts.agency_feed_freshness",
        "days_since_last_report_on_time_unexpected",
        "row_count",
        "days_since_last_report_missing",
    ),
    "centralized_updated_share": (
        "marts.database_current_status",
        "centralized_updated_unexpected",
        "centralized_rows",
        "centralized_records_updated_30d_missing",
    ),
    "connected_used_share": (
        "marts.database_current_status",
        "connected_used_unexpected",
        "connected_rows",
        "connected_consumer_agencies_missing",
    ),
    "centralized_connected_share": (
        "marts.database_current_status",
        "centralized_connected_unexpected",
        "centralized_rows",
        "centralized_connected_national_missing",
    ),
}


def baseline_parameters(run_date: date) -> dict[str, Any]:
    """The suites' inputs, read as build_word_suites reads them (bars.yml, the registry file)."""
    from expectations.context import load_bars
    from expectations.words import correct
    from r71_tracker.config import settings
    from r71_tracker.registry import load_registry

    bars = load_bars()
    registry = load_registry(settings().seeds_dir)
    window = int(bars["complete"].bar("freshness_window_days"))
    return {
        "database_codes": sorted(registry.database_owners),
        "agency_codes": sorted(registry.agency_codes),
        "platform_statuses": list(correct.PLATFORM_STATUSES),
        "data_statuses": list(correct.DATA_STATUSES),
        "stages": list(correct.STAGES),
        "run_date": run_date,
        "fresh_from": run_date - timedelta(days=window),
        "max_report_age": int(bars["live"].bar("max_report_age_days")),
        "max_quarantine_share": bars["clean"].bar("max_file_quarantine_share"),
    }


@dataclass
class BaselineRun:
    seconds: float
    per_relation: dict[str, float]
    metrics: dict[str, dict[str, Any]]


def run_baseline(url: str, parameters: dict[str, Any]) -> BaselineRun:
    """The seven statements, one connection, in order; each relation read once."""
    per_relation: dict[str, float] = {}
    metrics: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    with psycopg.connect(url, row_factory=dict_row) as conn:
        conn.execute("set search_path = marts, staging, raw")  # as the gate's connection has it
        for relation, statement in BASELINE_SQL.items():
            began = time.perf_counter()
            metrics[relation] = conn.execute(statement, parameters).fetchone()
            per_relation[relation] = time.perf_counter() - began
    seconds = time.perf_counter() - start
    for name, (relation, unexpected, rows, missing) in SHARES.items():
        values = metrics[relation]
        judged = values[rows] - (values[missing] if missing else 0)
        metrics[relation][name] = 1 - values[unexpected] / judged if judged else 1.0
    return BaselineRun(seconds, per_relation, metrics)


def baseline_findings(run: BaselineRun) -> list[str]:
    """What the baseline finds wrong on data where every expectation passes: nothing."""
    return [
        f"{relation}.{name} = {value}"
        for relation, values in run.metrics.items()
        for name, value in values.items()
        if (name.endswith(("_missing", "_unexpected")) and value)
        or (name.endswith("_share") and value < 1)
    ]


# ---------------------------------------------------------------------------------------------
# The gate, with timers: where its time goes, and GX's SQL by relation.
# ---------------------------------------------------------------------------------------------


@dataclass
class GateRun:
    seconds: float
    parts: dict[str, float]
    sql_seconds: dict[str, float] = field(default_factory=dict)
    sql_statements: dict[str, int] = field(default_factory=dict)
    table_reads: dict[str, int] = field(default_factory=dict)
    largest_result_rows: int = 0


class GateProbe:
    """Wall time of the gate's steps and of every SQL statement GX sends (SQLAlchemy cursor
    events). Cheap: a few clock reads per step and per statement."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = defaultdict(float)
        self.sql_seconds: dict[str, float] = defaultdict(float)
        self.sql_statements: dict[str, int] = defaultdict(int)
        self.table_reads: dict[str, int] = defaultdict(int)
        self.largest_result_rows = 0
        self._names = {relation: relation.split(".")[1] for relation in RELATIONS}

    def wrap(self, owner: Any, name: str, label: str) -> Callable[[], None]:
        """Time every call of owner.name under `label`; returns the undo."""
        original = getattr(owner, name)
        parts = self.parts

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                parts[label] += time.perf_counter() - began

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)

    def statement_done(self, statement: str, parameters: Any, seconds: float, rows: int) -> None:
        relations = [
            relation
            for relation, table in self._names.items()
            if re.search(rf"\b{table}\b", statement)
        ]
        key = relations[0] if len(relations) == 1 else "(catalog, connection)"
        self.sql_seconds[key] += seconds
        self.sql_statements[key] += 1
        if key in self._names and not _limit_zero(statement, parameters):
            self.table_reads[key] += len(re.findall(rf"FROM {self._names[key]}\b", statement))
        self.largest_result_rows = max(self.largest_result_rows, rows)


def _limit_zero(statement: str, parameters: Any) -> bool:
    """GX's `... LIMIT 0` queries (unexpected values it was told not to fetch) read no row."""
    match = re.search(r"LIMIT %\((\w+)\)s", statement)
    return bool(match and isinstance(parameters, dict) and parameters.get(match[1]) == 0)


@contextmanager
def probing(probe: GateProbe) -> Iterator[None]:
    """Install the probe's timers for the duration of the timed gate runs."""
    import great_expectations as gx
    from great_expectations.checkpoint.checkpoint import Checkpoint
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from r71_tracker.quality import gate

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info["bench_began"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany) -> None:
        seconds = time.perf_counter() - conn.info.pop("bench_began", time.perf_counter())
        probe.statement_done(statement, parameters, seconds, max(cursor.rowcount or 0, 0))

    undo = [
        probe.wrap(gate, "build_word_suites", "suites built (bars.yml, registry file)"),
        probe.wrap(gx, "get_context", "GX file context, suites and checkpoint saved"),
        probe.wrap(gate, "_checkpoint", "GX file context, suites and checkpoint saved"),
        probe.wrap(Checkpoint, "run", "checkpoint.run"),
        probe.wrap(gate, "_record", "results recorded in audit"),
        probe.wrap(gate, "_results", "results recorded in audit"),
    ]
    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
        for restore in reversed(undo):
            restore()


def run_gate_once(url: str, run_date: date) -> tuple[GateRun, Any]:
    """One `run_gate`, timed whole and by part."""
    from r71_tracker.quality.gate import run_gate

    probe = GateProbe()
    with probing(probe):
        start = time.perf_counter()
        result = run_gate(url, f"bench__gate_{uuid.uuid4().hex[:8]}", run_date)
        seconds = time.perf_counter() - start
    parts = dict(probe.parts)
    sql = sum(probe.sql_seconds.values())
    validation = parts.pop("checkpoint.run", 0.0)
    parts["validation: GX's SQL in PostgreSQL"] = sql
    parts["validation: GX in Python (metrics, results, stores)"] = validation - sql
    parts["other (gate's own steps, imports)"] = seconds - sum(parts.values())
    run = GateRun(
        seconds,
        parts,
        dict(probe.sql_seconds),
        dict(probe.sql_statements),
        dict(probe.table_reads),
        probe.largest_result_rows,
    )
    return run, result


def _median_run(runs: list[GateRun]) -> GateRun:
    return sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]


# ---------------------------------------------------------------------------------------------


def prepare(server: str, name: str, databases: int, days: int) -> str:
    """The scratch database with the inputs, generated when missing or different (it is dropped
    and created again, so it must not be the tracker's or Airflow's database)."""
    if name in (database.TRACKER_DATABASE, database.AIRFLOW_DATABASE):
        raise SystemExit(f"refusing to use database {name!r} for the benchmark's scratch data")
    url = database.ensure_database(server, name)
    if gate_data.generated(url, databases, days):
        print(f"database {name}: inputs already generated ({databases:,} x {days:,})")
        return url
    database.recreate_database(server, name)
    database.ensure_tracker_schema(url)
    print(f"generating inputs in database {name} (once) ...", flush=True)
    start = time.perf_counter()
    gate_data.generate(url, databases, days)
    print(
        f"generated {databases * days:,} report rows and {databases * days:,} history rows"
        f" in {time.perf_counter() - start:.1f} s (set-based SQL, vacuum and analyze included)"
    )
    return url


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def report(bases: list[BaselineRun], gates: list[GateRun], row_counts: dict[str, int]) -> bool:
    base = statistics.median(run.seconds for run in bases)
    gate = statistics.median(run.seconds for run in gates)
    ratio = gate / base
    ok = ratio <= TARGET_RATIO
    print()
    _print_table(
        ("side", "median", "runs"),
        [
            (
                f"hand-written SQL ({len(BASELINE_SQL)} statements, one per relation)",
                f"{base:.2f} s",
                ", ".join(f"{run.seconds:.2f}" for run in bases),
            ),
            (
                "`run_gate` (six words: 11 word suites as 7 GX validations, checkpoint, audit)",
                f"{gate:.2f} s",
                ", ".join(f"{run.seconds:.2f}" for run in gates),
            ),
            (
                f"ratio gate / baseline (target <= {TARGET_RATIO})",
                f"**{ratio:.2f}**",
                "OK" if ok else "OVER",
            ),
        ],
    )
    print("\nwhere the gate's time goes (medians of the timed runs):\n")
    labels = list(gates[0].parts)
    _print_table(
        ("part", "seconds", "share"),
        [
            (
                label,
                f"{statistics.median(run.parts.get(label, 0.0) for run in gates):.2f}",
                f"{statistics.median(run.parts.get(label, 0.0) for run in gates) / gate:.0%}",
            )
            for label in labels
        ],
    )
    print("\nSQL by relation (medians; GX's table reads exclude its LIMIT 0 queries):\n")
    keys = [*RELATIONS, "(catalog, connection)"]
    middle = _median_run(gates)
    _print_table(
        ("relation", "rows", "GX statements", "GX table reads", "GX SQL s", "baseline s"),
        [
            (
                key,
                f"{row_counts[key]:,}" if key in row_counts else "",
                str(middle.sql_statements.get(key, 0)),
                str(middle.table_reads.get(key, "")),
                f"{statistics.median(run.sql_seconds.get(key, 0.0) for run in gates):.2f}",
                f"{statistics.median(run.per_relation[key] for run in bases):.2f}"
                if key in BASELINE_SQL
                else "",
            )
            for key in keys
        ],
    )
    print(
        f"\nlargest result GX fetched: {max(run.largest_result_rows for run in gates)} row(s)"
        " (no table is pulled into Python)"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, help="timed runs of each side")
    parser.add_argument(
        "--databases", type=int, default=gate_data.DATABASES, help="registry size (10,000)"
    )
    parser.add_argument(
        "--days", type=int, default=gate_data.DAYS, help="days of reports and history (1,000)"
    )
    args = parser.parse_args(argv)
    server = database.tracker_url()  # before TRACKER_LOCAL_DIR moves (the embedded server)
    name = os.environ.get("TRACKER_BENCH_GATE_DATABASE", BENCH_DATABASE)
    url = prepare(server, name, args.databases, args.days)
    run_date = gate_data.LAST_DAY
    with tempfile.TemporaryDirectory(prefix="gate_bench_") as scratch:
        seeds = Path(scratch) / "seeds"
        gate_data.write_seeds(seeds, args.databases)
        os.environ["TRACKER_DATABASE_URL"] = url
        os.environ["TRACKER_SEEDS_DIR"] = str(seeds)
        os.environ["TRACKER_LOCAL_DIR"] = str(Path(scratch) / "local")
        start = time.perf_counter()
        import great_expectations  # noqa: F401, TID253 (imported once, before any timing)

        print(f"great_expectations imported in {time.perf_counter() - start:.1f} s (not timed)")
        parameters = baseline_parameters(run_date)
        print("warm-up: baseline, gate (GX project created) ...", flush=True)
        warm_base = run_baseline(url, parameters)
        warm_gate, result = run_gate_once(url, run_date)
        print(f"warm-up: baseline {warm_base.seconds:.2f} s, gate {warm_gate.seconds:.2f} s")
        findings = baseline_findings(warm_base)
        if not result.success or result.warnings or findings:
            print("the inputs do not pass every expectation; the comparison would be unfair:")
            for line in [*result.failures, *result.warnings, *findings]:
                print(f"  - {line}")
            return 1
        print(
            f"gate: {len(result.results)} expectations, all passed; baseline:"
            f" {sum(len(values) for values in warm_base.metrics.values())} metrics, nothing found"
        )
        bases: list[BaselineRun] = []
        gates: list[GateRun] = []
        for number in range(args.repeat):
            bases.append(run_baseline(url, parameters))
            gates.append(run_gate_once(url, run_date)[0])
            print(
                f"run {number + 1}/{args.repeat}: baseline {bases[-1].seconds:.2f} s,"
                f" gate {gates[-1].seconds:.2f} s",
                flush=True,
            )
    row_counts = {
        relation: values.get("row_count", args.databases * args.days)
        for relation, values in warm_base.metrics.items()
    }
    report(bases, gates, row_counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
