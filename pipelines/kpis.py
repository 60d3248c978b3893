"""Revenue-assurance KPIs per night and per month (docs/kpis.md), as plain JSON-able data.

Every money figure is per rule, amount_kind and currency, an exact decimal string, with
revenue leakage as its absolute value (`catalogue.total_value`). The charts of the desk and
the report read `night_kpis` and `monthly_kpis`; their shape is documented in docs/kpis.md.
"""

from __future__ import annotations

import calendar
import json
import statistics
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from pipelines import layout
from pipelines.casestore import open_store
from pipelines.casestore.schema import case_sightings, cases, recoveries
from pipelines.casestore.trends import AGE_BUCKETS, OLDEST_BUCKET
from pipelines.catalogue import (
    DEFAULT_SLA_DAYS,
    OPEN_STATUSES,
    RULE_SPECS,
    WITHDRAWN,
    total_value,
)
from pipelines.storage import Storage, open_storage

KPI_VERSION = 1
LETTER_RULES = tuple(r for r, spec in RULE_SPECS.items() if spec.key == ("letter_id",))
RELEASED = ("false_positive", WITHDRAWN)
# Open cases by days since first seen: the dashboard's buckets (casestore/trends.py).
AGE_LABELS = (*(label for _, label in AGE_BUCKETS), OLDEST_BUCKET)
ZERO = Decimal("0.00")
Group = tuple[str, str | None, str | None]  # rule_id, amount_kind, currency


def _bucket(age: int) -> str:
    for limit, label in AGE_BUCKETS:
        if age <= limit:
            return label
    return OLDEST_BUCKET


def due_on(case: Mapping[str, Any], sla_days: Mapping[str, int]) -> date:
    """The desk's due date (docs/desk.md): first seen plus the severity's service level, or
    the day before a letter's send date when that is sooner."""
    due: date = case["first_seen"] + timedelta(days=sla_days[case["severity"]])
    if case["letter_send_date"] is not None:
        due = min(due, case["letter_send_date"] - timedelta(days=1))
    return due


def _percent(part: Decimal, whole: Decimal) -> str | None:
    return None if whole == 0 else f"{(part * 100 / whole).quantize(Decimal('0.1'))}"


def _money(groups: dict[Group, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for (rule_id, kind, currency), g in sorted(groups.items(), key=lambda i: str(i[0])):
        rows.append(
            {
                "rule_id": rule_id,
                "amount_kind": kind,
                "currency": currency,
                **{k: f"{v:.2f}" if isinstance(v, Decimal) else v for k, v in g.items()},
            }
        )
    return rows


def store_kpis(
    engine: Engine,
    start: date,
    end: date,
    as_of: date,
    sla_days: Mapping[str, int] = DEFAULT_SLA_DAYS,
) -> dict[str, Any]:
    """The case store's KPIs for the days `start`..`end`, statuses as they are now and ages
    counted to `as_of` (docs/kpis.md)."""
    with engine.connect() as conn:
        every = [dict(r) for r in conn.execute(select(cases)).mappings()]
        recs = [
            dict(r) for r in conn.execute(select(recoveries).order_by(recoveries.c.id)).mappings()
        ]
        letters_seen = {
            cid
            for (cid,) in conn.execute(
                select(case_sightings.c.case_id)
                .join(cases, cases.c.case_id == case_sightings.c.case_id)
                .where(
                    case_sightings.c.business_date.between(start, end),
                    cases.c.rule_id.in_(LETTER_RULES),
                )
            )
        }
    by_id = {c["case_id"]: c for c in every if c["status"] != WITHDRAWN}
    # A case's recovery is its latest one, and only while the case stays resolved.
    latest: dict[str, dict[str, Any]] = {}
    for r in recs:
        latest[r["case_id"]] = r
    recovered = {
        cid: r for cid, r in latest.items() if by_id.get(cid, {}).get("status") == "resolved"
    }

    detected: dict[Group, dict[str, Any]] = {}
    for c in by_id.values():
        if start <= c["first_seen"] <= end:
            priced = c["amount_at_risk"] is not None and c["currency"] is not None
            g = detected.setdefault(
                (c["rule_id"], c["amount_kind"], c["currency"] if priced else None),
                {"cases": 0, "not_priced": 0, "amount": ZERO, "recovered_since": ZERO},
            )
            g["cases"] += 1
            if not priced:
                g["not_priced"] += 1
                continue
            g["amount"] += total_value(c["amount_kind"], c["amount_at_risk"])
            back = recovered.get(c["case_id"])
            if (
                back is not None
                and back["amount"] is not None
                and back["currency"] == c["currency"]
            ):
                g["recovered_since"] += total_value(back["amount_kind"], back["amount"])
    for g in detected.values():
        g["percent_recovered"] = _percent(g["recovered_since"], g["amount"])

    money_back: dict[Group, dict[str, Any]] = {}
    days: dict[tuple[str, str | None], list[int]] = {}
    for cid, r in recovered.items():
        if not start <= r["recovered_on"] <= end:
            continue
        c = by_id[cid]
        g = money_back.setdefault(
            (c["rule_id"], r["amount_kind"], r["currency"]),
            {"cases": 0, "amount": ZERO, "by_method": {}},
        )
        g["cases"] += 1
        if r["amount"] is not None:
            value = total_value(r["amount_kind"], r["amount"])
            g["amount"] += value
            g["by_method"][r["method"]] = g["by_method"].get(r["method"], ZERO) + value
        days.setdefault((c["rule_id"], c["amount_kind"]), []).append(
            (r["recovered_on"] - c["first_seen"]).days
        )
    for g in money_back.values():
        g["by_method"] = {m: f"{v:.2f}" for m, v in sorted(g["by_method"].items())}

    open_cases = [
        c for c in by_id.values() if c["status"] in OPEN_STATUSES and c["first_seen"] <= as_of
    ]
    ages: dict[str, dict[str, int]] = {}
    past_due: dict[str, int] = {}
    for c in open_cases:
        per_rule = ages.setdefault(c["rule_id"], dict.fromkeys(AGE_LABELS, 0))
        per_rule[_bucket((as_of - c["first_seen"]).days)] += 1
        if due_on(c, sla_days) < as_of:
            past_due[c["rule_id"]] = past_due.get(c["rule_id"], 0) + 1

    held = [by_id[cid] for cid in letters_seen if cid in by_id]
    held = [c for c in held if c["status"] not in RELEASED]
    fees: dict[str, Decimal] = {}
    for c in held:
        if (
            c["amount_kind"] == "revenue_at_risk"
            and c["amount_at_risk"] is not None
            and c["currency"]
        ):
            fees[c["currency"]] = fees.get(c["currency"], ZERO) + c["amount_at_risk"]
    return {
        "detected": _money(detected),
        "recovered": _money(money_back),
        "days_per_recovery_case": [
            {
                "rule_id": rule_id,
                "amount_kind": kind,
                "cases": len(d),
                "median": f"{Decimal(str(statistics.median(d))).quantize(Decimal('0.1'))}",
                "mean": f"{(Decimal(sum(d)) / len(d)).quantize(Decimal('0.1'))}",
            }
            for (rule_id, kind), d in sorted(days.items(), key=lambda i: str(i[0]))
        ],
        "open_by_age": dict(sorted(ages.items())),
        "past_due": dict(sorted(past_due.items())),
        "letters_held": {
            "letters": len(held),
            "by_rule": {
                r: n for r in LETTER_RULES if (n := sum(1 for c in held if c["rule_id"] == r))
            },
            "monthly_fees_protected": {c: f"{v:.2f}" for c, v in sorted(fees.items())},
        },
    }


def quarantine_shares(stats: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per source: rows read and quarantined, and the quarantined share in percent."""
    return {
        source: {
            "rows_read": s["rows_read"],
            "rows_quarantined": s["rows_quarantined"],
            "percent_quarantined": _percent(
                Decimal(s["rows_quarantined"]), Decimal(s["rows_read"])
            ),
        }
        for source, s in sorted(stats.items())
    }


def _summed(nights: Sequence[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = {}
    for sources in nights:
        for source, s in sources.items():
            t = total.setdefault(source, {"rows_read": 0, "rows_quarantined": 0})
            t["rows_read"] += int(s["rows_read"])
            t["rows_quarantined"] += int(s["rows_quarantined"])
    return total


def kpis_document(
    engine: Engine,
    start: date,
    end: date,
    as_of: date,
    sources: Mapping[str, Mapping[str, Any]],
    sla_days: Mapping[str, int] = DEFAULT_SLA_DAYS,
) -> dict[str, Any]:
    """The KPIs of a period with its rows per source: what kpis.json and `recon kpis` hold."""
    return {
        "kpi_version": KPI_VERSION,
        "period": {"from": start.isoformat(), "to": end.isoformat(), "as_of": as_of.isoformat()},
        **store_kpis(engine, start, end, as_of, sla_days),
        "quarantined": quarantine_shares(sources),
    }


def _published_sources(warehouse: Storage, day: date) -> dict[str, Any] | None:
    key = layout.cases_summary_key(day)
    return json.loads(warehouse.read_bytes(key))["sources"] if warehouse.exists(key) else None


def night_kpis(warehouse_uri: str, business_date: date, db_url: str | None = None) -> dict:
    """The KPIs of one published night (as its kpis.json holds them, statuses as now)."""
    warehouse = open_storage(warehouse_uri)
    sources = _published_sources(warehouse, business_date)
    if sources is None:
        raise LookupError(f"business date {business_date} is not published in {warehouse_uri}")
    with open_store(db_url, warehouse.root) as store:
        return kpis_document(store.engine, business_date, business_date, business_date, sources)


def recovery_by_month(engine: Engine, nights: Sequence[date]) -> list[dict[str, Any]]:
    """For the charts: per calendar month of `nights`, amount kind and currency, the money
    detected, the part recovered since and its share (0 to 1), summed over the rules of
    `store_kpis`'s "detected" rows, so that the dashboard and the report's chart say what
    `recon kpis --month` says. Ages and statuses as `store_kpis` counts them, to the month's
    last night in `nights`."""
    months: dict[str, date] = {}
    for night in sorted(nights):
        months[f"{night:%Y-%m}"] = night  # the month's last night
    rows = []
    for month, last in months.items():
        start, _ = month_bounds(month)
        totals: dict[tuple[str, str], list[Decimal]] = {}
        for g in store_kpis(engine, start, last, last)["detected"]:
            if g["currency"] is None or g["amount_kind"] is None:
                continue  # not priced: no money to recover
            t = totals.setdefault((g["amount_kind"], g["currency"]), [ZERO, ZERO])
            t[0] += Decimal(g["amount"])
            t[1] += Decimal(g["recovered_since"])
        for (kind, currency), (found, back) in sorted(totals.items()):
            rate = (back / found).quantize(Decimal("0.0001")) if found else None
            rows.append(
                {
                    "month": month,
                    "kind": kind,
                    "currency": currency,
                    "detected": found,
                    "recovered": back,
                    "rate": rate,
                }
            )
    return rows


def month_bounds(month: str) -> tuple[date, date]:
    """'2024-03' -> (2024-03-01, 2024-03-31); ValueError for anything else."""
    try:
        year, number = (int(p) for p in month.split("-"))
        first = date(year, number, 1)
    except ValueError as exc:
        raise ValueError(f"not a month YYYY-MM: {month!r}") from exc
    return first, first.replace(day=calendar.monthrange(year, number)[1])


def monthly_kpis(warehouse_uri: str, month: str | None = None, db_url: str | None = None) -> dict:
    """The KPIs of a calendar month (default: the latest recorded night's), ages counted to
    the month's last night recorded, rows per source summed over its published nights."""
    warehouse = open_storage(warehouse_uri)
    with open_store(db_url, warehouse.root) as store:
        latest = store.latest_business_date()
        if month is None:
            if latest is None:
                raise LookupError("the case store has recorded no night")
            month = f"{latest:%Y-%m}"
        start, end = month_bounds(month)
        as_of = min(end, latest) if latest is not None and latest >= start else end
        nights = []
        day = start
        while day <= end:
            found = _published_sources(warehouse, day)
            if found is not None:
                nights.append(found)
            day += timedelta(days=1)
        doc = kpis_document(store.engine, start, end, as_of, _summed(nights))
    doc["period"]["month"] = month
    doc["period"]["nights_published"] = len(nights)
    return doc
