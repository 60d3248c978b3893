"""The case store over the nights, as plain rows for charts (the desk's dashboard and the
nightly report): open cases by severity, new against closed, ageing, money. Recovery by
month comes from the KPIs (`pipelines.kpis.recovery_by_month`), so that the charts, the
report and `recon kpis` agree.

A case is open on night D from its first night (`first_seen`) until it closed: the night
the pipeline found it gone (`closed_on`, resolution no_longer_detected) or the day a
person resolved it or marked it false positive (`decided_on`). Withdrawn cases never
count. Amounts are absolute (an undercharge is money at stake too), per currency, and per
amount kind once the store has `amount_kind` (contract section 3).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import accumulate
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipelines.casestore.schema import NO_LONGER_DETECTED, cases, runs
from pipelines.catalogue import OPEN_STATUSES, SEVERITY_ORDER

AMOUNT_KIND = cases.c.get("amount_kind")
AGE_BUCKETS = ((7, "0-7 days"), (30, "8-30 days"), (60, "31-60 days"), (90, "61-90 days"))
OLDEST_BUCKET = "over 90 days"


@dataclass
class Trends:
    """Rows per night or month, each a dict of plain values (dates, str, int, Decimal)."""

    nights: list[date]
    open_by_severity: list[dict[str, Any]]  # night, severity, cases
    new_and_closed: list[dict[str, Any]]  # night, new, closed
    ageing: list[dict[str, Any]]  # bucket, severity, cases (open on the last night)
    money: list[dict[str, Any]]  # night, kind (None without amount_kind), currency, amount


def read_trends(engine: Engine, as_of: date | None = None) -> Trends:
    """Every trend of the store, over the nights its runs recorded; with `as_of`, as the
    store stood on that night (later nights, later cases and later closures left out), so
    that a night's report comes out the same whenever the night is run again."""
    columns = [
        cases.c.severity,
        cases.c.status,
        cases.c.resolution,
        cases.c.first_seen,
        cases.c.closed_on,
        cases.c.decided_on,
        cases.c.amount_at_risk,
        cases.c.currency,
        *([] if AMOUNT_KIND is None else [AMOUNT_KIND]),
    ]
    with engine.connect() as conn:
        nights = sorted(conn.scalars(select(runs.c.business_date).distinct()))
        query = select(*columns).where(cases.c.status != "withdrawn")
        if as_of is not None:
            query = query.where(cases.c.first_seen <= as_of)
        rows = [dict(r) for r in conn.execute(query).mappings()]
    if as_of is not None:
        nights = [night for night in nights if night <= as_of]
        rows = [_as_of(row, as_of) for row in rows]
    return trends_of(nights, rows)


def _as_of(row: dict[str, Any], as_of: date) -> dict[str, Any]:
    """The row as it stood on `as_of`: a case that ended after it was still open then."""
    ended = _ended(row)
    if ended is None or ended <= as_of:
        return row
    return {**row, "status": "open", "resolution": None, "closed_on": None, "decided_on": None}


def trends_of(nights: list[date], rows: list[dict[str, Any]]) -> Trends:
    """The trends of case rows (as `read_trends` selects them) over `nights`, sorted."""
    n = len(nights)
    open_diff: dict[str, list[int]] = defaultdict(lambda: [0] * (n + 1))
    money_diff: dict[tuple[str | None, str], list[Decimal]] = defaultdict(
        lambda: [Decimal(0)] * (n + 1)
    )
    new, closed = [0] * n, [0] * n
    for row in rows:
        start = bisect_left(nights, row["first_seen"])
        ended = _ended(row)
        stop = n if ended is None else bisect_left(nights, ended)
        if start < n:
            new[start] += 1 if nights[start] == row["first_seen"] else 0
        if ended is not None and stop < n:
            closed[stop] += 1
        if start >= stop:
            continue
        open_diff[row["severity"]][start] += 1
        open_diff[row["severity"]][stop] -= 1
        if row["amount_at_risk"] is not None and row["currency"]:
            key = (row.get("amount_kind"), row["currency"])
            money_diff[key][start] += abs(row["amount_at_risk"])
            money_diff[key][stop] -= abs(row["amount_at_risk"])
    return Trends(
        nights=nights,
        open_by_severity=[
            {"night": night, "severity": severity, "cases": count}
            for severity in sorted(open_diff, key=SEVERITY_ORDER.__getitem__)
            for night, count in zip(nights, _running(open_diff[severity]), strict=False)
        ],
        new_and_closed=[
            {"night": night, "new": new[i], "closed": closed[i]} for i, night in enumerate(nights)
        ],
        ageing=_ageing(rows, nights[-1]) if nights else [],
        money=[
            {"night": night, "kind": kind, "currency": currency, "amount": amount}
            for (kind, currency) in sorted(money_diff, key=lambda k: (k[0] or "", k[1]))
            for night, amount in zip(nights, _running(money_diff[(kind, currency)]), strict=False)
        ],
    )


def _ended(row: dict[str, Any]) -> date | None:
    """The night (or day) from which the case no longer counts as open."""
    if row["status"] in OPEN_STATUSES:
        return None
    if row["resolution"] == NO_LONGER_DETECTED and row["closed_on"] is not None:
        return row["closed_on"]
    return row["decided_on"] or row["closed_on"]


def _running(diff: list[Any]) -> list[Any]:
    """Night by night totals of a difference array (its last slot is past the nights)."""
    return list(accumulate(diff[:-1]))


def _ageing(rows: list[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        if row["status"] in OPEN_STATUSES:
            counts[(_bucket((as_of - row["first_seen"]).days), row["severity"])] += 1
    labels = [label for _, label in AGE_BUCKETS] + [OLDEST_BUCKET]
    return [
        {"bucket": bucket, "severity": severity, "cases": counts[(bucket, severity)]}
        for bucket in labels
        for severity in SEVERITY_ORDER
        if counts[(bucket, severity)]
    ]


def _bucket(days: int) -> str:
    for limit, label in AGE_BUCKETS:
        if days <= limit:
            return label
    return OLDEST_BUCKET
