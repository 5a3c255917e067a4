"""Publish only what passed: write–audit–publish, one agency's failure contained, operators'
recourse, a build's fixed view of raw — on the real PostgreSQL, dbt and GX, through the CLI.

One deployment for the module (the demo feeds, published once for 2025-12-15); the tests run in
order and each leaves the published state the next one starts from.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import FEED_HEADER, VALID_MOJ_ROW, empty_tracker_tables
from psycopg import sql

from r71_tracker import cli, demo_feeds, publication, transform
from r71_tracker.feeds import contract
from r71_tracker.web.site import run_page

pytestmark = pytest.mark.integration

DAY = demo_feeds.LATEST_REPORT_DATE  # 2025-12-15, the demo's last report date
NEXT_DAY = "2025-12-16"


@pytest.fixture(scope="module")
def published(tmp_path_factory, tracker_db_url):
    """The demo feeds ingested and published once (tracker build), in a deployment of its own."""
    root = tmp_path_factory.mktemp("wap")
    env = {
        "TRACKER_DATABASE_URL": tracker_db_url,
        "TRACKER_LANDING_DIR": str(root / "landing"),
        "TRACKER_PUBLISHED_DIR": str(root / "published"),
        "TRACKER_LOCAL_DIR": str(root / "local"),
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    empty_tracker_tables(tracker_db_url)
    _drop_candidates(tracker_db_url)
    demo_feeds.write_demo_feeds(root / "landing")
    assert cli.main(["ingest", str(root / "landing")]) == 0
    assert cli.main(["build", "--date", DAY.isoformat()]) == 0
    with psycopg.connect(tracker_db_url) as conn:
        # MPS will send a good file moving one of its databases to centralized; MOST a late one
        # saying one of its databases has not started
        mps, most = (
            conn.execute(
                "select min(database_code) from marts.database_current_status"
                " where owner_agency_code = %s and stage <> %s",
                (agency, stage),
            ).fetchone()[0]
            for agency, stage in (("MPS", "centralized"), ("MOST", "not_started"))
        )
    yield {"url": tracker_db_url, "root": root, "mps": mps, "most": most}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _drop_candidates(url: str) -> None:
    with psycopg.connect(url) as conn:
        for (name,) in conn.execute(
            "select nspname from pg_namespace where nspname like 'candidate\\_\\_%'"
        ).fetchall():
            conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))


def _checksums(url: str, schema: str = "marts", role: str | None = None) -> dict[str, str]:
    """One md5 per relation of `schema` over all its rows (read as `role` when given)."""
    with psycopg.connect(url) as conn:
        if role:
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        tables = [
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s"
                " order by 1",
                (schema,),
            )
        ]
        return {
            table: conn.execute(
                sql.SQL(
                    "select md5(coalesce(string_agg(t::text, '|' order by t::text), ''))"
                    " from {} as t"
                ).format(sql.Identifier(schema, table))
            ).fetchone()[0]
            for table in tables
        }


def _one(url: str, query: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchone()


def _file_id(url: str, name: str) -> tuple:
    return _one(url, "select file_id from raw.feed_files where original_name = %s", name)


def _stage(url: str, database_code: str) -> tuple:
    return _one(
        url,
        "select stage, evidence_file_name from marts.database_current_status"
        " where database_code = %s",
        database_code,
    )


def _feed(folder: Path, name: str, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [FEED_HEADER, *(",".join(str(row[f]) for f in contract.FIELDS) for row in rows)]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _mps_file(folder: Path, database_code: str) -> Path:
    row = {
        **VALID_MOJ_ROW,
        "report_date": NEXT_DAY,
        "agency_code": "MPS",
        "database_code": database_code,
        "platform_status": "operational",
        "data_status": "centralized",
        "process_integrated": "true",
    }
    return _feed(folder, f"MPS_{NEXT_DAY}.csv", [row])


def _moj_broken_file(folder: Path) -> Path:
    """Two of three rows quarantined (bad_enum): more than the 50 % bar of `clean`."""
    good = {
        **VALID_MOJ_ROW,
        "report_date": NEXT_DAY,
        "database_code": "MOJ-CIVIL-STATUS",
        "data_status": "none",
        "process_integrated": "false",
    }
    bad = [
        {**good, "database_code": code, "platform_status": "flying"}
        for code in ("MOJ-LEGAL-AID", "MOJ-NOTARIZATION")
    ]
    return _feed(folder, f"MOJ_{NEXT_DAY}.csv", [good, *bad])


def test_a_failing_gate_changes_nothing_people_read(published, capsys):
    url = published["url"]
    before = _checksums(url)
    liaison_before = _checksums(url, role="tracker_liaison")
    assert before and before == liaison_before
    publications = _one(url, "select count(*) from audit.publications")[0]

    # half a year after the last report: the freshness rule (national) fails
    assert cli.main(["build", "--date", "2026-06-01"]) == 1
    err = capsys.readouterr().err
    assert "nothing was published" in err and "tracker run --date 2025-12-15" in err

    assert _checksums(url) == before
    assert _checksums(url, role="tracker_liaison") == liaison_before
    assert _one(url, "select count(*) from audit.publications")[0] == publications
    # the failed candidate is kept, named by its run: the auditor reads it, the liaison cannot
    candidate = publication.latest_candidate(url)
    assert candidate and candidate.startswith("candidate__20260601__")
    assert _checksums(url, candidate, role="tracker_auditor")
    with (
        psycopg.connect(url) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("set role tracker_liaison")
        conn.execute(
            sql.SQL("select count(*) from {}").format(
                sql.Identifier(candidate, "database_current_status")
            )
        )
    # what people read still says what the last publication said; the candidate what it would
    assert cli.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["as_of"] == DAY.isoformat()
    assert cli.main(["status", "--candidate", "--json"]) == 0
    would = json.loads(capsys.readouterr().out)
    assert would["candidate"] == candidate and would["as_of"] == "2026-06-01"
    assert cli.main(["feeds", "--json"]) == 0
    late = [row for row in json.loads(capsys.readouterr().out) if row["is_late"]]
    assert [row["agency_code"] for row in late] == ["OOG"]  # not 19 of 19


def test_one_agencys_broken_file_holds_that_agency_only(published, capsys):
    url = published["url"]
    landing = published["root"] / "day2"
    moj_stage = _stage(url, "MOJ-CIVIL-STATUS")
    broken, good = _moj_broken_file(landing), _mps_file(landing, published["mps"])
    assert cli.main(["ingest", str(broken), str(good)]) == 0
    capsys.readouterr()

    assert cli.main(["build", "--date", NEXT_DAY]) == 0
    out = capsys.readouterr().out
    assert "held agencies" in out and "MOJ" in out

    # MPS's new file is published; MOJ keeps its last published state
    assert _stage(url, published["mps"]) == ("centralized", good.name)
    assert _stage(url, "MOJ-CIVIL-STATUS") == moj_stage
    broken_id = _one(
        url, "select file_id from raw.feed_files where original_name = %s", broken.name
    )
    verdict = _one(
        url,
        "select verdict, rule, failing_rows from audit.file_verdicts where file_id = %s",
        broken_id[0],
    )
    assert verdict == ("held", "file_quarantine_share", 2)
    assert cli.main(["feeds", "--json"]) == 0
    feeds = {row["agency_code"]: row for row in json.loads(capsys.readouterr().out)}
    assert [code for code, row in feeds.items() if row["is_held"]] == ["MOJ"]
    assert feeds["MOJ"]["held_files"][0]["file_name"] == broken.name
    assert cli.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["held_agencies"] == ["MOJ"]
    assert _one(
        url, "select held_agencies from audit.publications order by publication_id desc limit 1"
    ) == (["MOJ"],)
    # exactly the held agency's liaison hears of it, naming the file and its failing rows
    alerts = _alerts(url, "agency_held")
    assert [(agency, recipient) for agency, recipient, _ in alerts] == [
        ("MOJ", "liaison.moj@example.invalid"),
        (None, "data-platform@example.invalid"),
    ]
    assert broken.name in alerts[0][2] and "2 failing rows" in alerts[0][2]
    overview = (published["root"] / "published" / "index.en.html").read_text("utf-8")
    assert "Held agencies" in overview and broken.name in overview

    # the next run without new files passes at once: the file was judged once (--full: built
    # and judged again although nothing changed)
    runs = _one(url, "select count(*) from audit.gate_runs")[0]
    assert cli.main(["build", "--date", NEXT_DAY, "--full"]) == 0
    assert _one(url, "select count(*) from audit.gate_runs")[0] == runs + 1  # one gate run
    assert _one(url, "select success from audit.gate_runs order by finished_at desc limit 1") == (
        True,
    )
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["held_agencies"] == ["MOJ"]  # until it resends


def _alerts(url: str, kind: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select agency_code, recipient, body from audit.alerts where alert_kind = %s"
            " order by agency_code nulls last",
            (kind,),
        ).fetchall()


def test_withdraw_then_restore_changes_and_restores_the_published_stage(published, capsys):
    url = published["url"]
    good_id = _one(
        url, "select file_id from raw.feed_files where original_name = %s", f"MPS_{NEXT_DAY}.csv"
    )[0]
    published_stage = _stage(url, published["mps"])
    assert published_stage[1] == f"MPS_{NEXT_DAY}.csv"

    assert cli.main(["files", "withdraw", str(good_id), "--reason", "sent by mistake"]) == 0
    assert cli.main(["build", "--date", NEXT_DAY]) == 0
    withdrawn = _stage(url, published["mps"])
    assert withdrawn != published_stage and withdrawn[1] != f"MPS_{NEXT_DAY}.csv"

    assert cli.main(["files", "restore", str(good_id), "--reason", "confirmed by MPS"]) == 0
    assert cli.main(["build", "--date", NEXT_DAY]) == 0
    assert _stage(url, published["mps"]) == published_stage

    # withdrawing MOJ's held file releases MOJ
    held_id = _one(
        url, "select file_id from raw.feed_files where original_name = %s", f"MOJ_{NEXT_DAY}.csv"
    )[0]
    assert cli.main(["files", "withdraw", str(held_id), "--reason", "MOJ resends"]) == 0
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["held_agencies"] == []

    with psycopg.connect(url) as conn:
        events = conn.execute(
            "select file_id, action, reason from audit.file_events order by event_id"
        ).fetchall()
    assert events == [
        (good_id, "withdraw", "sent by mistake"),
        (good_id, "restore", "confirmed by MPS"),
        (held_id, "withdraw", "MOJ resends"),
    ]
    assert cli.main(["audit", "--events"]) == 0
    shown = capsys.readouterr().out
    assert "sent by mistake" in shown and "confirmed by MPS" in shown


def test_a_later_file_of_its_own_that_passes_releases_a_held_agency(published, capsys):
    url = published["url"]
    folder = published["root"] / "day3"
    broken = _moj_broken_file(folder)
    broken.write_text(broken.read_text("utf-8").replace("27400000", "27400001"), "utf-8")
    assert cli.main(["ingest", str(broken)]) == 0
    assert cli.main(["build", "--date", NEXT_DAY]) == 0
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["held_agencies"] == ["MOJ"]

    corrected = _feed(
        folder,
        f"MOJ_{NEXT_DAY}_corrected.csv",
        [
            {
                **VALID_MOJ_ROW,
                "report_date": NEXT_DAY,
                "database_code": "MOJ-CIVIL-STATUS",
                "data_status": "partial",
            }
        ],
    )
    assert cli.main(["ingest", str(corrected)]) == 0
    assert cli.main(["build", "--date", NEXT_DAY]) == 0
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["held_agencies"] == []
    assert _stage(url, "MOJ-CIVIL-STATUS") == ("in_progress", corrected.name)


def test_an_ingest_committed_during_a_build_changes_nothing_it_publishes(
    published, monkeypatch, capsys
):
    url = published["url"]
    late_file = _feed(
        published["root"] / "late",
        f"MOST_{NEXT_DAY}.csv",
        [
            {
                **VALID_MOJ_ROW,
                "report_date": NEXT_DAY,
                "agency_code": "MOST",
                "database_code": published["most"],
                "platform_status": "not_started",
                "data_status": "none",
                "process_integrated": "false",
                "connected_national": "false",
                "record_count": "0",
                "records_updated_30d": "0",
                "consumer_agencies": "0",
            }
        ],
    )
    before = _stage(url, published["most"])
    build = transform.build

    def ingest_then_build(url_, run_date, candidate=None, **options):
        # the file commits after the build has started (its candidate exists, dbt not yet run)
        assert cli.main(["ingest", str(late_file)]) == 0
        return build(url_, run_date, candidate, **options)

    monkeypatch.setattr(transform, "build", ingest_then_build)
    # --full: nothing is new when the build starts, so it would otherwise not build at all
    assert cli.main(["build", "--date", NEXT_DAY, "--full"]) == 0
    monkeypatch.setattr(transform, "build", build)

    assert _stage(url, published["most"]) == before
    late_id = _one(
        url, "select file_id from raw.feed_files where original_name = %s", late_file.name
    )
    assert _one(url, "select count(*) from audit.file_verdicts where file_id = %s", late_id[0]) == (
        0,
    )
    # the published marts agree with each other (the summary counts the current stages)
    assert _one(
        url,
        "select count(*) filter (where stage = 'not_started') from marts.database_current_status",
    ) == _one(
        url,
        "select not_started_count from marts.stage_summary where status_date = %s",
        NEXT_DAY,
    )
    # the next build takes it
    assert cli.main(["build", "--date", NEXT_DAY]) == 0
    assert _stage(url, published["most"]) == ("not_started", late_file.name)


def test_publication_refuses_a_candidate_without_a_passing_verdict(published):
    url = published["url"]
    candidate = publication.prepare_candidate(url, "forged__run", DAY)
    transform.build(url, DAY, candidate.schema)
    before = _checksums(url)
    with pytest.raises(publication.PublicationRefused):
        publication.publish_candidate(url, candidate, "no-such-gate-run", None)
    assert _checksums(url) == before


def _dbt_results(published) -> set[str]:
    """The resource types and folders of what the last candidate build ran (`unit_test`,
    `test:models/marts`, ...)."""
    path = published["root"] / "local" / "dbt_target" / "candidates" / "run_results.json"
    results = json.loads(path.read_text("utf-8"))["results"]
    manifest = json.loads(path.with_name("manifest.json").read_text("utf-8"))
    ran = set()
    for result in results:
        unique_id = result["unique_id"]
        kind = unique_id.split(".")[0]
        node = manifest["nodes"].get(unique_id) or manifest.get("unit_tests", {}).get(unique_id)
        folder = "/".join(Path(node["original_file_path"]).parts[:2]) if node else "?"
        ran.add(kind if kind != "test" else f"test:{folder}")
    return ran


def test_a_run_with_nothing_new_builds_judges_and_publishes_nothing(published, capsys):
    url = published["url"]
    last_date = _one(
        url, "select run_date from audit.publications order by publication_id desc limit 1"
    )[0].isoformat()
    # --full builds even so, with every dbt test
    assert cli.main(["build", "--date", last_date, "--full"]) == 0
    assert {"unit_test", "test:models/marts", "test:models/staging"} <= _dbt_results(published)
    publications = _one(url, "select count(*) from audit.publications")[0]
    gate_runs = _one(url, "select count(*) from audit.gate_runs")[0]
    before = _checksums(url)
    candidates = _one(url, "select count(*) from pg_namespace where nspname like 'candidate%%'")
    capsys.readouterr()

    # the same date again, nothing new: the publication stands
    assert cli.main(["build", "--date", last_date]) == 0
    out = capsys.readouterr().out
    assert "nothing changed since the publication of gate run" in out
    assert _one(url, "select count(*) from audit.publications")[0] == publications
    assert _one(url, "select count(*) from audit.gate_runs")[0] == gate_runs
    assert _checksums(url) == before
    assert (
        _one(url, "select count(*) from pg_namespace where nspname like 'candidate%%'")
        == candidates
    )

    # the next day (not a Monday, the project unchanged since the full build): the daily build
    # runs the marts' tests, not the unit tests nor the staging and intermediate ones
    next_day = date.fromisoformat(last_date) + timedelta(days=1)
    next_day += timedelta(days=1 if next_day.weekday() == transform.FULL_BUILD_WEEKDAY else 0)
    assert cli.main(["build", "--date", next_day.isoformat()]) == 0
    ran = _dbt_results(published)
    assert "test:models/marts" in ran and "model" in ran
    assert not ran & {"unit_test", "test:models/staging", "test:models/intermediate"}
    assert _one(url, "select count(*) from audit.publications")[0] == publications + 1


def test_no_gx_data_docs_are_published_and_an_earlier_copy_is_removed(published):
    """GX Data Docs load their assets from public CDNs (offline they list nothing), so they are
    not published: the quality run pages show every gate run's results instead (README)."""
    url = published["url"]
    site = published["root"] / "published"
    assert site.is_dir() and not (site / "data_docs").exists()
    # a copy an earlier version published goes with the next publication
    (site / "data_docs").mkdir()
    (site / "data_docs" / "index.html").write_text("<html>0 validations</html>", "utf-8")
    last_date = _one(
        url, "select run_date from audit.publications order by publication_id desc limit 1"
    )[0]
    assert cli.main(["build", "--date", (last_date + timedelta(days=1)).isoformat()]) == 0
    assert not (site / "data_docs").exists()
    assert "data_docs" not in (site / "index.html").read_text("utf-8")
    gate_run = _one(
        url, "select gate_run_id from audit.publications order by publication_id desc limit 1"
    )[0]
    assert (site / run_page(gate_run)).is_file()
