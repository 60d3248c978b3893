"""Publishing a night: cases.parquet, cases.csv, letters_to_hold.csv and .parquet,
summary.json, kpis.json and report.html, all at once."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import date

import polars as pl

from pipelines.catalogue import PUBLISHED_COLUMNS
from pipelines.csv_safe import neutralised_frame
from pipelines.layout import cases_prefix, cases_summary_key
from pipelines.publish.charts import Chart
from pipelines.publish.holds import hold_files, hold_rows
from pipelines.publish.report import render_report
from pipelines.storage import Storage, parquet_bytes


def cases_csv(cases: pl.DataFrame) -> bytes:
    """The cases as CSV: ISO dates, decimal amounts as text, empty = null, text that begins
    like a formula behind an apostrophe (contract section 3)."""
    buf = io.BytesIO()
    neutralised_frame(cases.select(PUBLISHED_COLUMNS)).write_csv(buf, date_format="%Y-%m-%d")
    return buf.getvalue()


def publish_night(
    warehouse: Storage,
    business_date: date,
    cases: pl.DataFrame,
    summary: dict,
    kpis: dict,
    charts: Sequence[Chart] = (),
) -> str:
    """Write the night's files (with its letters to hold) into place in one swap; returns
    the report's URI."""
    cases = cases.select(PUBLISHED_COLUMNS).sort("rule_id", "case_id")
    files = {
        **hold_files(hold_rows(cases.to_dicts())),
        "cases.parquet": parquet_bytes(cases),
        "cases.csv": cases_csv(cases),
        "summary.json": (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode(),
        "kpis.json": (json.dumps(kpis, indent=2, sort_keys=True) + "\n").encode(),
        "report.html": render_report(business_date, cases, summary, kpis, charts).encode("utf-8"),
    }
    prefix = cases_prefix(business_date)
    warehouse.replace_prefix(prefix, files)
    return warehouse.uri(f"{prefix}/report.html")


def published_summary(warehouse: Storage, business_date: date) -> dict | None:
    """The run summary of the night as published, or None when it is not published."""
    key = cases_summary_key(business_date)
    return json.loads(warehouse.read_bytes(key)) if warehouse.exists(key) else None
