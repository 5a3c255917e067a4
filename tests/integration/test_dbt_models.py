"""The dbt project on a real PostgreSQL: raw rows in, stages out, as FEED_CONTRACT.md defines them.

A handful of raw rows are inserted straight into raw.feed_files / raw.status_reports (as the ingest
would leave them), then `transform.build` runs dbt (seeds, models, unit and data tests). One build
judges a fixed run date and serves most tests; a second one checks the default run date and docs.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import psycopg
import pytest

from r71_tracker import transform

pytestmark = pytest.mark.integration

RUN_DATE = date(2025, 6, 5)
DROP_TURN_LOCK_KEY = 710_074  # the advisory lock of dbt_project/macros/drop_relation.sql
REGISTRY_TOTAL = 105

# (name, received_at, status, reason, [(line, database_code, report_date, platform, data, process)],
#  rejected lines). Files are inserted in this order, so file ids follow it: the later-received
# same-date file gets the lower id, which proves the tie is broken by received_at first.
FILES = [
    (
        "moj_history.csv",
        datetime(2025, 6, 2, 8, tzinfo=UTC),
        "loaded",
        None,
        [
            (2, "MOJ-CIVIL-STATUS", date(2025, 6, 1), "operational", "centralized", True),
            (3, "MOJ-LEGAL-AID", date(2025, 6, 1), "not_started", "none", False),
            (4, "MOJ-CIVIL-JUDGMENT-ENF", date(2025, 6, 1), "operational", "centralized", False),
        ],
        [5],
    ),
    (
        "moj_2025-06-03.csv",
        datetime(2025, 6, 3, 9, tzinfo=UTC),
        "loaded",
        None,
        [(2, "MOJ-LEGAL-AID", date(2025, 6, 3), "not_started", "digitized", False)],
        [],
    ),
    (
        "moj_correction.json",
        datetime(2025, 6, 4, 12, tzinfo=UTC),
        "loaded",
        None,
        [(0, "MOJ-CIVIL-JUDGMENT-ENF", date(2025, 6, 3), "not_started", "none", False)],
        [],
    ),
    (
        "moj_first_version.json",
        datetime(2025, 6, 4, 10, tzinfo=UTC),
        "loaded",
        None,
        [(0, "MOJ-CIVIL-JUDGMENT-ENF", date(2025, 6, 3), "operational", "centralized", True)],
        [],
    ),
    (
        "moj_2025-06-10.csv",
        datetime(2025, 6, 10, 7, tzinfo=UTC),
        "loaded",
        None,
        [(2, "MOJ-CIVIL-STATUS", date(2025, 6, 10), "building", "partial", False)],
        [],
    ),
    ("moj_latin1.csv", datetime(2025, 6, 3, 11, tzinfo=UTC), "rejected", "bad_encoding"),
]


def _insert_raw_rows(url: str) -> None:
    with psycopg.connect(url) as conn:
        for name, received_at, status, reason, *rows in FILES:
            loaded, rejected = rows if rows else ([], [])
            content = name.encode()
            file_id = conn.execute(
                "insert into raw.feed_files (sha256, original_name, size_bytes,"
                " feed_format, agency_code, file_status, file_reason_code, rows_received,"
                " rows_loaded, rows_rejected, received_at)"
                " values (%s, %s, %s, %s, 'MOJ', %s, %s, %s, %s, %s, %s) returning file_id",
                (
                    hashlib.sha256(content).hexdigest(),
                    name,
                    len(content),
                    name.split(".")[-1],
                    status,
                    reason,
                    len(loaded) + len(rejected),
                    len(loaded),
                    len(rejected),
                    received_at,
                ),
            ).fetchone()[0]
            for line, code, report_date, platform, data, process in loaded:
                conn.execute(
                    "insert into raw.status_reports (file_id, line_number, report_date,"
                    " agency_code, database_code, platform_status, data_status,"
                    " process_integrated, connected_national, record_count, records_updated_30d,"
                    " consumer_agencies)"
                    " values (%s, %s, %s, 'MOJ', %s, %s, %s, %s, true, 1000, 10, 2)",
                    (file_id, line, report_date, code, platform, data, process),
                )
            for line in rejected:
                conn.execute(
                    "insert into raw.rejected_rows (file_id, line_number, reason_code, message)"
                    " values (%s, %s, 'bad_enum', 'platform_status: unknown value')",
                    (file_id, line),
                )


def _rows(url: str, sql: str, params: tuple = ()) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def built_url(tracker_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Raw rows loaded and `dbt build` run once for RUN_DATE (shared by this module's tests)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_DATABASE_URL", tracker_db_url)
        patch.setenv("TRACKER_LOCAL_DIR", str(tmp_path_factory.mktemp("local")))
        with psycopg.connect(tracker_db_url) as conn:
            conn.execute(
                "truncate raw.status_reports, raw.field_reports, raw.rejected_rows, raw.feed_files"
                " restart identity"
            )
        _insert_raw_rows(tracker_db_url)
        transform.build(tracker_db_url, RUN_DATE)
    return tracker_db_url


def _current(url: str) -> dict[str, dict]:
    rows = _rows(url, "select * from marts.database_current_status")
    return {row["database_code"]: row for row in rows}


def test_current_status_has_every_registry_database_as_of_run_date(built_url: str) -> None:
    current = _current(built_url)
    assert len(current) == REGISTRY_TOTAL
    assert {row["as_of_date"] for row in current.values()} == {RUN_DATE}


def test_stage_rule_classifies_reported_databases(built_url: str) -> None:
    current = _current(built_url)
    civil_status = current["MOJ-CIVIL-STATUS"]
    assert civil_status["stage"] == "centralized"
    assert civil_status["evidence_file_name"] == "moj_history.csv"
    assert civil_status["evidence_line_number"] == 2
    # digitized data on a not-started platform is progress, not "not started"
    assert current["MOJ-LEGAL-AID"]["stage"] == "in_progress"
    assert current["MOJ-LEGAL-AID"]["effective_report_date"] == date(2025, 6, 3)


def test_unreported_database_counts_as_not_started_with_null_status(built_url: str) -> None:
    silent = _current(built_url)["MOJ-SECURED-TRANSACTIONS"]
    assert silent["stage"] == "not_started"
    assert silent["is_unreported"] is True
    assert silent["platform_status"] is None
    assert silent["effective_report_date"] is None
    assert silent["evidence_file_id"] is None


def test_as_of_rule_file_received_last_wins_and_later_reports_wait(built_url: str) -> None:
    current = _current(built_url)
    # two files report 2025-06-03: the one received at 12:00 wins over the one received at 10:00
    judgment = current["MOJ-CIVIL-JUDGMENT-ENF"]
    assert (judgment["stage"], judgment["is_unreported"]) == ("not_started", False)
    assert judgment["evidence_file_name"] == "moj_correction.json"
    # the 2025-06-10 report is after the run date: the 2025-06-01 one still counts on 2025-06-05
    assert current["MOJ-CIVIL-STATUS"]["effective_report_date"] == date(2025, 6, 1)
    history = {
        (row["database_code"], row["status_date"]): row
        for row in _rows(
            built_url,
            "select * from marts.stage_history where database_code in"
            " ('MOJ-CIVIL-STATUS', 'MOJ-LEGAL-AID', 'MOJ-CIVIL-JUDGMENT-ENF')",
        )
    }
    assert history[("MOJ-CIVIL-STATUS", date(2025, 5, 31))]["is_unreported"] is True
    assert history[("MOJ-CIVIL-STATUS", date(2025, 6, 9))]["stage"] == "centralized"
    assert history[("MOJ-CIVIL-STATUS", date(2025, 6, 10))]["stage"] == "in_progress"
    assert history[("MOJ-LEGAL-AID", date(2025, 6, 2))]["stage"] == "not_started"
    assert history[("MOJ-LEGAL-AID", date(2025, 6, 2))]["is_unreported"] is False
    assert history[("MOJ-CIVIL-JUDGMENT-ENF", date(2025, 6, 2))]["stage"] == "in_progress"


def test_stage_summary_adds_up_to_registry_every_day(built_url: str) -> None:
    summary = _rows(built_url, "select * from marts.stage_summary order by status_date")
    # from the resolution's start to the last report date (after the run date)
    assert summary[0]["status_date"] == date(2025, 4, 1)
    assert summary[-1]["status_date"] == date(2025, 6, 10)
    assert len(summary) == (date(2025, 6, 10) - date(2025, 4, 1)).days + 1
    for day in summary:
        stages = day["centralized_count"] + day["in_progress_count"] + day["not_started_count"]
        assert day["total_count"] == stages == REGISTRY_TOTAL, day
    on_run_date = next(day for day in summary if day["status_date"] == RUN_DATE)
    assert on_run_date["centralized_count"] == 1
    assert on_run_date["in_progress_count"] == 1
    assert on_run_date["not_started_count"] == REGISTRY_TOTAL - 2
    assert on_run_date["unreported_count"] == REGISTRY_TOTAL - 3


def test_feed_file_loads_accounts_every_row(built_url: str) -> None:
    loads = {row["original_name"]: row for row in _rows(built_url, "table marts.feed_file_loads")}
    assert len(loads) == len(FILES)
    for row in loads.values():
        assert row["rows_received"] == row["rows_loaded"] + row["rows_rejected"]
        assert row["status_rows_stored"] == row["rows_loaded"]
        assert row["rejected_rows_stored"] == row["rows_rejected"]
    history = loads["moj_history.csv"]
    assert (history["rows_received"], history["rows_loaded"], history["rows_rejected"]) == (4, 3, 1)
    rejected = loads["moj_latin1.csv"]
    assert (rejected["file_status"], rejected["file_reason_code"]) == ("rejected", "bad_encoding")


def test_a_mart_row_that_breaks_its_rules_fails_the_build_naming_the_rule(
    built_url: str, tmp_path
) -> None:
    """The marts' row rules are check constraints of their enforced contracts: PostgreSQL refuses
    the row as the table is built, so the build fails (and nothing is published) as a failed data
    test would, and the old table stays."""
    with psycopg.connect(built_url, autocommit=True) as conn:
        checks = conn.execute(
            "select count(*) from pg_constraint join pg_namespace on nspname = 'marts'"
            " and pg_namespace.oid = connamespace where contype = 'c'"
        ).fetchone()
        assert checks is not None and checks[0] >= 40
        # one stored row of a loaded file goes missing: rows_loaded no longer adds up
        removed = conn.execute(
            "delete from raw.rejected_rows where file_id ="
            " (select file_id from raw.feed_files where original_name = 'moj_history.csv')"
            " returning *"
        ).fetchall()
        assert len(removed) == 1
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "local"))
                with pytest.raises(transform.DbtFailed) as failure:
                    transform.run_dbt(["run", "--select", "feed_file_loads"], built_url)
        finally:
            placeholders = ", ".join(["%s"] * len(removed[0]))
            conn.execute(
                f"insert into raw.rejected_rows overriding system value values ({placeholders})",
                removed[0],
            )
    assert "feed_file_loads_rejected_rows_stored" in str(failure.value)
    loads = {row["original_name"]: row for row in _rows(built_url, "table marts.feed_file_loads")}
    assert loads["moj_history.csv"]["rejected_rows_stored"] == 1


@pytest.fixture(scope="module")
def grain_tests_run(built_url: str, tmp_path_factory: pytest.TempPathFactory):
    """`dbt test` of the two intermediate models the marts rely on for their grain, on this
    module's rows (two files of one report date for MOJ-CIVIL-JUDGMENT-ENF among them): the
    target dir's manifest and the tests' results."""
    target_dir = tmp_path_factory.mktemp("local") / "dbt_target"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_LOCAL_DIR", str(target_dir.parent))
        selected = "int_database_reports_recent int_status_reports_received"
        transform.run_dbt(["test", "--select", selected], built_url)
    manifest = json.loads((target_dir / "manifest.json").read_text(encoding="utf-8"))
    results = json.loads((target_dir / "run_results.json").read_text(encoding="utf-8"))
    return manifest, {result["unique_id"]: result["status"] for result in results["results"]}


def _key_tests(manifest: dict, model: str) -> dict[tuple, str]:
    """The model's unique / not_null / compound-key tests: (test, column or columns) -> test id."""
    found = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "test" or node.get("attached_node") != model:
            continue
        name, kwargs = node["test_metadata"]["name"], node["test_metadata"]["kwargs"]
        if name in {"unique", "not_null"}:
            found[(name, kwargs["column_name"])] = unique_id
        elif name == "unique_combination_of_columns":
            found[(name, tuple(kwargs["combination_of_columns"]))] = unique_id
    return found


def test_intermediate_models_the_marts_rank_or_join_keep_their_grain(grain_tests_run) -> None:
    manifest, statuses = grain_tests_run
    received = _key_tests(manifest, "model.r71_tracker.int_status_reports_received")
    recent = _key_tests(manifest, "model.r71_tracker.int_database_reports_recent")
    # one row per loaded status row: the join to its file never fans out
    assert {("unique", "status_report_id"), ("not_null", "status_report_id")} <= set(received)
    # one row per database and effective report date: recency_rank is a deterministic order
    expected_recent = {
        ("unique_combination_of_columns", ("database_code", "effective_report_date")),
        ("not_null", "database_code"),
        ("not_null", "effective_report_date"),
    }
    assert expected_recent <= set(recent)
    key_tests = [received[key] for key in received] + [recent[key] for key in expected_recent]
    assert {statuses.get(test_id) for test_id in key_tests} == {"pass"}


def test_what_people_and_tools_read_is_public_under_an_enforced_contract(grain_tests_run) -> None:
    manifest, _ = grain_tests_run
    models = {
        uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"
    }
    marts = {
        uid
        for uid, node in models.items()
        if node["original_file_path"].startswith("models/marts/")
    }
    read_by_exposures = {
        uid
        for exposure in manifest["exposures"].values()
        for uid in exposure["depends_on"]["nodes"]
    }
    assert read_by_exposures and read_by_exposures <= marts
    assert {uid: (models[uid]["access"], models[uid]["contract"]["enforced"]) for uid in marts} == {
        uid: ("public", True) for uid in marts
    }
    # staging and intermediate models stay internal (dbt's default)
    assert {node["access"] for uid, node in models.items() if uid not in marts} == {"protected"}


def test_default_run_date_is_latest_report_and_docs_open_offline(
    built_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "local"))
    transform.build(built_url, None)
    as_of = _rows(built_url, "select distinct as_of_date from marts.database_current_status")
    assert as_of == [{"as_of_date": date(2025, 6, 10)}]
    assert _current(built_url)["MOJ-CIVIL-STATUS"]["stage"] == "in_progress"

    page = transform.generate_docs(built_url, tmp_path / "docs")
    html = page.read_text(encoding="utf-8")
    assert page.name == "index.html"
    # both languages of the descriptions reach the page (its inlined JSON escapes non-ASCII)
    assert "database_current_status" in html and "Resolution 71" in html
    assert json.dumps("Nghị quyết 71")[1:-1] in html
    _assert_docs_bilingual_with_complete_lineage(tmp_path / "local" / "dbt_target")


def test_a_publication_generates_the_docs_again_only_when_the_project_changed(
    built_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "local"))
    out = tmp_path / "docs"

    def publication_docs() -> int:
        page = transform.generate_docs(built_url, out, only_if_project_changed=True)
        return page.stat().st_mtime_ns

    first = publication_docs()
    time.sleep(0.01)
    assert publication_docs() == first  # the same project: the page is kept
    (out / ".project-sha256").write_text("an earlier project", encoding="utf-8")
    assert publication_docs() > first  # another project: generated again
    assert transform.generate_docs(built_url, out).stat().st_mtime_ns > first  # make docs: always


# A Vietnamese letter with a diacritic: present in every Vietnamese sentence of the docs.
_VIETNAMESE = re.compile("[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]")


def _bilingual(text: str) -> bool:
    """Both languages: a Vietnamese part and an English part (`VI / EN`, `VI: … EN: …` or, in a
    model's markdown, **VI:** … **EN:**)."""
    return bool(_VIETNAMESE.search(text.lower())) and (" / " in text or "EN:" in text)


def _assert_docs_bilingual_with_complete_lineage(target_dir) -> None:
    """What the docs page inlines (manifest.json): every model, seed, snapshot and raw feed table
    described in both languages, every mart column too, and each mart reached from a raw table."""
    manifest = json.loads((target_dir / "manifest.json").read_text(encoding="utf-8"))
    nodes = {
        unique_id: node
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] in {"model", "seed", "snapshot"}
    }
    one_language = [
        uid
        for uid, node in {**nodes, **manifest["sources"]}.items()
        if not _bilingual(node["description"])
    ]
    assert one_language == []
    marts = {
        uid for uid, node in nodes.items() if node["original_file_path"].startswith("models/marts/")
    }
    assert len(marts) >= 12
    one_language_columns = [
        f"{uid}.{name}"
        for uid in marts
        for name, column in nodes[uid]["columns"].items()
        if not _bilingual(column["description"])
    ]
    assert one_language_columns == []
    # the column table of the docs site shows a column's description as plain text: no markdown
    # emphasis there (a model's own description is rendered as markdown)
    emphasised = [
        f"{uid}.{name}"
        for uid, node in {**nodes, **manifest["sources"]}.items()
        for name, column in node["columns"].items()
        if "**" in column["description"]
    ]
    assert emphasised == []
    # every mart column is documented at all (an undocumented column is absent from "columns")
    catalog = json.loads((target_dir / "catalog.json").read_text(encoding="utf-8"))
    undocumented = [
        f"{uid}.{name}"
        for uid in marts
        for name in catalog["nodes"][uid]["columns"]
        if name not in nodes[uid]["columns"]
    ]
    assert undocumented == []

    def downstream(unique_id: str) -> set[str]:
        seen: set[str] = set()
        pending = [unique_id]
        while pending:
            for child in manifest["child_map"].get(pending.pop(), []):
                if child not in seen:
                    seen.add(child)
                    pending.append(child)
        return seen

    raw_tables = {uid: downstream(uid) for uid in manifest["sources"]}
    assert {source["name"] for source in manifest["sources"].values()} == {
        "feed_files",
        "status_reports",
        "field_reports",
        "rejected_rows",
        "file_states",  # the build's file list: which files' rows reach the marts
    }
    assert all(reached & marts for reached in raw_tables.values())
    assert marts <= set().union(*raw_tables.values())


def test_failed_dbt_names_the_problem_on_one_line(built_url: str, tmp_path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "local"))
        patch.setenv("TRACKER_RUN_DATE", "5 June")
        with pytest.raises(transform.DbtFailed) as failure:
            transform.run_dbt(["compile", "--select", "int_status_dates_spanned"], built_url)
    assert "TRACKER_RUN_DATE" in str(failure.value)
    assert "\n" not in str(failure.value)


def _waiting_drops(url: str) -> list[str]:
    """Statements of other sessions waiting for an advisory lock while dropping a relation, in
    this database (advisory locks are per database; other test workers' databases share the
    server)."""
    rows = _rows(
        url,
        "select query from pg_stat_activity where wait_event_type = 'Lock'"
        " and wait_event = 'advisory' and query like '%%drop %%'"
        " and datname = current_database()",
    )
    return [row["query"] for row in rows]


def test_rebuilt_views_drop_their_old_copies_in_turn(built_url: str, tmp_path) -> None:
    """dbt drops a rebuilt view's old copy with CASCADE; two threads doing it at once through
    shared downstream views deadlock (what failed a CI run), so each drop waits for its turn."""
    view_layers = ["run", "--select", "path:models/staging", "path:models/intermediate"]
    staging_views = "select viewname from pg_views where schemaname = 'staging' order by 1"
    views_before = _rows(built_url, staging_views)
    with (
        pytest.MonkeyPatch.context() as patch,
        psycopg.connect(built_url, autocommit=True) as turn_holder,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        patch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "local"))
        turn_holder.execute("select pg_advisory_lock(%s)", (DROP_TURN_LOCK_KEY,))
        rebuild = pool.submit(transform.run_dbt, view_layers, built_url)
        deadline = time.monotonic() + 120
        while not (waiting := _waiting_drops(built_url)) and not rebuild.done():
            assert time.monotonic() < deadline, "dbt neither dropped nor waited"
            time.sleep(0.1)
        turn_holder.execute("select pg_advisory_unlock(%s)", (DROP_TURN_LOCK_KEY,))
        rebuild.result(timeout=300)
    assert waiting, "dbt dropped an old copy without waiting for its turn"
    assert all("__dbt_backup" in query and "cascade" in query for query in waiting)
    leftovers = _rows(built_url, "select relname from pg_class where relname like '%%dbt_backup'")
    assert leftovers == []
    assert _rows(built_url, staging_views) == views_before


def _source_freshness(url: str, out) -> dict[str, dict]:
    """`dbt source freshness` of every source, its results by table; DbtFailed on an error (the
    results are written to `out` all the same)."""
    transform.run_dbt(["source", "freshness", "--output", str(out)], url)
    results = json.loads(out.read_text(encoding="utf-8"))["results"]
    return {result["unique_id"].rsplit(".", 1)[-1]: result for result in results}


def test_source_freshness_warns_after_two_days_and_errors_after_seven(
    built_url: str, tmp_path
) -> None:
    """Only raw.feed_files has a load time (received_at): the newest file received, any agency."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "local"))
        # this module's newest file was received on 2025-06-10: far more than 7 days ago
        with pytest.raises(transform.DbtFailed, match="source.r71_tracker.feeds.feed_files"):
            _source_freshness(built_url, tmp_path / "stale.json")
        stale = json.loads((tmp_path / "stale.json").read_text(encoding="utf-8"))["results"]
        assert [(r["unique_id"], r["status"]) for r in stale] == [
            ("source.r71_tracker.feeds.feed_files", "error")
        ]
        assert stale[0]["criteria"]["warn_after"] == {"count": 2, "period": "day"}
        assert stale[0]["criteria"]["error_after"] == {"count": 7, "period": "day"}
        with psycopg.connect(built_url) as conn:
            file_id = conn.execute(
                "insert into raw.feed_files (sha256, original_name, size_bytes, agency_code,"
                " file_status, file_reason_code, rows_received, rows_loaded, rows_rejected,"
                " received_at) values (%s, 'three_days_ago.xlsx', 1, 'MOJ', 'rejected',"
                " 'bad_format', 0, 0, 0, now() - interval '3 days') returning file_id",
                (hashlib.sha256(b"three days ago").hexdigest(),),
            ).fetchone()[0]
        try:
            late = _source_freshness(built_url, tmp_path / "late.json")
        finally:
            with psycopg.connect(built_url) as conn:
                conn.execute("delete from raw.feed_files where file_id = %s", (file_id,))
    assert late["feed_files"]["status"] == "warn"


def test_a_rules_seed_given_a_new_column_by_a_release_loads_on_the_next_build(
    built_url: str, tmp_path
) -> None:
    """dbt reloads a seed by truncate-and-insert, which fails when a release adds a column to
    its CSV (scorecard_rules gained reason_vi/reason_en): the build reloads such a seed alone
    with --full-refresh first, so an upgraded deployment keeps building."""
    with psycopg.connect(built_url, autocommit=True) as conn:
        conn.execute("alter table staging.scorecard_rules drop column reason_en cascade")
    assert transform.seeds_with_other_columns(built_url) == ["scorecard_rules"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_LOCAL_DIR", str(tmp_path / "local"))
        transform.build(built_url, RUN_DATE)
    assert transform.seeds_with_other_columns(built_url) == []
    assert _rows(built_url, "select count(*) as n from marts.agency_scorecard")[0]["n"] > 0
