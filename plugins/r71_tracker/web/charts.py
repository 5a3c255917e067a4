"""The overview's charts: Vega-Lite specifications built with altair, drawn in the browser by
Vega-Embed from the bundle vl-convert-python ships (a pinned package: no CDN, works offline).

Each chart's specification is built once per language (altair's validation runs then, not per
request); a page attaches its rows as the chart's named dataset. Vietnamese readers get numbers
and dates the Vietnamese way ("1.234", "thg 4 2025") through Vega's format locale.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from r71_tracker.web.texts import text

# d3-format and d3-time-format have no Vietnamese locale: these are the conventions Vietnamese
# readers use (thousands "." and decimal ",", days first).
_VI_NUMBER = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["", " ₫"]}
_VI_TIME = {
    "dateTime": "%A, %e %B %Y, %X",
    "date": "%d/%m/%Y",
    "time": "%H:%M:%S",
    "periods": ["SA", "CH"],
    "days": ["Chủ nhật", "Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy"],
    "shortDays": ["CN", "T2", "T3", "T4", "T5", "T6", "T7"],
    "months": [f"tháng {n}" for n in range(1, 13)],
    "shortMonths": [f"thg {n}" for n in range(1, 13)],
}
STAGE_COLOURS = {"centralized": "#14703b", "in_progress": "#d9a21b", "not_started": "#b3261e"}


def embed_options(lang: str) -> dict[str, Any]:
    """Vega-Embed's options: no action menu (it would offer to open the online editor)."""
    options: dict[str, Any] = {"actions": False, "renderer": "svg"}
    if lang == "vi":
        options["formatLocale"] = _VI_NUMBER
        options["timeFormatLocale"] = _VI_TIME
    return options


@functools.cache
def _stages_spec(lang: str) -> str:
    import altair as alt  # here, not at import: every Airflow process loads the plugin

    order = list(STAGE_COLOURS)
    chart = (
        alt.Chart(alt.NamedData(name="rows"), title=text("chart_stages", lang))
        .mark_area()
        .encode(
            x=alt.X("status_date:T", title=None),
            y=alt.Y("databases:Q", stack="zero", title=text("databases", lang)),
            color=alt.Color(
                "stage:N",
                title=None,
                scale=alt.Scale(domain=order, range=list(STAGE_COLOURS.values())),
                legend=alt.Legend(orient="bottom", labelExpr=_label_expr(order, lang)),
                sort=order,
            ),
            order=alt.Order("stage_order:Q"),
            tooltip=[
                alt.Tooltip("status_date:T", title=text("date", lang)),
                alt.Tooltip("stage_label:N", title=text("stage", lang)),
                alt.Tooltip("databases:Q", title=text("databases", lang)),
            ],
        )
        .transform_calculate(stage_label=_stage_label_expr(order, lang, "datum.stage"))
        .properties(width="container", height=220)
    )
    return json.dumps(chart.to_dict())


@functools.cache
def _burndown_spec(lang: str) -> str:
    import altair as alt  # here, not at import: every Airflow process loads the plugin

    base = alt.Chart(alt.NamedData(name="rows")).encode(x=alt.X("status_date:T", title=None))
    actual = base.mark_line(color="#b3261e").encode(
        y=alt.Y("databases_not_centralized:Q", title=text("not_centralized", lang)),
        tooltip=[
            alt.Tooltip("status_date:T", title=text("date", lang)),
            alt.Tooltip("databases_not_centralized:Q", title=text("not_centralized", lang)),
        ],
    )
    ideal = base.mark_line(color="#7a8794", strokeDash=[4, 4]).encode(y="ideal_not_centralized:Q")
    chart = (actual + ideal).properties(
        width="container", height=220, title=text("chart_burndown", lang)
    )
    return json.dumps(chart.to_dict())


@functools.cache
def _quarantine_spec(lang: str, by: str) -> str:
    import altair as alt  # here, not at import: every Airflow process loads the plugin

    chart = (
        alt.Chart(alt.NamedData(name="rows"), title=text(f"chart_quarantine_{by}", lang))
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(received_on):O", title=None),
            y=alt.Y("sum(rows_rejected):Q", title=text("rows_rejected", lang)),
            color=alt.Color(f"{by}:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("yearmonth(received_on):T", title=text("month", lang)),
                alt.Tooltip(f"{by}:N", title=text(by, lang)),
                alt.Tooltip("sum(rows_rejected):Q", title=text("rows_rejected", lang)),
            ],
        )
        .properties(width="container", height=200)
    )
    return json.dumps(chart.to_dict())


def _label_expr(stages: list[str], lang: str) -> str:
    return _stage_label_expr(stages, lang, "datum.label")


def _stage_label_expr(stages: list[str], lang: str, field: str) -> str:
    """A Vega expression naming a stage in the reader's language."""
    cases = " : ".join(
        f"{field} === '{stage}' ? '{text('stage_' + stage, lang)}'" for stage in stages
    )
    return f"{cases} : {field}"


def _with_rows(spec: str, rows: str) -> str:
    """The specification (JSON) with its rows (JSON, as PostgreSQL wrote them) as its dataset."""
    return spec[:-1] + ', "datasets": {"rows": ' + rows + "}}"


def overview_charts(series: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """The overview's four charts, in page order: each one's id and its specification (JSON text)
    with its rows attached."""
    return [
        {"id": "chart-stages", "spec": _with_rows(_stages_spec(lang), series["stages"].json)},
        {
            "id": "chart-burndown",
            "spec": _with_rows(_burndown_spec(lang), series["burndown"].json),
        },
        {
            "id": "chart-quarantine-reason",
            "spec": _with_rows(_quarantine_spec(lang, "reason_code"), series["reason_code"].json),
        },
        {
            "id": "chart-quarantine-agency",
            "spec": _with_rows(_quarantine_spec(lang, "agency_code"), series["agency_code"].json),
        },
    ]
