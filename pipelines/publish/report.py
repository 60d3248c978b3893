"""The night's self-contained HTML report for billing teams."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from pipelines.catalogue import RULE_SPECS, SEVERITY_ORDER
from pipelines.publish.charts import Chart
from pipelines.publish.totals import kind_label, money_by_kind_text
from pipelines.templating import html_environment

LARGEST = 20

_env = html_environment("pipelines.publish")


def render_report(
    business_date: date,
    cases: pl.DataFrame,
    summary: dict,
    kpis: dict | None = None,
    charts: Sequence[Chart] = (),
) -> str:
    """Totals per kind and currency, cases by rule, the night's KPIs, the trends, the
    largest absolute amounts, and every case's summary sentence."""
    rules = [
        {"rule_id": r, "severity": RULE_SPECS[r].severity, **summary["rules"].get(r, {})}
        for r in sorted(RULE_SPECS, key=lambda r: (SEVERITY_ORDER[RULE_SPECS[r].severity], r))
    ]
    ordered = cases.with_columns(
        _sev=pl.col("severity").replace_strict(SEVERITY_ORDER, return_dtype=pl.Int8)
    ).sort(
        ["_sev", "rule_id", "amount_at_risk", "case_id"],
        descending=[False, False, True, False],
        nulls_last=True,
    )
    largest = (
        cases.filter(pl.col("amount_at_risk").is_not_null())
        .with_columns(_abs=pl.col("amount_at_risk").abs())
        .sort(["_abs", "case_id"], descending=[True, False])
        .head(LARGEST)
    )
    return _env.get_template("report.html").render(
        business_date=business_date.isoformat(),
        summary=summary,
        kpis=kpis,
        rules=rules,
        largest=largest.to_dicts(),
        cases=ordered.to_dicts(),
        money_text=money_by_kind_text,
        kind_label=kind_label,
        charts=charts,
    )
