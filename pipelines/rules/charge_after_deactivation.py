"""CHARGE_AFTER_DEACTIVATION: recurring charges for days on or after a SIM's deactivation.

The prorated share (amount × inactive days ÷ period days) is a fraction of a cent in
general. Per case key, polars sums the numerators (cents × inactive days) and compares
`numerators + credits × period_days > 0.01 × period_days` in exact integers when the
key's lines share one period length; the rare keys mixing period lengths, and the
rounding of the fired keys' amounts, use `Fraction`.
"""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from pipelines.money import from_cents
from pipelines.rules.detections import finish
from pipelines.rules.inputs import NightInputs

RULE_ID = "CHARGE_AFTER_DEACTIVATION"
THRESHOLD_CENTS = 1
KEY = ["iccid", "period_start"]


def detect(night: NightInputs) -> pl.DataFrame:
    charged = (
        night.own(night.lines("recurring"))
        .join(night.deactivated_sims(), on="iccid")
        .filter(pl.col("deact_date") <= pl.col("period_end"))
        .with_columns(
            inactive_days=(
                pl.col("period_end") - pl.max_horizontal("period_start", "deact_date")
            ).dt.total_days()
            + 1,
            period_days=(pl.col("period_end") - pl.col("period_start")).dt.total_days() + 1,
        )
        .with_columns(numerator=pl.col("cents") * pl.col("inactive_days"))
    )
    spans = charged.select("iccid", "currency", key_start="period_start", line_end="period_end")
    credits = (
        night.lines("credit")
        .join(spans, on=["iccid", "currency"])
        .filter(
            (pl.col("period_start") <= pl.col("line_end"))
            & (pl.col("period_end") >= pl.col("key_start"))
        )
        .unique(subset=["iccid", "key_start", "line_id"])
        .group_by("iccid", "key_start")
        .agg(
            credit_cents=pl.col("cents").sum(),
            credits=pl.struct(
                "line_id", "invoice_id", "period_start", "period_end", "amount"
            ).sort_by("line_id"),
        )
        .rename({"key_start": "period_start"})
    )
    by_line = pl.col("line_id")
    keys = (
        charged.group_by(KEY)
        .agg(
            *(
                pl.col(c).sort_by(by_line).first()
                for c in (
                    "customer_id",
                    "account_id",
                    "msisdn",
                    "invoice_id",
                    "currency",
                    "deact_date",
                    "status",
                )
            ),
            period_end=pl.col("period_end").max(),
            inactive_days=pl.col("inactive_days").max(),
            currencies=pl.col("currency").n_unique(),
            period_days=pl.col("period_days").first(),
            period_lengths=pl.col("period_days").n_unique(),
            numerator=pl.col("numerator").sum(),
            shares=pl.struct("numerator", "period_days"),
            lines=pl.struct(
                "line_id",
                "invoice_id",
                "bill_run_id",
                "period_start",
                "period_end",
                "amount",
                "inactive_days",
                "period_days",
            ).sort_by(by_line),
        )
        .filter(pl.col("currencies") == 1)
        .join(credits, on=KEY, how="left")
        .with_columns(pl.col("credit_cents").fill_null(0))
        .filter(
            (pl.col("period_lengths") > 1)
            | (
                pl.col("numerator") + pl.col("credit_cents") * pl.col("period_days")
                > THRESHOLD_CENTS * pl.col("period_days")
            )
        )
        .collect()
    )
    nets = [_net(row) for row in keys.select("shares", "credit_cents").iter_rows(named=True)]
    above = [net > THRESHOLD_CENTS for net in nets]
    cases = keys.filter(pl.Series(above, dtype=pl.Boolean)).with_columns(
        cents=pl.Series([round(n) for n, a in zip(nets, above, strict=True) if a], dtype=pl.Int64),
        credits=pl.col("credits").fill_null([]),
    )
    return finish(
        RULE_ID,
        cases.with_columns(
            evidence=pl.struct(
                sim=pl.struct("iccid", "status", deactivated_on="deact_date"),
                lines="lines",
                credits="credits",
                net_amount=from_cents("cents"),
            ).struct.json_encode(),
            summary=pl.format(
                "SIM {} (line {}) was deactivated on {} but account {} is still charged {} {} "
                "for {} days of the period {} to {} after deducting credits.",
                "iccid",
                pl.col("msisdn").fill_null("unknown"),
                "deact_date",
                "account_id",
                from_cents("cents"),
                "currency",
                "inactive_days",
                "period_start",
                "period_end",
            ),
        ),
    )


def _net(row: dict) -> Fraction:
    """The exact net in cents: prorated shares of the key's lines plus its credits."""
    return sum(
        (Fraction(s["numerator"], s["period_days"]) for s in row["shares"]),
        Fraction(row["credit_cents"]),
    )
