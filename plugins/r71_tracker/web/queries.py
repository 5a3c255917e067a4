"""What each page reads: the published marts, the audit trail and the raw feed rows behind them.

Every function takes an open connection (the pages connect as `tracker_auditor`: read only, at
the database) and returns plain dicts and lists for the templates, or None when what was asked
for does not exist. The database page reads by index only (marts.stage_history and
marts.database_reports by database code; the feed line by its file's chunks), so its time does not
grow with the years of history; `make bench` checks it with EXPLAIN.
"""

from __future__ import annotations

import gzip
from typing import Any, NamedTuple

import psycopg

from r71_tracker import database, publication
from r71_tracker.feeds.chunks import CHUNK_BYTES

STAGES = ("centralized", "in_progress", "not_started")
# The most rows a page lists where a registry or a history can be long; the page says so when it
# stops there (the marts and `tracker` commands have the rest).
PAGE_ROWS = 500
# The most bytes of a file read to find one of its lines (the file's verbatim chunks are read in
# order until the line ends): a line past this is named, not shown.
LINE_SEARCH_BYTES = 64 * CHUNK_BYTES
LINE_SHOWN_CHARS = 4096
# The overview's series: every day while the history spans at most this many days, else one day
# a week counted back from the latest (always kept: the page's counts are its row), so ten years
# are 522 points of a chart a few hundred pixels wide, not 3,652 (and 3 MB of page).
CHART_DAILY_DAYS = 731
_CHART_DAYS = (
    "mod((select max(status_date) from {table}) - status_date, case when"
    " (select max(status_date) - min(status_date) from {table}) > %s then 7 else 1 end) = 0"
)


def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    return database.dict_rows(conn.execute(query, params))


class Table(NamedTuple):
    """Rows a page lists, as the JSON PostgreSQL writes (an array of objects keyed by column:
    dates as 2025-12-15, times in UTC as 2025-12-15T04:00:00+00:00), and how many there are.

    The page carries them as they are and the browser draws the table (static/tables.js):
    formatting hundreds of rows in Python and Jinja cost several times the query that read them.
    """

    json: str
    length: int


def _listed(conn: psycopg.Connection, query: str, params: Any = None) -> Table:
    row = conn.execute(
        f"select coalesce(json_agg(listed), '[]')::text, count(*) from ({query}) as listed",
        params,
    ).fetchone()
    assert row is not None  # an aggregate always returns its row
    return Table(row[0], row[1])


def _row(conn: psycopg.Connection, query: str, params: Any = None) -> dict[str, Any] | None:
    rows = _rows(conn, query, params)
    return rows[0] if rows else None


def publication_state(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The last publication: its gate run, data date and when it was published."""
    return _row(
        conn,
        "select p.publication_id, p.gate_run_id, p.published_at, g.run_date, g.warnings,"
        " g.dag_run_id from audit.publications p join audit.gate_runs g"
        " on g.run_id = p.gate_run_id order by p.publication_id desc limit 1",
    )


def overview(conn: psycopg.Connection) -> dict[str, Any]:
    """The published date's stage counts, the series behind the charts, the last run's verdict
    and the held agencies."""
    published = publication_state(conn)
    today = _row(
        conn,
        "select status_date, total_count, centralized_count, in_progress_count,"
        " not_started_count, unreported_count from marts.stage_summary"
        " order by status_date desc limit 1",
    )
    # the charts' series, long form (one row per day and stage), as the charts' JSON
    stages = _listed(
        conn,
        "select s.status_date, v.stage, v.stage_order, v.databases from marts.stage_summary s"
        " cross join lateral (values ('centralized', 0, s.centralized_count),"
        " ('in_progress', 1, s.in_progress_count), ('not_started', 2, s.not_started_count))"
        " as v (stage, stage_order, databases)"
        f" where {_CHART_DAYS.format(table='marts.stage_summary')}"
        " order by s.status_date, v.stage_order",
        (CHART_DAILY_DAYS,),
    )
    burndown = _listed(
        conn,
        "select status_date, databases_not_centralized, ideal_not_centralized"
        " from marts.deadline_burndown"
        f" where {_CHART_DAYS.format(table='marts.deadline_burndown')} order by status_date",
        (CHART_DAILY_DAYS,),
    )
    # by month: the charts draw one bar a month (the first day of the month stands for it)
    quarantine_rows = (
        "select date_trunc('month', f.received_at)::date as received_on, {key},"
        " count(*) as rows_rejected from raw.rejected_rows r join raw.feed_files f"
        " using (file_id) group by 1, 2 order by 1, 2"
    )
    by_reason = _listed(conn, quarantine_rows.format(key="r.reason_code"))
    by_agency = _listed(
        conn, quarantine_rows.format(key="coalesce(f.agency_code, '?') as agency_code")
    )
    latest_run = _row(
        conn,
        "select run_id, dag_run_id, run_date, success, blocking_failures, national_failures,"
        " warnings, finished_at from audit.gate_runs order by finished_at desc limit 1",
    )
    lights = _rows(
        conn,
        "select agency_code, agency_name_vi, agency_name_en, traffic_light from"
        " marts.agency_scorecard order by case traffic_light when 'RED' then 0"
        " when 'YELLOW' then 1 else 2 end, agency_code",
    )
    duplicated = _listed(
        conn,
        "select field_name, finding_vi, finding_en, collecting_database_codes,"
        " databases_collecting from marts.duplicated_fields"
        " order by databases_collecting desc, field_name limit %s",
        (PAGE_ROWS,),
    )
    return {
        "published": published,
        "duplicated": duplicated,
        "today": today,
        "series": {
            "stages": stages,
            "burndown": burndown,
            "reason_code": by_reason,
            "agency_code": by_agency,
        },
        "latest_run": latest_run,
        "held": publication.held_agencies(conn),
        "lights": lights,
    }


def agency(conn: psycopg.Connection, code: str) -> dict[str, Any] | None:
    """An agency's light and why, its databases (reported and verified stage, the rule that
    differs), its files with counts and verdicts, whether it is late or held."""
    card = _row(conn, "select * from marts.agency_scorecard where agency_code = %s", (code,))
    if card is None:
        return None
    databases = _listed(
        conn,
        "select c.database_code, c.database_name_vi, c.database_name_en, c.stage as"
        " reported_stage, v.verified_stage, v.downgrade_reason_vi, v.downgrade_reason_en,"
        " c.effective_report_date, c.evidence_file_id, c.evidence_line_number,"
        " c.evidence_file_name, f.feed_format as evidence_feed_format, r.risk_reason_vi,"
        " r.risk_reason_en, r.deadline_date, r.days_left from marts.database_current_status c"
        " left join marts.database_verified_stage v using (database_code)"
        " left join marts.database_deadline_risk r using (database_code)"
        " left join raw.feed_files f on f.file_id = c.evidence_file_id"
        " where c.owner_agency_code = %s order by c.database_code",
        (code,),
    )
    files = _listed(
        conn,
        "select l.file_id, l.original_name, l.feed_format, l.feed_kind, l.file_status,"
        " l.file_reason_code, l.file_state, l.rows_received, l.rows_loaded, l.rows_rejected,"
        " l.received_at, v.verdict, v.rule as verdict_rule from marts.feed_file_loads l"
        " left join audit.file_verdicts v using (file_id) where l.agency_code = %s"
        " order by l.received_at desc, l.file_id desc limit %s",
        (code, PAGE_ROWS),
    )
    freshness = _row(
        conn, "select * from marts.agency_feed_freshness where agency_code = %s", (code,)
    )
    held = [entry for entry in publication.held_agencies(conn) if entry["agency_code"] == code]
    return {
        "card": card,
        "databases": databases,
        "files": files,
        "files_capped": files.length == PAGE_ROWS,
        "freshness": freshness,
        "held": held[0] if held else None,
    }


def database_page(conn: psycopg.Connection, code: str) -> dict[str, Any] | None:
    """A database's current and verified stage, its stage timeline (the days it moved), every
    report row received for it with its file and line, and the fields it collects."""
    current = _row(
        conn,
        "select c.*, v.verified_stage, v.downgrade_reason_vi, v.downgrade_reason_en,"
        " r.risk_reason_vi, r.risk_reason_en, r.days_left from marts.database_current_status c"
        " left join marts.database_verified_stage v using (database_code)"
        " left join marts.database_deadline_risk r using (database_code)"
        " where c.database_code = %s",
        (code,),
    )
    if current is None:
        return None
    # the days its stage changed: by index on (database_code, status_date)
    timeline = _listed(
        conn,
        "select m.status_date, m.stage, m.is_unreported, m.effective_report_date,"
        " m.evidence_file_id, m.evidence_line_number, f.feed_format as evidence_feed_format"
        " from (select *, lag(stage) over (order by status_date) as previous_stage"
        " from marts.stage_history where database_code = %s) m"
        " left join raw.feed_files f on f.file_id = m.evidence_file_id"
        " where m.previous_stage is distinct from m.stage order by m.status_date",
        (code,),
    )
    # the verified stage as each publication showed it: by index on (database_code, valid_from)
    verified = Table("[]", 0)
    snapshot = database.scalar(conn, "select to_regclass('marts.database_verified_snapshots')")
    if snapshot is not None:  # dbt creates it with the first publication's snapshot
        verified = _listed(
            conn,
            "select as_of_date, reported_stage, verified_stage, downgrade_reason_vi,"
            " downgrade_reason_en, dbt_valid_from as published_at"
            " from marts.database_verified_snapshots where database_code = %s"
            " order by dbt_valid_from",
            (code,),
        )
    # every report row received, newest first: by index on (database_code, report_date)
    reports = _listed(
        conn,
        "select report_date, file_id, line_number, original_name, feed_format, received_at,"
        " platform_status, data_status, record_count, records_updated_30d, consumer_agencies,"
        " notes from marts.database_reports where database_code = %s"
        " order by report_date desc, received_at desc, file_id desc, line_number desc limit %s",
        (code, PAGE_ROWS),
    )
    fields = _listed(
        conn,
        "select field_name, field_type, is_original_source, is_duplicated,"
        " databases_collecting, finding from marts.database_fields where database_code = %s"
        " order by is_duplicated desc, field_name",
        (code,),
    )
    evidence = None
    if current.get("evidence_file_id") is not None:
        evidence = feed_line(conn, current["evidence_file_id"], current["evidence_line_number"])
    return {
        "current": current,
        "timeline": timeline,
        "verified": verified,
        "reports": reports,
        "reports_capped": reports.length == PAGE_ROWS,
        "fields": fields,
        "evidence": evidence,
    }


def feed_line(conn: psycopg.Connection, file_id: int, line_number: int) -> dict[str, Any] | None:
    """One line of a received file as it was received (CSV line numbers count from 1 with the
    header; a JSON feed's rows are entries of its list, shown as the entry's stored row)."""
    file = _row(
        conn,
        "select file_id, original_name, feed_format, sha256, size_bytes, received_at,"
        " agency_code from raw.feed_files where file_id = %s",
        (file_id,),
    )
    if file is None:
        return None
    file["line_number"] = line_number
    file["text"] = None
    file["rejected"] = _row(
        conn,
        "select reason_code, message, raw_record from raw.rejected_rows"
        " where file_id = %s and line_number = %s",
        (file_id, line_number),
    )
    if file["rejected"] and file["rejected"]["raw_record"] is not None:
        file["text"] = file["rejected"]["raw_record"]
    elif file["feed_format"] == "csv":
        file["text"] = _csv_line(conn, file["sha256"], line_number)
    return file


def _csv_line(conn: psycopg.Connection, sha256: str, line_number: int) -> str | None:
    """Line `line_number` (1 = the header) of a stored CSV file, read chunk by chunk from the
    start (a quoted field spanning lines is shown as the physical line); None past the bound."""
    seen = 0
    tail = b""
    read = 0
    cursor = conn.execute(
        "select compressed from raw.feed_file_chunks where sha256 = %s order by chunk_number",
        (sha256,),
    )
    for (compressed,) in cursor:
        data = gzip.decompress(compressed)
        if read == 0 and data[:2] == b"\x1f\x8b":  # a gzip feed: its text is inside
            return None
        read += len(data)
        lines = (tail + data).split(b"\n")
        tail = lines.pop()
        if seen + len(lines) >= line_number:
            line = lines[line_number - seen - 1]
            return line.rstrip(b"\r").decode("utf-8", "replace")[:LINE_SHOWN_CHARS]
        seen += len(lines)
        if read >= LINE_SEARCH_BYTES:
            return None
    if tail and seen + 1 == line_number:
        return tail.rstrip(b"\r").decode("utf-8", "replace")[:LINE_SHOWN_CHARS]
    return None


def quality_runs(conn: psycopg.Connection) -> Table:
    """Every gate run, newest first, with whether it was published."""
    return _listed(
        conn,
        "select g.run_id, g.dag_run_id, g.run_date, g.finished_at, g.success,"
        " g.blocking_failures, g.national_failures, g.warnings, p.published_at"
        " from audit.gate_runs g left join audit.publications p on p.gate_run_id = g.run_id"
        " order by g.finished_at desc limit %s",
        (PAGE_ROWS,),
    )


def quality_run(conn: psycopg.Connection, run_id: str) -> dict[str, Any] | None:
    """A gate run: its verdict, each expectation's result, its held files and the operator
    actions (withdraw, restore) recorded since it started."""
    run = _row(
        conn,
        "select g.*, p.published_at from audit.gate_runs g left join audit.publications p"
        " on p.gate_run_id = g.run_id where g.run_id = %s or g.dag_run_id = %s"
        " order by g.finished_at desc limit 1",
        (run_id, run_id),
    )
    if run is None:
        return None
    results = _rows(
        conn,
        "select run_id, result_id, word, severity, suite_name, expectation_type,"
        " expectation_kwargs, expectation_notes, expectation_notes_vi, success, observed_value,"
        " unexpected_count, unexpected_rows from audit.expectation_results where run_id = %s"
        " order by result_id",
        (run["run_id"],),
    )
    held = _rows(
        conn,
        "select v.file_id, f.original_name, v.agency_code, v.rule, v.reason, v.failing_rows"
        " from audit.file_verdicts v join raw.feed_files f using (file_id)"
        " where v.gate_run_id = %s and v.verdict = 'held' order by v.file_id",
        (run["run_id"],),
    )
    # the operators' withdraw / restore events this run's build took in: recorded after the
    # previous gate run ended and before this one started (as `tracker audit` lists them)
    events = _rows(
        conn,
        "select e.event_id, e.file_id, f.original_name, e.action, e.actor, e.reason,"
        " e.acted_at from audit.file_events e join raw.feed_files f using (file_id)"
        " where e.acted_at <= %(started)s and e.acted_at > coalesce((select max(finished_at)"
        " from audit.gate_runs where finished_at < %(started)s), '-infinity')"
        " order by e.event_id",
        {"started": run["started_at"]},
    )
    return {"run": run, "results": results, "held": held, "events": events}
