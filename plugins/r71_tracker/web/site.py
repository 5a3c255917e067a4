"""The published static site: the plugin's pages written as files, for distribution without
Airflow (a folder that opens from file:// on a machine without internet).

Same templates and same words as the pages inside Airflow (web.pages); links are relative files,
Vietnamese at `name.html` and English at `name.en.html`. Every quality run keeps its page: a page
already written is never rewritten (a run's record does not change), so an auditor's link to a
run stays valid. The feed lines are not pages here: a database page quotes its effective line.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from r71_tracker import database
from r71_tracker.i18n import LANGS, Lang
from r71_tracker.web import pages
from r71_tracker.web.app import ASSETS, READER_ROLE, asset_bytes
from r71_tracker.web.render import StaticLinks, file_safe, static_file


def run_page(run_id: str, lang: Lang = "vi") -> str:
    """A quality run's page file, from the site's root."""
    return static_file(f"quality_runs/{file_safe(run_id)}", lang)


def _write(root: Path, name: str, lang: Lang, page: pages.Page) -> None:
    path = root / static_file(name, lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page[1], "utf-8")


def write_site(url: str, root: Path) -> Path:
    """Write every page of the published state under `root`; returns the overview's file."""
    assets = root / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        (assets / name).write_bytes(asset_bytes(name))
    with database.connect(url, role=READER_ROLE) as conn:
        _write_pages(conn, root)
    return root / "index.html"


def _write_pages(conn: psycopg.Connection, root: Path) -> None:
    agencies = [row[0] for row in conn.execute("select agency_code from marts.agency_scorecard")]
    databases = [
        row[0] for row in conn.execute("select database_code from marts.database_current_status")
    ]
    runs = [row[0] for row in conn.execute("select run_id from audit.gate_runs")]
    for lang in LANGS:
        _write(root, "index", lang, pages.overview(conn, lang, StaticLinks(lang, "index")))
        name = "quality_runs/index"
        _write(root, name, lang, pages.quality_runs(conn, lang, StaticLinks(lang, name)))
        for code in agencies:
            name = f"agencies/{file_safe(code)}"
            _write(root, name, lang, pages.agency(conn, lang, StaticLinks(lang, name), code))
        for code in databases:
            name = f"databases/{file_safe(code)}"
            _write(root, name, lang, pages.database(conn, lang, StaticLinks(lang, name), code))
        for run_id in runs:
            name = f"quality_runs/{file_safe(run_id)}"
            if not (root / static_file(name, lang)).exists():
                page = pages.quality_run(conn, lang, StaticLinks(lang, name), run_id)
                _write(root, name, lang, page)
