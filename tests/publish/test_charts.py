"""Trend charts: SVG drawn offline from plain rows, nothing drawn without rows, labels
escaped, and the report's trends section."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal

import polars as pl

from pipelines.catalogue import PUBLISHED_COLUMNS
from pipelines.publish import charts
from pipelines.publish.report import render_report

NIGHTS = [date(2024, 1, d) for d in (1, 2, 3)]


def test_each_chart_draws_an_svg_with_its_title():
    drawn = {
        "Open cases by severity": charts.open_by_severity(
            [{"night": n, "severity": "high", "cases": i} for i, n in enumerate(NIGHTS)]
        ),
        "New and closed cases per night": charts.new_and_closed(
            [{"night": n, "new": 2, "closed": 1} for n in NIGHTS]
        ),
        "Ageing of open cases": charts.ageing(
            [{"bucket": "0-7 days", "severity": "low", "cases": 3}]
        ),
        "Money at stake by currency": charts.money(
            [
                {"night": n, "kind": None, "currency": "GBP", "amount": Decimal("12.34")}
                for n in NIGHTS
            ]
        ),
        "Money at stake by kind": charts.money(
            [{"night": NIGHTS[0], "kind": "refund_due", "currency": "GBP", "amount": "1.00"}]
        ),
        "Recovery rate by month": charts.recovery(
            [{"month": "2024-01", "currency": "GBP", "rate": Decimal("0.25")}]
        ),
    }
    for title, svg in drawn.items():
        assert svg is not None and svg.startswith("<svg"), title
        assert title in svg
        assert "http://" not in svg.replace("http://www.w3.org/", "")
        assert "https://" not in svg and "<script" not in svg
    assert "refund due GBP" in drawn["Money at stake by kind"]


def test_nothing_to_draw_is_none():
    assert charts.open_by_severity([]) is None
    assert charts.money([]) is None
    assert charts.recovery([{"month": "2024-01", "currency": "GBP", "rate": None}]) is None


def test_labels_are_escaped_and_the_page_holds_no_chart_markup():
    hostile = '<script>alert("x")</script>'
    svg = charts.money([{"night": NIGHTS[0], "kind": None, "currency": hostile, "amount": "1"}])
    assert svg is not None and "<script>" not in svg and "&lt;script&gt;" in svg
    uri = charts.data_uri(svg)
    assert uri.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]).decode() == svg


def test_the_report_has_a_trends_section_with_every_chart():
    trends = {
        "open_by_severity": [{"night": n, "severity": "high", "cases": 1} for n in NIGHTS],
        "new_and_closed": [{"night": n, "new": 1, "closed": 0} for n in NIGHTS],
        "ageing": [],
        "money": [{"night": n, "kind": None, "currency": "GBP", "amount": "5.00"} for n in NIGHTS],
        "recovery": [],
    }
    drawn = charts.draw_trends(trends)
    assert [c.name for c in drawn] == [
        "open_by_severity",
        "new_and_closed",
        "ageing",
        "money",
        "recovery",
    ]
    summary = {
        "contract_version": 1,
        "catalogue_version": 1,
        "run_id": "r1",
        "rules": {},
        "cases": {"published": 0, "new": 0, "closed": 0, "amount_by_kind": {}, "not_priced": 0},
        "sources": {},
    }
    cases = pl.DataFrame(schema={c: pl.String for c in PUBLISHED_COLUMNS}).with_columns(
        pl.col("amount_at_risk").cast(pl.Decimal(18, 2))
    )
    html = render_report(NIGHTS[-1], cases, summary, charts=drawn)
    assert "<h2>Trends</h2>" in html
    assert html.count('<img src="data:image/svg+xml;base64,') == 3
    assert html.count("nothing to draw yet") == 2
    assert "@media print" in html
