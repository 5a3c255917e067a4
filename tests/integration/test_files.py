"""Operators' recourse against a real PostgreSQL: `tracker files` lists what was received, and
withdraw / restore append one event each to audit.file_events, acting as tracker_operator."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from conftest import FEED_HEADER, VALID_MOJ_ROW, databases_by_agency
from psycopg import errors

from r71_tracker import cli, database
from r71_tracker.feeds import contract

pytestmark = pytest.mark.integration

OTHER_MOJ = {**VALID_MOJ_ROW, "database_code": "MOJ-LEGAL-AID", "report_date": "2025-12-16"}
BAD_COUNT = {**VALID_MOJ_ROW, "database_code": "MOJ-LEGAL-AID", "record_count": "many"}


def _csv(*rows: dict[str, str]) -> str:
    lines = [FEED_HEADER] + [",".join(row[name] for name in contract.FIELDS) for row in rows]
    return "\n".join(lines) + "\n"


def _tracker(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _events(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select event_id, file_id, action, actor, reason from audit.file_events"
            " order by event_id"
        ).fetchall()


@pytest.fixture
def received(tracker_env, clean_raw, tmp_path, monkeypatch, capsys) -> dict[str, int]:
    """Three files ingested through the CLI: two of MOJ (the first with a quarantined row), then
    one of MOH. Their ids by name."""
    monkeypatch.delenv("TRACKER_ACTOR", raising=False)
    folder = tmp_path / "feeds"
    folder.mkdir()
    moh = {
        **VALID_MOJ_ROW,
        "agency_code": "MOH",
        "database_code": databases_by_agency()["MOH"][0],
    }
    for name, content in (
        ("moj_2025-12-15.csv", _csv(VALID_MOJ_ROW, BAD_COUNT)),
        ("moj_2025-12-16.csv", _csv(OTHER_MOJ)),
        ("moh_2025-12-15.csv", _csv(moh)),
    ):
        (folder / name).write_text(content, encoding="utf-8")
        code, _, err = _tracker(capsys, "ingest", str(folder / name))
        assert code == 0, err
    with psycopg.connect(clean_raw) as conn:
        return dict(conn.execute("select original_name, file_id from raw.feed_files").fetchall())


def test_files_lists_every_received_file_newest_first_with_counts(received, capsys) -> None:
    code, out, err = _tracker(capsys, "files", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [row["original_name"] for row in rows] == [
        "moh_2025-12-15.csv",
        "moj_2025-12-16.csv",
        "moj_2025-12-15.csv",
    ]
    first = rows[-1]
    assert first["file_id"] == received["moj_2025-12-15.csv"]
    assert (first["agency_code"], first["feed_kind"], first["file_status"]) == (
        "MOJ",
        "status",
        "loaded",
    )
    assert (first["rows_received"], first["rows_loaded"], first["rows_rejected"]) == (2, 1, 1)
    assert first["verdict"] is None and first["is_withdrawn"] is False
    datetime.fromisoformat(first["received_at"])  # ISO 8601 for tools

    code, out, _ = _tracker(capsys, "files", "--agency", "moj", "--json")
    assert code == 0 and {row["agency_code"] for row in json.loads(out)} == {"MOJ"}
    assert len(json.loads(out)) == 2

    code, out, _ = _tracker(capsys, "files")
    assert code == 0
    lines = out.splitlines()
    assert "verdict" in lines[0] and "withdrawn" in lines[0]
    assert len(lines) == 4 and lines[3].endswith("moj_2025-12-15.csv")
    assert "not yet judged" in lines[3] and " no " in lines[3]


def test_withdraw_and_restore_each_append_one_event(received, clean_raw, capsys) -> None:
    file_id = received["moj_2025-12-15.csv"]
    actor = getpass.getuser()

    code, out, err = _tracker(
        capsys, "files", "withdraw", str(file_id), "--reason", "ministry resent corrected data"
    )
    assert code == 0, err
    assert len(out.splitlines()) == 1
    assert f"file {file_id} (moj_2025-12-15.csv) withdrawn by {actor}" in out
    assert "tracker run or tracker build" in out
    assert _events(clean_raw) == [(1, file_id, "withdraw", actor, "ministry resent corrected data")]
    listed = {row["file_id"]: row for row in json.loads(_tracker(capsys, "files", "--json")[1])}
    assert listed[file_id]["is_withdrawn"] is True
    assert listed[received["moj_2025-12-16.csv"]]["is_withdrawn"] is False

    code, out, err = _tracker(capsys, "files", "withdraw", str(file_id), "--reason", "again")
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1
    assert err.startswith(f"tracker files withdraw: file {file_id} (moj_2025-12-15.csv) is")
    assert f"already withdrawn (by {actor} at" in err
    assert len(_events(clean_raw)) == 1

    code, out, err = _tracker(
        capsys, "files", "restore", str(file_id), "--reason", "withdrawn by mistake"
    )
    assert code == 0, err
    assert f"file {file_id} (moj_2025-12-15.csv) restored by {actor}" in out
    assert _events(clean_raw)[1:] == [(2, file_id, "restore", actor, "withdrawn by mistake")]

    code, _, err = _tracker(capsys, "files", "restore", str(file_id), "--reason", "twice")
    assert code == 1 and len(err.splitlines()) == 1 and "is not withdrawn" in err
    assert len(_events(clean_raw)) == 2

    code, out, err = _tracker(capsys, "files", "show", str(file_id))
    assert code == 0, err
    assert "event 1: withdraw by" in out and "ministry resent corrected data" in out
    assert "event 2: restore by" in out and "withdrawn by mistake" in out
    assert "withdrawn: no" in out
    detail = json.loads(_tracker(capsys, "files", "show", str(file_id), "--json")[1])
    assert [(e["action"], e["actor"]) for e in detail["events"]] == [
        ("withdraw", actor),
        ("restore", actor),
    ]


def test_refusals_are_one_line_and_record_nothing(received, clean_raw, capsys) -> None:
    file_id = str(received["moj_2025-12-16.csv"])
    refusals = [
        (("files", "withdraw", file_id, "--reason", "   "), "a reason is required"),
        (("files", "withdraw", "999999", "--reason", "typo"), "no received file has id 999999"),
        (("files", "restore", file_id, "--reason", "nothing to undo"), "is not withdrawn"),
        (("files", "show", "999999"), "no received file has id 999999"),
        (("files", "show", "999999", "--json"), "no received file has id 999999"),
    ]
    for argv, message in refusals:
        code, out, err = _tracker(capsys, *argv)
        assert (code, out) == (1, ""), argv
        assert err.count("\n") == 1 and message in err, err
        assert err.startswith(f"tracker files {argv[1]}: ")
    assert _events(clean_raw) == []


def test_tracker_actor_names_a_service_accounts_person(received, clean_raw, capsys, monkeypatch):
    file_id = received["moh_2025-12-15.csv"]
    monkeypatch.setenv("TRACKER_ACTOR", "nguyen.van.a")
    code, out, err = _tracker(capsys, "files", "withdraw", str(file_id), "--reason", "test feed")
    assert code == 0, err
    expected = (
        "nguyen.van.a"
        if getpass.getuser() == "nguyen.van.a"
        else (f"nguyen.van.a via {getpass.getuser()}")
    )
    assert _events(clean_raw)[0][3] == expected
    assert f"withdrawn by {expected}" in out


@pytest.mark.parametrize(
    "role",
    [
        database.LOADER_ROLE,
        database.TRANSFORMER_ROLE,
        database.LIAISON_ROLE,
        database.AUDITOR_ROLE,
        database.GATE_ROLE,
    ],
)
def test_only_the_operator_may_append_an_event(received, clean_raw, role: str) -> None:
    with database.connect(clean_raw, role=role) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(
                "insert into audit.file_events (file_id, action, reason, actor)"
                " values (%s, 'withdraw', 'forged', 'someone')",
                (received["moj_2025-12-15.csv"],),
            )
    assert _events(clean_raw) == []


def test_nobody_updates_or_deletes_an_event(received, clean_raw, capsys) -> None:
    file_id = received["moj_2025-12-15.csv"]
    assert _tracker(capsys, "files", "withdraw", str(file_id), "--reason", "kept forever")[0] == 0
    for statement in (
        "update audit.file_events set reason = 'rewritten'",
        "delete from audit.file_events",
    ):
        with database.connect(clean_raw, role=database.OPERATOR_ROLE) as conn:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
        with psycopg.connect(clean_raw) as conn:  # the administering user: the trigger refuses
            with pytest.raises(errors.RaiseException, match="append-only"):
                conn.execute(statement)
    assert [event[4] for event in _events(clean_raw)] == ["kept forever"]


def _record_gate_run(url: str, run_id: str, started_at: datetime) -> None:
    with database.connect(url, role=database.GATE_ROLE) as conn:
        conn.execute(
            "insert into audit.gate_runs (run_id, dag_run_id, run_date, code_version,"
            " started_at, finished_at, success, blocking_failures, warnings)"
            " values (%s, %s, '2025-12-16', 'test', %s, %s, true, 0, 0)",
            (run_id, f"manual__{run_id}", started_at, started_at + timedelta(seconds=5)),
        )


def _publish(url: str, run_id: str, published_at: datetime) -> None:
    with database.connect(url, role=database.GATE_ROLE) as conn:
        conn.execute(
            "insert into audit.publications (gate_run_id, dag_run_id, run_date,"
            " candidate_schema, files_first_published, published_at)"
            " values (%s, %s, '2025-12-16', 'candidate_test', 2, %s)",
            (run_id, f"manual__{run_id}", published_at),
        )


def test_show_names_the_verdict_the_publications_and_what_superseded_it(
    received, clean_raw, capsys
) -> None:
    first, second = received["moj_2025-12-15.csv"], received["moj_2025-12-16.csv"]
    moh = received["moh_2025-12-15.csv"]
    judged = datetime.now(UTC) - timedelta(hours=2)
    _record_gate_run(clean_raw, "gate_1", judged)
    with database.connect(clean_raw, role=database.GATE_ROLE) as conn:
        for file_id, agency, verdict, rule, reason in (
            (first, "MOJ", "published", None, None),
            (second, "MOJ", "published", None, None),
            (moh, "MOH", "held", "complete", "2 databases missing"),
        ):
            conn.execute(
                "insert into audit.file_verdicts (file_id, verdict, agency_code, gate_run_id,"
                " rule, reason, decided_at) values (%s, %s, %s, 'gate_1', %s, %s, %s)",
                (file_id, verdict, agency, rule, reason, judged),
            )
    _publish(clean_raw, "gate_1", judged)
    code, out, err = _tracker(capsys, "files", "withdraw", str(first), "--reason", "wrong month")
    assert code == 0, err
    _record_gate_run(clean_raw, "gate_2", datetime.now(UTC) + timedelta(minutes=1))
    _publish(clean_raw, "gate_2", datetime.now(UTC) + timedelta(minutes=2))

    detail = json.loads(_tracker(capsys, "files", "show", str(first), "--json")[1])
    assert detail["verdict"] == "published"
    assert detail["verdict_gate_run"]["run_id"] == "gate_1"
    # Published by gate_1; withdrawn before gate_2's publication, which left it out.
    assert [p["gate_run_id"] for p in detail["publications"]] == ["gate_1"]
    assert [later["file_id"] for later in detail["superseded_by"]] == [second]
    assert detail["rejected_by_reason"] == {"bad_integer": 1}
    assert detail["is_withdrawn"] is True

    code, out, err = _tracker(capsys, "files", "show", str(first))
    assert code == 0, err
    assert "judged by gate run gate_1 (DAG run manual__gate_1)" in out
    assert "publication 1: gate run gate_1" in out and "publication 2" not in out
    assert f"file {second} (moj_2025-12-16.csv)" in out
    assert "bad_integer: 1" in out

    later = json.loads(_tracker(capsys, "files", "show", str(second), "--json")[1])
    assert [p["gate_run_id"] for p in later["publications"]] == ["gate_1", "gate_2"]
    assert later["superseded_by"] == []

    held = json.loads(_tracker(capsys, "files", "show", str(moh), "--json")[1])
    assert (held["verdict"], held["verdict_rule"], held["publications"]) == (
        "held",
        "complete",
        [],
    )
    listing = _tracker(capsys, "files", "--agency", "MOH")[1]
    assert "held (complete)" in listing

    # tracker audit: the run after the withdraw lists it; --events lists every event.
    code, out, err = _tracker(capsys, "audit", "--run", "gate_2")
    assert code == 0, err
    assert "operator actions since the previous gate run (audit.file_events):" in out
    assert f"event 1: withdraw file {first} (moj_2025-12-15.csv, MOJ) by" in out
    assert "wrong month" in " ".join(out.split())  # lines wrapped at 100 columns
    code, out, _ = _tracker(capsys, "audit", "--run", "gate_1")
    assert code == 0 and "operator actions" not in out
    code, out, _ = _tracker(capsys, "audit", "--events", "--json")
    assert code == 0
    assert [(e["event_id"], e["action"], e["reason"]) for e in json.loads(out)] == [
        (1, "withdraw", "wrong month")
    ]
    code, out, _ = _tracker(capsys, "audit", "--events")
    assert code == 0 and out.startswith("operator actions (audit.file_events), oldest first:")


def test_an_invalid_freshness_setting_does_not_stop_tracker_files(
    received, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("TRACKER_FRESHNESS_MAX_AGE_DAYS", "abc")
    code, out, err = _tracker(capsys, "files", "--json")
    assert code == 0, err
    assert len(json.loads(out)) == 3


def test_the_operator_role_reads_what_tracker_files_shows(received, clean_raw) -> None:
    with database.connect(clean_raw, role=database.OPERATOR_ROLE) as conn:
        assert conn.execute("select current_user").fetchone()[0] == database.OPERATOR_ROLE
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("select 1 from raw.status_reports")  # rows: not the operator's to read
