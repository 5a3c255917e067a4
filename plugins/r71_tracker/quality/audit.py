"""`tracker audit`: what a quality gate run passed and failed, why, and the feed rows behind it.

Reads only the audit schema (and, for the feed rows behind a failure, the raw row each sample
points at), so an auditor can answer "why did run X fail" long after it ran, from the database
alone.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import psycopg

from r71_tracker import database

_RESULT_COLUMNS = (
    "word",
    "severity",
    "suite_name",
    "expectation_type",
    "expectation_kwargs",
    "expectation_notes",
    "success",
    "observed_value",
    "unexpected_count",
    "unexpected_rows",
)
_RAW_TABLES = ("raw.status_reports", "raw.field_reports")


class AuditNotFound(LookupError):
    """No gate run matches what was asked (the message says what was looked for)."""


def _runs(
    conn: psycopg.Connection, run_id: str | None, run_date: date | None
) -> list[dict[str, Any]]:
    columns = (
        "run_id, dag_run_id, run_date, code_version, started_at, finished_at, success,"
        " blocking_failures, warnings, data_docs_path"
    )
    if run_id is not None:
        query = f"select {columns} from audit.gate_runs where run_id = %s or dag_run_id = %s"
        params: tuple = (run_id, run_id)
    elif run_date is not None:
        query = f"select {columns} from audit.gate_runs where run_date = %s"
        params = (run_date,)
    else:
        query = f"select {columns} from audit.gate_runs where finished_at = (select"
        query += " max(finished_at) from audit.gate_runs)"
        params = ()
    return database.dict_rows(conn.execute(query + " order by finished_at", params))


def _raw_row(conn: psycopg.Connection, sample: dict[str, Any]) -> dict[str, Any] | None:
    """The loaded raw row a sample points at (its file and line), as stored."""
    file_id, line = sample.get("file_id"), sample.get("line_number")
    if file_id is None or line is None:
        return None
    for table in _RAW_TABLES:
        row = conn.execute(
            f"select to_jsonb(t) - 'file_id' - 'line_number' from {table} t"
            " where file_id = %s and line_number = %s",
            (int(file_id), int(line)),
        ).fetchone()
        if row is not None:
            return row[0]
    return None


_EVENTS = (
    "select e.event_id, e.file_id, f.original_name, f.agency_code, e.action, e.actor, e.reason,"
    " e.acted_at from audit.file_events as e left join raw.feed_files as f using (file_id)"
)


def operator_actions(conn: psycopg.Connection, run: dict[str, Any]) -> list[dict[str, Any]]:
    """Withdraw/restore events recorded after the previous gate run started, up to this run's
    start: what operators changed between the two runs (a build reads them when it starts)."""
    previous = database.scalar(
        conn,
        "select max(started_at) from audit.gate_runs where started_at < %s",
        (run["started_at"],),
    )
    return database.dict_rows(
        conn.execute(
            _EVENTS + " where (%(previous)s::timestamptz is null or e.acted_at > %(previous)s)"
            " and e.acted_at <= %(started)s order by e.event_id",
            {"previous": previous, "started": run["started_at"]},
        )
    )


def file_events(url: str | None = None) -> list[dict[str, Any]]:
    """Every operator's withdraw/restore event (audit.file_events), oldest first."""
    with database.connect(url) as conn:
        return database.dict_rows(conn.execute(_EVENTS + " order by e.event_id"))


def audit_runs(
    url: str | None = None, run_id: str | None = None, run_date: date | None = None
) -> list[dict[str, Any]]:
    """Gate runs (one by run id or DAG run id, all of a date, or the latest) with every result,
    for failures the feed rows behind them, and the operators' withdraw/restore events recorded
    since the previous gate run (`operator_actions`)."""
    with database.connect(url) as conn:
        runs = _runs(conn, run_id, run_date)
        if not runs:
            wanted = f"run {run_id}" if run_id else f"date {run_date}" if run_date else "any run"
            raise AuditNotFound(f"no quality gate run recorded for {wanted}")
        for run in runs:
            run["operator_actions"] = operator_actions(conn, run)
            cursor = conn.execute(
                f"select {', '.join(_RESULT_COLUMNS)} from audit.expectation_results"
                " where run_id = %s order by result_id",
                (run["run_id"],),
            )
            run["results"] = [dict(zip(_RESULT_COLUMNS, row, strict=True)) for row in cursor]
            for result in run["results"]:
                for sample in result["unexpected_rows"] or []:
                    raw = _raw_row(conn, sample)
                    if raw is not None:
                        sample["raw_row"] = raw
    return runs


def _kwargs_text(kwargs: dict[str, Any]) -> str:
    shown = {}
    for key, value in kwargs.items():
        if key == "unexpected_rows_query":
            continue
        if isinstance(value, list) and len(value) > 4:
            value = f"<{len(value)} values>"
        shown[key] = value
    return ", ".join(f"{key}={value}" for key, value in shown.items())


def _sample_text(sample: dict[str, Any]) -> str:
    where = sample.get("file_name") or ""
    if where and sample.get("line_number") is not None:
        where += f" line {sample['line_number']}"
    keys = {
        key: value
        for key, value in sample.items()
        if key not in ("file_name", "line_number", "file_id", "raw_row") and value is not None
    }
    text = f"{where} {json.dumps(keys, ensure_ascii=False, default=str)}".strip()
    if "raw_row" in sample:
        text += f"\n          loaded as {json.dumps(sample['raw_row'], ensure_ascii=False)}"
    return text


def _event_text(event: dict[str, Any]) -> str:
    name = event["original_name"] or "unknown file"
    agency = f", {event['agency_code']}" if event["agency_code"] else ""
    return (
        f"event {event['event_id']}: {event['action']} file {event['file_id']} ({name}{agency})"
        f" by {event['actor']} at {event['acted_at']:%Y-%m-%d %H:%M:%S %Z}: {event['reason']}"
    )


def format_events(events: list[dict[str, Any]]) -> str:
    """`tracker audit --events`: every withdraw/restore, oldest first."""
    if not events:
        return "no operator actions recorded (audit.file_events is empty)"
    lines = ["operator actions (audit.file_events), oldest first:"]
    lines.extend(f"  {_event_text(event)}" for event in events)
    return "\n".join(lines)


def format_runs(runs: list[dict[str, Any]]) -> str:
    """The text an auditor reads: per run, per word, each expectation and the rows behind it."""
    lines: list[str] = []
    for run in runs:
        verdict = "PASSED" if run["success"] else "FAILED"
        lines.append(
            f"gate run {run['run_id']}"
            + (f" (DAG run {run['dag_run_id']})" if run["dag_run_id"] else "")
            + f": {verdict}, data as of {run['run_date']}, code {run['code_version']},"
            f" finished {run['finished_at']:%Y-%m-%d %H:%M:%S %Z};"
            f" {run['blocking_failures']} blocking failure(s), {run['warnings']} warning(s)"
        )
        if run.get("operator_actions"):
            lines.append("  operator actions since the previous gate run (audit.file_events):")
            lines.extend(f"    {_event_text(event)}" for event in run["operator_actions"])
        by_word: dict[str, list[dict[str, Any]]] = {}
        for result in run["results"]:
            by_word.setdefault(result["word"], []).append(result)
        for word, results in by_word.items():
            failed = [r for r in results if not r["success"]]
            state = "pass" if not failed else f"{len(failed)} failed"
            lines.append(f"  {word} ({results[0]['severity']}): {len(results)} checks, {state}")
            for result in results:
                mark = "ok  " if result["success"] else "FAIL"
                lines.append(
                    f"    {mark} {result['suite_name']}: {result['expectation_type']}"
                    f"({_kwargs_text(result['expectation_kwargs'])})"
                )
                if not result["success"]:
                    observed = json.dumps(result["observed_value"], default=str)
                    lines.append(f"         why: {result['expectation_notes']}")
                    lines.append(f"         observed: {observed}")
                    for sample in result["unexpected_rows"] or []:
                        lines.append(f"         row: {_sample_text(sample)}")
        if run["data_docs_path"]:
            lines.append(f"  Data Docs: {run['data_docs_path']}")
    return "\n".join(lines)


def runs_as_json(runs: list[dict[str, Any]]) -> str:
    return json.dumps(runs, ensure_ascii=False, default=str, indent=2)
