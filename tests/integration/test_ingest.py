"""Feed ingestion against a real PostgreSQL: what a ministry's file becomes in the raw schema."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import threading
import unicodedata
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import VALID_MOJ_ROW, empty_tracker_tables

from r71_tracker.feeds import contract, loader
from r71_tracker.feeds.audit import audit_ingest
from r71_tracker.feeds.ingest import (
    FileReport,
    LandingFolderError,
    find_new_files,
    ingest_paths,
    print_reports,
)

pytestmark = pytest.mark.integration

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
GOOD = dict(VALID_MOJ_ROW)
OTHER = {**GOOD, "database_code": "MOJ-LEGAL-AID"}
FUTURE = (date.today() + timedelta(days=3)).isoformat()


def _csv(rows: list[dict[str, str]], columns: tuple[str, ...] = contract.FIELDS) -> str:
    lines = [",".join(columns)]
    lines += [",".join(row.get(name, "") for name in columns) for row in rows]
    return "\n".join(lines) + "\n"


def _stored_bytes(url: str, sha256: str) -> bytes:
    """A file's verbatim bytes as stored: its gzip chunks, in order, decompressed."""
    with psycopg.connect(url) as conn:
        chunks = conn.execute(
            "select compressed from raw.feed_file_chunks where sha256 = %s order by chunk_number",
            (sha256,),
        ).fetchall()
    return b"".join(gzip.decompress(bytes(chunk)) for (chunk,) in chunks)


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _scalar(url: str, sql: str, *params: object) -> object:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def _table_counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        return tuple(
            conn.execute(f"select count(*) from raw.{table}").fetchone()[0]
            for table in ("feed_files", "status_reports", "rejected_rows")
        )


def _assert_accounted(url: str, report: FileReport) -> None:
    assert report.rows_received == report.rows_loaded + report.rows_rejected
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            "select rows_received, rows_loaded, rows_rejected,"
            " (select count(*) from raw.status_reports s where s.file_id = f.file_id),"
            " (select count(*) from raw.rejected_rows r where r.file_id = f.file_id)"
            " from raw.feed_files f where file_id = %s",
            (report.file_id,),
        ).fetchone()
    assert stored == (
        report.rows_received,
        report.rows_loaded,
        report.rows_rejected,
        report.rows_loaded,
        report.rows_rejected,
    )


# Each case: a bad row on CSV line 3 after a good row on line 2 (which sets the file's agency).
ROW_CASES = {
    "unknown_agency": {"agency_code": "XYZ"},
    "unknown_database": {"database_code": "MOJ-NOPE"},
    "agency_mismatch": {"agency_code": "MOC", "database_code": "MOC-RAIL-INFRA"},
    "missing_field": {"record_count": ""},
    "bad_date": {"report_date": "2025-02-30"},
    "future_date": {"report_date": FUTURE},
    "bad_enum": {"platform_status": "finished"},
    "bad_boolean": {"process_integrated": "maybe"},
    "bad_integer": {"record_count": '"27,400,000"'},
    "negative_count": {"consumer_agencies": "-2"},
    "updated_exceeds_records": {"records_updated_30d": "27400001"},
}


@pytest.mark.parametrize("reason", [*ROW_CASES, "malformed_row", "duplicate_database_in_file"])
def test_each_row_reason_quarantines_the_row_and_loads_the_rest(
    tracker_env, clean_raw, tmp_path, reason
):
    if reason == "malformed_row":
        content = _csv([GOOD]) + "2025-12-15,MOJ,MOJ-LEGAL-AID,building\n"
    elif reason == "duplicate_database_in_file":
        content = _csv([GOOD, {**GOOD, "notes": "second opinion"}, OTHER])
    else:
        content = _csv([GOOD, {**OTHER, **ROW_CASES[reason]}])
    [report] = ingest_paths([_write(tmp_path, f"moj_{reason}.csv", content)], url=clean_raw)

    assert report.outcome == "loaded" and report.reason_code is None
    _assert_accounted(clean_raw, report)
    with psycopg.connect(clean_raw) as conn:
        rejected = conn.execute(
            "select line_number, reason_code, message from raw.rejected_rows order by line_number"
        ).fetchall()
    if reason == "duplicate_database_in_file":
        assert [(line, code) for line, code, _ in rejected] == [(2, reason), (3, reason)]
        assert (report.rows_loaded, report.rejected_by_reason) == (1, {reason: 2})
    else:
        assert [(line, code) for line, code, _ in rejected] == [(3, reason)]
        assert (report.rows_loaded, report.rejected_by_reason) == (1, {reason: 1})
    for line, _, message in rejected:
        assert message.startswith(f"moj_{reason}.csv line {line}: {reason}: ")
        assert "\n" not in message
    assert report.agency_code == "MOJ"


FILE_CASES = {
    # reason: (file name, content, line named in the message or None)
    "bad_encoding": (
        "moj.csv",
        _csv([GOOD]).encode() + "2025-12-15,MOJ,MOJ-LEGAL-AID,Đang\n".encode("cp1258"),
        "line 3",
    ),
    "bad_format": ("moj.xlsx", b"PK\x03\x04 not a feed", None),
    "missing_columns": ("moj.csv", _csv([GOOD], contract.FIELDS[:-3]).encode(), "line 1"),
    "empty_file": ("moj.csv", _csv([]).encode(), None),
    "too_large": ("moj.csv.gz", gzip.compress(_csv([GOOD]).encode() + b" " * 5000), None),
}


@pytest.mark.parametrize("reason", list(FILE_CASES))
def test_each_file_reason_rejects_the_whole_file_but_keeps_its_bytes(
    tracker_env, clean_raw, tmp_path, monkeypatch, reason
):
    name, content, line = FILE_CASES[reason]
    if reason == "too_large":  # the gzip is small, its content is over the limit
        monkeypatch.setenv("TRACKER_MAX_FEED_BYTES", "2000")
    [report] = ingest_paths([_write(tmp_path, name, content)], url=clean_raw)

    assert (report.outcome, report.reason_code) == ("rejected", reason)
    assert report.message.startswith(
        f"{name}{' ' + line if line else ''}: file rejected ({reason})"
    )
    assert "\n" not in report.message
    assert (report.rows_received, report.rows_loaded, report.rows_rejected) == (0, 0, 0)
    _assert_accounted(clean_raw, report)
    with psycopg.connect(clean_raw) as conn:
        stored = conn.execute(
            "select file_status, file_reason_code, file_reason_message, sha256 from raw.feed_files"
        ).fetchone()
    assert stored[:3] == ("rejected", reason, report.message)
    assert _stored_bytes(clean_raw, report.sha256) == content and stored[3] == report.sha256
    assert _table_counts(clean_raw) == (1, 0, 0)


def test_a_file_over_the_size_limit_keeps_only_its_head_and_the_audit_passes(
    tracker_env, clean_raw, tmp_path, monkeypatch
):
    """Over the limit, the file is not loaded: its first CHUNK_BYTES are kept as evidence (their
    length and hash recorded), the message says so, and audit-ingest checks exactly those."""
    from r71_tracker.feeds.audit import audit_ingest
    from r71_tracker.feeds.chunks import CHUNK_BYTES

    monkeypatch.setenv("TRACKER_MAX_FEED_BYTES", str(2 * CHUNK_BYTES))
    content = _csv([GOOD, OTHER] * 30_000).encode()
    assert len(content) > 2 * CHUNK_BYTES
    path = _write(tmp_path, "moj.csv", content)
    [report] = ingest_paths([path], url=clean_raw)
    assert (report.outcome, report.reason_code) == ("rejected", "too_large")
    assert f"its first {CHUNK_BYTES} bytes are kept" in report.message
    with psycopg.connect(clean_raw) as conn:
        size, sha256, kept, kept_sha256 = conn.execute(
            "select size_bytes, sha256, stored_bytes, stored_sha256 from raw.feed_files"
        ).fetchone()
    head = content[:CHUNK_BYTES]
    assert (size, sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert (kept, kept_sha256) == (CHUNK_BYTES, hashlib.sha256(head).hexdigest())
    assert _stored_bytes(clean_raw, report.sha256) == head
    assert audit_ingest(clean_raw) == []


def test_json_file_level_rejection_names_the_line(tracker_env, clean_raw, tmp_path):
    path = _write(tmp_path, "moj.json", '{"agency_code": "MOJ",\n "databases": [\n}')
    [report] = ingest_paths([path], url=clean_raw)
    assert report.reason_code == "bad_format"
    assert report.message.startswith("moj.json line 3: file rejected (bad_format)")


def test_sample_feeds_load_completely(tracker_env, clean_raw):
    reports = ingest_paths([FEEDS], url=clean_raw)
    assert [(r.original_name, r.outcome, r.rows_loaded, r.rows_rejected) for r in reports] == [
        ("moj_2025-12-15.csv", "loaded", 5, 0),
        ("moj_history.json", "loaded", 3, 0),
    ]
    assert {r.agency_code for r in reports} == {"MOJ"}
    assert _table_counts(clean_raw) == (2, 8, 0)


def test_bom_file_loads(tracker_env, clean_raw, tmp_path):
    content = codecs.BOM_UTF8 + _csv([GOOD]).replace("\n", "\r\n").encode()
    [report] = ingest_paths([_write(tmp_path, "moj_bom.csv", content)], url=clean_raw)
    assert (report.outcome, report.rows_loaded, report.extra_columns) == ("loaded", 1, [])


def test_nfd_vietnamese_notes_load_equal_to_nfc(tracker_env, clean_raw, tmp_path):
    notes = "Đã kết nối với cơ sở dữ liệu quốc gia về dân cư"
    nfd = unicodedata.normalize("NFD", notes)
    assert nfd != notes
    path = _write(tmp_path, "moj_nfd.csv", _csv([{**GOOD, "notes": nfd}]))
    ingest_paths([path], url=clean_raw)
    stored = _scalar(clean_raw, "select notes from raw.status_reports")
    assert stored == unicodedata.normalize("NFC", notes)
    assert (
        _scalar(clean_raw, "select count(*) from raw.status_reports where notes = %s", notes) == 1
    )


def test_gzip_csv_and_gzip_json_load(tracker_env, clean_raw, tmp_path):
    csv_gz = _write(tmp_path, "moj.csv.gz", gzip.compress(_csv([GOOD, OTHER]).encode()))
    json_gz = _write(
        tmp_path, "moj.json.gz", gzip.compress((FEEDS / "moj_history.json").read_bytes())
    )
    reports = ingest_paths([csv_gz, json_gz], url=clean_raw)
    assert [(r.feed_format, r.outcome, r.rows_loaded) for r in reports] == [
        ("csv.gz", "loaded", 2),
        ("json.gz", "loaded", 3),
    ]


def test_json_entry_report_date_wins_over_the_files(tracker_env, clean_raw):
    [report] = ingest_paths([FEEDS / "moj_history.json"], url=clean_raw)
    with psycopg.connect(clean_raw) as conn:
        rows = conn.execute(
            "select line_number, database_code, report_date from raw.status_reports"
            " order by line_number"
        ).fetchall()
    assert rows == [
        (0, "MOJ-CIVIL-STATUS", date(2025, 11, 15)),
        (1, "MOJ-CIVIL-STATUS", date(2025, 12, 15)),
        (2, "MOJ-LEGAL-AID", date(2025, 11, 15)),
    ]
    assert report.rejected_by_reason == {}


def test_json_row_rejections_use_the_array_index(tracker_env, clean_raw, tmp_path):
    document = {
        "agency_code": "MOJ",
        "databases": [
            {**GOOD, "record_count": 5, "records_updated_30d": 1},
            "not an object",
            {**OTHER, "agency_code": "MOC"},
            {key: value for key, value in OTHER.items() if key != "report_date"},
        ],
    }
    path = _write(tmp_path, "moj.json", json.dumps(document))
    [report] = ingest_paths([path], url=clean_raw)
    assert report.rejected_by_reason == {
        "malformed_row": 1,
        "agency_mismatch": 1,
        "missing_field": 1,  # no report_date in the entry nor in the file
    }
    assert report.rows_loaded == 1
    with psycopg.connect(clean_raw) as conn:
        rejected = conn.execute(
            "select line_number, message from raw.rejected_rows order by 1"
        ).fetchall()
    assert [line for line, _ in rejected] == [1, 2, 3]
    assert rejected[0][1].startswith("moj.json databases[1]: malformed_row: ")
    _assert_accounted(clean_raw, report)


def test_json_with_an_unknown_agency_rejects_every_row(tracker_env, clean_raw, tmp_path):
    entries = [{k: v for k, v in row.items() if k != "agency_code"} for row in (GOOD, OTHER)]
    document = {"agency_code": "XYZ", "report_date": "2025-12-15", "databases": entries}
    [report] = ingest_paths([_write(tmp_path, "x.json", json.dumps(document))], url=clean_raw)
    assert (report.outcome, report.agency_code) == ("loaded", None)
    assert report.rejected_by_reason == {"unknown_agency": 2}


def test_duplicate_delivery_under_another_name_changes_nothing(tracker_env, clean_raw, tmp_path):
    first = _write(tmp_path, "moj_monday.csv", _csv([GOOD, OTHER]))
    [loaded] = ingest_paths([first], url=clean_raw)
    before = _table_counts(clean_raw)
    copy = _write(tmp_path, "moj_resent.csv", first.read_bytes())
    [again] = ingest_paths([copy], url=clean_raw)
    assert (again.outcome, again.file_id, again.rows_received) == ("duplicate", loaded.file_id, 0)
    assert again.agency_code == "MOJ"
    assert (
        "moj_resent.csv: same bytes as file" in again.message and "moj_monday.csv" in again.message
    )
    assert _table_counts(clean_raw) == before == (1, 2, 0)


def test_concurrent_deliveries_of_the_same_bytes_load_once(tracker_env, clean_raw, tmp_path):
    paths = [_write(tmp_path, f"moj_{n}.csv", _csv([GOOD, OTHER])) for n in range(2)]
    outcomes: list[str] = []

    def deliver(path: Path) -> None:
        outcomes.extend(report.outcome for report in ingest_paths([path], url=clean_raw))

    threads = [threading.Thread(target=deliver, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate", "loaded"]
    assert _table_counts(clean_raw) == (1, 2, 0)


def test_extra_columns_are_listed_and_stored(tracker_env, clean_raw, tmp_path):
    columns = (*contract.FIELDS, "province", "comment")
    path = _write(tmp_path, "moj.csv", _csv([{**GOOD, "province": "HN", "comment": "x"}], columns))
    [report] = ingest_paths([path], url=clean_raw)
    assert (report.rows_loaded, report.extra_columns) == (1, ["province", "comment"])
    assert _scalar(clean_raw, "select extra_columns from raw.feed_files") == ["province", "comment"]


def test_a_crash_mid_file_leaves_nothing(tracker_env, clean_raw, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_SET_BASED_MIN_BYTES", str(10**9))  # the Python rules, every row
    real_validate = loader.validate_record
    calls = []

    def crash_on_second_row(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(loader, "validate_record", crash_on_second_row)
    # an unexpected error is that file's: reported, rolled back, the call goes on
    (report,) = ingest_paths([_write(tmp_path, "moj.csv", _csv([GOOD, OTHER]))], url=clean_raw)
    assert (report.outcome, report.reason_code) == ("rejected", "internal_error")
    assert _table_counts(clean_raw) == (0, 0, 0)


@pytest.mark.parametrize(
    ("large_csv_path", "method"), [("arrow", "_load_fast"), ("sql", "_judge_in_sql")]
)
def test_a_crash_after_the_rows_are_written_leaves_nothing(
    tracker_env, clean_raw, tmp_path, monkeypatch, large_csv_path, method
):
    """Large-file paths: rows already in the transaction, the bytes and file row not yet."""
    monkeypatch.setenv("TRACKER_SET_BASED_MIN_BYTES", "0")
    monkeypatch.setenv("TRACKER_LARGE_CSV_PATH", large_csv_path)
    real_judge = getattr(loader.Loader, method)

    def crash_after_judging(self, *args, **kwargs):
        real_judge(self, *args, **kwargs)
        raise RuntimeError("power cut")

    monkeypatch.setattr(loader.Loader, method, crash_after_judging)
    # an unexpected error is that file's: reported, rolled back, the call goes on
    (report,) = ingest_paths([_write(tmp_path, "moj.csv", _csv([GOOD, OTHER]))], url=clean_raw)
    assert (report.outcome, report.reason_code) == ("rejected", "internal_error")
    assert _table_counts(clean_raw) == (0, 0, 0)
    assert _scalar(clean_raw, "select count(*) from raw.feed_file_chunks") == 0


def test_folder_ingest_reads_feed_files_sorted_and_ignores_other_names(
    tracker_env, clean_raw, tmp_path
):
    _write(tmp_path, "b_moj.csv", _csv([GOOD]))
    _write(tmp_path, "a_moj.json", (FEEDS / "moj_history.json").read_bytes())
    _write(tmp_path, "readme.txt", "not a feed")
    _write(tmp_path, ".partial.csv", "uploading")
    reports = ingest_paths([tmp_path], url=clean_raw)
    assert [r.original_name for r in reports] == ["a_moj.json", "b_moj.csv"]
    [explicit] = ingest_paths([tmp_path / "readme.txt"], url=clean_raw)
    assert (explicit.outcome, explicit.reason_code) == ("rejected", "bad_format")


def test_find_new_files_skips_bytes_already_received(tracker_env, clean_raw, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    old = _write(landing, "moj_old.csv", _csv([GOOD]))
    ingest_paths([old], url=clean_raw)
    _write(landing, "moj_old_renamed.csv", old.read_bytes())
    new = _write(landing, "moj_new.csv", _csv([OTHER]))
    _write(landing, "notes.md", "ignored")
    assert find_new_files(landing, clean_raw) == [new]
    with pytest.raises(LandingFolderError, match="does not exist"):  # a run must not pass
        find_new_files(tmp_path / "missing", clean_raw)


def test_links_fifos_and_sockets_are_refused_unread_and_the_other_files_load(
    tracker_env, clean_raw, tmp_path
):
    """A symbolic link is never followed (its target outside the folder is never opened); a FIFO
    or a socket is refused without blocking; each gets its own reason and the other files load."""
    import os
    import socket

    outside = _write(tmp_path, "outside_secret.csv", _csv([{**GOOD, "notes": "secret text"}]))
    landing = tmp_path / "landing"
    landing.mkdir()
    _write(landing, "a_good.csv", _csv([GOOD]))
    (landing / "b_link.csv").symlink_to(outside)
    os.mkfifo(landing / "c_pipe.csv")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(landing / "d_socket.csv"))
    _write(landing, "e_good.csv", _csv([OTHER]))

    # the landing scan lists them without opening them, so the run reports them
    assert [path.name for path in find_new_files(landing, clean_raw)] == [
        "a_good.csv",
        "b_link.csv",
        "c_pipe.csv",
        "d_socket.csv",
        "e_good.csv",
    ]
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(ingest_paths([landing], clean_raw)))
    worker.start()
    worker.join(timeout=120)
    server.close()
    assert not worker.is_alive(), "ingest blocked on a FIFO"
    reports = {report.original_name: report for report in outcome[0]}
    assert {name: (report.outcome, report.reason_code) for name, report in reports.items()} == {
        "a_good.csv": ("loaded", None),
        "b_link.csv": ("rejected", "symbolic_link"),
        "c_pipe.csv": ("rejected", "not_a_regular_file"),
        "d_socket.csv": ("rejected", "not_a_regular_file"),
        "e_good.csv": ("loaded", None),
    }
    assert "target is never opened" in reports["b_link.csv"].message
    assert "FIFO" in reports["c_pipe.csv"].message
    with psycopg.connect(clean_raw) as conn:
        # nothing of them was received (no bytes, no raw.feed_files row), but each is on record
        assert conn.execute(
            "select original_name, reason_code, message from raw.refused_files order by 1"
        ).fetchall() == [
            (name, reports[name].reason_code, reports[name].message)
            for name in ("b_link.csv", "c_pipe.csv", "d_socket.csv")
        ]
        assert conn.execute("select count(*) from raw.status_reports").fetchone()[0] == 2
        assert conn.execute(
            "select count(*) from raw.rejected_rows where raw_record like '%secret%'"
            " union all select count(*) from raw.status_reports where notes like '%secret%'"
        ).fetchall() == [(0,), (0,)]


def test_an_unexpected_error_in_one_file_is_that_files_and_the_others_load(
    tracker_env, clean_raw, tmp_path, monkeypatch, caplog
):
    first = _write(tmp_path, "a.csv", _csv([GOOD]))
    broken = _write(tmp_path, "b.csv", _csv([{**OTHER, "notes": "b"}]))
    last = _write(tmp_path, "c.csv", _csv([OTHER]))
    judge = loader.Loader._judge_small

    def failing_on_b(self, report, content):
        if report.original_name == broken.name:
            raise KeyError("a bug met by this file only")
        return judge(self, report, content)

    monkeypatch.setattr(loader.Loader, "_judge_small", failing_on_b)
    with caplog.at_level("ERROR", logger="r71_tracker.feeds.loader"):
        reports = ingest_paths([first, broken, last], url=clean_raw)
    outcomes = [(report.original_name, report.outcome, report.reason_code) for report in reports]
    assert outcomes == [
        ("a.csv", "loaded", None),
        ("b.csv", "rejected", "internal_error"),
        ("c.csv", "loaded", None),
    ]
    incident = reports[1].message.split("internal error ")[1].split()[0]
    assert f"internal error {incident} while ingesting" in caplog.text  # the traceback's id
    assert print_reports(reports, False, io.StringIO(), io.StringIO()) == 1
    assert _scalar(clean_raw, "select count(*) from raw.feed_files") == 2


def test_print_reports_exit_codes_and_streams(tracker_env, clean_raw, tmp_path):
    with_bad_rows = _write(tmp_path, "moj.csv", _csv([GOOD, {**OTHER, "record_count": "x"}]))
    reports = ingest_paths([with_bad_rows, with_bad_rows], url=clean_raw)
    out, err = io.StringIO(), io.StringIO()
    assert print_reports(reports, False, out, err) == 0
    assert err.getvalue() == ""
    assert "1 loaded, 1 rejected (bad_integer 1)" in out.getvalue()
    assert "moj.csv line 3: bad_integer: " in out.getvalue()
    table = out.getvalue().split("\n\n")[1].splitlines()
    assert table[0].split()[:5] == ["file", "outcome", "received", "loaded", "rejected"]
    assert table[1].split() == ["moj.csv", "loaded", "2", "1", "1", "bad_integer", "1"]
    assert table[2].split() == ["moj.csv", "duplicate", "0", "0", "0"]

    bad_file = _write(tmp_path, "moj.txt", "x")
    reports += ingest_paths([bad_file, tmp_path / "missing.csv"], url=clean_raw)
    out, err = io.StringIO(), io.StringIO()
    assert print_reports(reports, True, out, err) == 1
    errors = err.getvalue().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("error: moj.txt: file rejected (bad_format)")
    assert errors[1].startswith("error: missing.csv: cannot be read")
    document = json.loads(out.getvalue())
    assert [f["outcome"] for f in document["files"]] == [
        "loaded",
        "duplicate",
        "rejected",
        "rejected",
    ]
    assert document["totals"]["rows_received"] == 2
    assert document["totals"]["rejected_by_reason"] == {"bad_integer": 1}
    assert document["totals"]["rejected"] == 2


def test_a_thousand_row_history_loads(tracker_env, clean_raw, tmp_path):
    databases = ["MOJ-CIVIL-STATUS", "MOJ-LEGAL-AID", "MOJ-CIVIL-JUDGMENT-ENF", "MOJ-NOTARIZATION"]
    start = date(2025, 1, 1)
    rows = [
        {**GOOD, "database_code": code, "report_date": (start + timedelta(days=day)).isoformat()}
        for day in range(250)
        for code in databases
    ]
    [report] = ingest_paths([_write(tmp_path, "moj_history.csv", _csv(rows))], url=clean_raw)
    assert (report.rows_received, report.rows_loaded) == (1000, 1000)


BAD_FEEDS = Path(__file__).resolve().parents[1] / "data" / "bad_feeds"


def _raw_state(url: str) -> dict[str, object]:
    """Everything a load leaves in the raw tables, keyed by sha256 (not by file id)."""
    with psycopg.connect(url) as conn:
        return {
            "files": conn.execute(
                "select sha256, original_name, size_bytes, feed_format, agency_code, file_status,"
                " file_reason_code, file_reason_message, rows_received, rows_loaded,"
                " rows_rejected, extra_columns from raw.feed_files order by sha256"
            ).fetchall(),
            "rows": conn.execute(
                "select f.sha256, s.line_number, s.report_date, s.agency_code, s.database_code,"
                " s.platform_status, s.data_status, s.process_integrated, s.connected_national,"
                " s.record_count, s.records_updated_30d, s.consumer_agencies, s.notes"
                " from raw.status_reports s join raw.feed_files f using (file_id)"
                " order by 1, 2"
            ).fetchall(),
            "rejected": conn.execute(
                "select f.sha256, r.line_number, r.reason_code, r.message, r.raw_record"
                " from raw.rejected_rows r join raw.feed_files f using (file_id) order by 1, 2"
            ).fetchall(),
        }


@pytest.mark.parametrize("large_csv_path", ["arrow", "sql"])
def test_large_file_paths_and_python_leave_the_same_state(
    tracker_env, clean_raw, monkeypatch, large_csv_path
):
    """The bad-feed corpus with every CSV taken as large (judged by Arrow, or in SQL; either
    falls back to an exact path where it must) and with every file judged in Python: the same
    files, rows, quarantine, reasons and messages."""
    states = []
    monkeypatch.setenv("TRACKER_LARGE_CSV_PATH", large_csv_path)
    for min_bytes in ("0", str(10**9)):
        empty_tracker_tables(clean_raw)
        monkeypatch.setenv("TRACKER_SET_BASED_MIN_BYTES", min_bytes)
        ingest_paths([BAD_FEEDS], url=clean_raw, progress=False)
        states.append(_raw_state(clean_raw))
        assert audit_ingest(clean_raw) == []
    assert states[0]["files"] == states[1]["files"]
    assert states[0]["rows"] == states[1]["rows"]
    assert states[0]["rejected"] == states[1]["rejected"]


def test_audit_finds_orphans_bad_counts_and_damaged_bytes(tracker_env, clean_raw, tmp_path):
    [report] = ingest_paths([_write(tmp_path, "moj.csv", _csv([GOOD, OTHER]))], url=clean_raw)
    assert audit_ingest(clean_raw) == []
    with psycopg.connect(clean_raw) as conn:
        conn.execute(
            "insert into raw.rejected_rows values (%s, 99, 'bad_date', 'moj.csv line 99: x', '')",
            (report.file_id + 1000,),
        )
        conn.execute(
            "update raw.feed_file_chunks set compressed = %s where sha256 = %s",
            (gzip.compress(b"other bytes"), report.sha256),
        )
        conn.execute(  # line 2 loaded twice (the table has no key: the audit is the check)
            "insert into raw.status_reports select * from raw.status_reports"
            " where file_id = %s and line_number = 2",
            (report.file_id,),
        )
    problems = audit_ingest(clean_raw)
    assert any("raw.rejected_rows" in line and "does not have" in line for line in problems)
    assert any("bytes stored" in line or "do not hash" in line for line in problems)
    assert any(f"file {report.file_id} line 2: 2 rows" in line for line in problems)


def _history_export(bom: bool, newline: str) -> bytes:
    """A MOJ history export mixing rows the Arrow judge loads with rows it must set aside:
    quoted notes with commas and doubled quotes, NFD and untrimmed notes, a quoted empty note,
    odd boolean spellings, leading zeros, bad values and a date in the future."""
    days = [date(2025, 12, 15) - timedelta(days=7 * step) for step in range(40)]
    codes = ["MOJ-CIVIL-STATUS", "MOJ-LEGAL-AID"]
    notes = [
        "",
        '"Đã kết nối, vận hành ổn định"',
        '"Ghi chú có ""ngoặc kép"" bên trong"',
        unicodedata.normalize("NFD", "Đang xây dựng"),
        "  cần cắt khoảng trắng ",
        '""',
        '=HYPERLINK("x")'.replace('"', "'"),
        "'); drop table raw.feed_files; --",
    ]
    lines = [",".join(contract.FIELDS)]
    for index, day in enumerate(days):
        for code in codes:
            row = {**GOOD, "report_date": day.isoformat(), "database_code": code}
            row["notes"] = notes[index % len(notes)]
            row["process_integrated"] = ["true", "Yes", "0", "tRuE"][index % 4]
            row["record_count"] = ["27400000", "0027400000", "12", "27400000"][index % 4]
            if index % 9 == 4:
                row["data_status"] = "finished"  # bad_enum
            if index % 11 == 5:
                row["records_updated_30d"] = "99999999999"  # updated_exceeds_records
            if index == 0 and code == codes[1]:
                row["report_date"] = "2099-01-01"  # future_date
            lines.append(",".join(row[name] for name in contract.FIELDS))
    text = newline.join(lines) + newline
    return (codecs.BOM_UTF8 if bom else b"") + text.encode()


@pytest.mark.parametrize(("bom", "newline"), [(False, "\n"), (True, "\r\n")])
def test_the_arrow_path_loads_what_the_python_rules_load(
    tracker_env, clean_raw, tmp_path, monkeypatch, bom, newline
):
    """A large CSV takes the Arrow path (no fallback) and ends exactly as judged in Python."""
    path = _write(tmp_path, "moj_history.csv", _history_export(bom, newline))
    state = _python_then_arrow_alike(path, clean_raw, monkeypatch)
    [file_row] = state["files"]
    assert (file_row[-4], file_row[-3]) == (80, 80 - len(state["rejected"]))
    assert {row[2] for row in state["rejected"]} >= {
        "bad_enum",
        "updated_exceeds_records",
        "future_date",
    }


def test_the_arrow_path_quarantines_bad_lines_in_bulk_exactly_as_the_python_rules(
    tracker_env, clean_raw, tmp_path, monkeypatch
):
    """Lines of the wrong width no longer send a file to the slow exact path (a million bad lines
    took 25 s; now 4 s): blank ones are skipped, short ones quarantined in bulk, the others judged
    in Python, and the result is what the Python rules give: rows, messages, evidence, samples."""
    lines = _history_export(False, "\n").decode().splitlines(keepends=True)
    odd = [
        "\n",
        " , ,\t\n",
        "x\n",
        'only,"two, fields"\n',
        "tab\there,back\\slash\n",
        "\u00a0\n",
        "Đ\n",
        "z" * 5000 + "\n",
        ",".join(["1"] * 12) + "\n",
    ]
    mixed = lines[:1] + [
        line for index, row in enumerate(lines[1:]) for line in (row, odd[index % 9])
    ]
    path = _write(tmp_path, "moj_mixed.csv", "".join(mixed).encode())
    state = _python_then_arrow_alike(path, clean_raw, monkeypatch)
    reasons = Counter(row[2] for row in state["rejected"])
    assert reasons["malformed_row"] == 53  # x, two fields, tab, Đ, z…, 12 fields: 6 in 9 rows
    assert audit_ingest(clean_raw) == []


def test_the_arrow_path_explains_plain_bad_rows_in_bulk_exactly_as_the_python_rules(
    tracker_env, clean_raw, tmp_path, monkeypatch
):
    """Rows that break an agency, database, date, status or boolean rule with plain values are
    rejected in bulk in the Python rules' words (500,000 rows of unknown databases took 15.8 s,
    every one read again and judged in Python); rows they cannot explain alike (an impossible
    date, counts, padded text, an old date of the file's database) still go to the rules."""
    header, *rows = _history_export(False, "\n").decode().splitlines(keepends=True)
    base = {**GOOD, "report_date": "2025-11-01", "database_code": "MOJ-CIVIL-STATUS"}
    kinds = [
        {"agency_code": "ZZZ"},  # unknown_agency
        {"agency_code": "MPS", "database_code": "MPS-POPULATION"},  # agency_mismatch
        {"database_code": "MOJ-NOT-A-DATABASE"},  # unknown_database
        {"database_code": "MPS-POPULATION"},  # agency_mismatch (owned by another)
        {"report_date": "15/11/2025"},  # bad_date
        {"report_date": "2025-02-30"},  # bad_date, left to the Python rules
        {"report_date": "2098-01-01", "data_status": "finished"},  # future_date first
        {"platform_status": "broken"},  # bad_enum
        {"connected_national": "maybe"},  # bad_boolean
        {"record_count": "12.5"},  # bad_integer: the Python rules
        {"database_code": " MOJ-NOT-PLAIN "},  # padded: the Python rules
        {"report_date": "old", "platform_status": "broken"},  # an old key: the rules
    ]
    bad = []
    for index, change in enumerate(kinds * 20):
        row = {**base, **change}  # keys apart from the export's (its dates are in 2025)
        if row["report_date"] in ("old", base["report_date"]):
            year = 1985 if row["report_date"] == "old" else 2024
            row["report_date"] = (date(year, 12, 31) - timedelta(days=index)).isoformat()
        bad.append(",".join(row[name] for name in contract.FIELDS) + "\n")
    mixed = [header] + [line for pair in zip(rows, bad, strict=False) for line in pair]
    mixed += bad[len(rows) :]
    path = _write(tmp_path, "moj_plain_bad.csv", "".join(mixed).encode())
    judged_in_python: list[int] = []
    state = _python_then_arrow_alike(path, clean_raw, monkeypatch, judged_in_python)
    # the Arrow run: the Python rules judged the 4 kinds in 12 left to them, and the 34 rows
    # of the export it sets aside (notes to normalise, boolean spellings it does not load)
    assert len(judged_in_python) == 20 * 4 + 34
    reasons = Counter(row[2] for row in state["rejected"])
    assert {"unknown_agency", "agency_mismatch", "unknown_database", "bad_date"} <= set(reasons)
    assert {"future_date", "bad_enum", "bad_boolean", "bad_integer"} <= set(reasons)


def test_a_valid_row_sharing_its_key_with_a_row_rejected_in_bulk_is_a_duplicate(
    tracker_env, clean_raw, tmp_path, monkeypatch
):
    """The Python rules count every row's key: a valid row and a rejected one with the same
    database and date make the valid one a duplicate. The Arrow path must not load it."""
    header, *rows = _history_export(False, "\n").decode().splitlines(keepends=True)
    first = dict(zip(contract.FIELDS, rows[0].rstrip("\n").split(","), strict=True))
    twin = {**first, "platform_status": "broken"}  # rejected in bulk, same key as rows[0]
    content = header + "".join(rows) + ",".join(twin[name] for name in contract.FIELDS) + "\n"
    path = _write(tmp_path, "moj_twin.csv", content.encode())
    states = []
    for min_bytes in (str(10**9), "0"):
        empty_tracker_tables(clean_raw)
        monkeypatch.setenv("TRACKER_SET_BASED_MIN_BYTES", min_bytes)
        ingest_paths([path], url=clean_raw, progress=False)
        states.append(_raw_state(clean_raw))
    assert states[1] == states[0]
    assert "duplicate_database_in_file" in {row[2] for row in states[0]["rejected"]}


def _python_then_arrow_alike(
    path: Path, url: str, monkeypatch, judged_in_python: list[int] | None = None
) -> dict:
    """Ingest a file judged wholly by the Python rules, then by the Arrow path with no fallback
    to an exact path allowed; both must leave the same raw tables and report the same samples.
    `judged_in_python` counts the rows the Arrow run still gives the Python rules."""
    states, samples = [], []
    real_validate = loader.validate_record

    def counted(*args, **kwargs):
        if judged_in_python is not None:
            judged_in_python.append(1)
        return real_validate(*args, **kwargs)

    for min_bytes in (str(10**9), "0"):
        empty_tracker_tables(url)
        monkeypatch.setenv("TRACKER_SET_BASED_MIN_BYTES", min_bytes)
        [report] = ingest_paths([path], url=url, progress=False)
        states.append(_raw_state(url))
        samples.append(report.rejected_samples)
        monkeypatch.setattr(loader.Loader, "_set_based", _no_fallback)
        monkeypatch.setattr(loader.Loader, "_streamed", _no_fallback)
        monkeypatch.setattr(loader, "validate_record", counted)
    assert states[1] == states[0]
    assert samples[1] == samples[0]
    return states[0]


def _no_fallback(*args, **kwargs):
    raise AssertionError("the Arrow path fell back to an exact path")


def test_a_large_file_shows_its_progress_in_a_terminal(tracker_env, clean_raw, tmp_path):
    """`tracker ingest` in a terminal draws a progress bar (rich) for a large file: its name and
    the bytes read of its size, cleared when the file is done."""
    import os
    import pty
    import subprocess
    import sys

    rows = [{**VALID_MOJ_ROW, "notes": f"note {number}" + "x" * 60} for number in range(20_000)]
    large = _write(tmp_path, "MOJ_large.csv", _csv(rows))
    assert large.stat().st_size >= loader.DEFAULT_SET_BASED_MIN_BYTES
    controller, terminal = pty.openpty()
    tracker = Path(sys.executable).with_name("tracker")
    process = subprocess.Popen(
        [str(tracker), "ingest", str(large)], stdout=terminal, stderr=terminal, close_fds=True
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    assert process.wait(timeout=120) == 0, shown.decode(errors="replace")
    os.close(controller)
    text = shown.decode(errors="replace")
    assert "MOJ_large.csv" in text and "MB" in text, text
