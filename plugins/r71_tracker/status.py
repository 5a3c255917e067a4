"""Stage counts on a date, read from the stage_summary mart that dbt builds.

The mart has one row per day from Resolution 71 (2025-04-01) to the last date the pipeline judged.
After its last day nothing new was reported, so the as-of rule gives that day's stages; before its
first day nothing was reported, so every registry database is not started and unreported.
"""

from __future__ import annotations

from datetime import date

import psycopg

from r71_tracker import database

STAGES = ("centralized", "in_progress", "not_started")


class StatusUnavailable(RuntimeError):
    """The marts are not built yet."""


def stage_counts(url: str, as_of: date | None = None) -> dict:
    """`{"as_of", "total", "stages", "unreported"}` on `as_of` (default: latest report date)."""
    try:
        with database.connect(url) as conn:
            return _stage_counts(conn, as_of)
    except psycopg.errors.UndefinedTable as error:
        raise StatusUnavailable(
            "the stage marts are not built yet: run `tracker build` (or `make demo`) first"
        ) from error


def _stage_counts(conn: psycopg.Connection, as_of: date | None) -> dict:
    if as_of is None:
        as_of = conn.execute("select max(report_date) from raw.status_reports").fetchone()[0]
        if as_of is None:
            raise StatusUnavailable("no feed rows are loaded yet: ingest feeds first")
    row = conn.execute(
        """
        select status_date, total_count, centralized_count, in_progress_count,
               not_started_count, unreported_count
        from marts.stage_summary
        where status_date <= %s
        order by status_date desc
        limit 1
        """,
        (as_of,),
    ).fetchone()
    if row is None:
        total = conn.execute("select count(*) from staging.registry_databases").fetchone()[0]
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
    )
