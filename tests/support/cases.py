"""Detections and nights for case-store tests."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import polars as pl

from pipelines.casestore import CaseStore
from pipelines.catalogue import DETECTION_COLUMNS, RULE_SPECS, amount_kind, case_id
from pipelines.contract import MONEY_DTYPE

D1, D2, D3, D4 = (date(2024, 4, d) for d in (1, 2, 3, 4))
SCHEMA = {
    c: pl.Date()
    if c in ("period_start", "period_end")
    else MONEY_DTYPE
    if c == "amount_at_risk"
    else pl.String()
    for c in DETECTION_COLUMNS
}


def det(
    rule: str = "CHARGE_AFTER_DEACTIVATION",
    key: str = "a",
    amount: str | None = "10.00",
    customer: str = "C1",
    **fields: object,
) -> dict[str, object]:
    """One detection of `rule`, identified by `key`."""
    row: dict[str, object] = dict.fromkeys(DETECTION_COLUMNS)
    row.update(
        case_id=case_id(rule, [key]),
        rule_id=rule,
        severity=RULE_SPECS[rule].severity,
        customer_id=customer,
        account_id="A1",
        iccid=f"8944{key}",
        period_start=date(2024, 3, 1),
        period_end=date(2024, 3, 31),
        amount_at_risk=None if amount is None else Decimal(amount),
        currency="GBP",
        summary=f"{rule} on {key}",
        evidence=json.dumps({"key": key}),
    )
    row.update(fields)
    if "amount_kind" not in fields:
        money = row["amount_at_risk"]
        row["amount_kind"] = amount_kind(rule, money if isinstance(money, Decimal) else None)
    return row


def night(*detections: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame(list(detections), schema=SCHEMA)


class Runs:
    """Records nights with fresh run ids."""

    def __init__(self, store: CaseStore):
        self.store, self.n = store, 0

    def __call__(self, day: date, *detections: dict[str, object]):
        self.n += 1
        return self.store.record_night(day, night(*detections), f"run-{self.n}")


def case(store: CaseStore, detection: dict[str, object]) -> dict[str, object]:
    found = store.get_case(str(detection["case_id"]))
    assert found is not None
    return found
