"""The tracker's pages as a FastAPI app: Airflow's API server mounts it under /tracker (the
plugin in plugins/tracker_airflow_plugin.py) and lists its pages in Airflow's navigation.

Every route depends on `access`: inside Airflow, Airflow's own check that the caller may read the
tracker DAG's runs (its auth manager: the session cookie of the UI or a bearer token), so an
anonymous request gets 401 and a user without that permission 403. Every route is a GET that
reads as `tracker_auditor`, a role that can change nothing. Every value is escaped by the
templates.
"""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from psycopg_pool import ConnectionPool

from r71_tracker import database
from r71_tracker.config import settings
from r71_tracker.i18n import LANGS, Lang
from r71_tracker.web import pages
from r71_tracker.web.links import PAGES_PREFIX
from r71_tracker.web.render import STATIC, Links

PREFIX = PAGES_PREFIX
READER_ROLE = "tracker_auditor"
# The pages' static files: the project's own and the chart bundle of the pinned vl-convert-python.
ASSETS = ("tracker.css", "tables.js", "charts.js", "vega-bundle.js")


@functools.cache
def _pool(url: str) -> ConnectionPool:
    def as_reader(conn: psycopg.Connection) -> None:
        conn.execute(f"set role {READER_ROLE}")
        conn.execute("set timezone = 'UTC'")  # the pages write times in UTC, as the audit does
        conn.execute("set default_transaction_read_only = on")
        conn.commit()

    database.ensure_tracker_schema(url)
    return ConnectionPool(url, min_size=1, max_size=4, configure=as_reader, open=True)


@contextmanager
def reader(url: str | None = None) -> Iterator[psycopg.Connection]:
    """A pooled connection acting as the read-only auditor role."""
    with _pool(url or database.tracker_url()).connection() as conn:
        yield conn


def choose_language(request: Request) -> Lang:
    """?lang=vi|en, else the browser's first preference among ours, else Vietnamese."""
    asked = request.query_params.get("lang")
    for lang in LANGS:
        if asked == lang:
            return lang
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        for lang in LANGS:
            if code == lang:
                return lang
    return "vi"


@functools.cache
def vega_bundle() -> bytes:
    """Vega, Vega-Lite and Vega-Embed as one script, from the installed vl-convert-python."""
    import vl_convert

    # the package's type stub omits the default of its optional `snippet` argument
    return vl_convert.javascript_bundle().encode("utf-8")  # type: ignore[call-arg]


def asset_bytes(name: str) -> bytes:
    if name == "vega-bundle.js":
        return vega_bundle()
    return (STATIC / name).read_bytes()


def create_app(access: Callable[..., Any] | None = None, url: str | None = None) -> FastAPI:
    """The pages' app; `access` is the dependency every route runs first (Airflow's check)."""
    router = APIRouter(dependencies=[Depends(access)] if access is not None else [])
    _page_routes(router, url)
    _file_routes(router)
    app = FastAPI(title="Resolution 71 tracker", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router)
    return app


def _page_routes(router: APIRouter, url: str | None) -> None:
    def html(request: Request, page: Callable[..., tuple[int, str]], *args: Any) -> Response:
        lang = choose_language(request)
        # the mount's path (with Airflow's own base path, when it has one) prefixes every link
        root = request.scope.get("root_path", "")
        links = Links(root, lang, request.url.path.removeprefix(root) or "/")
        with reader(url) as conn:
            status, body = page(conn, lang, links, *args)
        return HTMLResponse(body, status_code=status)

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        return html(request, pages.overview)

    @router.get("/agencies/{code}", response_class=HTMLResponse)
    def agency(request: Request, code: str) -> Response:
        return html(request, pages.agency, code)

    @router.get("/databases/{code}", response_class=HTMLResponse)
    def database_page(request: Request, code: str) -> Response:
        return html(request, pages.database, code)

    @router.get("/quality-runs", response_class=HTMLResponse)
    def quality_runs(request: Request) -> Response:
        return html(request, pages.quality_runs)

    @router.get("/quality-runs/{run_id}", response_class=HTMLResponse)
    def quality_run(request: Request, run_id: str) -> Response:
        return html(request, pages.quality_run, run_id)

    @router.get("/files/{file_id}/lines/{line_number}", response_class=HTMLResponse)
    def feed_line(request: Request, file_id: int, line_number: int) -> Response:
        return html(request, pages.feed_line, file_id, line_number)


def _file_routes(router: APIRouter) -> None:
    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404)
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(
            asset_bytes(name), media_type=media, headers={"Cache-Control": "max-age=3600"}
        )

    @router.get("/dbt-docs")
    def dbt_docs_folder() -> Response:
        return RedirectResponse(f"{PREFIX}/dbt-docs/")

    @router.get("/dbt-docs/")
    def dbt_docs() -> Response:
        index = dbt_docs_index()
        if not index.is_file():
            raise HTTPException(404, "the dbt docs are not built yet: run `tracker docs`")
        return FileResponse(index, media_type="text/html")


def dbt_docs_index() -> Path:
    """The last publication's dbt docs (one self-contained file: manifest and catalog inside)."""
    return settings().published_dir / "dbt_docs" / "index.html"
