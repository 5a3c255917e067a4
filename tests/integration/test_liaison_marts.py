"""The marts ministry liaisons read (issue 4), on the demo data: verified stages with every
downgrade reason, deadline risk, every colour of the agency scorecard, duplicated fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import empty_tracker_tables

from r71_tracker import status, transform
from r71_tracker.demo_dictionaries import EXPECTED_DUPLICATED_FIELDS
from r71_tracker.demo_feeds import (
    AGENCY_LAST_REPORT,
    EXPECTED_STAGE_COUNTS,
    LATEST_REPORT_DATE,
    VERIFICATION_CASES,
    verification_cases,
    write_demo_feeds,
)
from r71_tracker.feeds.ingest import ingest_paths

pytestmark = pytest.mark.integration


def _rows(url: str, query: str) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture(scope="module")
def demo_built(tracker_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_DATABASE_URL", tracker_db_url)
        patch.setenv("TRACKER_LOCAL_DIR", str(tmp_path_factory.mktemp("local")))
        empty_tracker_tables(tracker_db_url)
        ingest_paths(write_demo_feeds(tmp_path_factory.mktemp("feeds")), tracker_db_url)
        transform.build(tracker_db_url, LATEST_REPORT_DATE)
    return tracker_db_url


def test_every_downgrade_reason_shows_and_only_where_the_demo_broke_it(demo_built: str) -> None:
    rows = _rows(demo_built, "select * from marts.database_verified_stage")
    assert len(rows) == sum(EXPECTED_STAGE_COUNTS.values())
    reported = {stage: 0 for stage in EXPECTED_STAGE_COUNTS}
    for row in rows:
        reported[row["reported_stage"]] += 1
    assert reported == dict(EXPECTED_STAGE_COUNTS)  # verification never changes what was reported
    downgraded = {
        row["database_code"]: row["downgrade_rule_codes"] for row in rows if row["is_downgraded"]
    }
    assert downgraded == verification_cases()
    assert sorted(downgraded.values()) == sorted(VERIFICATION_CASES)
    for row in rows:
        if row["is_downgraded"]:
            assert (row["reported_stage"], row["verified_stage"]) == ("centralized", "in_progress")
            assert row["downgrade_reason_en"] and row["downgrade_reason_vi"]


def test_every_colour_shows_with_its_reasons(demo_built: str) -> None:
    rows = {
        row["agency_code"]: row for row in _rows(demo_built, "select * from marts.agency_scorecard")
    }
    assert {row["traffic_light"] for row in rows.values()} == {"GREEN", "YELLOW", "RED"}
    for code in AGENCY_LAST_REPORT:  # stopped reporting 42 days before the run date
        assert (rows[code]["traffic_light"], rows[code]["light_reason_codes"]) == ("RED", "silent")
    downgraded_owners = {code.split("-")[0] for code in verification_cases()}
    for code in downgraded_owners:
        assert rows[code]["traffic_light"] in {"YELLOW", "RED"}
        assert rows[code]["databases_downgraded"] >= 1
    for row in rows.values():
        assert (row["traffic_light"] == "GREEN") == (row["light_reason_codes"] is None)


def _codes(listed: str | None) -> list[str]:
    return listed.split(", ") if listed else []


def test_every_light_says_why_in_both_languages_with_its_numbers_and_databases(
    demo_built: str,
) -> None:
    """A light's reason is the rule that set it with its threshold filled in, the count and the
    codes of the databases concerned, in Vietnamese and in English (issue 13)."""
    scorecard = _rows(demo_built, "select * from marts.agency_scorecard")
    at_risk, downgraded = {}, {}
    for row in _rows(demo_built, "select * from marts.database_deadline_risk where is_at_risk"):
        at_risk.setdefault(row["owner_agency_code"], []).append(row["database_code"])
    for row in _rows(demo_built, "select * from marts.database_verified_stage where is_downgraded"):
        downgraded.setdefault(row["owner_agency_code"], []).append(row["database_code"])
    lit = [row for row in scorecard if row["traffic_light"] != "GREEN"]
    assert lit
    for row in lit:
        english, vietnamese = row["light_reason_en"], row["light_reason_vi"]
        assert english and vietnamese and english != vietnamese
        for text in (english, vietnamese):
            assert not {"`", "{", "}"} & set(text) and "threshold" not in text, text
        assert english.startswith(f"{row['traffic_light']}: ")
        assert vietnamese.startswith({"RED": "ĐỎ: ", "YELLOW": "VÀNG: "}[row["traffic_light"]])
        assert row["light_rule_code"] == _codes(row["light_reason_codes"])[0]
    yellow = [row for row in lit if row["traffic_light"] == "YELLOW"]
    assert yellow
    for row in yellow:
        concerned: set[str] = set()
        for rule, databases in (
            ("database_at_risk", at_risk.get(row["agency_code"], [])),
            ("verified_below_reported", downgraded.get(row["agency_code"], [])),
        ):
            if rule not in _codes(row["light_reason_codes"]):
                continue
            listed = f"({', '.join(sorted(databases))})"
            owned = row["databases_owned"]
            assert f"{len(databases)} of {owned} databases {listed}" in row["light_reason_en"]
            assert (
                f"{len(databases)} trong số {owned} cơ sở dữ liệu {listed}"
                in (row["light_reason_vi"])
            )
            concerned |= set(databases)
        assert _codes(row["light_database_codes"]) == sorted(concerned)
    silent = {row["agency_code"]: row for row in lit if row["light_rule_code"] == "silent"}
    assert set(silent) == set(AGENCY_LAST_REPORT)
    for code, last in AGENCY_LAST_REPORT.items():
        days = (LATEST_REPORT_DATE - last).days
        assert silent[code]["light_reason_en"] == (
            f"RED: no report for {days} days, the last on {last.isoformat()}"
            " (at most 30 days allowed)"
        )
        assert silent[code]["light_reason_vi"] == (
            f"ĐỎ: không gửi báo cáo nào trong {days} ngày, lần gần nhất vào ngày"
            f" {last:%d/%m/%Y} (cho phép tối đa 30 ngày)"
        )
    # the database marts' reasons state their rules' thresholds too
    reasons = _rows(
        demo_built,
        "select risk_reason_en as en, risk_reason_vi as vi from marts.database_deadline_risk"
        " where is_at_risk union all select downgrade_reason_en, downgrade_reason_vi"
        " from marts.database_verified_stage where is_downgraded",
    )
    assert reasons
    for row in reasons:
        for text in (row["en"], row["vi"]):
            assert text and not {"`", "{", "}"} & set(text) and "threshold" not in text, text


def test_risk_counts_days_to_the_deadline_and_flags_only_unfinished_databases(
    demo_built: str,
) -> None:
    rows = _rows(demo_built, "select * from marts.database_deadline_risk")
    assert {row["days_left"] for row in rows} == {16}  # 2025-12-15 to 2025-12-31
    at_risk = [row for row in rows if row["is_at_risk"]]
    assert at_risk and all(row["verified_stage"] != "centralized" for row in at_risk)
    not_started = [row for row in rows if row["verified_stage"] == "not_started"]
    assert all("not_started_near_deadline" in row["risk_reason_codes"] for row in not_started)
    burndown = _rows(demo_built, "select * from marts.deadline_burndown order by status_date")
    assert burndown[-1]["databases_not_centralized"] == (
        sum(EXPECTED_STAGE_COUNTS.values()) - EXPECTED_STAGE_COUNTS["centralized"]
    )
    assert burndown[0]["ideal_not_centralized"] == burndown[0]["databases_not_centralized"]


def _recomputed_counts(url: str, day: date) -> dict[str, object]:
    """Stage counts on `day` straight from the raw rows, by the contract's rules, in Python:
    the effective report is the latest report_date on or before the day (the file received last,
    then the higher file id and line, wins a tie); no report counts as not started."""
    with psycopg.connect(url) as conn:
        registry = [
            row[0] for row in conn.execute("select database_code from staging.registry_databases")
        ]
        reports = conn.execute(
            "select s.database_code, s.report_date, f.received_at, s.file_id, s.line_number,"
            " s.platform_status, s.data_status, s.process_integrated"
            " from raw.status_reports s join raw.feed_files f using (file_id)"
            " where s.report_date <= %s",
            (day,),
        ).fetchall()
    effective: dict[str, tuple] = {}
    for row in reports:
        if row[0] not in effective or row[1:5] > effective[row[0]][1:5]:
            effective[row[0]] = row
    stages = {"centralized": 0, "in_progress": 0, "not_started": 0}
    for code in registry:
        report = effective.get(code)
        if report is None:
            stages["not_started"] += 1
            continue
        platform, data, process = report[5:8]
        if platform == "operational" and data == "centralized" and process:
            stages["centralized"] += 1
        elif platform == "not_started" and data == "none":
            stages["not_started"] += 1
        else:
            stages["in_progress"] += 1
    return {
        "as_of": day.isoformat(),
        "total": len(registry),
        "stages": stages,
        "unreported": len(registry) - len(effective),
    }


def test_status_as_of_any_day_agrees_with_a_recomputation_from_raw_rows(demo_built: str) -> None:
    days = [date(2025, 3, 20) + timedelta(days=step) for step in range(0, 300, 5)]
    days += [date(2025, 6, 30), LATEST_REPORT_DATE, date(2026, 1, 15)]
    for day in days:
        counts = status.stage_counts(demo_built, day)
        assert counts.pop("held_agencies") == []
        assert counts == _recomputed_counts(demo_built, day), day
    # and through the command operators run
    done = subprocess.run(
        [str(Path(sys.executable).parent / "tracker"), "status", "--as-of", "2025-06-30", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "TRACKER_DATABASE_URL": demo_built},
        check=True,
    )
    assert json.loads(done.stdout) == {
        **_recomputed_counts(demo_built, date(2025, 6, 30)),
        "held_agencies": [],
    }


def test_the_snapshot_keeps_what_each_run_published(demo_built: str) -> None:
    def versions() -> list[dict]:
        return _rows(
            demo_built,
            "select database_code, stage, as_of_date, dbt_valid_to"
            " from marts.database_status_snapshots",
        )

    transform.build(demo_built, date(2025, 6, 30))  # an operator rebuilds an earlier day
    transform.build(demo_built, LATEST_REPORT_DATE)  # and the latest again
    rows = versions()
    current = [row for row in rows if row["dbt_valid_to"] is None]
    assert len(current) == sum(EXPECTED_STAGE_COUNTS.values())
    assert {row["as_of_date"] for row in current} == {LATEST_REPORT_DATE}
    # every database's June publication is kept, closed when the latest was published again
    closed = [row for row in rows if row["dbt_valid_to"] is not None]
    june = {row["database_code"] for row in closed if row["as_of_date"] == date(2025, 6, 30)}
    assert len(june) == sum(EXPECTED_STAGE_COUNTS.values())


def test_duplicated_fields_list_exactly_the_demo_waste(demo_built: str) -> None:
    """Fields collected by several databases with no original source, or several claiming it;
    master data copied correctly (one original source) is not listed."""
    rows = {
        row["field_name"]: row for row in _rows(demo_built, "select * from marts.duplicated_fields")
    }
    assert {name: row["finding"] for name, row in rows.items()} == dict(EXPECTED_DUPLICATED_FIELDS)
    for row in rows.values():
        collectors = row["collecting_database_codes"].split(", ")
        assert row["databases_collecting"] == len(collectors) > 1
        assert collectors == sorted(collectors)
        claims = row["original_source_database_codes"]
        claimed = claims.split(", ") if claims else []
        assert row["original_source_claims"] == len(claimed) != 1
        assert set(claimed) <= set(collectors)
        assert row["finding_vi"] and row["finding_en"]
    # several spellings, one field: "Ngày sinh" (most), date_of_birth (SBV)
    assert "SBV-BANKING" in rows["ngay_sinh"]["collecting_database_codes"]
    assert rows["ngay_sinh"]["original_source_database_codes"] == "MOJ-CIVIL-STATUS, MPS-POPULATION"
    # only the latest dictionary counts: VSS withdrew its claim on full name on 2025-12-15
    assert "ho_va_ten" not in rows
