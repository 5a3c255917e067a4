"""GX suite for marts.database_current_status: the table the 31 / 36 / 38 headline is read from.

dbt tests guard the model's contract inside the build; this suite is the gate an auditor reads:
it checks the published mart against the registry file of record and against the run's own date,
so a run that would publish an incomplete, mis-coded or stale picture fails instead.

Each expectation says in `meta.serves` which of the Government's six words (correct, complete,
clean, live, unified, shared) it protects and in `notes` why; both show in the Data Docs.
"""

from __future__ import annotations

from datetime import date, timedelta

import great_expectations as gx
import great_expectations.expectations as gxe

SUITE_NAME = "marts.database_current_status"
TABLE_SCHEMA = "marts"
TABLE_NAME = "database_current_status"
STAGES = ("centralized", "in_progress", "not_started")
COUNT_COLUMNS = ("record_count", "records_updated_30d", "consumer_agencies")

# The mart's fixed columns (the team brief); tests check every expectation names one of these.
MART_COLUMNS = (
    "database_code",
    "owner_agency_code",
    "database_name_vi",
    "database_name_en",
    "provenance",
    "stage",
    "is_unreported",
    "platform_status",
    "data_status",
    "process_integrated",
    "connected_national",
    "record_count",
    "records_updated_30d",
    "consumer_agencies",
    "effective_report_date",
    "evidence_file_id",
    "evidence_file_name",
    "evidence_line_number",
    "as_of_date",
)


def freshness_window(run_date: date, max_age_days: int) -> tuple[date, date]:
    """The dates the latest report may carry: from run_date - max_age_days up to run_date.

    Counted back from the run's date (logical date or --date), never the wall clock, so a
    backfill judges the data as it stood on the day it is about.
    """
    if max_age_days < 0:
        raise ValueError(f"max_age_days must be >= 0, got {max_age_days}")
    return run_date - timedelta(days=max_age_days), run_date


def _meta(serves: list[str], why: str) -> dict:
    return {"serves": serves, "why": why}


def _completeness(registry_size: int) -> list[gxe.Expectation]:
    return [
        gxe.ExpectTableRowCountToEqual(
            value=registry_size,
            notes=(
                f"Complete: the mart has one row per registry database ({registry_size} in the "
                "registry file). Fewer rows hide databases from the headline counts; more rows "
                "double-count them, so the three stages no longer add up to the registry total."
            ),
            meta=_meta(["complete"], "every registry database is counted exactly once"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="database_code",
            notes=(
                "Complete: a row without a database code cannot be traced to a registry entry "
                "or to the ministry that owns it."
            ),
            meta=_meta(["complete"], "every row is attributable to a registry database"),
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column="database_code",
            notes=(
                "Clean: one row per database. A duplicate code would count one database in "
                "two stages at once."
            ),
            meta=_meta(["clean"], "no database is counted twice"),
        ),
    ]


def _code_set(registry_codes: list[str]) -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="database_code",
            value_set=registry_codes,
            notes=(
                "Unified: one code set for the whole tracker. Every code must come from the "
                "registry file the ingest validated against; an unknown code means the mart "
                "and the registry have drifted apart (e.g. a replaced registry not re-seeded)."
            ),
            meta=_meta(["unified"], "the mart and the registry use the same database codes"),
        ),
    ]


def _stages() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToNotBeNull(
            column="stage",
            notes=(
                "Complete: every database has a stage; an unreported one is not_started, never "
                "blank, so the stage counts always add up to the registry total."
            ),
            meta=_meta(["complete"], "every database is placed in exactly one stage"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="stage",
            value_set=list(STAGES),
            notes=(
                "Correct: only the three stages of the Resolution 71 report (centralized, "
                "in_progress, not_started) exist; any other value would fall outside the "
                "31 / 36 / 38 breakdown."
            ),
            meta=_meta(["correct", "unified"], "one definition of stage across ministries"),
        ),
    ]


def _counts() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column=column,
            min_value=0,
            notes=(
                f"Clean: {column} is a count and cannot be negative. Nulls are allowed: they "
                "mark databases whose ministry has not reported."
            ),
            meta=_meta(["clean", "correct"], f"{column} is a plausible count"),
        )
        for column in COUNT_COLUMNS
    ]


def _freshness(run_date: date, max_age_days: int) -> list[gxe.Expectation]:
    oldest, newest = freshness_window(run_date, max_age_days)
    return [
        gxe.ExpectColumnMaxToBeBetween(
            column="effective_report_date",
            min_value=oldest,
            max_value=newest,
            notes=(
                f"Live: the newest report behind the mart is at most {max_age_days} days old on "
                f"the run date {run_date.isoformat()} (between {oldest.isoformat()} and "
                f"{newest.isoformat()}). Older means the feeds stopped arriving; later than the "
                "run date means the mart was built for another date."
            ),
            meta=_meta(
                ["live"],
                f"feeds keep arriving: window {oldest.isoformat()}..{newest.isoformat()}",
            ),
        ),
    ]


def build_suite(
    run_date: date, max_age_days: int, registry_codes: list[str]
) -> gx.ExpectationSuite:
    """The suite for one run: the registry's codes and the run's date are part of the checks."""
    codes = sorted(set(registry_codes))
    if not codes:
        raise ValueError("registry_codes is empty: the registry file has no databases")
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            *_completeness(len(codes)),
            *_code_set(codes),
            *_stages(),
            *_counts(),
            *_freshness(run_date, max_age_days),
        ],
        meta={
            "table": f"{TABLE_SCHEMA}.{TABLE_NAME}",
            "run_date": run_date.isoformat(),
            "max_age_days": max_age_days,
            "registry_size": len(codes),
        },
    )
