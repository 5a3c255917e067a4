"""The tracker's pages inside Airflow, in a real browser (Debian's Chromium driven by Playwright).

One deployment for the whole module: a database, an Airflow home and the services with the
plugin, the DAG run once through the scheduler on the demo feeds (one MOJ row's notes hold
markup). A person logs in on Airflow's own login page, opens the pages from Airflow's navigation
(inside its iframe) and drills down from the overview to a feed line; the figures shown are the
marts' and the audit trail's; the language switch works everywhere; no page logs a console error
or asks anything of another host; the charts draw; the feed's markup stays text; an anonymous
request to any of the app's routes is refused. Without Chromium the module skips (one line);
test_airflow_standalone.py still asks every route anonymously with plain HTTP.

Screenshots of every page (VI and EN) go to .local/screenshots/ for review;
TRACKER_SCREENSHOTS=docs/screenshots also writes the README's (readme_screenshots.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
import readme_screenshots
from conftest import admin_api, admin_password, airflow_deployment, tracker_route_urls
from playwright.sync_api import Page, expect, sync_playwright

from r71_tracker import demo_feeds
from r71_tracker.airflow_runs import run_dag_once
from r71_tracker.web.texts import light, text

pytestmark = pytest.mark.integration

DAG = "resolution71_tracker"
RUN_DATE = demo_feeds.LATEST_REPORT_DATE
AGENCY = "MOJ"
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"
CATEGORY = "Resolution 71"
STAGES = ("centralized", "in_progress", "not_started")
NAV_ITEMS = ("Overview / Tổng quan", "Quality runs / Kiểm tra chất lượng", "dbt docs (lineage)")
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".local" / "screenshots"
NO_CHROMIUM = "no Chromium: apt-get install chromium or set CHROMIUM_PATH"
TIMEOUT_MS = 60_000  # Airflow's UI and the chart bundle under the parallel suite's load


def chromium_path() -> str | None:
    """CHROMIUM_PATH, else Debian's Chromium (Playwright cannot download its own browsers)."""
    candidates = (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium"))
    return next((path for path in candidates if path and Path(path).is_file()), None)


CHROMIUM = chromium_path()
if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)


def _inject_markup(landing: Path) -> str:
    """The latest MOJ feed with markup in the notes of its first row that has none (the rest of
    the file byte for byte as the demo wrote it); the database code of that row."""
    feed = landing / f"{AGENCY}_{RUN_DATE.isoformat()}.csv"
    lines = feed.read_text("utf-8").split("\n")
    row = next(i for i, line in enumerate(lines[1:], 1) if line.endswith(","))
    lines[row] += MARKUP
    feed.write_text("\n".join(lines), "utf-8")
    return lines[row].split(",")[2]


# --- the deployment ----------------------------------------------------------------------------


@dataclass
class Deployment:
    env: dict[str, str]
    marked_database: str  # the database whose latest report's notes hold MARKUP

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['AIRFLOW__API__PORT']}"

    @property
    def landing(self) -> Path:
        return Path(self.env["TRACKER_LANDING_DIR"])

    def rows(self, query: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.env["TRACKER_DATABASE_URL"]) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, server_url, tracker_db_url):
    root = tmp_path_factory.mktemp("browser")
    with airflow_deployment(root, server_url, tracker_db_url, "browser") as env:
        yield Deployment(env, _inject_markup(Path(env["TRACKER_LANDING_DIR"])))


@pytest.fixture(scope="module")
def dag_run(deployment) -> str:
    """The DAG run once on the demo feeds through the scheduler (the services, the api-server
    with the plugin among them, started for it and left running); its run id."""
    lines: list[str] = []
    outcome = run_dag_once(RUN_DATE, echo=lines.append)
    assert outcome.succeeded, "\n".join(lines + outcome.failures)
    return outcome.run_id


# --- the browser -------------------------------------------------------------------------------


@dataclass
class Watch:
    """What every page of a browser context did that it should not have."""

    host: str
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    outside: list[str] = field(default_factory=list)  # requests for another host (aborted)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, context) -> None:
        context.on("console", self._console)
        context.on("weberror", lambda error: self.errors.append(f"uncaught: {error.error}"))
        context.on("dialog", self._dialog)
        context.on("request", self._request)
        context.route("**/*", self._route)

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url") or (message.page.url if message.page else "?")
            self.errors.append(f"{where}: {message.text}")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _foreign(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme not in ("data", "blob", "about") and parts.netloc != self.host

    def _request(self, request) -> None:
        if self._foreign(request.url):
            self.outside.append(request.url)

    def _route(self, route) -> None:
        if self._foreign(route.request.url):
            route.abort()
        else:
            route.continue_()

    def clear(self) -> None:
        self.errors.clear()
        self.outside.clear()
        self.dialogs.clear()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@dataclass
class Session:
    page: Page  # logged into Airflow
    watch: Watch
    deployment: Deployment
    run_id: str
    visited: set[str] = field(default_factory=set)  # the kinds of tracker page opened

    def frame(self):
        return self.page.frame_locator("iframe")


@pytest.fixture(scope="module")
def session(browser, deployment, dag_run):
    """A person logged in through Airflow's login page (admin and the generated password)."""
    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(
        base_url=deployment.base_url, viewport={"width": 1280, "height": 800}, locale="en-US"
    )
    context.set_default_timeout(TIMEOUT_MS)
    watch = Watch(urlsplit(deployment.base_url).netloc)
    watch.attach(context)
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/auth/login"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(admin_password(deployment.env))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    page.wait_for_load_state("networkidle")
    # Airflow's own UI asks /ui/config before its login (401) and once while the login
    # redirect settles; what is watched starts with the logged-in UI.
    watch.clear()
    yield Session(page, watch, deployment, dag_run)
    context.close()


def _published(deployment: Deployment) -> tuple:
    """The last publication's gate run id and data date."""
    [row] = deployment.rows(
        "select g.run_id, g.run_date from audit.publications p join audit.gate_runs g"
        " on g.run_id = p.gate_run_id order by p.publication_id desc limit 1"
    )
    return row


def _number(shown: str) -> int:
    return int(re.sub(r"[.,\s]", "", shown))


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True, animations="disabled")


# --- the tests -----------------------------------------------------------------------------------


def test_an_anonymous_browser_is_refused_every_route(browser, deployment, dag_run):
    """Every route of the app (tests/integration/test_airflow_standalone.py asks the same with
    plain HTTP, so it is checked where Chromium is missing too)."""
    context = browser.new_context(base_url=deployment.base_url)
    try:
        page = context.new_page()
        statuses = {url: page.goto(url).status for url in tracker_route_urls()}
    finally:
        context.close()
    assert {url: status for url, status in statuses.items() if status not in (401, 403)} == {}


def test_each_page_opens_from_airflows_navigation(session):
    page, frame = session.page, session.frame()
    checks = {
        "Overview / Tổng quan": ("/tracker/", frame.locator("#count-centralized")),
        "Quality runs / Kiểm tra chất lượng": ("/tracker/quality-runs", frame.locator("#runs")),
        "dbt docs (lineage)": ("/tracker/dbt-docs/", frame.get_by_text("Theo dõi Nghị quyết 71")),
    }
    for item, (path, shown) in checks.items():
        readme_screenshots.open_nav(page, CATEGORY)
        page.get_by_role("menuitem", name=item).click()
        expect(page.locator("iframe")).to_have_attribute("src", path)
        expect(shown.first).to_be_visible()
        _screenshot(page, f"airflow-nav-{path.strip('/').replace('/', '-')}")
    session.visited.add("dbt-docs")

    target = readme_screenshots.folder()
    if target is not None:
        published_run, _ = _published(session.deployment)
        readme_screenshots.write(
            page, target, category=CATEGORY, agency=AGENCY, run_id=published_run
        )


def test_the_overview_shows_the_published_stage_summary_and_draws_its_charts(session):
    _, published_date = _published(session.deployment)
    [summary] = session.deployment.rows(
        "select centralized_count, in_progress_count, not_started_count from marts.stage_summary"
        " where status_date = %s",
        published_date,
    )
    page = session.page
    page.goto("/tracker/?lang=en")
    session.visited.add("overview")
    expect(page.locator("#as-of")).to_have_text(published_date.isoformat())
    shown = [page.locator(f"#count-{stage}").inner_text() for stage in STAGES]
    assert [_number(value) for value in shown] == list(summary)

    charts = page.locator("figure.chart")
    assert charts.count() == 4
    for index in range(charts.count()):
        expect(charts.nth(index).locator("svg").first).to_be_attached()


def test_drill_down_from_the_overview_to_the_feed_line_as_received(session):
    """Inside Airflow's frame: overview -> agency -> database -> the line its stage rests on,
    each figure on the way the marts' and the line the file's on disk."""
    deployment, page, frame = session.deployment, session.page, session.frame()
    code = deployment.marked_database
    [(traffic_light,)] = deployment.rows(
        "select traffic_light from marts.agency_scorecard where agency_code = %s", AGENCY
    )
    [(stage, verified, file_name, line_number)] = deployment.rows(
        "select c.stage, v.verified_stage, c.evidence_file_name, c.evidence_line_number"
        " from marts.database_current_status c join marts.database_verified_stage v"
        " using (database_code) where c.database_code = %s",
        code,
    )

    readme_screenshots.open_nav(page, CATEGORY)
    page.get_by_role("menuitem", name=NAV_ITEMS[0]).click()  # in English: the browser's
    frame.get_by_role("link", name=AGENCY, exact=True).first.click()
    session.visited.add("agency")
    expect(frame.locator("#light")).to_have_text(light(traffic_light, "en"))
    expect(frame.locator("#light")).to_have_class(traffic_light)
    expect(frame.locator("#light-reason")).not_to_be_empty()

    frame.locator("#databases").get_by_role("link", name=code, exact=True).click()
    session.visited.add("database")
    expect(frame.locator("#reported-stage")).to_have_text(text(f"stage_{stage}", "en"))
    expect(frame.locator("#verified-stage")).to_have_text(text(f"stage_{verified}", "en"))

    on_disk = (deployment.landing / file_name).read_text("utf-8").split("\n")[line_number - 1]
    expect(frame.locator("#evidence-line")).to_have_text(on_disk)
    frame.get_by_role("link", name=text("feed_line", "en"), exact=True).click()
    session.visited.add("feed-line")
    expect(frame.locator("#feed-line")).to_have_text(on_disk)
    assert frame.locator("#feed-line").inner_text() == on_disk  # to the character
    _screenshot(page, "airflow-drill-down-feed-line")


def test_the_gate_tasks_link_opens_its_runs_quality_page(session):
    """The quality_gate task's extra link (as Airflow's UI reads it) -> that run's page, whose
    verdict is the audit trail's."""
    run_id = session.run_id
    with contextlib.closing(admin_api(session.deployment.env)) as client:
        response = client.get(
            f"/api/v2/dags/{DAG}/dagRuns/{quote(run_id, safe='')}/taskInstances/quality_gate/links"
        )
    assert response.status_code == 200, response.text
    link = response.json()["extra_links"]["Quality run (tracker)"]
    assert link == f"/tracker/quality-runs/{quote(run_id, safe='')}"

    [(gate_run, success)] = session.deployment.rows(
        "select run_id, success from audit.gate_runs where dag_run_id = %s"
        " order by finished_at desc limit 1",
        run_id,
    )
    page = session.page
    page.goto(f"{link}?lang=en")
    session.visited.add("quality-run")
    expect(page.locator("h1")).to_contain_text(gate_run)
    expect(page.locator("main")).to_contain_text(run_id)
    expect(page.locator("#run-verdict")).to_have_text(text("passed" if success else "failed", "en"))
    expect(page.locator("#words li")).to_have_count(6)

    page.goto("/tracker/quality-runs?lang=en")
    session.visited.add("quality-runs")
    expect(page.locator("#runs").get_by_role("link", name=gate_run)).to_be_visible()


def test_markup_in_a_feeds_notes_is_shown_as_text(session):
    page = session.page
    page.goto(f"/tracker/databases/{session.deployment.marked_database}?lang=en")
    notes = page.locator("#reports td.notes", has_text=MARKUP)
    expect(notes.first).to_have_text(MARKUP)
    expect(page.locator("#evidence-line")).to_contain_text(MARKUP)
    assert page.locator("main img, main script").count() == 0
    page.wait_for_timeout(500)  # an injected onerror would have fired by now
    assert session.watch.dialogs == []


def _pages(session: Session) -> dict[str, str]:
    """One URL of each kind of tracker page (the database is the one with markup in its notes)."""
    deployment = session.deployment
    published_run, _ = _published(deployment)
    [(file_id, line_number)] = deployment.rows(
        "select evidence_file_id, evidence_line_number from marts.database_current_status"
        " where database_code = %s",
        deployment.marked_database,
    )
    return {
        "overview": "/tracker/",
        "agency": f"/tracker/agencies/{AGENCY}",
        "database": f"/tracker/databases/{deployment.marked_database}",
        "feed-line": f"/tracker/files/{file_id}/lines/{line_number}",
        "quality-runs": "/tracker/quality-runs",
        "quality-run": f"/tracker/quality-runs/{quote(published_run, safe='')}",
    }


def _in(page, lang: str, day) -> None:
    nav = page.locator("header nav a")
    expect(nav.nth(0)).to_have_text(text("overview", lang))
    expect(nav.nth(1)).to_have_text(text("quality_runs", lang))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    if page.locator("#as-of").count():
        shown = day.strftime("%d/%m/%Y") if lang == "vi" else day.isoformat()
        expect(page.locator("#as-of")).to_have_text(shown)


def test_every_page_switches_between_english_and_vietnamese(session):
    page = session.page
    _, published_date = _published(session.deployment)
    for kind, path in _pages(session).items():
        page.goto(f"{path}?lang=en")
        session.visited.add(kind)
        _in(page, "en", published_date)
        english = page.locator("h1").inner_text()
        page.locator("a[data-lang='vi']").click()
        page.wait_for_url(re.compile(r"[?&]lang=vi"))
        _in(page, "vi", published_date)
        assert page.locator("h1").inner_text() != english, kind
        _wait_for_charts(page)
        # no page is wider than its window (the old run reports were 2,000 px in 1,400)
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], (kind, widths)
        _screenshot(page, f"{kind}-vi")
        page.locator("a[data-lang='en']").click()
        page.wait_for_url(re.compile(r"[?&]lang=en"))
        _in(page, "en", published_date)
        _wait_for_charts(page)
        _screenshot(page, f"{kind}-en")


def _wait_for_charts(page) -> None:
    charts = page.locator("figure.chart")
    for index in range(charts.count()):
        charts.nth(index).locator("svg").first.wait_for(state="attached")


def test_no_page_logs_an_error_or_asks_another_host(session):
    """Across every page and frame opened by the tests above (each kind opened here if a test
    was deselected): no console error, no uncaught exception, no request off the host."""
    page = session.page
    for kind, path in _pages(session).items():
        if kind not in session.visited:
            page.goto(f"{path}?lang=vi")
            _wait_for_charts(page)
    if "dbt-docs" not in session.visited:
        page.goto("/tracker/dbt-docs/")
    page.wait_for_load_state("networkidle")
    assert session.watch.errors == []
    assert session.watch.outside == []
    assert session.watch.dialogs == []
