"""The tracker's pages on a published demo, in a real PostgreSQL: their figures equal the marts,
every figure drills down to its feed line as received, both languages, every route behind the
access check, nothing writable, a feed's notes shown as text, and the static site from the same
templates with every link resolving to a file it wrote.

The pages are requested through the app itself (FastAPI's test client, as Airflow's API server
mounts it under /tracker); tests/browser opens them inside a running Airflow in Chromium.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
from conftest import empty_tracker_tables
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from r71_tracker import pipeline
from r71_tracker.demo_feeds import LATEST_REPORT_DATE, write_demo_feeds
from r71_tracker.feeds.ingest import ingest_paths
from r71_tracker.web import app as web_app
from r71_tracker.web.render import file_safe
from r71_tracker.web.site import run_page, write_site
from r71_tracker.web.texts import TEXTS

pytestmark = pytest.mark.integration

HOSTILE_NOTES = '<script>alert(1)</script><img src=x onerror="alert(2)">'
QUOTED_NOTES = '"' + HOSTILE_NOTES.replace('"', '""') + '"'
NOTES_FEED = (
    "report_date,agency_code,database_code,platform_status,data_status,process_integrated,"
    "connected_national,record_count,records_updated_30d,consumer_agencies,notes\n"
    f"{LATEST_REPORT_DATE},MOJ,MOJ-LEGAL-AID,building,partial,false,false,120500,3600,1,"
    f"{QUOTED_NOTES}\n"
)


@pytest.fixture(scope="module")
def published(tracker_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The demo and one more MOJ file (hostile notes) ingested, built, gated and published."""
    root = tmp_path_factory.mktemp("pages")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_DATABASE_URL", tracker_db_url)
        patch.setenv("TRACKER_LOCAL_DIR", str(root / "local"))
        patch.setenv("TRACKER_PUBLISHED_DIR", str(root / "published"))
        patch.delenv("TRACKER_FRESHNESS_MAX_AGE_DAYS", raising=False)
        empty_tracker_tables(tracker_db_url)
        feeds = root / "feeds"
        write_demo_feeds(feeds)
        (feeds / "moj_notes_2025-12-15.csv").write_text(NOTES_FEED, "utf-8")
        ingest_paths([feeds], tracker_db_url)
        candidate = pipeline.build_models(LATEST_REPORT_DATE, "pages__test")
        result = pipeline.run_quality_gate(candidate, dag_run_id="manual__pages")
        pipeline.publish(candidate, result.run_id, dag_run_id="manual__pages")
        root_app = FastAPI()
        root_app.mount(web_app.PREFIX, web_app.create_app(url=tracker_db_url))
        yield {
            "url": tracker_db_url,
            "feeds": feeds,
            "site": root / "published",
            "run_id": result.run_id,
            "client": TestClient(root_app),
        }


def _get(published: dict, path: str, status: int = 200) -> str:
    response = published["client"].get(web_app.PREFIX + path)
    assert response.status_code == status, (path, response.text[-500:])
    return response.text


def _by_id(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert found, element_id
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def _table(page: str, name: str) -> list[dict]:
    """The rows a page carries for one of its tables (static/tables.js draws them)."""
    found = re.search(
        rf'<script type="application/json" id="rows-{name}">(.*?)</script>', page, re.S
    )
    assert found, name
    return json.loads(found.group(1))


def _links(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page, re.S)
    assert found
    return json.loads(found.group(1))["links"]


def _one(url: str, query: str, params: tuple = ()) -> tuple:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row


def test_overview_counts_equal_the_published_marts_in_both_languages(published):
    day, centralized, in_progress, not_started = _one(
        published["url"],
        "select status_date, centralized_count, in_progress_count, not_started_count"
        " from marts.stage_summary order by status_date desc limit 1",
    )
    vi, en = _get(published, "/?lang=vi"), _get(published, "/?lang=en")
    for page in (vi, en):
        assert _by_id(page, "count-centralized") == str(centralized)
        assert _by_id(page, "count-in_progress") == str(in_progress)
        assert _by_id(page, "count-not_started") == str(not_started)
        assert page.count('<figure class="chart"') == 4
    assert _by_id(vi, "as-of") == day.strftime("%d/%m/%Y")
    assert _by_id(en, "as-of") == day.isoformat()
    assert "Đã tập trung" in vi and "Centralized" in en and "Đã tập trung" not in en
    assert 'lang="vi"' in vi and 'href="/tracker/?lang=en"' in vi


def test_every_text_has_both_languages_and_the_browser_language_is_followed(published):
    for key, (vi, en) in TEXTS.items():
        assert vi.strip() and en.strip(), key
    page = published["client"].get("/tracker/quality-runs", headers={"accept-language": "en-GB"})
    assert "Quality runs" in page.text and 'lang="en"' in page.text


def test_agency_page_shows_its_light_why_databases_and_files(published):
    light, reason = _one(
        published["url"],
        "select traffic_light, light_reason_en from marts.agency_scorecard"
        " where agency_code = 'MOJ'",
    )
    page = _get(published, "/agencies/MOJ?lang=en")
    assert _by_id(page, "light") == light
    assert reason and _by_id(page, "light-reason") == reason
    assert "MOJ-CIVIL-STATUS" in {row["database_code"] for row in _table(page, "databases")}
    assert _links(page)["database"] == "/tracker/databases/{}?lang=en"
    assert "moj_notes_2025-12-15.csv" in {row["original_name"] for row in _table(page, "files")}
    _get(published, "/agencies/NOPE", status=404)


def test_database_page_drills_down_to_the_line_as_received(published):
    page = _get(published, "/databases/MOJ-LEGAL-AID?lang=en")
    stage, verified = _one(
        published["url"],
        "select c.stage, v.verified_stage from marts.database_current_status c join"
        " marts.database_verified_stage v using (database_code) where database_code = %s",
        ("MOJ-LEGAL-AID",),
    )
    assert _by_id(page, "reported-stage") == TEXTS[f"stage_{stage}"][1]
    assert _by_id(page, "verified-stage") == TEXTS[f"stage_{verified}"][1]
    # the verified stage as the publication showed it (dbt snapshot), with its data date
    shown = _table(page, "verified")
    assert [(row["verified_stage"], row["as_of_date"]) for row in shown] == [
        (verified, LATEST_REPORT_DATE.isoformat())
    ]
    # the effective report is the hostile-notes file's line 2, quoted verbatim (escaped)
    line = (published["feeds"] / "moj_notes_2025-12-15.csv").read_text("utf-8").splitlines()[1]
    assert _unescape(_by_id(page, "evidence-line")) == line
    latest = _table(page, "reports")[0]
    assert (latest["original_name"], latest["line_number"]) == ("moj_notes_2025-12-15.csv", 2)
    link = _links(page)["feed_line"]
    assert link == "/tracker/files/{}/lines/{}?lang=en"
    feed_line = _get(published, f"/files/{latest['file_id']}/lines/2?lang=en")
    assert _unescape(_by_id(feed_line, "feed-line")) == line
    _get(published, "/databases/NOPE", status=404)


def test_notes_cannot_inject_markup(published):
    for path in ("/databases/MOJ-LEGAL-AID?lang=vi", "/agencies/MOJ?lang=vi"):
        page = _get(published, path)
        assert "<script>alert" not in page and "<img src=x" not in page
    page = _get(published, "/databases/MOJ-LEGAL-AID?lang=vi")
    assert HOSTILE_NOTES in {row["notes"] for row in _table(page, "reports")}
    assert "\\u003cscript>alert(1)\\u003c/script>" in page  # inside JSON, drawn as text


def test_quality_run_page_is_in_plain_words_and_lists_every_run(published):
    run_id = published["run_id"]
    for key in (run_id, "manual__pages"):  # a gate run id, or the DAG run id a task links to
        page = _get(published, f"/quality-runs/{key}?lang=en")
        assert run_id in page
        assert _by_id(page, "run-verdict") == "PASSED"
    assert "row_condition" not in page and "{&#39;" not in page and "'type'" not in page
    assert "/work/" not in page and str(Path.cwd()) not in page
    runs = _get(published, "/quality-runs?lang=en")
    assert run_id in [row["run_id"] for row in _table(runs, "runs")]
    assert _links(runs)["quality_run"] == "/tracker/quality-runs/{}?lang=en"
    _get(published, "/quality-runs/no-such-run", status=404)


def test_every_route_runs_the_access_check_first(published):
    """Airflow's check is the app's dependency: refused, every route answers 401, data or not."""

    def refuse() -> None:
        raise HTTPException(401, "Not authenticated")

    guarded = FastAPI()
    guarded.mount(web_app.PREFIX, web_app.create_app(access=refuse, url=published["url"]))
    client = TestClient(guarded)
    routes = [route.path for route in web_app.create_app().routes]
    assert len(routes) >= 9
    for route in routes:
        path = re.sub(r"\{[^}]+\}", "1", route)
        assert client.get(web_app.PREFIX + path).status_code == 401, route
        for method in ("post", "put", "delete"):
            assert client.request(method, web_app.PREFIX + path).status_code in (401, 405)


def test_pages_read_as_a_role_that_cannot_write(published):
    with web_app.reader(published["url"]) as conn, pytest.raises(psycopg.Error):
        conn.execute("delete from audit.gate_runs")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.targets.append(value)


def test_static_site_from_the_same_templates_links_only_files_it_wrote(published):
    site = published["site"]
    index = write_site(published["url"], site)
    assert index == site / "index.html"
    assert (site / run_page(published["run_id"])).is_file()
    assert (site / "databases" / "MOJ-LEGAL-AID.en.html").is_file()
    pages = sorted(site.glob("*.html")) + sorted(site.glob("*/*.html"))
    assert len(pages) > 200
    for page in pages:
        if page.parent.name == "dbt_docs":
            continue
        parser = _Links()
        parser.feed(page.read_text("utf-8"))
        for target in parser.targets:
            if target.startswith("data:"):
                continue
            assert not re.match(r"^[a-z]+:", target), (page, target)  # nothing off the host
            assert (page.parent / target.split("#")[0]).resolve().is_file(), (page, target)
    # the links static/tables.js draws from the rows: files the site wrote
    database_page = (site / "databases" / "MOJ-LEGAL-AID.en.html").read_text("utf-8")
    links = _links(database_page)
    assert links["encode"] == "file" and links["feed_line"] is None
    assert _table(database_page, "reports")
    agency_page = (site / "agencies" / "MOJ.en.html").read_text("utf-8")
    for row in _table(agency_page, "databases"):
        target = _links(agency_page)["database"].format(row["database_code"])
        assert (site / "agencies" / target).resolve().is_file(), target
    runs_page = (site / "quality_runs" / "index.html").read_text("utf-8")
    for row in _table(runs_page, "runs"):
        target = _links(runs_page)["quality_run"].format(file_safe(row["run_id"]))
        assert (site / "quality_runs" / target).resolve().is_file(), target


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)
