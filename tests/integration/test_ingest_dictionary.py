"""Feed contract v1.1: a data dictionary (`fields` feed) gets the status feed's guarantees.

Kept verbatim, recognised when sent again, rows quarantined with file, line and reason,
received = loaded + rejected, and the same raw rows whichever path (small file, streamed large
file) or format (CSV, JSON, gzip) carries it.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import psycopg
import pytest
from conftest import empty_tracker_tables, raw_state

from r71_tracker.feeds import contract
from r71_tracker.feeds.audit import audit_ingest
from r71_tracker.feeds.ingest import ingest_paths

pytestmark = pytest.mark.integration

HEADER = ",".join(contract.DICTIONARY_FIELDS)
# Line 2-3 load; 4-5 list one field twice (case differs); 6 a bad boolean; 7 another agency's db.
DICTIONARY_CSV = f"""{HEADER}
2025-12-01,MOJ,MOJ-CIVIL-STATUS,Ngày sinh,date,true
2025-12-01,MOJ,MOJ-CIVIL-STATUS,Số định danh cá nhân,text,no
2025-12-01,MOJ,MOJ-NOTARIZATION,Họ tên,text,false
2025-12-01,MOJ,MOJ-NOTARIZATION,HỌ TÊN,text,false
2025-12-01,MOJ,MOJ-LEGAL-AID,Địa chỉ thường trú,text,có
2025-12-01,MOJ,MPS-POPULATION,Họ và tên,text,true
"""
EXPECTED_REJECTED = [
    (4, "duplicate_field_in_file"),
    (5, "duplicate_field_in_file"),
    (6, "bad_boolean"),
    (7, "agency_mismatch"),
]


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _as_json(csv_text: str) -> str:
    """The same dictionary as a JSON document: agency and date once, entries in `fields`."""
    lines = csv_text.strip().split("\n")
    names = lines[0].split(",")
    entries = []
    for line in lines[1:]:
        entry = dict(zip(names, line.split(","), strict=True))
        del entry["agency_code"], entry["report_date"]
        entries.append(entry)
    return json.dumps(
        {"agency_code": "MOJ", "report_date": "2025-12-01", "fields": entries}, ensure_ascii=False
    )


def _stored(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            "files": conn.execute(
                "select feed_kind, agency_code, rows_received, rows_loaded, rows_rejected"
                " from raw.feed_files order by file_id"
            ).fetchall(),
            "fields": conn.execute(
                "select line_number, report_date::text, database_code, field_name, field_type,"
                " is_original_source from raw.field_reports order by file_id, line_number"
            ).fetchall(),
            "rejected": conn.execute(
                "select line_number, reason_code from raw.rejected_rows"
                " order by file_id, line_number"
            ).fetchall(),
            "status_rows": conn.execute("select count(*) from raw.status_reports").fetchall(),
        }


def test_a_dictionary_loads_into_its_own_table_with_every_row_accounted(
    tracker_env, clean_raw, tmp_path
):
    [report] = ingest_paths([_write(tmp_path, "moj_fields.csv", DICTIONARY_CSV)], url=clean_raw)

    assert (report.outcome, report.feed_kind, report.agency_code) == ("loaded", "fields", "MOJ")
    assert (report.rows_received, report.rows_loaded, report.rows_rejected) == (6, 2, 4)
    stored = _stored(clean_raw)
    assert stored["files"] == [("fields", "MOJ", 6, 2, 4)]
    assert stored["fields"] == [
        (2, "2025-12-01", "MOJ-CIVIL-STATUS", "Ngày sinh", "date", True),
        (3, "2025-12-01", "MOJ-CIVIL-STATUS", "Số định danh cá nhân", "text", False),
    ]
    assert stored["rejected"] == EXPECTED_REJECTED
    assert stored["status_rows"] == [(0,)]
    assert audit_ingest(clean_raw) == []

    again = ingest_paths([_write(tmp_path, "copy.csv", DICTIONARY_CSV)], url=clean_raw)
    assert [r.outcome for r in again] == ["duplicate"]
    assert _stored(clean_raw) == stored


@pytest.mark.parametrize("min_bytes", ["0", str(10**9)], ids=["streamed", "small"])
def test_every_format_and_path_leaves_the_same_raw_rows(
    tracker_env, clean_raw, tmp_path, monkeypatch, min_bytes
):
    monkeypatch.setenv("TRACKER_SET_BASED_MIN_BYTES", min_bytes)
    csv_path = _write(tmp_path, "moj_fields.csv", DICTIONARY_CSV)
    ingest_paths([csv_path], url=clean_raw)
    csv_state = _stored(clean_raw)

    for name, content in (
        ("moj_fields.csv.gz", gzip.compress(DICTIONARY_CSV.encode("utf-8"))),
        ("moj_fields.json", _as_json(DICTIONARY_CSV)),
        ("moj_fields.json.gz", gzip.compress(_as_json(DICTIONARY_CSV).encode("utf-8"))),
    ):
        empty_tracker_tables(clean_raw)
        [report] = ingest_paths([_write(tmp_path, name, content)], url=clean_raw)
        assert report.feed_kind == "fields", name
        state = _stored(clean_raw)
        if name.startswith("moj_fields.json"):
            # JSON rows are located by their index in `fields` (line 2 of the CSV is fields[0])
            state["fields"] = [(line + 2, *rest) for line, *rest in state["fields"]]
            state["rejected"] = [(line + 2, code) for line, code in state["rejected"]]
        assert state == csv_state, name
        assert audit_ingest(clean_raw) == [], name


def test_a_status_feed_and_a_dictionary_in_one_call_keep_their_kinds(
    tracker_env, clean_raw, tmp_path
):
    status = _write(
        tmp_path,
        "moj_status.csv",
        ",".join(contract.FIELDS)
        + "\n2025-12-01,MOJ,MOJ-CIVIL-STATUS,operational,centralized,true,true,10,1,2,\n",
    )
    dictionary = _write(tmp_path, "moj_fields.json", _as_json(DICTIONARY_CSV))
    reports = ingest_paths([status, dictionary], url=clean_raw)
    assert [(r.original_name, r.feed_kind) for r in reports] == [
        ("moj_status.csv", "status"),
        ("moj_fields.json", "fields"),
    ]
    before = raw_state(clean_raw)
    assert before["counts"][1] == 1  # one status row; the dictionary's rows are elsewhere
    assert audit_ingest(clean_raw) == []

    # The audit notices a row stored in the other feed's table.
    with psycopg.connect(clean_raw) as conn:
        conn.execute(
            "insert into raw.field_reports select file_id, 99, report_date, agency_code,"
            " database_code, 'stray', 'text', false from raw.status_reports"
        )
    problems = audit_ingest(clean_raw, verify_bytes=False)
    assert any("is a status feed but has rows in raw.field_reports" in p for p in problems)


@pytest.mark.parametrize(
    ("name", "content", "reason", "says"),
    [
        (
            "moj_fields.csv",
            "report_date,agency_code,database_code,field_name\n2025-12-01,MOJ,MOJ-LEGAL-AID,x\n",
            "missing_columns",
            "of a data dictionary (fields feed) missing: field_type, is_original_source",
        ),
        ("moj_fields.json", '{"agency_code": "MOJ", "fields": {}}', "bad_format", "fields must"),
        ("moj_fields.json", '{"agency_code": "MOJ", "fields": []}', "empty_file", "fields list"),
        ("moj_fields.csv", HEADER + "\n", "empty_file", "no data rows"),
    ],
)
@pytest.mark.parametrize("min_bytes", ["0", str(10**9)], ids=["streamed", "small"])
def test_a_dictionary_that_cannot_be_read_is_rejected_whole_with_one_line(
    tracker_env, clean_raw, tmp_path, monkeypatch, min_bytes, name, content, reason, says
):
    # streamed: found while the file's transaction is open (a header alone is found by the
    # first pass, before the rows' COPY starts, so the rejection can still be written)
    monkeypatch.setenv("TRACKER_SET_BASED_MIN_BYTES", min_bytes)
    [report] = ingest_paths([_write(tmp_path, name, content)], url=clean_raw)
    assert (report.outcome, report.reason_code, report.feed_kind) == ("rejected", reason, None)
    assert says in report.message and "\n" not in report.message
    with psycopg.connect(clean_raw) as conn:
        kept = conn.execute(
            "select feed_kind, file_status, rows_received from raw.feed_files"
        ).fetchall()
        assert kept == [(None, "rejected", 0)]
        assert conn.execute("select count(*) from raw.field_reports").fetchone() == (0,)
    assert audit_ingest(clean_raw) == []
