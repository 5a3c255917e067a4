"""The quality gate on a real PostgreSQL mart: it passes good data, names each broken rule, keeps an
audit trail, builds Data Docs, and judges freshness by the run's date (backfills included).

The mart is created here by plain SQL with the fixed columns (dbt builds it in the pipeline).
Each GX run costs about half a second once GX is imported, so the broken cases share one table.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from r71_tracker.quality.gate import GateFailed, GateResult, enforce, registry_codes, run_gate

pytestmark = pytest.mark.integration

LATEST_REPORT = date(2025, 12, 18)
MART_DDL = """
drop schema if exists marts cascade;
create schema marts;
create table marts.database_current_status (
    database_code text,
    owner_agency_code text,
    database_name_vi text,
    database_name_en text,
    provenance text,
    stage text,
    is_unreported boolean,
    platform_status text,
    data_status text,
    process_integrated boolean,
    connected_national boolean,
    record_count bigint,
    records_updated_30d bigint,
    consumer_agencies integer,
    effective_report_date date,
    evidence_file_id bigint,
    evidence_file_name text,
    evidence_line_number integer,
    as_of_date date
)
"""
INSERT = """
insert into marts.database_current_status (database_code, stage, is_unreported, record_count,
    records_updated_30d, consumer_agencies, effective_report_date, as_of_date)
values (%s, %s, %s, %s, %s, %s, %s, %s)
"""


def _good_rows() -> list[tuple]:
    """One row per registry database, 31 / 36 / 38 by stage; the last 10 are unreported (nulls)."""
    codes = registry_codes()
    rows = []
    for index, code in enumerate(codes):
        stage = "centralized" if index < 31 else "in_progress" if index < 67 else "not_started"
        if index >= len(codes) - 10:
            rows.append((code, "not_started", True, None, None, None, None, LATEST_REPORT))
        else:
            rows.append((code, stage, False, 1000 + index, index, 3, LATEST_REPORT, LATEST_REPORT))
    return rows


def _load_mart(url: str, rows: list[tuple]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(MART_DDL)
        conn.cursor().executemany(INSERT, rows)


def _audit_rows(url: str, run_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select expectation_type, expectation_kwargs ->> 'column', success, run_date,"
            " suite_name from audit.expectation_results where run_id = %s order by result_id",
            (run_id,),
        ).fetchall()


@pytest.fixture(scope="module")
def gx_local_dir(tmp_path_factory) -> str:
    """One GX file context for the module, so later runs reuse it as a real deployment does."""
    return str(tmp_path_factory.mktemp("local"))


@pytest.fixture
def gate_env(tracker_env: str, gx_local_dir: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRACKER_LOCAL_DIR", gx_local_dir)
    monkeypatch.delenv("TRACKER_FRESHNESS_MAX_AGE_DAYS", raising=False)
    return tracker_env


def _failed(result: GateResult) -> set[tuple[str, str | None]]:
    return {(r["expectation_type"], r["column"]) for r in result.results if not r["success"]}


def test_good_mart_passes_records_audit_rows_once_and_builds_data_docs(gate_env):
    _load_mart(gate_env, _good_rows())

    first = run_gate(gate_env, "scheduled__2025-12-20", date(2025, 12, 20))
    again = run_gate(gate_env, "scheduled__2025-12-20", date(2025, 12, 20))

    for result in (first, again):
        assert result.success, result.failures
        assert result.failures == []
        enforce(result)
    assert len(first.results) == 10
    audit = _audit_rows(gate_env, "scheduled__2025-12-20")
    assert len(audit) == len(again.results)  # the re-run replaced its rows, no duplicates
    assert all(success for _, _, success, _, _ in audit)
    assert {run_date for *_, run_date, _ in audit} == {date(2025, 12, 20)}
    assert {suite for *_, suite in audit} == {"marts.database_current_status"}
    assert again.data_docs_index.name == "index.html"
    assert again.data_docs_index.is_file()
    assert "marts.database_current_status" in again.data_docs_index.read_text(encoding="utf-8")


def test_broken_mart_fails_and_names_every_broken_rule(gate_env):
    rows = _good_rows()
    # Three databases missing, one unknown code, one duplicated: 104 rows for 105 databases.
    rows = rows[3:] + [("XX-NOT-IN-REGISTRY", *rows[3][1:]), rows[4]]
    rows[5] = (rows[5][0], "finished", *rows[5][2:])
    rows[6] = (*rows[6][:3], -5, *rows[6][4:])
    stale = date(2025, 11, 1)
    rows = [(*row[:6], stale if row[6] else None, row[7]) for row in rows]
    _load_mart(gate_env, rows)

    result = run_gate(gate_env, "manual__broken", date(2025, 12, 20))

    assert not result.success
    assert _failed(result) == {
        ("expect_table_row_count_to_equal", None),
        ("expect_column_values_to_be_unique", "database_code"),
        ("expect_column_values_to_be_in_set", "database_code"),
        ("expect_column_values_to_be_in_set", "stage"),
        ("expect_column_values_to_be_between", "record_count"),
        ("expect_column_max_to_be_between", "effective_report_date"),
    }
    failures = "\n".join(result.failures)
    assert len(result.failures) == 6
    assert "expect_table_row_count_to_equal(value=105): observed 104" in failures
    assert "XX-NOT-IN-REGISTRY" in failures
    assert "'finished'" in failures
    assert "[-5]" in failures
    assert "observed 2025-11-01" in failures
    with pytest.raises(GateFailed) as raised:
        enforce(result)
    message = str(raised.value)
    assert all(line in message for line in result.failures)
    assert len(message.splitlines()) == 1 + len(result.failures)
    audit = _audit_rows(gate_env, "manual__broken")
    assert sum(not success for _, _, success, _, _ in audit) == 6


def test_backfill_judges_freshness_by_its_own_date(gate_env):
    _load_mart(gate_env, _good_rows())  # latest report 2025-12-18

    fresh_then = run_gate(gate_env, "backfill__2025-12-20", date(2025, 12, 20))
    stale_later = run_gate(gate_env, "scheduled__2026-06-01", date(2026, 6, 1))

    assert fresh_then.success, fresh_then.failures
    assert not stale_later.success
    assert _failed(stale_later) == {("expect_column_max_to_be_between", "effective_report_date")}
    (failure,) = stale_later.failures
    assert "min_value=2026-05-18" in failure
    assert "max_value=2026-06-01" in failure
    assert "observed 2025-12-18" in failure
