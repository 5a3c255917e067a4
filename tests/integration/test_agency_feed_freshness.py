"""A late or missing feed is visible per agency: marts.agency_feed_freshness on the demo feeds.

The demo feeds are ingested once, then dbt is built for three run dates (the mart is rebuilt each
time, so every date's rows are captured right after its build). The demo reports every 14 days,
ending on 2025-12-15, and skips some agencies' dates (demo_feeds.SKIPPED_REPORTS), so the expected
lateness follows from its schedule, not from hard-coded agency lists.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import psycopg
import pytest

from r71_tracker import status, transform
from r71_tracker.demo_dictionaries import DICTIONARIES
from r71_tracker.demo_feeds import (
    AGENCY_LAST_REPORT,
    BAD_ROW_PLAN,
    LATEST_REPORT_DATE,
    REPORT_INTERVAL_DAYS,
    SKIPPED_REPORTS,
    read_registry,
    write_demo_feeds,
)
from r71_tracker.feeds.ingest import ingest_paths

pytestmark = pytest.mark.integration

AFTER_LATEST = date(2025, 12, 30)  # 15 days after the last demo report
AFTER_SKIP = date(2025, 12, 5)  # MOFA skipped its 2025-12-01 report
SKIPPED_DATE = date(2025, 12, 1)
# A limit other than the default for one build proves TRACKER_FRESHNESS_MAX_AGE_DAYS reaches dbt.
AFTER_SKIP_MAX_AGE_DAYS = 17
DEFAULT_MAX_AGE_DAYS = 14


def _mart_rows(url: str) -> dict[str, dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute("select * from marts.agency_feed_freshness").fetchall()
    return {row["agency_code"]: row for row in rows}


def _reported_on_run_date(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from marts.database_current_status where not is_unreported"
        ).fetchone()[0]


@pytest.fixture(scope="module")
def freshness(tracker_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Demo feeds loaded; mart rows per run date; status rows and table on AFTER_SKIP."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_DATABASE_URL", tracker_db_url)
        patch.setenv("TRACKER_LOCAL_DIR", str(tmp_path_factory.mktemp("local")))
        with psycopg.connect(tracker_db_url) as conn:
            conn.execute(
                "truncate raw.status_reports, raw.field_reports, raw.rejected_rows, raw.feed_files"
                " restart identity"
            )
        ingest_paths(write_demo_feeds(tmp_path_factory.mktemp("feeds")), tracker_db_url)
        captured: dict = {}

        patch.setenv("TRACKER_FRESHNESS_MAX_AGE_DAYS", str(AFTER_SKIP_MAX_AGE_DAYS))
        transform.build(tracker_db_url, AFTER_SKIP)
        captured[AFTER_SKIP] = _mart_rows(tracker_db_url)
        captured["status_rows"] = status.agency_feed_status(tracker_db_url)
        captured["status_table"] = status.format_agency_feed_status(captured["status_rows"])

        patch.setenv("TRACKER_FRESHNESS_MAX_AGE_DAYS", str(DEFAULT_MAX_AGE_DAYS))
        transform.build(tracker_db_url, AFTER_LATEST)
        captured[AFTER_LATEST] = _mart_rows(tracker_db_url)

        transform.build(tracker_db_url, LATEST_REPORT_DATE)
        captured[LATEST_REPORT_DATE] = _mart_rows(tracker_db_url)
        captured["reported_on_latest"] = _reported_on_run_date(tracker_db_url)
    return captured


def test_every_agency_owning_a_registry_database_appears_once(freshness: dict) -> None:
    owned = Counter(database.agency_code for database in read_registry())
    rows = freshness[LATEST_REPORT_DATE]
    assert set(rows) == set(owned)
    assert {code: row["databases_owned"] for code, row in rows.items()} == dict(owned)
    assert {row["as_of_date"] for row in rows.values()} == {LATEST_REPORT_DATE}
    # the databases each agency reported add up to the reported databases of the current status
    reported = sum(row["databases_reported"] for row in rows.values())
    assert reported == freshness["reported_on_latest"]


def test_only_the_agency_that_stopped_reporting_is_late_on_the_latest_report_date(
    freshness: dict,
) -> None:
    # every other agency reports on the last demo date (no skip falls on it)
    assert all(day != LATEST_REPORT_DATE for _, day in SKIPPED_REPORTS)
    assert AGENCY_LAST_REPORT == {"OOG": date(2025, 11, 3)}
    for code, row in freshness[LATEST_REPORT_DATE].items():
        last = AGENCY_LAST_REPORT.get(code, LATEST_REPORT_DATE)
        assert row["last_report_date"] == last, code
        assert row["days_since_last_report"] == (LATEST_REPORT_DATE - last).days, code
        assert row["is_late"] is (code in AGENCY_LAST_REPORT), code
        assert row["freshness_max_age_days"] == DEFAULT_MAX_AGE_DAYS
        assert row["last_received_at"] is not None, code


def test_files_and_rejected_rows_are_counted_per_agency(freshness: dict) -> None:
    # a duplicated database is two rows in its file, and both are rejected
    expected = Counter()
    for bad in BAD_ROW_PLAN:
        expected[bad.agency_code] += 2 if bad.reason == "duplicate_database_in_file" else 1
    # the data dictionaries' bad rows count for their agency too: a field listed twice (both
    # rows), a boolean the contract does not accept
    for database, fields in DICTIONARIES.items():
        listed = Counter(field.name.casefold() for field in fields)
        expected[database.split("-")[0]] += sum(
            1
            for field in fields
            if listed[field.name.casefold()] > 1 or isinstance(field.is_original_source, str)
        )
    rows = freshness[LATEST_REPORT_DATE]
    assert {code: row["rows_rejected"] for code, row in rows.items() if row["rows_rejected"]} == (
        +expected  # agencies with a count
    )
    assert all(row["files_received"] > 0 for row in rows.values())
    assert all(row["files_rejected"] == 0 for row in rows.values())


def test_every_agency_is_late_fifteen_days_after_the_last_report(freshness: dict) -> None:
    rows = freshness[AFTER_LATEST]
    assert (AFTER_LATEST - LATEST_REPORT_DATE).days == DEFAULT_MAX_AGE_DAYS + 1
    for code, row in rows.items():
        last = AGENCY_LAST_REPORT.get(code, LATEST_REPORT_DATE)
        assert row["last_report_date"] == last, code
        assert row["days_since_last_report"] == (AFTER_LATEST - last).days, code
        assert row["is_late"] is True, code
        assert row["as_of_date"] == AFTER_LATEST


def test_a_skipped_report_leaves_the_previous_date_and_makes_the_agency_late(
    freshness: dict,
) -> None:
    skipped = {agency for agency, day in SKIPPED_REPORTS if day == SKIPPED_DATE}
    assert skipped == {"MOFA"}
    previous = SKIPPED_DATE - timedelta(days=REPORT_INTERVAL_DAYS)
    rows = freshness[AFTER_SKIP]
    mofa = rows["MOFA"]
    assert (mofa["last_report_date"], mofa["days_since_last_report"]) == (previous, 18)
    assert mofa["is_late"] is True
    assert mofa["freshness_max_age_days"] == AFTER_SKIP_MAX_AGE_DAYS
    for code, last in AGENCY_LAST_REPORT.items():
        assert (rows[code]["last_report_date"], rows[code]["is_late"]) == (last, True)
    for code, row in rows.items():
        if code in skipped or code in AGENCY_LAST_REPORT:
            continue
        # a report dated on or before the run date counts even when its file came later (MOHA)
        assert (row["last_report_date"], row["days_since_last_report"]) == (SKIPPED_DATE, 4), code
        assert row["is_late"] is False, code


def test_status_lists_late_agencies_first_in_a_readable_table(freshness: dict) -> None:
    rows = freshness["status_rows"]
    # the longest silent first: OOG stopped after 2025-11-03, MOFA skipped 2025-12-01
    assert [row["agency_code"] for row in rows if row["is_late"]] == ["OOG", "MOFA"]
    assert rows[1]["agency_code"] == "MOFA"
    assert rows[1]["last_report_date"] == "2025-11-17"
    table = freshness["status_table"]
    assert f"as of {AFTER_SKIP.isoformat()}: 2 of {len(rows)} late" in table
    mofa_line = next(line for line in table.splitlines() if " MOFA " in line)
    assert mofa_line.split()[:5] == ["LATE", "MOFA", "3/3", "2025-11-17", "18"]
