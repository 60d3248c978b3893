"""Tiny hand-made nights for rule tests: rows as dicts, everything else defaulted."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl

from pipelines.contract import SOURCE_SPECS
from pipelines.rules import NightInputs, evaluate

D = date(2024, 4, 15)  # the business date of every test night


def ts(day: str, time: str = "10:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=UTC)


def _frame(source: str, rows: list[dict], with_date: bool) -> pl.LazyFrame:
    spec = SOURCE_SPECS[source]
    schema = dict(spec.schema)
    converted = []
    for row in rows:
        row = dict(row)
        for name, col in ((c.name, c) for c in spec.columns):
            value = row.get(name)
            if isinstance(value, str) and col.kind == "timestamp":
                row[name] = (
                    ts(value)
                    if "T" not in value
                    else datetime.fromisoformat(value.replace("Z", "+00:00"))
                )
            elif isinstance(value, str) and col.kind == "date":
                row[name] = date.fromisoformat(value)
            elif isinstance(value, str | int) and col.kind == "money":
                row[name] = Decimal(str(value))
        converted.append(row)
    if with_date:
        schema["business_date"] = pl.Date()
        for row in converted:
            row.setdefault("business_date", D)
            if isinstance(row["business_date"], str):
                row["business_date"] = date.fromisoformat(row["business_date"])
    frame = (
        pl.DataFrame(
            [{k: r.get(k) for k in schema} for r in converted], schema=schema, orient="row"
        )
        if converted
        else pl.DataFrame(schema=schema)
    )
    return frame.lazy()


def tx(**kw) -> dict:
    """A store transaction; defaults make a store new_line."""
    row = dict(
        transaction_id="T1",
        transaction_ts="2024-04-01",
        channel="store",
        customer_id="C1",
        account_id="A1",
        msisdn="447700900001",
        action="new_line",
        currency="GBP",
    )
    row.update(kw)
    return row


def sim(**kw) -> dict:
    row = dict(
        iccid="89440000000000000001",
        msisdn="447700900001",
        customer_id="C1",
        account_id="A1",
        sim_type="voice",
        status="active",
        activated_at="2024-01-01",
        status_changed_at="2024-01-01",
    )
    row.update(kw)
    return row


def line(**kw) -> dict:
    row = dict(
        line_id="L1",
        bill_run_id="BR1",
        invoice_id="I1",
        customer_id="C1",
        account_id="A1",
        msisdn="447700900001",
        iccid="89440000000000000001",
        charge_type="recurring",
        period_start="2024-04-01",
        period_end="2024-04-30",
        amount="30.00",
        currency="GBP",
    )
    row.update(kw)
    return row


def letter(**kw) -> dict:
    row = dict(
        campaign_id="K1",
        letter_id="LT1",
        letter_type="disconnect_save",
        customer_id="C1",
        account_id="A1",
        trigger_reason="churn_score",
        scheduled_send_date="2024-04-20",
        channel="letter",
    )
    row.update(kw)
    return row


def night(transactions=(), inventory=(), billing=(), letters=(), day: date = D) -> NightInputs:
    return NightInputs(
        business_date=day,
        transactions=_frame("store_transactions", list(transactions), True),
        inventory=_frame("sim_inventory", list(inventory), False),
        billing=_frame("billing_lines", list(billing), True),
        letters=_frame("retention_campaigns", list(letters), False),
    )


def run(rule_id: str, **parts) -> pl.DataFrame:
    """The detections of one rule on a hand-made night."""
    return evaluate(night(**parts), [rule_id])


def amounts(frame: pl.DataFrame) -> list[str | None]:
    return [None if a is None else str(a) for a in frame["amount_at_risk"].to_list()]
