"""A self-contained validation report for auditors, rendered from audit.expectation_results.

GX Data Docs load their styles and scripts from public CDNs, so on a machine without internet their
index lists nothing. This page has no external asset: it opens from file:// anywhere, shows one
gate run's verdict expectation by expectation, and the verdicts of the runs before it.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from r71_tracker import database

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #c8d0da;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#eef2f6}.pass{color:#14703b;font-weight:600}.fail{color:#b3261e;font-weight:600}
code{font-size:.85rem}
"""


def _cell(value) -> str:
    if isinstance(value, dict):  # a registry-sized value_set would drown the row
        value = {
            k: f"<{len(v)} values>" if isinstance(v, list) and len(v) > 8 else v
            for k, v in value.items()
        }
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return f"<code>{html.escape(str(value))}</code>" if value is not None else ""


def _verdict(success: bool) -> str:
    return '<span class="pass">PASS</span>' if success else '<span class="fail">FAIL</span>'


def write_validation_report(url: str, run_id: str, out_path: Path) -> Path:
    """Render the gate run `run_id` (or, when it recorded nothing, the latest run) to out_path."""
    with database.connect(url) as conn:
        recorded = conn.execute(
            "select 1 from audit.expectation_results where run_id = %s limit 1", (run_id,)
        ).fetchone()
        if not recorded:
            latest = conn.execute(
                "select run_id from audit.expectation_results order by validated_at desc limit 1"
            ).fetchone()
            run_id = latest[0] if latest else run_id
        rows = conn.execute(
            "select suite_name, expectation_type, expectation_kwargs, success, observed_value,"
            " unexpected_count, run_date, validated_at from audit.expectation_results"
            " where run_id = %s order by result_id",
            (run_id,),
        ).fetchall()
        history = conn.execute(
            "select run_id, run_date, min(validated_at) as validated_at, count(*) as evaluated,"
            " count(*) filter (where not success) as failed from audit.expectation_results"
            " group by run_id, run_date order by min(validated_at) desc limit 50"
        ).fetchall()
    success = bool(rows) and all(row[3] for row in rows)
    run_date = rows[0][6].isoformat() if rows else "-"
    body = [
        "<h1>Resolution 71 tracker — validation report</h1>",
        f"<p>Run <code>{html.escape(run_id)}</code> judged data as of <b>{run_date}</b>: "
        f"{_verdict(success)} ({sum(r[3] for r in rows)} of {len(rows)} expectations met).</p>",
        "<table><tr><th>suite</th><th>expectation</th><th>arguments</th><th>verdict</th>"
        "<th>observed</th><th>unexpected</th><th>validated at (UTC)</th></tr>",
    ]
    for suite, kind, kwargs, passed, observed, unexpected, _, validated_at in rows:
        body.append(
            f"<tr><td>{html.escape(suite)}</td><td>{html.escape(kind)}</td><td>{_cell(kwargs)}</td>"
            f"<td>{_verdict(passed)}</td><td>{_cell(observed)}</td><td>{_cell(unexpected)}</td>"
            f"<td>{validated_at:%Y-%m-%d %H:%M:%S}</td></tr>"
        )
    body.append("</table><h2>Earlier runs</h2><table><tr><th>run</th><th>data as of</th>")
    body.append("<th>validated at (UTC)</th><th>evaluated</th><th>failed</th></tr>")
    for other_run, other_date, validated_at, evaluated, failed in history:
        body.append(
            f"<tr><td><code>{html.escape(other_run)}</code></td><td>{other_date}</td>"
            f"<td>{validated_at:%Y-%m-%d %H:%M:%S}</td><td>{evaluated}</td>"
            f"<td>{_verdict(failed == 0) if failed == 0 else failed}</td></tr>"
        )
    body.append("</table><p>Source: table <code>audit.expectation_results</code>.</p>")
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Validation report {html.escape(run_id)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, "utf-8")
    return out_path
