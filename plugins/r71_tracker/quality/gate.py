"""Run the GX suite on marts.database_current_status, record every result, stop the run on failure.

Great Expectations is imported inside the functions only: the import costs seconds and this
module is reachable from DAG files, which must parse in well under a second.

GX 1.x keeps results only in its own file store, so every expectation result also goes into
audit.expectation_results: the history auditors query, one row per expectation per run.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from psycopg.types.json import Jsonb

from r71_tracker import database
from r71_tracker.config import settings
from r71_tracker.registry import load_registry

if TYPE_CHECKING:
    from great_expectations.checkpoint.checkpoint import CheckpointResult
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.data_context import AbstractDataContext

# The GX config files hold only this placeholder; the URL itself stays in the environment.
CONNECTION_VARIABLE = "TRACKER_GX_CONNECTION_STRING"
DATA_SOURCE_NAME = "tracker"
DATA_DOCS_SITE = "local_site"
_MAX_SAMPLE_IN_MESSAGE = 5


@dataclass(frozen=True)
class GateResult:
    """What one gate run decided, small enough to log and to pass through XCom as a summary."""

    success: bool
    run_id: str
    results: list[dict[str, Any]]
    data_docs_index: Path
    failures: list[str]


class GateFailed(Exception):
    """The mart failed the gate; the message names each failed expectation on its own line."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        lines = "\n".join(f"  - {failure}" for failure in result.failures)
        super().__init__(
            f"quality gate failed for run {result.run_id}: "
            f"{len(result.failures)} expectation(s) failed\n{lines}"
        )


def enforce(result: GateResult) -> None:
    """Raise GateFailed when the gate did not pass, so the Airflow task (or CLI) fails."""
    if not result.success:
        raise GateFailed(result)


def registry_codes(seeds_dir: Path | None = None) -> list[str]:
    """Database codes of the registry CSV, read exactly as the ingest reads them.

    The CSV, not dbt's seed table: the mart is built from the seed table, so checking it against
    that table would be circular; against the file of record, a registry replaced but not
    re-seeded shows up as missing or unknown codes.
    """
    return sorted(load_registry(seeds_dir or settings().seeds_dir).database_owners)


def gx_connection_string(url: str) -> str:
    """SQLAlchemy URL for GX, with search_path=marts so the table asset needs no schema_name.

    GX 1.24 deprecates an asset's schema_name in favour of the connection's configuration.
    """
    parts = urlsplit(database.sqlalchemy_url(url))
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "options"]
    query.append(("options", "-c search_path=marts"))
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
    """One gate run at a time per GX project directory.

    Each run rewrites the shared suite (its run date and registry codes are part of it); two runs
    at once (parallel backfill dates) would validate with each other's suite or fail GX's
    freshness check on the stored objects, so they queue on a lock file instead.
    """
    gx_dir.mkdir(parents=True, exist_ok=True)
    with (gx_dir / ".gate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _without_progress_bars(context: AbstractDataContext) -> None:
    """Progress bars fill task logs with carriage-return noise; switch them off once, persisted."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    current = context.variables.progress_bars
    if current is None or current["globally"] or current["metric_calculations"]:
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()


def _checkpoint(context: AbstractDataContext, suite: Any) -> Any:
    """Get-or-add the source, asset and batch definition; add-or-update suite and checkpoint."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    from expectations.marts import database_current_status as mart

    placeholder = "${" + CONNECTION_VARIABLE + "}"
    try:
        source = context.data_sources.get(DATA_SOURCE_NAME)
    except KeyError:
        source = None
    if source is None or str(getattr(source, "connection_string", "")) != placeholder:
        source = context.data_sources.add_or_update_postgres(
            name=DATA_SOURCE_NAME, connection_string=placeholder
        )
    asset_name = mart.SUITE_NAME
    if asset_name in source.get_asset_names():
        asset = source.get_asset(asset_name)
    else:
        asset = source.add_table_asset(name=asset_name, table_name=mart.TABLE_NAME)
    batch_name = "whole table"
    try:
        batch_definition = asset.get_batch_definition(batch_name)
    except KeyError:
        batch_definition = asset.add_batch_definition_whole_table(batch_name)

    suite = context.suites.add_or_update(suite)
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=mart.SUITE_NAME, data=batch_definition, suite=suite)
    )
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{mart.SUITE_NAME}.gate",
            validation_definitions=[validation],
            actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[DATA_DOCS_SITE])],
            result_format={"result_format": "SUMMARY"},
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
    """The observed value; for per-row checks, the count and a sample of the unexpected values."""
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
            "unexpected_sample": details.get("partial_unexpected_list", []),
        }
    )


def _describe(expectation_type: str, kwargs: dict[str, Any]) -> str:
    shown = {key: value for key, value in kwargs.items() if key not in ("batch_id", "value_set")}
    if "value_set" in kwargs:
        shown["value_set"] = f"<{len(kwargs['value_set'])} values>"
    arguments = ", ".join(f"{key}={value}" for key, value in shown.items())
    return f"{expectation_type}({arguments})"


def _failure_line(row: dict[str, Any]) -> str:
    observed = row["observed_value"]
    described = _describe(row["expectation_type"], row["expectation_kwargs"])
    if isinstance(observed, dict) and "error" in observed:
        return f"{described}: could not be evaluated: {observed['error']}"
    if isinstance(observed, dict) and "unexpected_sample" in observed:
        sample = observed["unexpected_sample"][:_MAX_SAMPLE_IN_MESSAGE]
        observed = f"{observed['unexpected_count']} unexpected of {observed['element_count']}"
        observed += f", e.g. {sample}"
    return f"{described}: observed {observed}"


def _rows(checkpoint_result: CheckpointResult) -> list[dict[str, Any]]:
    rows = []
    for suite_result in checkpoint_result.run_results.values():
        for result in suite_result.results:
            config = result.expectation_config
            kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
            rows.append(
                {
                    "suite_name": suite_result.suite_name,
                    "expectation_type": config.type,
                    "expectation_kwargs": _json_ready(kwargs),
                    "column": kwargs.get("column"),
                    "success": bool(result.success),
                    "observed_value": _observed(result),
                    "unexpected_count": (result.result or {}).get("unexpected_count"),
                }
            )
    return rows


def _record(url: str, run_id: str, run_date: date, rows: list[dict[str, Any]]) -> None:
    """Append this run's rows in one transaction (the audit trail is append-only)."""
    with database.connect(url) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "insert into audit.expectation_results (run_id, suite_name, expectation_type,"
            " expectation_kwargs, success, observed_value, unexpected_count, run_date)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    run_id,
                    row["suite_name"],
                    row["expectation_type"],
                    Jsonb(row["expectation_kwargs"]),
                    row["success"],
                    Jsonb(row["observed_value"]),
                    row["unexpected_count"],
                    run_date,
                )
                for row in rows
            ],
        )


def _data_docs_index(context: AbstractDataContext) -> Path:
    for site in context.get_docs_sites_urls(site_name=DATA_DOCS_SITE, only_if_exists=True):
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            return Path(unquote(urlsplit(url).path))
    raise RuntimeError(f"GX Data Docs site {DATA_DOCS_SITE!r} has no index.html after the run")


def run_gate(url: str, run_id: str, run_date: date) -> GateResult:
    """Validate marts.database_current_status as of run_date and record the results.

    run_date is the run's date (DAG logical date or the CLI's --date), never the wall clock, so
    a backfill judges freshness as of the day it is about.
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    from expectations.marts.database_current_status import build_suite

    config = settings()
    suite = build_suite(run_date, config.freshness_max_age_days, registry_codes(config.seeds_dir))
    with _exclusive(config.gx_dir), _connection_in_environment(gx_connection_string(url)):
        context = gx.get_context(mode="file", project_root_dir=config.gx_dir)
        _without_progress_bars(context)
        checkpoint = _checkpoint(context, suite)
        try:
            outcome = checkpoint.run(run_id=RunIdentifier(run_name=run_id))
        finally:
            for validation in checkpoint.validation_definitions:
                # GX keeps a pooled connection per data source; close it rather than leak it.
                validation.data_source.get_engine().dispose()
    rows = _rows(outcome)
    _record(url, run_id, run_date, rows)
    return GateResult(
        success=bool(outcome.success),
        run_id=run_id,
        results=[
            {key: row[key] for key in ("expectation_type", "column", "success", "observed_value")}
            for row in rows
        ],
        data_docs_index=_data_docs_index(context),
        failures=[_failure_line(row) for row in rows if not row["success"]],
    )
