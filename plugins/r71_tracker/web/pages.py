"""Each page: what it reads (web.queries) put into words (quality.plain_words) and rendered
(web.render). Each function returns the HTTP status and the page, so the plugin's routes and the
static site (web.site) render the same page the same way."""

from __future__ import annotations

from typing import Any

import psycopg

from r71_tracker.i18n import Lang
from r71_tracker.quality import plain_words
from r71_tracker.web import queries
from r71_tracker.web.charts import overview_charts
from r71_tracker.web.render import Links, render
from r71_tracker.web.texts import text

Page = tuple[int, str]
# Offending rows listed per expectation (its count says how many there were).
ROWS_SHOWN = 20


def _not_found(lang: Lang, links: Links, what: str) -> Page:
    heading = text("not_found", lang)
    message = text("not_found_detail", lang, what=text(what, lang).lower())
    return 404, render("message.html", lang, links, heading=heading, message=message)


def overview(conn: psycopg.Connection, lang: Lang, links: Links) -> Page:
    data = queries.overview(conn)
    charts = overview_charts(data.pop("series"), lang) if data["today"] else []
    tables = {"duplicated": data.pop("duplicated")}
    return 200, render("overview.html", lang, links, charts=charts, tables=tables, **data)


def agency(conn: psycopg.Connection, lang: Lang, links: Links, code: str) -> Page:
    data = queries.agency(conn, code)
    if data is None:
        return _not_found(lang, links, "agency")
    tables = {"databases": data["databases"], "files": data["files"]}
    return 200, render("agency.html", lang, links, tables=tables, **data)


def database(conn: psycopg.Connection, lang: Lang, links: Links, code: str) -> Page:
    data = queries.database_page(conn, code)
    if data is None:
        return _not_found(lang, links, "database")
    tables = {name: data[name] for name in ("timeline", "verified", "reports", "fields")}
    return 200, render("database.html", lang, links, tables=tables, **data)


def feed_line(
    conn: psycopg.Connection, lang: Lang, links: Links, file_id: int, line_number: int
) -> Page:
    line = queries.feed_line(conn, file_id, line_number)
    if line is None:
        return _not_found(lang, links, "file")
    return 200, render("feed_line.html", lang, links, line=line)


def quality_runs(conn: psycopg.Connection, lang: Lang, links: Links) -> Page:
    tables = {"runs": queries.quality_runs(conn)}
    return 200, render("quality_runs.html", lang, links, tables=tables)


def quality_run(conn: psycopg.Connection, lang: Lang, links: Links, run_id: str) -> Page:
    data = queries.quality_run(conn, run_id)
    if data is None:
        return _not_found(lang, links, "run")
    results = [_result(result, lang, links) for result in data["results"]]
    return 200, render(
        "quality_run.html",
        lang,
        links,
        words=_words(results, lang),
        results=results,
        **{k: v for k, v in data.items() if k != "results"},
    )


def _result(result: dict[str, Any], lang: Lang, links: Links) -> dict[str, Any]:
    """An expectation result in plain words, each offending row cited by its file and line and
    linked to its database's page and to the line as received."""
    words = _result_words(result, lang)
    rows = [
        {
            "database_code": sample.get("database_code"),
            "cited": cited,
            "href": links.feed_line(sample["file_id"], sample["line_number"])
            if sample.get("file_id") is not None and sample.get("line_number") is not None
            else None,
        }
        for sample, cited in zip(result["unexpected_rows"] or [], words["cited"], strict=False)
    ]
    samples = len(result["unexpected_rows"] or [])
    return {
        **result,
        **words,
        "rows": rows,
        "more_rows": max(0, (result["unexpected_count"] or samples) - len(rows)),
    }


# The words of recorded results, computed once per process: audit.expectation_results is
# append-only, so a result's words never change. Keyed by gate run and result id (run ids are
# unique across databases too); emptied when full.
_RESULT_WORDS: dict[tuple[str, int, Lang], dict[str, Any]] = {}
_RESULT_WORDS_KEPT = 20_000


def _result_words(result: dict[str, Any], lang: Lang) -> dict[str, Any]:
    key = (result["run_id"], result["result_id"], lang)
    words = _RESULT_WORDS.get(key)
    if words is None:
        if len(_RESULT_WORDS) >= _RESULT_WORDS_KEPT:
            _RESULT_WORDS.clear()
        kwargs = result["expectation_kwargs"] or {}
        samples = (result["unexpected_rows"] or [])[:ROWS_SHOWN]
        words = _RESULT_WORDS[key] = {
            "word_name": plain_words.word_name(result["word"], lang),
            "described": plain_words.describe(result["expectation_type"], kwargs, lang),
            "why": plain_words.relative_paths(
                (lang == "vi" and result["expectation_notes_vi"])
                or result["expectation_notes"]
                or ""
            ),
            "observed_text": plain_words.observed(
                result["expectation_type"], kwargs, result["observed_value"], lang
            ),
            "cited": [plain_words.cite_row(sample, lang) for sample in samples],
        }
    return words


def _words(results: list[dict[str, Any]], lang: Lang) -> list[dict[str, Any]]:
    """The six words in order, each with its verdict and how many expectations it holds."""
    words = []
    for word in plain_words.WORDS_VI:
        mine = [result for result in results if result["word"] == word]
        words.append(
            {
                "name": plain_words.word_name(word, lang),
                "count": len(mine),
                "failed": any(not r["success"] and r["severity"] != "warning" for r in mine),
                "warned": any(not r["success"] and r["severity"] == "warning" for r in mine),
            }
        )
    return words
