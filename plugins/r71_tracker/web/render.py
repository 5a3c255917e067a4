"""The pages' templates (Jinja2, every value escaped) and how they link to each other.

One set of templates serves two sites: the plugin's pages inside Airflow (links are routes under
the plugin's prefix, the language a query parameter) and the published static site (links are
relative files, one file per page and language). `Links` is the only difference between them.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup

from r71_tracker import i18n
from r71_tracker.i18n import LANGS, Lang
from r71_tracker.web.charts import embed_options
from r71_tracker.web.texts import TEXTS, light, text

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def day(value: Any, lang: Lang) -> str:
    """A date (or the day of a time, or an ISO text) as the reader writes it; "" for none."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    return _day(value, lang)


# The texts of i18n.day and i18n.moment, without strftime (about 20 us a call on this machine,
# and a page lists hundreds of dates): "05/12/2025" (vi) or "2025-12-05" (en), in UTC to the second.
def _day(value: date, lang: str) -> str:
    if lang == "vi":
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    return value.isoformat()


def moment(value: datetime, lang: str) -> str:
    utc = value.astimezone(UTC) if value.tzinfo else value
    return f"{_day(utc.date(), lang)} {utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} UTC"


class Links:
    """URLs of the plugin's routes (served inside Airflow)."""

    def __init__(self, prefix: str, lang: str, path: str = "/") -> None:
        self.prefix = prefix.rstrip("/")
        self.lang = lang
        self.path = path
        self._lang_query = urlencode({"lang": lang})

    def _url(self, path: str, lang: str | None = None, **query: Any) -> str:
        if not query and lang is None:  # most links: a page listing rows links each of them
            return f"{self.prefix}{path}?{self._lang_query}"
        params = {"lang": lang or self.lang, **{k: v for k, v in query.items() if v is not None}}
        return f"{self.prefix}{path}?{urlencode(params)}"

    def overview(self) -> str:
        return self._url("/")

    def agency(self, code: str) -> str:
        return self._url(f"/agencies/{quote(code, safe='')}")

    def database(self, code: str) -> str:
        return self._url(f"/databases/{quote(code, safe='')}")

    def quality_runs(self) -> str:
        return self._url("/quality-runs")

    def quality_run(self, run_id: str) -> str:
        return self._url(f"/quality-runs/{quote(run_id, safe='')}")

    def feed_line(self, file_id: int, line_number: int) -> str | None:
        return self._url(f"/files/{int(file_id)}/lines/{int(line_number)}")

    def dbt_docs(self) -> str:
        return f"{self.prefix}/dbt-docs/"

    def patterns(self) -> dict[str, Any]:
        """The links static/tables.js builds for the rows it draws: each "{}" is one value,
        encoded as `encode` says (a URL's path segment, or a static file's name)."""
        pattern = "{}"
        return {
            "encode": "uri",
            "agency": self.agency(pattern).replace("%7B%7D", pattern),
            "database": self.database(pattern).replace("%7B%7D", pattern),
            "quality_run": self.quality_run(pattern).replace("%7B%7D", pattern),
            "feed_line": f"{self.prefix}/files/{pattern}/lines/{pattern}?{self._lang_query}",
        }

    def asset(self, name: str) -> str:
        return f"{self.prefix}/static/{name}"

    def switch(self, lang: str) -> str:
        """This page in another language."""
        return self._url(self.path, lang=lang)


class StaticLinks(Links):
    """Relative file names of the published static site. `page` is this page's name from the
    site's root without its language ("agencies/MOJ"): Vietnamese pages are `name.html`, English
    ones `name.en.html`, and links are written relative to the page's folder."""

    def __init__(self, lang: Lang, page: str) -> None:
        super().__init__("", lang, page)
        self._up = "../" * page.count("/")

    def _file(self, name: str, lang: str | None = None) -> str:
        return self._up + static_file(name, lang or self.lang)

    def overview(self) -> str:
        return self._file("index")

    def agency(self, code: str) -> str:
        return self._file(f"agencies/{file_safe(code)}")

    def database(self, code: str) -> str:
        return self._file(f"databases/{file_safe(code)}")

    def quality_runs(self) -> str:
        return self._file("quality_runs/index")

    def quality_run(self, run_id: str) -> str:
        return self._file(f"quality_runs/{file_safe(run_id)}")

    def feed_line(self, file_id: int, line_number: int) -> str | None:
        return None  # the static site has no page per feed line: the database page quotes it

    def patterns(self) -> dict[str, Any]:
        pattern = "{}"
        return {
            "encode": "file",
            "agency": self._file(f"agencies/{pattern}"),
            "database": self._file(f"databases/{pattern}"),
            "quality_run": self._file(f"quality_runs/{pattern}"),
            "feed_line": None,
        }

    def dbt_docs(self) -> str:
        return f"{self._up}dbt_docs/index.html"

    def asset(self, name: str) -> str:
        return f"{self._up}assets/{name}"

    def switch(self, lang: str) -> str:
        return self._file(self.path, lang=lang)


def file_safe(name: str) -> str:
    """A code or run id as a file name (run ids hold ':')."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def static_file(name: str, lang: str) -> str:
    """A static page's file from the site's root: `name.html` (Vietnamese), `name.en.html`."""
    return f"{name}.html" if lang == "vi" else f"{name}.en.html"


def _field(row: Any, name: str) -> Any:
    """A field of a listed row (a named tuple) or of a single row (a dict)."""
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def _environment(lang: Lang) -> jinja2.Environment:
    """One environment per language: its words and formats are filters bound to the language,
    so `{{ "overview"|t }}` is folded to its text when the template compiles, and a value's
    `|num`, `|day` or `|moment` is a direct call (a page lists hundreds of rows)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        t=lambda key, **values: text(key, lang, **values),
        stage=lambda name: text(f"stage_{name}", lang) if name else "",
        num=lambda value: "" if value is None else i18n.number(value, lang),
        day=lambda value: day(value, lang),
        moment=lambda value: "" if value is None else moment(value, lang),
        light=lambda name: light(name, lang),
        pick=lambda row, key: _field(row, f"{key}_{lang}") or _field(row, f"{key}_en") or "",
    )
    env.globals.update(lang=lang, languages=LANGS)
    return env


_ENVIRONMENTS = {lang: _environment(lang) for lang in LANGS}


def _script_json(text: str) -> Markup:
    """JSON text inside <script type="application/json">: no "<" may open or close an element
    (a feed's notes travel in a table's rows)."""
    return Markup(text.replace("<", "\\u003c"))


@functools.cache
def _texts_json(lang: Lang) -> str:
    return json.dumps({key: text(key, lang) for key in TEXTS}, ensure_ascii=False)


def page_data(lang: Lang, links: Links) -> str:
    """What static/tables.js needs to draw a page's tables: its language, every text in it, and
    the links of the rows."""
    links_json = json.dumps(links.patterns(), ensure_ascii=False)
    return f'{{"lang": "{lang}", "links": {links_json}, "texts": {_texts_json(lang)}}}'


@functools.cache
def _embed_options(lang: Lang) -> Markup:
    return _script_json(json.dumps(embed_options(lang), ensure_ascii=False))


def render(template: str, lang: Lang, links: Links, **context: Any) -> str:
    """A page in `lang`: its texts, numbers and dates the way that language's readers write them."""
    tables = context.pop("tables", {})
    return (
        _ENVIRONMENTS[lang]
        .get_template(template)
        .render(
            links=links,
            tables=tables,
            script_json=_script_json,
            embed_options=_embed_options(lang),
            page_data=_script_json(page_data(lang, links)) if tables else "",
            **context,
        )
    )
