"""Publishing a night: cases.parquet, cases.csv, summary.json and report.html, all at once."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import polars as pl

from pipelines.catalogue import CASE_COLUMNS
from pipelines.layout import cases_prefix, cases_summary_key
from pipelines.publish.charts import Chart
from pipelines.publish.report import render_report
from pipelines.storage import Storage, parquet_bytes


def cases_csv(cases: pl.DataFrame) -> bytes:
    """The cases as CSV: ISO dates, decimal amounts as text, empty = null."""
    buf = io.BytesIO()
    cases.select(CASE_COLUMNS).write_csv(buf, date_format="%Y-%m-%d")
    return buf.getvalue()


def money_by_currency(cases: pl.DataFrame) -> dict[str, str]:
    """Exact sum of amount_at_risk per currency, as decimal strings."""
    totals: dict[str, Decimal] = {}
    for currency, amount in cases.select("currency", "amount_at_risk").iter_rows():
        if amount is not None and currency is not None:
            totals[currency] = totals.get(currency, Decimal("0.00")) + amount
    return {c: f"{v:.2f}" for c, v in sorted(totals.items())}


def publish_night(
    warehouse: Storage,
    business_date: date,
    cases: pl.DataFrame,
    summary: dict,
    charts: Sequence[Chart] = (),
) -> str:
    """Write the night's files into place in one swap; returns the report's URI."""
    cases = cases.select(CASE_COLUMNS).sort("rule_id", "case_id")
    files = {
        "cases.parquet": parquet_bytes(cases),
        "cases.csv": cases_csv(cases),
        "summary.json": (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode(),
        "report.html": render_report(business_date, cases, summary, charts).encode("utf-8"),
    }
    prefix = cases_prefix(business_date)
    warehouse.replace_prefix(prefix, files)
    return warehouse.uri(f"{prefix}/report.html")


def published_summary(warehouse: Storage, business_date: date) -> dict | None:
    """The run summary of the night as published, or None when it is not published."""
    key = cases_summary_key(business_date)
    return json.loads(warehouse.read_bytes(key)) if warehouse.exists(key) else None
