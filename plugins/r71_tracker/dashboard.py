"""The published dashboard: one self-contained page per publication (data/published/index.html).

The stage counts, each agency's light, the duplicated fields and the quality gate's verdict, every
figure linked to where it comes from: the dbt docs (lineage to the feed rows), the quality gate
run pages (every run kept, newest first). No external asset: it opens from
file:// on a machine without internet, like the reports beside it.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

from r71_tracker import database, publication
from r71_tracker.quality.report import page_name

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733;max-width:70rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #c8d0da;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#eef2f6}.GREEN{color:#14703b}.YELLOW{color:#8a5a00}.RED{color:#b3261e}
.GREEN,.YELLOW,.RED{font-weight:700}
"""


def write_dashboard(url: str, run_date: date, summary: dict, out_path: Path) -> Path:
    """Render the dashboard of the published marts as of run_date (summary: status.stage_counts):
    the verdict that let them be published, a later failed run if any, the held agencies."""
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
        # the verdict that let what is shown be published, and the latest run if it came after
        gate = conn.execute(
            "select g.run_id, g.success, g.blocking_failures, g.warnings from audit.gate_runs g"
            " join audit.publications p on p.gate_run_id = g.run_id"
            " order by p.publication_id desc limit 1"
        ).fetchone()
        latest = conn.execute(
            "select run_id, run_date, national_failures from audit.gate_runs"
            " where not success and national_failures > 0 and finished_at > coalesce("
            " (select max(published_at) from audit.publications), '-infinity')"
            " order by finished_at desc limit 1"
        ).fetchone()
        held = publication.held_agencies(conn)
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
        body.append("<p>Quality gate: no publication recorded.</p>")
    else:
        run_id, _, _, warnings = gate
        body.append(
            "<p>Published after the quality gate (six words) passed: "
            f'<a href="quality_runs/{html.escape(page_name(run_id))}">{html.escape(run_id)}</a>,'
            f" {warnings} warning(s) — "
            '<a href="quality_runs/index.html">every run</a>. / Chỉ công bố khi cổng chất lượng'
            " đạt.</p>"
        )
    if latest is not None:
        run_id, failed_date, national = latest
        body.append(
            f'<p class="RED">The latest run (data as of {failed_date}) FAILED the gate'
            f' (<a href="quality_runs/{html.escape(page_name(run_id))}">{html.escape(run_id)}</a>,'
            f" {national} national rule(s)): nothing from it was published; this page shows the"
            " last publication. / Lần chạy gần nhất không đạt: không công bố gì từ lần đó.</p>"
        )
    if held:
        items = "".join(
            f"<li><b>{html.escape(agency['agency_code'])}</b> — held since"
            f" {html.escape(agency['since'][:10])}: "
            + "; ".join(
                f"file {file['file_id']} <code>{html.escape(file['file_name'])}</code>"
                f" ({html.escape(file['reason'] or '')})"
                for file in agency["files"]
            )
            + "</li>"
            for agency in held
        )
        body.append(
            "<h2>Held agencies / Cơ quan bị giữ lại</h2><p>Their latest files failed an agency"
            " rule: those files are held back and the agency's last published state is shown"
            " until a new file of its own passes or the file is withdrawn. / Tệp mới nhất của các"
            " cơ quan này không đạt; kết quả đã công bố trước được giữ nguyên cho đến khi cơ quan"
            f" gửi tệp mới đạt yêu cầu hoặc tệp bị rút.</p><ul>{items}</ul>"
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
