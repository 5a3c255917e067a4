"""`tracker audit`: what a quality gate run passed and failed, why, and the feed rows behind it.

Reads only the audit schema (and, for the feed rows behind a failure, the raw row each sample
points at), so an auditor can answer "why did run X fail" long after it ran, from the database
alone. The text is plain words in English or Vietnamese (quality/plain_words.py), at most 100
columns a line, paths relative to the project; `--json` keeps every stored detail as it is.
"""

from __future__ import annotations

import json
import textwrap
from datetime import date
from typing import Any

import psycopg

from r71_tracker import database
from r71_tracker.i18n import Lang, day, moment
from r71_tracker.quality.plain_words import (
    cite_row,
    describe,
    loaded_row,
    observed,
    pick,
    relative_paths,
    severity_name,
    shown_path,
    word_name,
)

_RESULT_COLUMNS = (
    "word",
    "severity",
    "suite_name",
    "expectation_type",
    "expectation_kwargs",
    "expectation_notes",
    "expectation_notes_vi",  # null on results recorded before schema 13: shown in English
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


WIDTH = 100  # columns of every line `tracker audit` prints


def _wrap(text: str, indent: str, hanging: str | None = None) -> list[str]:
    """One paragraph in lines of at most WIDTH columns (long tokens such as run ids broken)."""
    return textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=indent,
        subsequent_indent=hanging if hanging is not None else indent,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def _event_lines(event: dict[str, Any], lang: Lang, indent: str) -> list[str]:
    """An operator's withdraw/restore: who did what to which file, when, then why; the reason
    goes on lines of its own when the whole does not fit in WIDTH columns."""
    name = shown_path(event["original_name"]) if event["original_name"] else None
    agency = f", {event['agency_code']}" if event["agency_code"] else ""
    reason = relative_paths(str(event["reason"] or ""))
    when = moment(event["acted_at"], lang)
    if lang == "vi":
        action = {"withdraw": "rút", "restore": "khôi phục"}.get(event["action"], event["action"])
        head = (
            f"sự kiện {event['event_id']}: {action} tệp {event['file_id']}"
            f" ({name or 'không rõ tệp'}{agency}) bởi {event['actor']} lúc {when}:"
        )
    else:
        head = (
            f"event {event['event_id']}: {event['action']} file {event['file_id']}"
            f" ({name or 'unknown file'}{agency}) by {event['actor']} at {when}:"
        )
    hanging = indent + "    "
    if len(indent) + len(head) + 1 + len(reason) <= WIDTH:
        return [f"{indent}{head} {reason}"]
    return _wrap(head, indent, hanging) + _wrap(reason, hanging)


def format_events(events: list[dict[str, Any]], lang: Lang = "en") -> str:
    """`tracker audit --events`: every withdraw/restore, oldest first."""
    if not events:
        return pick(
            lang,
            "no operator actions recorded (audit.file_events is empty)",
            "chưa có thao tác nào được ghi (audit.file_events trống)",
        )
    lines = [
        pick(
            lang,
            "operator actions (audit.file_events), oldest first:",
            "thao tác của người vận hành (audit.file_events), cũ nhất trước:",
        )
    ]
    for event in events:
        lines.extend(_event_lines(event, lang, "  "))
    return "\n".join(lines)


def _run_header(run: dict[str, Any], lang: Lang) -> str:
    dag = f" ({pick(lang, 'DAG run', 'lần chạy DAG')} {run['dag_run_id']})"
    dag = dag if run["dag_run_id"] else ""
    as_of = day(run["run_date"], lang)
    finished = moment(run["finished_at"], lang)
    if lang == "vi":
        verdict = "ĐẠT" if run["success"] else "KHÔNG ĐẠT"
        return (
            f"lần kiểm tra {run['run_id']}{dag}: {verdict}, dữ liệu tính đến {as_of},"
            f" mã nguồn {run['code_version']}, xong lúc {finished};"
            f" {run['blocking_failures']} lỗi chặn, {run['warnings']} cảnh báo"
        )
    verdict = "PASSED" if run["success"] else "FAILED"
    return (
        f"gate run {run['run_id']}{dag}: {verdict}, data as of {as_of},"
        f" code {run['code_version']}, finished {finished};"
        f" {run['blocking_failures']} blocking failure(s), {run['warnings']} warning(s)"
    )


def _result_lines(result: dict[str, Any], lang: Lang) -> list[str]:
    """One check: its verdict, suite and plain words; for a failure why, what was observed
    against the bar and the offending rows, each by its feed file and line or entry."""
    kind, kwargs = result["expectation_type"], result["expectation_kwargs"]
    mark = pick(lang, "ok  ", "đạt ") if result["success"] else pick(lang, "FAIL", "LỖI ")
    lines = _wrap(f"{mark} {result['suite_name']}: {describe(kind, kwargs, lang)}", "    ", " " * 9)
    if result["success"]:
        return lines
    notes = (lang == "vi" and result["expectation_notes_vi"]) or result["expectation_notes"]
    notes = relative_paths(notes or "")
    seen = observed(kind, kwargs, result["observed_value"], lang)
    lines += _wrap(f"{pick(lang, 'why', 'vì sao')}: {notes}", " " * 9, " " * 14)
    lines += _wrap(f"{pick(lang, 'observed', 'kết quả')}: {seen}", " " * 9, " " * 14)
    for sample in result["unexpected_rows"] or []:
        lines += _wrap(
            f"{pick(lang, 'row', 'bản ghi')}: {cite_row(sample, lang)}", " " * 9, " " * 14
        )
        if sample.get("raw_row"):
            lines += _wrap(loaded_row(sample["raw_row"], lang), " " * 14)
    return lines


def format_runs(runs: list[dict[str, Any]], lang: Lang = "en") -> str:
    """The text an auditor reads, in plain words (quality/plain_words.py), at most WIDTH columns
    a line, paths relative to the project: per run, per word, each expectation and, for each
    failure, why, what was observed against the bar and the feed rows behind it."""
    lines: list[str] = []
    for run in runs:
        lines += _wrap(_run_header(run, lang), "", "    ")
        if run.get("operator_actions"):
            lines.append(
                pick(
                    lang,
                    "  operator actions since the previous gate run (audit.file_events):",
                    "  thao tác của người vận hành từ lần kiểm tra trước (audit.file_events):",
                )
            )
            for event in run["operator_actions"]:
                lines += _event_lines(event, lang, "    ")
        by_word: dict[str, list[dict[str, Any]]] = {}
        for result in run["results"]:
            by_word.setdefault(result["word"], []).append(result)
        for word, results in by_word.items():
            failed = sum(1 for result in results if not result["success"])
            severity = severity_name(results[0]["severity"], lang)
            if lang == "vi":
                state = "đạt" if not failed else f"{failed} không đạt"
                summary = f"{word_name(word, lang)} ({severity}): {len(results)} kiểm tra, {state}"
            else:
                state = "pass" if not failed else f"{failed} failed"
                summary = f"{word} ({severity}): {len(results)} checks, {state}"
            lines += _wrap(summary, "  ")
            for result in results:
                lines += _result_lines(result, lang)
        if run["data_docs_path"]:
            lines += _wrap(f"  Data Docs: {shown_path(run['data_docs_path'])}", "", "    ")
    return "\n".join(lines)


def runs_as_json(runs: list[dict[str, Any]]) -> str:
    """Everything `audit_runs` read, as stored (raw arguments, samples, loaded rows)."""
    return json.dumps(runs, ensure_ascii=False, default=str, indent=2)
