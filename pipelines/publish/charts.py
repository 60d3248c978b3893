"""Trend charts as SVG, drawn offline: Altair builds a Vega-Lite spec, vl-convert renders it
(no browser, no network, no script in the result).

Every function takes plain rows (dicts of dates, text, ints and Decimals, see
`pipelines.casestore.trends.Trends`) and returns the SVG text, or None when there is
nothing to draw. Amounts travel to the renderer as decimal text that Vega parses, so no
float is made here. Colours are told apart by shape or label too, so a chart reads printed
in black and white.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

WIDTH, HEIGHT = 480, 200
SEVERITY_COLOURS = {"critical": "#8b0000", "high": "#d9480f", "medium": "#e6a700", "low": "#4c6ef5"}


def plain_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as JSON values: dates ISO, Decimals as text (parsed by Vega, never a float)."""
    out = []
    for row in rows:
        out.append(
            {
                k: v.isoformat() if isinstance(v, date) else str(v) if isinstance(v, Decimal) else v
                for k, v in row.items()
            }
        )
    return out


def _render(chart: Any) -> str:
    import vl_convert

    return str(vl_convert.vegalite_to_svg(chart.to_json()))


def _data(rows: list[dict[str, Any]], numbers: tuple[str, ...] = ()) -> Any:
    import altair as alt

    if not numbers:
        return alt.Data(values=plain_rows(rows))
    parse = {name: "number" for name in numbers}
    return alt.Data(values=plain_rows(rows), format=alt.DataFormat(parse=parse))


def _frame(chart: Any, title: str) -> Any:
    return (
        chart.properties(width=WIDTH, height=HEIGHT, title=title)
        .configure_axis(labelFontSize=11, titleFontSize=12)
        .configure_legend(labelFontSize=11, titleFontSize=12, orient="bottom")
        .configure_view(stroke=None)
    )


def _night_axis(rows: list[dict[str, Any]]) -> Any:
    """Nights on a time axis, a tick every few days (about eight ticks), never between days."""
    import altair as alt

    step = max(1, len({r["night"] for r in rows}) // 8)
    return alt.X(
        "night:T",
        title="night",
        axis=alt.Axis(
            format="%d %b",
            tickCount={"interval": "day", "step": step},
            labelAngle=0,
            labelOverlap="greedy",
        ),
    )


def open_by_severity(rows: list[dict[str, Any]]) -> str | None:
    """Rows night, severity, cases: a line per severity."""
    if not rows:
        return None
    import altair as alt

    severities = [s for s in SEVERITY_COLOURS if any(r["severity"] == s for r in rows)]
    colour = alt.Color(
        "severity:N",
        title="severity",
        scale=alt.Scale(domain=severities, range=[SEVERITY_COLOURS[s] for s in severities]),
        sort=severities,
    )
    chart = (
        alt.Chart(_data(rows))
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=_night_axis(rows),
            y=alt.Y("cases:Q", title="open cases"),
            color=colour,
            shape=alt.Shape("severity:N", sort=severities, legend=None),
            strokeDash=alt.StrokeDash("severity:N", sort=severities, legend=None),
        )
    )
    return _render(_frame(chart, "Open cases by severity"))


def new_and_closed(rows: list[dict[str, Any]]) -> str | None:
    """Rows night, new, closed: two bars a night."""
    if not rows:
        return None
    import altair as alt

    long = [
        {"night": r["night"], "what": what, "cases": r[what] if what == "new" else -r[what]}
        for r in rows
        for what in ("new", "closed")
    ]
    chart = (
        alt.Chart(_data(long))
        .mark_bar(size=min(12, max(2, WIDTH // (len(rows) * 2))))
        .encode(
            x=_night_axis(rows),
            y=alt.Y("cases:Q", title="closed (below) and new (above)"),
            color=alt.Color(
                "what:N",
                title=None,
                sort=["new", "closed"],
                scale=alt.Scale(domain=["new", "closed"], range=["#d9480f", "#2b8a3e"]),
            ),
        )
    )
    return _render(_frame(chart, "New and closed cases per night"))


def ageing(rows: list[dict[str, Any]]) -> str | None:
    """Rows bucket, severity, cases: stacked bars per age bucket."""
    if not rows:
        return None
    import altair as alt

    buckets = list(dict.fromkeys(r["bucket"] for r in rows))
    severities = [s for s in SEVERITY_COLOURS if any(r["severity"] == s for r in rows)]
    chart = (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            x=alt.X("bucket:N", title="age (days since first seen)", sort=buckets),
            y=alt.Y("cases:Q", title="open cases", stack="zero"),
            color=alt.Color(
                "severity:N",
                sort=severities,
                scale=alt.Scale(domain=severities, range=[SEVERITY_COLOURS[s] for s in severities]),
            ),
            order=alt.Order("severity_rank:Q"),
        )
        .transform_calculate(
            severity_rank=" + ".join(
                f"(datum.severity == '{s}' ? {i} : 0)" for i, s in enumerate(severities)
            )
        )
    )
    return _render(_frame(chart, "Ageing of open cases"))


def money(rows: list[dict[str, Any]]) -> str | None:
    """Rows night, kind (or None), currency, amount: a line per kind and currency."""
    if not rows:
        return None
    import altair as alt

    series = [
        {
            "night": r["night"],
            "series": f"{r['kind'].replace('_', ' ')} {r['currency']}"
            if r.get("kind")
            else r["currency"],
            "amount": r["amount"],
        }
        for r in rows
    ]
    chart = (
        alt.Chart(_data(series, ("amount",)))
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=_night_axis(rows),
            y=alt.Y("amount:Q", title="open amount (absolute)"),
            color=alt.Color("series:N", title=None),
            strokeDash=alt.StrokeDash("series:N", title=None),
        )
    )
    kinds = any(r.get("kind") for r in rows)
    return _render(
        _frame(chart, "Money at stake by kind" if kinds else "Money at stake by currency")
    )


def recovery(rows: list[dict[str, Any]]) -> str | None:
    """Rows month, kind (or None), currency, rate (a share, 0 to 1, or None): bars per
    month, one per kind and currency."""
    rows = [
        {**r, "series": " ".join(p for p in (_kind(r.get("kind")), r["currency"]) if p)}
        for r in rows
        if r["rate"] is not None
    ]
    if not rows:
        return None
    import altair as alt

    chart = (
        alt.Chart(_data(rows, ("rate",)))
        .mark_bar()
        .encode(
            x=alt.X("month:O", title="month"),
            xOffset=alt.XOffset("series:N"),
            y=alt.Y(
                "rate:Q",
                title="share recovered",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color("series:N", title=None),
        )
    )
    return _render(_frame(chart, "Recovery rate by month"))


def _kind(kind: str | None) -> str:
    return kind.replace("_", " ") if kind else ""


def data_uri(svg: str) -> str:
    """An SVG as a data: URI for an <img>: the page holds no markup of the chart."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


class Chart(NamedTuple):
    name: str  # the Trends field it draws
    title: str
    uri: str | None  # a data: URI of the SVG, None when there is nothing to draw yet


DRAWN = (
    ("open_by_severity", "Open cases by severity, night by night", open_by_severity),
    ("new_and_closed", "Cases opened and closed each night", new_and_closed),
    ("ageing", "Open cases by age, on the last night", ageing),
    ("money", "Open amounts (absolute) night by night", money),
    ("recovery", "Share of the money found each month that was recovered", recovery),
)


def draw_trends(trends: Mapping[str, list[dict[str, Any]]]) -> list[Chart]:
    """Every trend chart of `trends` (the rows of `casestore.trends.Trends`, by field)."""
    charts = []
    for name, title, draw in DRAWN:
        svg = draw(list(trends.get(name, [])))
        charts.append(Chart(name, title, None if svg is None else data_uri(svg)))
    return charts
