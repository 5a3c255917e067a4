"""The published dashboard: one self-contained page per publication (data/published/index.html).

The stage counts, each agency's light, the duplicated fields and the quality gate's verdict, every
figure linked to where it comes from: the dbt docs (lineage to the feed rows), the quality gate
run pages (every run kept, newest first) and GX Data Docs. No external asset: it opens from
file:// on a machine without internet, like the reports beside it.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

from r71_tracker import database
from r71_tracker.quality.report import page_name

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733;max-width:70rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #c8d0da;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#eef2f6}.GREEN{color:#14703b}.YELLOW{color:#8a5a00}.RED{color:#b3261e}
.GREEN,.YELLOW,.RED{font-weight:700}
"""


def write_dashboard(url: str, run_date: date, summary: dict, out_path: Path) -> Path:
    """Render the dashboard for the marts as of run_date (summary: status.stage_counts)."""
    with database.connect(url) as conn:
        lights = conn.execute(
            "select agency_code, agency_name_vi, agency_name_en, traffic_light,"
            " coalesce(light_reason_en, '') from marts.agency_scorecard"
            " order by case traffic_light when 'RED' then 0 when 'YELLOW' then 1 else 2 end,"
            " agency_code"
        ).fetchall()
        duplicated = conn.execute(
            "select field_name, finding_en, collecting_database_codes from marts.duplicated_fields"
            " order by databases_collecting desc, field_name"
        ).fetchall()
        gate = conn.execute(
            "select run_id, success, blocking_failures, warnings from audit.gate_runs"
            " where run_date = %s order by finished_at desc limit 1",
            (run_date,),
        ).fetchone()
    stages = summary["stages"]
    body = [
        "<h1>Resolution 71 tracker — Nghị quyết 71/NQ-CP</h1>",
        f"<p>As of <b>{html.escape(summary['as_of'])}</b>, of {summary['total']} databases: "
        f"<b>{stages['centralized']}</b> centralized (đã tập trung), "
        f"<b>{stages['in_progress']}</b> in progress (đang triển khai), "
        f"<b>{stages['not_started']}</b> not started (chưa triển khai; "
        f"{summary['unreported']} of them never reported).</p>",
    ]
    if gate is None:
        body.append("<p>Quality gate: no run recorded for this date.</p>")
    else:
        run_id, success, blocking, warnings = gate
        verdict = "passed" if success else "FAILED"
        body.append(
            f'<p>Quality gate (six words): <a href="quality_runs/{html.escape(page_name(run_id))}">'
            f"{verdict}</a>, {blocking} blocking failure(s), {warnings} warning(s) — "
            '<a href="quality_runs/index.html">every run</a>, '
            '<a href="data_docs/index.html">GX Data Docs</a>.</p>'
        )
    body.append(
        '<p>How each figure is computed, down to the feed rows: <a href="dbt_docs/index.html">'
        "dbt docs (lineage)</a>; machine-readable: "
        '<a href="summary.json">summary.json</a>.</p>'
    )
    body.append("<h2>Agencies</h2><table><tr><th>agency</th><th>light</th><th>why</th></tr>")
    for code, name_vi, name_en, light, reason in lights:
        body.append(
            f"<tr><td>{html.escape(code)} — {html.escape(name_vi)} / {html.escape(name_en)}</td>"
            f'<td class="{html.escape(light)}">{html.escape(light)}</td>'
            f"<td>{html.escape(reason)}</td></tr>"
        )
    body.append("</table><h2>Duplicated collection (fields)</h2>")
    body.append("<table><tr><th>field</th><th>finding</th><th>databases</th></tr>")
    for field_name, finding, databases in duplicated:
        body.append(
            f"<tr><td>{html.escape(field_name)}</td><td>{html.escape(finding)}</td>"
            f"<td>{html.escape(databases)}</td></tr>"
        )
    body.append("</table>")
    page = (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f"<title>Resolution 71 tracker {html.escape(summary['as_of'])}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, "utf-8")
    return out_path
