"""Stage counts on a date, read from the stage_summary mart of the last publication.

The mart has one row per day from Resolution 71 (2025-04-01) to the date the last publication
judged. After its last day nothing new was published, so the as-of rule gives that day's stages;
before its first day nothing was reported, so every registry database is not started and
unreported. What the commands here read is always the published marts (a failed run changes
nothing here) unless a candidate is named: what a run built, judged or not, for inspection.
"""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg import sql

from r71_tracker import database, publication

STAGES = ("centralized", "in_progress", "not_started")


class StatusUnavailable(RuntimeError):
    """The marts are not built yet."""


def stage_counts(url: str, as_of: date | None = None, schema: str = "marts") -> dict:
    """`{"as_of", "total", "stages", "unreported", "held_agencies"}` on `as_of` (default: the
    date the last publication judged), from the published marts or the candidate `schema`."""
    try:
        with database.connect(url) as conn:
            counts = _stage_counts(conn, as_of, schema)
            counts["held_agencies"] = [
                agency["agency_code"] for agency in publication.held_agencies(conn)
            ]
            return counts
    except psycopg.errors.UndefinedTable as error:
        raise StatusUnavailable(
            f"the stage marts are not built yet in {schema}: run `tracker build`"
            " (or `make demo`) first"
        ) from error


def _stage_counts(conn: psycopg.Connection, as_of: date | None, schema: str) -> dict:
    summary = sql.Identifier(schema, "stage_summary")
    if as_of is None:
        as_of = database.scalar(conn, sql.SQL("select max(status_date) from {}").format(summary))
        if as_of is None:
            raise StatusUnavailable("nothing is published yet: run `tracker build` first")
    row = conn.execute(
        sql.SQL(
            """
        select status_date, total_count, centralized_count, in_progress_count,
               not_started_count, unreported_count
        from {}
        where status_date <= %s
        order by status_date desc
        limit 1
        """
        ).format(summary),
        (as_of,),
    ).fetchone()
    if row is None:
        total = database.scalar(conn, "select count(*) from staging.registry_databases")
        counts, unreported = (0, 0, total), total
    else:
        total, counts, unreported = row[1], row[2:5], row[5]
    return {
        "as_of": as_of.isoformat(),
        "total": total,
        "stages": dict(zip(STAGES, counts, strict=True)),
        "unreported": unreported,
    }


def format_counts(counts: dict) -> str:
    """The human form of stage_counts()."""
    stages = counts["stages"]
    return (
        f"Resolution 71 databases as of {counts['as_of']}: {counts['total']} in the registry\n"
        f"  centralized   {stages['centralized']:>4}\n"
        f"  in progress   {stages['in_progress']:>4}\n"
        f"  not started   {stages['not_started']:>4}  (of which unreported: {counts['unreported']})"
        + (
            f"\n  held agencies: {', '.join(counts['held_agencies'])} (their new files are held"
            " back; see tracker feeds)"
            if counts.get("held_agencies")
            else ""
        )
    )


AGENCY_FEED_COLUMNS = (
    "agency_code",
    "agency_name_vi",
    "agency_name_en",
    "databases_owned",
    "databases_reported",
    "files_received",
    "files_rejected",
    "rows_rejected",
    "last_report_date",
    "last_received_at",
    "days_since_last_report",
    "freshness_max_age_days",
    "is_late",
    "as_of_date",
)


def agency_feed_status(url: str) -> list[dict]:
    """One dict per agency from the published marts.agency_feed_freshness, late agencies first,
    with whether it is held (`is_held`, `held_files`: file, rule, failing rows, since which run).

    Dates and times are ISO strings so the rows serialise as JSON unchanged. Never-reported
    agencies lead, then the oldest last reports, so the feed to chase is at the top.
    """
    query = f"""
        select {", ".join(AGENCY_FEED_COLUMNS)}
        from marts.agency_feed_freshness
        order by is_late desc, days_since_last_report desc nulls first, agency_code
    """
    try:
        with database.connect(url) as conn:
            rows = conn.execute(query).fetchall()
            held = {agency["agency_code"]: agency for agency in publication.held_agencies(conn)}
    except psycopg.errors.UndefinedTable as error:
        raise StatusUnavailable(
            "the agency freshness mart is not built yet: run `tracker build` (or `make demo`) first"
        ) from error
    agencies = []
    for row in rows:
        agency = {
            column: value.isoformat() if isinstance(value, date) else value
            for column, value in zip(AGENCY_FEED_COLUMNS, row, strict=True)
        }
        agency["is_held"] = agency["agency_code"] in held
        agency["held_files"] = held.get(agency["agency_code"], {}).get("files", [])
        agencies.append(agency)
    return agencies


def format_agency_feed_status(rows: list[dict]) -> str:
    """The human form of agency_feed_status(): one line per agency, late ones marked."""
    if not rows:
        return "No agency owns a registry database: nothing to report."
    first = rows[0]
    late = sum(1 for row in rows if row["is_late"])
    lines = [
        f"Feeds per agency as of {first['as_of_date']}: {late} of {len(rows)} late"
        f" (no report, or the last one older than {first['freshness_max_age_days']} days)",
        f"  {'status':<6} {'agency':<8} {'reported':>8} {'last report':<11} {'days':>5}"
        f" {'files':>5} {'rejected':>8} {'rows rej.':>9}  name",
    ]
    held = [row for row in rows if row.get("is_held")]
    if held:
        lines[0] += f"; {len(held)} held"
    for row in rows:
        reported = f"{row['databases_reported']}/{row['databases_owned']}"
        days = "-" if row["days_since_last_report"] is None else row["days_since_last_report"]
        state = "HELD" if row.get("is_held") else "LATE" if row["is_late"] else "ok"
        lines.append(
            f"  {state:<6} {row['agency_code']:<8} {reported:>8}"
            f" {row['last_report_date'] or 'never':<11} {days:>5} {row['files_received']:>5}"
            f" {row['files_rejected']:>8} {row['rows_rejected']:>9}  {row['agency_name_en'] or ''}"
        )
    for row in held:
        for file in row["held_files"]:
            lines.append(
                f"  held: {row['agency_code']} file {file['file_id']} {file['file_name']}:"
                f" {file['reason']} (gate run {file['gate_run_id']}; tracker files show"
                f" {file['file_id']})"
            )
    return "\n".join(lines)


def quarantine_counts(url: str) -> dict[str, int]:
    """Rows quarantined so far, by reason code (whole-file rejections under their file reason)."""
    with database.connect(url) as conn:
        rows = conn.execute(
            """
            select reason_code, count(*) from raw.rejected_rows group by reason_code
            union all
            select file_reason_code, count(*) from raw.feed_files
            where file_status = 'rejected' group by file_reason_code
            order by 1
            """
        ).fetchall()
    return dict(rows)
