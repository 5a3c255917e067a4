"""Self-contained validation reports for auditors, rendered from the audit schema.

GX Data Docs load their styles and scripts from public CDNs, so on a machine without internet their
index lists nothing. These pages have no external asset: they open from file:// anywhere. One page
per gate run (kept for every run, never overwritten by a later one) shows each word's verdict,
each expectation with why it exists, what was observed and the feed rows behind each failure; the
index lists the runs newest first, each linked to its run id. Expectations, observed values and
offending rows are in plain words (quality/plain_words.py): what a check asks and what it found
against its bar in English and Vietnamese, each offending row by its feed file and line or entry.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path

import psycopg

from r71_tracker import database
from r71_tracker.quality.plain_words import (
    arguments,
    cite_row,
    describe,
    observed,
    relative_paths,
    word_label,
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #c8d0da;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#eef2f6}.pass{color:#14703b;font-weight:600}.fail{color:#b3261e;font-weight:600}
.warn{color:#8a5a00;font-weight:600}code{font-size:.85rem}.vi{color:#4a5a6a}
"""
_RUN_COLUMNS = (
    "run_id, dag_run_id, run_date, code_version, started_at, finished_at, success,"
    " blocking_failures, warnings, candidate_schema, national_failures, held_agencies"
)


def _both(en: str, vi: str) -> str:
    """A text in English, then in Vietnamese beneath it."""
    return f'{html.escape(en)}<br><span lang="vi" class="vi">{html.escape(vi)}</span>'


def _verdict(success: bool, severity: str = "blocking") -> str:
    if success:
        return '<span class="pass">PASS</span>'
    if severity == "warning":
        return '<span class="warn">WARN</span>'
    return '<span class="fail">FAIL</span>'


def _rows_cell(samples: list[dict] | None) -> str:
    """The offending rows, each by its feed file and line (CSV) or entry (JSON), then its key
    fields in words (quality/plain_words.cite_row)."""
    return "<br>".join(html.escape(cite_row(sample, "en")) for sample in samples or [])


def page_name(run_id: str) -> str:
    """A gate run's page file name (run ids may hold characters a file name should not)."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", run_id) + ".html"


def _resolve_run(conn: psycopg.Connection, run_id: str) -> str | None:
    """A gate run id, or the latest gate run of a DAG run id, or the latest run of all."""
    row = conn.execute(
        "select run_id from audit.gate_runs where run_id = %s or dag_run_id = %s"
        " order by finished_at desc limit 1",
        (run_id, run_id),
    ).fetchone()
    if row is None:
        row = conn.execute(
            "select run_id from audit.gate_runs order by finished_at desc limit 1"
        ).fetchone()
    return row[0] if row else None


def _page(conn: psycopg.Connection, run_id: str) -> str:
    run = database.one_row(
        conn, f"select {_RUN_COLUMNS} from audit.gate_runs where run_id = %s", (run_id,)
    )
    results = conn.execute(
        "select word, severity, suite_name, expectation_type, expectation_kwargs,"
        " expectation_notes, success, observed_value, unexpected_count, unexpected_rows"
        " from audit.expectation_results where run_id = %s order by result_id",
        (run_id,),
    ).fetchall()
    _, dag_run_id, run_date, version, started, finished, success, blocking, warnings = run[:9]
    candidate, national = run[9], run[10]
    body = [
        "<h1>Resolution 71 tracker — quality gate run</h1>",
        f"<p>Run <code>{html.escape(run_id)}</code>"
        + (f" (DAG run <code>{html.escape(dag_run_id)}</code>)" if dag_run_id else "")
        + f" judged data as of <b>{run_date}</b> with code <code>{html.escape(version)}</code>"
        f" at {finished:%Y-%m-%d %H:%M:%S} UTC: {_verdict(success)}"
        f" ({blocking} blocking failure(s), {national} national, {warnings} warning(s)).</p>",
        *_outcome(conn, run_id, candidate, national, success),
        *_held_files(conn, run_id),
        *_operator_actions(conn, started),
        "<table><tr><th>word</th><th>suite</th><th>expectation</th><th>why</th>"
        "<th>arguments</th><th>verdict</th><th>observed</th><th>offending feed rows</th></tr>",
    ]
    for word, severity, suite, kind, kwargs, notes, passed, found, _, samples in results:
        label = f"{word_label(word)} ({severity})"
        expectation = _both(describe(kind, kwargs, "en"), describe(kind, kwargs, "vi"))
        seen = _both(observed(kind, kwargs, found, "en"), observed(kind, kwargs, found, "vi"))
        body.append(
            f"<tr><td>{html.escape(label)}</td><td>{html.escape(suite)}</td>"
            f"<td>{expectation}<br><code>{html.escape(kind)}</code></td>"
            f"<td>{html.escape(relative_paths(notes or ''))}</td>"
            f"<td>{html.escape(arguments(kwargs, 'en'))}</td><td>{_verdict(passed, severity)}</td>"
            f"<td>{seen}</td><td>{_rows_cell(samples)}</td></tr>"
        )
    body.append(
        '</table><p><a href="index.html">All runs</a>. Source: tables'
        " <code>audit.gate_runs</code> and <code>audit.expectation_results</code>.</p>"
    )
    return _html(f"Quality gate run {run_id}", body)


def _outcome(
    conn: psycopg.Connection, run_id: str, candidate: str | None, national: int, success: bool
) -> list[str]:
    """What the run did to what people read: published, or not (and why), in both languages."""
    published = conn.execute(
        "select published_at from audit.publications where gate_run_id = %s", (run_id,)
    ).fetchone()
    where = f" Candidate / bản dựng: <code>{html.escape(candidate)}</code>." if candidate else ""
    if published:
        text = (
            f"Published at {published[0]:%Y-%m-%d %H:%M:%S} UTC: this candidate became the marts"
            " people read. / Đã công bố: bản dựng này trở thành các mart mọi người đọc."
        )
    elif national:
        text = (
            "Not published: a national rule failed; every mart stays as the last publication"
            " left it. / Không công bố: một quy tắc cấp quốc gia không đạt; các mart giữ nguyên"
            " như lần công bố trước."
        )
    elif not success:
        text = (
            "Not published: agency rules failed; the held files were taken out and the"
            " candidate was built and judged again (the next gate run of the same run)."
            " / Không công bố: quy tắc của cơ quan không đạt; các tệp bị giữ lại được loại ra,"
            " bản dựng được dựng và kiểm tra lại."
        )
    else:
        text = "Passed; not published (yet). / Đạt; chưa công bố."
    return [f"<p>{text}{where}</p>"]


def _held_files(conn: psycopg.Connection, run_id: str) -> list[str]:
    """The files this run held, each with its agency, rule and failing rows."""
    rows = conn.execute(
        "select v.agency_code, v.file_id, f.original_name, v.reason from audit.file_verdicts v"
        " join raw.feed_files f on f.file_id = v.file_id"
        " where v.gate_run_id = %s and v.verdict = 'held' order by v.agency_code, v.file_id",
        (run_id,),
    ).fetchall()
    if not rows:
        return []
    items = "".join(
        f"<li><b>{html.escape(agency or '?')}</b>: file {file_id}"
        f" <code>{html.escape(name)}</code> — {html.escape(reason or '')}</li>"
        for agency, file_id, name, reason in rows
    )
    return [
        "<h2>Held agencies / Cơ quan bị giữ lại</h2><p>Their new files of this run are held"
        " back and their last published state stays; every other agency publishes. / Dữ liệu mới"
        " của các cơ quan này không được công bố, kết quả đã công bố trước được giữ nguyên.</p>"
        f"<ul>{items}</ul>"
    ]


def _operator_actions(conn: psycopg.Connection, started: datetime) -> list[str]:
    """Withdraw/restore events between the previous gate run and this one."""
    from r71_tracker.quality.audit import operator_actions

    events = operator_actions(conn, {"started_at": started})
    if not events:
        return []
    items = "".join(
        "<li>"
        + html.escape(
            " ".join(
                str(event.get(key, ""))
                for key in ("action", "file_id", "original_name", "actor", "acted_at", "reason")
            )
        )
        + "</li>"
        for event in events
    )
    return [
        "<h2>Operator actions / Thao tác của người vận hành</h2><p>Withdraw and restore events"
        f" recorded before this run (audit.file_events):</p><ul>{items}</ul>"
    ]


def _html(title: str, body: list[str]) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def write_validation_report(url: str, run_id: str, out_path: Path) -> Path:
    """Render one gate run (a gate run id or a DAG run id; else the latest run) to out_path."""
    with database.connect(url) as conn:
        resolved = _resolve_run(conn, run_id)
        page = (
            _page(conn, resolved)
            if resolved
            else _html("Quality gate", ["<p>No quality gate has run yet.</p>"])
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    page = page.replace('href="index.html"', 'href="quality_runs/index.html"')
    out_path.write_text(page, "utf-8")
    return out_path


def write_run_reports(url: str, folder: Path) -> Path:
    """One page per gate run (pages of earlier runs are kept, missing ones written) and the
    index of every run, newest first; returns the index."""
    folder.mkdir(parents=True, exist_ok=True)
    with database.connect(url) as conn:
        runs = conn.execute(
            f"select {_RUN_COLUMNS} from audit.gate_runs order by finished_at desc"
        ).fetchall()
        for run in runs:
            path = folder / page_name(run[0])
            if not path.exists():
                path.write_text(_page(conn, run[0]), "utf-8")
    body = [
        "<h1>Resolution 71 tracker — quality gate runs</h1>",
        "<p>Every run of the six-word gate, newest first. Each run's page lists every expectation,"
        " why it exists, what was observed and the feed rows behind each failure.</p>",
        "<table><tr><th>run</th><th>DAG run</th><th>data as of</th><th>finished (UTC)</th>"
        "<th>verdict</th><th>blocking failures (national)</th><th>warnings</th>"
        "<th>held agencies</th><th>code</th></tr>",
    ]
    for run in runs:
        run_id, dag_run_id, run_date, version, _, finished, success, blocking, warnings = run[:9]
        held = ", ".join(run[11] or [])
        body.append(
            f'<tr><td><a href="{html.escape(page_name(run_id))}"><code>{html.escape(run_id)}'
            f"</code></a></td><td>{html.escape(dag_run_id or '')}</td><td>{run_date}</td>"
            f"<td>{finished:%Y-%m-%d %H:%M:%S}</td><td>{_verdict(success)}</td>"
            f"<td>{blocking} ({run[10]})</td><td>{warnings}</td><td>{html.escape(held)}</td>"
            f"<td><code>{html.escape(version)}</code></td></tr>"
        )
    body.append("</table>")
    index = folder / "index.html"
    index.write_text(_html("Quality gate runs", body), "utf-8")
    return index
