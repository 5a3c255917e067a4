"""The README's screenshots, one per group of readers, taken by the browser tests.

`TRACKER_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/browser -q` writes them (relative
paths are from the repository's root) after the DAG ran once on the demo feeds; without the
variable the tests only write their review screenshots under .local/screenshots/.

- platform-team.png: Airflow's navigation (Plugins > Resolution 71) open over the overview;
- liaisons.png: an agency's page inside Airflow, in Vietnamese;
- auditors.png: the published quality run's page inside Airflow.

Each is the 1280x800 viewport (not the whole page), a PNG of well under 250 KB.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = "TRACKER_SCREENSHOTS"
MAX_BYTES = 250_000


def folder() -> Path | None:
    """Where to write the README screenshots, or None when they are not asked for."""
    asked = os.environ.get(VARIABLE)
    if not asked:
        return None
    path = Path(asked)
    return path if path.is_absolute() else ROOT / path


def open_nav(page: Page, category: str) -> None:
    """Airflow's Plugins menu, then the category's submenu (from Airflow's home page when the
    page shows a tracker page on its own, outside Airflow's UI)."""
    if urlsplit(page.url).path.startswith("/tracker"):
        page.goto("/")
    page.get_by_role("button", name="Plugins").click()
    page.get_by_role("menuitem", name=category).click()


def write(page: Page, target: Path, *, category: str, agency: str, run_id: str) -> list[Path]:
    """The three screenshots, from a page logged into Airflow at the 1280x800 viewport."""
    target.mkdir(parents=True, exist_ok=True)
    frame = page.frame_locator("iframe")
    written = []

    def shot(name: str) -> None:
        path = target / name
        page.screenshot(path=path, animations="disabled", caret="hide")
        assert path.stat().st_size < MAX_BYTES, (path, path.stat().st_size)
        written.append(path)

    # the platform team: the tracker's entries in Airflow's navigation, the overview open
    page.goto("/plugin/r71-overview")
    frame.locator("figure.chart svg").nth(1).wait_for()
    open_nav(page, category)
    expect(page.get_by_role("menuitem", name="Overview / Tổng quan")).to_be_visible()
    shot("platform-team.png")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")

    # liaisons: their agency's page, in Vietnamese
    frame.locator("a[data-lang='vi']").click()
    expect(frame.locator("html")).to_have_attribute("lang", "vi")
    frame.get_by_role("link", name=agency, exact=True).first.click()
    expect(frame.locator("#light")).to_be_visible()
    shot("liaisons.png")

    # auditors: the quality run the publication came from
    frame.locator("a[data-lang='en']").click()
    expect(frame.locator("html")).to_have_attribute("lang", "en")
    frame.get_by_role("link", name="Quality runs").click()
    frame.get_by_role("link", name=run_id).click()
    expect(frame.locator("#run-verdict")).to_be_visible()
    shot("auditors.png")
    return written
