"""CHARGE_AFTER_DEACTIVATION: recurring charges for days on or after a SIM's deactivation.

The prorated share (amount × inactive days ÷ period days) is a fraction of a cent in
general, so the net of credits is computed exactly with `Fraction` on the few candidate
lines that polars has already narrowed down.
"""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from pipelines.rules.cases import finish
from pipelines.rules.inputs import NightInputs
from pipelines.rules.money import round_half_even

RULE_ID = "CHARGE_AFTER_DEACTIVATION"
THRESHOLD_CENTS = 1
KEY = ["iccid", "period_start"]


def detect(night: NightInputs) -> pl.DataFrame:
    sims = night.sims().filter(pl.col("deact_date").is_not_null())
    charged = (
        night.own(night.lines("recurring"))
        .join(sims.select("iccid", "deact_date", "status"), on="iccid")
        .filter(pl.col("deact_date") <= pl.col("period_end"))
        .with_columns(
            inactive_days=(
                pl.col("period_end") - pl.max_horizontal("period_start", "deact_date")
            ).dt.total_days() + 1,
            period_days=(pl.col("period_end") - pl.col("period_start")).dt.total_days() + 1,
        )
    )
    spans = charged.select(
        "iccid", "currency", key_start="period_start", line_end="period_end"
    )
    credits = (
        night.lines("credit")
        .join(spans, on=["iccid", "currency"])
        .filter(
            (pl.col("period_start") <= pl.col("line_end"))
            & (pl.col("period_end") >= pl.col("key_start"))
        )
        .unique(subset=["iccid", "key_start", "line_id"])
        .select(
            "iccid", "key_start", "line_id", "invoice_id", "period_start", "period_end",
            "amount", "cents",
        )
    )
    lines, credit_rows = pl.collect_all([charged, credits])
    return finish(RULE_ID, _net_of_credits(lines, credit_rows))


def _net_of_credits(lines: pl.DataFrame, credits: pl.DataFrame) -> pl.DataFrame:
    """One row per case key whose exact net exceeds the threshold."""
    credit_by_key: dict[tuple, list[dict]] = {}
    for c in credits.sort("line_id").iter_rows(named=True):
        credit_by_key.setdefault((c["iccid"], c["key_start"]), []).append(c)
    rows = []
    for (iccid, start), group in lines.sort("line_id").group_by(KEY, maintain_order=True):
        first = group.row(0, named=True)
        if group["currency"].n_unique() != 1:
            continue
        prorated = sum(
            (Fraction(r["cents"] * r["inactive_days"], r["period_days"])
             for r in group.iter_rows(named=True)),
            Fraction(0),
        )
        key_credits = credit_by_key.get((iccid, start), [])
        net = prorated + sum(c["cents"] for c in key_credits)
        if net <= THRESHOLD_CENTS:
            continue
        inactive = max(group["inactive_days"])
        rows.append({
            "iccid": iccid,
            "period_start": start,
            "period_end": max(group["period_end"]),
            "customer_id": first["customer_id"],
            "account_id": first["account_id"],
            "msisdn": first["msisdn"],
            "invoice_id": first["invoice_id"],
            "currency": first["currency"],
            "cents": round_half_even(net),
            "inactive_days": inactive,
            "deact_date": first["deact_date"],
            "status": first["status"],
            "lines": group.select(
                "line_id", "invoice_id", "bill_run_id", "period_start", "period_end",
                "amount", "inactive_days", "period_days",
            ).to_dicts(),
            "credits": [
                {k: c[k] for k in ("line_id", "invoice_id", "period_start", "period_end",
                                   "amount")}
                for c in key_credits
            ],
        })
    if not rows:
        return pl.DataFrame()
    frame = pl.DataFrame(rows)
    return frame.with_columns(
        evidence=pl.struct(
            sim=pl.struct("iccid", "status", deactivated_on="deact_date"),
            lines="lines",
            credits="credits",
            net_amount=pl.col("cents").cast(pl.Decimal(18, 2)) / 100,
        ).struct.json_encode(),
        summary=pl.format(
            "SIM {} (line {}) was deactivated on {} but account {} is still charged {} {} "
            "for {} days of the period {} to {} after deducting credits.",
            "iccid", pl.col("msisdn").fill_null("unknown"), "deact_date", "account_id",
            pl.col("cents").cast(pl.Decimal(18, 2)) / 100, "currency", "inactive_days",
            "period_start", "period_end",
        ),
    )
