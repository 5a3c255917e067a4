"""The six-word quality gate: GX suites per word, run as SQL in PostgreSQL, every result kept.

Each word (correct, complete, clean, live, unified, shared) is a group of suites in
expectations/words/, built for the run's date from the reviewed bars in expectations/bars.yml,
which also say whether the word is `blocking` (a failure fails the run: publish does not happen)
or `warning` (recorded and alerted, the run goes on).

Two passes keep the checks cheap on large tables: the first evaluates every expectation with
aggregate queries only (one GX validation per relation, every word's checks on it bundled into
one aggregate query, no sample asked for; the largest relation's rules are aggregate-counted by
expectations/row_rules.py, so it is read once); the second runs only for failed expectations and
fetches a sample of the offending rows with the columns that trace them to a raw feed file and
line. GX runs column-pair, compound-unique and unexpected-rows checks as queries of their own, so
the suites avoid them on large relations (bench/gate_bench.py measures it). GX 1.x keeps no database
store of results: every result goes to audit.expectation_results and every gate run to
audit.gate_runs, append-only.

Great Expectations is imported inside the functions only: the import costs seconds and this
module is reachable from DAG files, which must parse in well under a second.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.types.json import Jsonb

from r71_tracker import database
from r71_tracker.config import settings
from r71_tracker.quality import plain_words
from r71_tracker.quality.holds import Attribution, HeldFile, attribute
from r71_tracker.registry import load_registry

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.data_context import AbstractDataContext

# The GX config files hold only this placeholder; the URL itself stays in the environment.
CONNECTION_VARIABLE = "TRACKER_GX_CONNECTION_STRING"
DATA_SOURCE_NAME = "tracker"
SEARCH_PATH = "marts,staging"  # the schemas of the relations the words check
OFFENDING_ROWS_KEPT = 20  # sample of offending rows kept per failed expectation
_MAX_SAMPLE_IN_MESSAGE = 3
# Pass 1: counts only. partial_unexpected_count 0 keeps GX from scanning for samples.
_COUNTS_ONLY = {"result_format": "BASIC", "partial_unexpected_count": 0}
_UNEXPECTED_ROWS = "unexpected_rows_expectation"


@dataclass(frozen=True)
class GateResult:
    """What one gate run decided, small enough to log and to pass through XCom as a summary.

    `failures` are every blocking failure; `national_failures` those that stop the publication
    (bars.yml scope national); `held` the new files an agency rule failed on (file id -> why)."""

    success: bool
    run_id: str
    results: list[dict[str, Any]]
    failures: list[str]
    warnings: list[str] = field(default_factory=list)
    national_failures: list[str] = field(default_factory=list)
    held: dict[int, HeldFile] = field(default_factory=dict)
    candidate: str | None = None

    @property
    def held_agencies(self) -> list[str]:
        return sorted({file.agency_code for file in self.held.values() if file.agency_code})


class GateFailed(Exception):
    """A blocking word failed; the message names each failed expectation on its own line."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        lines = "\n".join(f"  - {failure}" for failure in result.failures)
        super().__init__(
            f"quality gate failed for run {result.run_id}: "
            f"{len(result.failures)} blocking expectation(s) failed\n{lines}"
        )


def enforce(result: GateResult) -> None:
    """Raise GateFailed when a blocking word failed, so the Airflow task (or CLI) fails."""
    if not result.success:
        raise GateFailed(result)


def registry_codes(seeds_dir: Path | None = None) -> list[str]:
    """Database codes of the registry CSV, read exactly as the ingest reads them.

    The CSV, not dbt's seed table: the marts are built from the seed table, so checking them
    against that table would be circular; against the file of record, a registry replaced but not
    re-seeded shows up as missing or unknown codes.
    """
    return sorted(load_registry(seeds_dir or settings().seeds_dir).database_owners)


@cache
def code_version() -> str:
    """The git commit of the code that judges (TRACKER_CODE_VERSION in a deployment without
    git), so an auditor knows which rules produced a result."""
    explicit = os.environ.get("TRACKER_CODE_VERSION")
    if explicit:
        return explicit
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}{'+modified' if dirty else ''}" or "unknown"


def search_path(candidate: str | None) -> str:
    """The schemas the words check: a candidate (its marts, then its work schema with the
    build's frozen file list), or the published marts; then the registry seeds and raw."""
    if candidate is None:
        return f"{SEARCH_PATH},raw"
    return f"{candidate},{candidate}__work,staging,raw"


def gx_connection_string(url: str, candidate: str | None = None) -> str:
    """SQLAlchemy URL for GX, with the search path of the checked schemas (GX 1.24 deprecates
    an asset's schema_name in favour of the connection's configuration)."""
    parts = urlsplit(database.sqlalchemy_url(url))
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "options"]
    query.append(("options", f"-c search_path={search_path(candidate)}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextmanager
def _connection_in_environment(connection_string: str) -> Iterator[None]:
    """Expose the URL to GX's "${...}" substitution for the duration of one run only."""
    previous = os.environ.get(CONNECTION_VARIABLE)
    os.environ[CONNECTION_VARIABLE] = connection_string
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CONNECTION_VARIABLE, None)
        else:
            os.environ[CONNECTION_VARIABLE] = previous


@contextmanager
def _exclusive(gx_dir: Path) -> Iterator[None]:
    """One gate run at a time per GX project directory: each run rewrites the shared suites
    (the run date and registry codes are part of them)."""
    gx_dir.mkdir(parents=True, exist_ok=True)
    with (gx_dir / ".gate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _lean_context(context: AbstractDataContext) -> None:
    """Settings of the gate's GX project, persisted once: no progress bars (they fill task logs
    with carriage-return noise) and no config-variables file (the connection string comes from
    the environment; GX re-reads and re-parses that YAML file on every access to a context
    variable, hundreds of times per run)."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    variables = context.variables
    current = variables.progress_bars
    bars_on = current is None or current["globally"] or current["metric_calculations"]
    if bars_on or variables.config_variables_file_path:
        variables.progress_bars = ProgressBarsConfig(globally=False)
        # GX's setter is annotated `str`, but the variable is Optional (its getter, its schema)
        variables.config_variables_file_path = None  # type: ignore[assignment]
        variables.save()


def build_word_suites(run_date: date) -> list[Any]:
    """Every word's suites for a run date, from bars.yml and the registry file of record."""
    from expectations.context import SuiteContext, load_bars
    from expectations.registry_membership import registry_sha256
    from expectations.words import clean, complete, correct, live, shared, unified

    seeds_dir = settings().seeds_dir
    database_count = len(registry_codes(seeds_dir))  # validates the files as ingest does
    if not database_count:
        raise ValueError("the registry file has no databases")
    context = SuiteContext(
        run_date=run_date,
        bars=load_bars(),
        registry_dir=seeds_dir.resolve(),
        registry_sha256=registry_sha256(seeds_dir),
        database_count=database_count,
    )
    return [
        suite
        for word in (correct, complete, clean, live, unified, shared)
        for suite in word.build_suites(context)
    ]


def validations_by_relation(suites: list[Any]) -> list[Any]:
    """One GX suite per checked relation, holding every word's expectations on it.

    The words stay suites of their own in code and in the audit trail (each expectation keeps
    its word suite's name in its meta); GX validates a relation once, so its rows are counted
    once and its checks bundled into one aggregate query, and GX's fixed cost is paid per
    relation instead of per word and relation.
    """
    import great_expectations as gx

    merged: dict[str, Any] = {}
    for suite in suites:
        relation = suite.meta["relation"]
        if relation not in merged:
            _, layer, dataset = suite.name.split(".")
            merged[relation] = gx.ExpectationSuite(
                name=f"six_words.{layer}.{dataset}",
                expectations=[],
                meta={
                    "relation": relation,
                    "trace_columns": suite.meta["trace_columns"],
                    "word_suites": [],
                },
            )
        merged[relation].meta["word_suites"].append(suite.name)
        for expectation in suite.expectations:
            expectation.meta = {**expectation.meta, "suite": suite.name}
            merged[relation].expectations.append(expectation)
    return list(merged.values())


def _batch_definition(source: Any, relation: str) -> Any:
    """Get-or-add the table asset of a relation (schema.table) and its whole-table batch."""
    table = relation.split(".", 1)[1]
    if table in source.get_asset_names():
        asset = source.get_asset(table)
    else:
        asset = source.add_table_asset(name=table, table_name=table)
    try:
        return asset.get_batch_definition("whole table")
    except KeyError:
        return asset.add_batch_definition_whole_table("whole table")


def _checkpoint(context: AbstractDataContext, suites: list[Any]) -> Any:
    """Get-or-add the source and assets; add-or-update suites, validations and the checkpoint."""
    import great_expectations as gx

    placeholder = "${" + CONNECTION_VARIABLE + "}"
    try:
        source = context.data_sources.get(DATA_SOURCE_NAME)
    except KeyError:
        source = None
    if source is None or str(getattr(source, "connection_string", "")) != placeholder:
        source = context.data_sources.add_or_update_postgres(
            name=DATA_SOURCE_NAME, connection_string=placeholder
        )
    validations = []
    for suite in suites:
        stored = context.suites.add_or_update(suite)
        validations.append(
            context.validation_definitions.add_or_update(
                gx.ValidationDefinition(
                    name=suite.name,
                    data=_batch_definition(source, suite.meta["relation"]),
                    suite=stored,
                )
            )
        )
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name="six_words.gate",
            validation_definitions=validations,
            result_format=_COUNTS_ONLY,
        )
    )


def _json_ready(value: Any) -> Any:
    """Dates, decimals and numpy scalars into plain JSON values."""
    return json.loads(json.dumps(value, default=str))


def _exception_message(info: dict[str, Any] | None) -> str | None:
    """The first error GX caught while computing a metric (it nests them by metric id)."""
    if not info:
        return None
    if info.get("raised_exception"):
        lines = str(info.get("exception_message") or "").strip().splitlines()
        return lines[0] if lines else "unknown error"
    for nested in info.values():
        if isinstance(nested, dict) and (message := _exception_message(nested)) is not None:
            return message
    return None


def _observed(result: ExpectationValidationResult) -> Any:
    """The observed value; for per-row checks, the rows judged and how many broke the rule."""
    error = _exception_message(result.exception_info)
    if error is not None:
        return {"error": error}
    details = result.result or {}
    if "observed_value" in details:
        return _json_ready(details["observed_value"])
    return _json_ready(
        {
            "element_count": details.get("element_count"),
            "unexpected_count": details.get("unexpected_count"),
            "unexpected_percent": details.get("unexpected_percent"),
        }
    )


def _failure_line(row: dict[str, Any]) -> str:
    """One line in plain words (English, as the task log and the alerts write): the word, the
    suite, what the check asks (and its GX type and column), what it found against its bar, the
    first feed rows behind it."""
    kwargs = row["expectation_kwargs"] or {}
    described = plain_words.describe(row["expectation_type"], kwargs, "en")
    # the check's GX type and column too: what the platform team searches the logs and docs for
    checked = row["expectation_type"] + (f" on {kwargs['column']}" if kwargs.get("column") else "")
    where = f"{row['word']} ({row['severity']}) {row['suite_name']}: {described} [{checked}]"
    found = plain_words.observed(row["expectation_type"], kwargs, row["observed_value"], "en")
    rows = [_row_reference(sample) for sample in row["unexpected_rows"][:_MAX_SAMPLE_IN_MESSAGE]]
    shown = f"; rows: {'; '.join(rows)}" if rows else ""
    because = f" (national: {row['national_because']})" if row.get("national_because") else ""
    return f"{where}: {found}{shown}{because}"


def _row_reference(sample: dict[str, Any]) -> str:
    """How a message points at an offending row: its feed file and line (or entry), else its key."""
    place = plain_words.place(sample, "en")
    if place:
        return place
    keys = ("database_code", "agency_code", "status_date")
    return " ".join(str(sample[key]) for key in keys if sample.get(key) is not None) or "?"


def _results(outcome: Any, suites: dict[str, Any], severities: dict[str, str]) -> list[dict]:
    """One row per expectation result, under the word suite the expectation belongs to."""
    rows = []
    for suite_result in outcome.run_results.values():
        suite = suites[suite_result.suite_name]
        for result in suite_result.results:
            config = result.expectation_config
            kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
            word = config.meta["word"]
            rows.append(
                {
                    "suite_name": config.meta["suite"],
                    "relation": suite.meta["relation"],
                    "trace_columns": suite.meta["trace_columns"],
                    "word": word,
                    "severity": severities[word],
                    "expectation_id": config.id,
                    "expectation": config,
                    "expectation_type": config.type,
                    "expectation_kwargs": _json_ready(kwargs),
                    "expectation_notes": config.notes,
                    "expectation_notes_vi": config.meta.get("notes_vi"),
                    "success": bool(result.success),
                    "observed_value": _observed(result),
                    "unexpected_count": (result.result or {}).get("unexpected_count")
                    if "unexpected_count" in (result.result or {})
                    else _unexpected_rows_count(result),
                    "unexpected_rows": [],
                }
            )
    return rows


def _unexpected_rows_count(result: ExpectationValidationResult) -> int | None:
    """An UnexpectedRowsExpectation reports its offending row count as the observed value."""
    config = result.expectation_config
    if config is None or config.type != _UNEXPECTED_ROWS:
        return None
    observed = (result.result or {}).get("observed_value")
    return observed if isinstance(observed, int) else None


def _offending_rows(failed: list[dict]) -> None:
    """Pass 2: for failed expectations only, a sample of the offending rows with the columns that
    trace them (an ephemeral context: nothing of this pass is stored)."""
    import great_expectations as gx

    by_relation: dict[str, list[dict]] = {}
    for row in failed:
        if not (isinstance(row["observed_value"], dict) and "error" in row["observed_value"]):
            by_relation.setdefault(row["relation"], []).append(row)
    if not by_relation:
        return
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no noise in task logs
    source = context.data_sources.add_postgres(
        name="offending_rows", connection_string="${" + CONNECTION_VARIABLE + "}"
    )
    try:
        for relation, rows in by_relation.items():
            batch = _batch_definition(source, relation)
            queries = [row for row in rows if row["expectation_type"] == _UNEXPECTED_ROWS]
            per_row = [row for row in rows if row["expectation_type"] != _UNEXPECTED_ROWS]
            if per_row:
                sample_format = _sample_format(rows[0]["trace_columns"])
                _sample(context, batch, relation, "map", per_row, sample_format)
            if queries:
                complete = {"result_format": "COMPLETE"}
                _sample(context, batch, relation, "query", queries, complete)
    finally:
        source.get_engine().dispose()


def _sample_format(trace_columns: list[str]) -> dict:
    return {
        "result_format": "SUMMARY",
        "unexpected_index_column_names": trace_columns,
        "partial_unexpected_count": OFFENDING_ROWS_KEPT,
    }


def _sample(
    context: Any,
    batch: Any,
    relation: str,
    kind: str,
    rows: list[dict],
    result_format: dict,
) -> None:
    import great_expectations as gx

    expectations = []
    for row in rows:
        expectation = row["expectation"].to_domain_obj()
        if hasattr(expectation, "per_row_twin"):  # a rule counted in aggregate: its map twin
            expectation = expectation.per_row_twin()
        expectation.id = None
        expectations.append(expectation)
    suite = context.suites.add(gx.ExpectationSuite(name=f"{relation}.{kind}", expectations=[]))
    for expectation in expectations:
        suite.add_expectation(expectation)
    validation = gx.ValidationDefinition(name=f"{relation}.{kind}", data=batch, suite=suite)
    outcome = validation.run(result_format=result_format)
    for row, result in zip(rows, outcome.results, strict=True):
        details = result.result or {}
        if kind == "query":
            samples = (details.get("details") or {}).get("unexpected_rows") or []
        else:
            samples = details.get("partial_unexpected_index_list") or []
        row["unexpected_rows"] = [_json_ready(dict(s)) for s in samples[:OFFENDING_ROWS_KEPT]]


def _traced(url: str, rows: list[dict]) -> None:
    """Name each sampled row's feed file (and its agency) from raw.feed_files."""
    file_ids = {
        sample.get("file_id", sample.get("evidence_file_id"))
        for row in rows
        for sample in row["unexpected_rows"]
    } - {None}
    if not file_ids:
        return
    with database.connect(url) as conn:
        files = {
            file_id: (name, agency)
            for file_id, name, agency in conn.execute(
                "select file_id, original_name, agency_code from raw.feed_files"
                " where file_id = any(%s)",
                (sorted(int(i) for i in file_ids),),
            )
        }
    for row in rows:
        for sample in row["unexpected_rows"]:
            file_id = sample.get("file_id", sample.get("evidence_file_id"))
            if file_id is None or int(file_id) not in files:
                continue
            name, agency = files[int(file_id)]
            sample["file_id"] = int(file_id)
            sample["file_name"] = name
            sample.setdefault("line_number", sample.get("evidence_line_number"))
            sample.setdefault("agency_code", sample.get("owner_agency_code") or agency)


def _record(
    url: str,
    run: dict[str, Any],
    rows: list[dict],
    attribution: Attribution,
) -> None:
    """Append the run, every result and (judging a candidate) the held files' verdicts in one
    transaction, as the gate's own role (the audit trail is append-only; the roles that load and
    build the data cannot write it)."""
    blocking = sum(1 for row in rows if not row["success"] and row["severity"] == "blocking")
    warnings = sum(1 for row in rows if not row["success"] and row["severity"] == "warning")
    version = code_version()
    run_id, dag_run_id, run_date = run["run_id"], run["dag_run_id"], run["run_date"]
    with (
        database.connect(url, role=database.GATE_ROLE) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(
            "insert into audit.gate_runs (run_id, dag_run_id, run_date, code_version, started_at,"
            " success, blocking_failures, warnings, candidate_schema,"
            " held_agencies, national_failures)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                run_id,
                dag_run_id,
                run_date,
                version,
                run["started"],
                blocking == 0,
                blocking,
                warnings,
                run["candidate"],
                attribution.held_agencies,
                len(attribution.national),
            ),
        )
        cursor.executemany(
            "insert into audit.expectation_results (run_id, dag_run_id, run_date, code_version,"
            " word, severity, suite_name, expectation_type, expectation_kwargs,"
            " expectation_notes, expectation_notes_vi, success, observed_value, unexpected_count,"
            " unexpected_rows)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    run_id,
                    dag_run_id,
                    run_date,
                    version,
                    row["word"],
                    row["severity"],
                    row["suite_name"],
                    row["expectation_type"],
                    Jsonb(row["expectation_kwargs"]),
                    row["expectation_notes"],
                    row["expectation_notes_vi"],
                    row["success"],
                    Jsonb(row["observed_value"]),
                    row["unexpected_count"],
                    Jsonb(row["unexpected_rows"]),
                )
                for row in rows
            ],
        )
        if run["candidate"] is None:
            return  # judging the published marts directly (tests, audits): no file verdicts
        cursor.executemany(
            "insert into audit.file_verdicts (file_id, verdict, agency_code, gate_run_id,"
            " dag_run_id, rule, reason, failing_rows) values (%s, 'held', %s, %s, %s, %s, %s, %s)"
            " on conflict (file_id) do nothing",
            [
                (
                    held.file_id,
                    held.agency_code,
                    run_id,
                    dag_run_id,
                    ", ".join(held.rules),
                    held.reason,
                    held.failing_rows,
                )
                for held in attribution.held.values()
            ],
        )


def _attribution(url: str, candidate: str | None, failed: list[dict]) -> Attribution:
    """National failures and held files, counted over every offending row (holds.attribute)."""
    from expectations.context import load_bars

    if not any(row["severity"] == "blocking" for row in failed):
        return Attribution()
    with psycopg.connect(url) as conn:
        conn.execute("select set_config('search_path', %s, false)", (search_path(candidate),))
        return attribute(conn, failed, load_bars())


def run_gate(
    url: str,
    run_id: str,
    run_date: date,
    dag_run_id: str | None = None,
    candidate: str | None = None,
) -> GateResult:
    """Validate the six words as of run_date and record the run and every result.

    run_id must be new for every gate run (a retry is a new run: the trail is append-only);
    dag_run_id links it to its Airflow DAG run. run_date is the run's logical date, never the
    wall clock, so a backfill judges the data as it stood on the day it is about. `candidate`
    is the schema of the build judged (write-audit-publish); None judges the published marts.
    A failed agency rule holds the new files it failed on (recorded when judging a candidate).
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    from expectations.context import load_bars

    started = datetime.now(UTC)
    config = settings()
    severities = {word: bars.mode for word, bars in load_bars().items()}
    suites = validations_by_relation(build_word_suites(run_date))
    connection = gx_connection_string(url, candidate)
    with _exclusive(config.gx_dir), _connection_in_environment(connection):
        context = gx.get_context(mode="file", project_root_dir=config.gx_dir)
        _lean_context(context)
        checkpoint = _checkpoint(context, suites)
        try:
            outcome = checkpoint.run(run_id=RunIdentifier(run_name=run_id))
        finally:
            for validation in checkpoint.validation_definitions:
                # GX keeps a pooled connection per data source; close it rather than leak it.
                validation.data_source.get_engine().dispose()
        rows = _results(outcome, {suite.name: suite for suite in suites}, severities)
        failed = [row for row in rows if not row["success"]]
        _offending_rows(failed)
    _traced(url, failed)
    attribution = _attribution(url, candidate, failed)
    run = {
        "run_id": run_id,
        "dag_run_id": dag_run_id,
        "run_date": run_date,
        "started": started,
        "candidate": candidate,
    }
    _record(url, run, rows, attribution)
    blocking = [row for row in failed if row["severity"] == "blocking"]
    return GateResult(
        success=not blocking,
        run_id=run_id,
        results=[
            {
                key: row[key]
                for key in (
                    "word",
                    "severity",
                    "suite_name",
                    "relation",
                    "expectation_type",
                    "success",
                    "observed_value",
                    "unexpected_count",
                )
            }
            | {
                "column": row["expectation_kwargs"].get("column"),
                "kwargs": row["expectation_kwargs"],
                "notes": row["expectation_notes"],
                "notes_vi": row["expectation_notes_vi"],
            }
            for row in rows
        ],
        failures=[_failure_line(row) for row in blocking],
        warnings=[_failure_line(row) for row in failed if row["severity"] == "warning"],
        national_failures=[_failure_line(row) for row in attribution.national],
        held=attribution.held,
        candidate=candidate,
    )
