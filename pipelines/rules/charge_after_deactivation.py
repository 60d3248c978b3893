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
from pipelines.rules.detections import currency_totals, finish, mixed_money_text
from pipelines.rules.inputs import NightInputs
from pipelines.rules.wording import count, money, the_line

RULE_ID = "CHARGE_AFTER_DEACTIVATION"
THRESHOLD_CENTS = 1
KEY = ["iccid", "period_start"]


def detect(night: NightInputs) -> pl.DataFrame:
    charged = (
        night.with_deactivation(night.sim_lines("recurring"))
        .filter(pl.col("deact_date") <= pl.col("period_end"))
        .with_columns(
            inactive_days=(
                pl.col("period_end") - pl.max_horizontal("period_start", "deact_date")
            ).dt.total_days()
            + 1,
            period_days=(pl.col("period_end") - pl.col("period_start")).dt.total_days() + 1,
        )
        .with_columns(numerator=pl.col("cents") * pl.col("inactive_days"))
        .collect()  # the lines after a deactivation (few), read three times below
        .lazy()
    )
    spans = charged.select("iccid", "currency", key_start="period_start", line_end="period_end")
    credits = (
        night.sim_lines("credit")
        .join(spans, on=["iccid", "currency"])
        .filter(
            (pl.col("period_start") <= pl.col("line_end"))
            & (pl.col("period_end") >= pl.col("key_start"))
        )
        .unique(subset=["iccid", "key_start", "line_id"])
        .group_by("iccid", "key_start", "currency")
        .agg(
            credit_cents=pl.col("cents").sum(),
            credits=pl.struct(
                "line_id", "invoice_id", "period_start", "period_end", "amount", "currency"
            ).sort_by("line_id"),
        )
        .rename({"key_start": "period_start"})
    )
    # The net is judged per currency: a key fires when one of its currencies' nets does.
    per_currency = (
        charged.group_by([*KEY, "currency"])
        .agg(
            period_days=pl.col("period_days").first(),
            period_lengths=pl.col("period_days").n_unique(),
            numerator=pl.col("numerator").sum(),
            shares=pl.struct("numerator", "period_days"),
        )
        .join(credits, on=[*KEY, "currency"], how="left")
        .with_columns(pl.col("credit_cents").fill_null(0))
        .filter(
            (
                (pl.col("period_lengths") > 1)
                | (
                    pl.col("numerator") + pl.col("credit_cents") * pl.col("period_days")
                    > THRESHOLD_CENTS * pl.col("period_days")
                )
            )
            .any()
            .over(KEY)
        )
        .collect()
    )
    nets = [
        _net(row) for row in per_currency.select("shares", "credit_cents").iter_rows(named=True)
    ]
    per_currency = per_currency.with_columns(
        above=pl.Series([net > THRESHOLD_CENTS for net in nets], dtype=pl.Boolean),
        cents=pl.Series([round(net) for net in nets], dtype=pl.Int64),
    )
    credits_of_key = pl.col("credits").explode().drop_nulls()
    fired = per_currency.group_by(KEY).agg(
        above=pl.col("above").any(),
        credits=credits_of_key.sort_by(credits_of_key.struct.field("line_id")),
        credit_currencies=pl.col("currency").filter(pl.col("credit_cents") != 0).n_unique(),
        credit_cents=pl.col("credit_cents").sum(),
        credit_currency=pl.col("currency").filter(pl.col("credit_cents") != 0).first(),
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
                    "deact_date",
                    "status",
                )
            ),
            period_end=pl.col("period_end").max(),
            inactive_days=pl.col("inactive_days").max(),
            lines=pl.struct(
                "line_id",
                "invoice_id",
                "bill_run_id",
                "period_start",
                "period_end",
                "amount",
                "currency",
                "inactive_days",
                "period_days",
            ).sort_by(by_line),
        )
        .join(fired.lazy().filter("above"), on=KEY)
        .join(currency_totals(per_currency.lazy(), KEY), on=KEY, how="left")
        .collect()
    )
    return finish(
        RULE_ID,
        keys.with_columns(
            evidence=pl.struct(
                sim=pl.struct("iccid", "status", deactivated_on="deact_date"),
                lines="lines",
                credits="credits",
                net_amount=from_cents("cents"),
            ).struct.json_encode(),
            summary=pl.format(
                "The SIM of {} was deactivated on {}, but the customer is still charged {} "
                "for {} of the period {} to {}{}.",
                the_line(),
                "deact_date",
                mixed_money_text(),
                count("inactive_days", "day", "days"),
                "period_start",
                "period_end",
                _credits_deducted(),
            ),
        ),
    )


def _credits_deducted() -> pl.Expr:
    """', after deducting a credit of 5.00 GBP' when credits were deducted, else nothing."""
    n = pl.col("credits").list.len()
    amount = pl.when(pl.col("credit_currencies") == 1).then(
        pl.format(" of {}", money(-pl.col("credit_cents"), "credit_currency"))
    )
    return (
        pl.when(n > 0)
        .then(
            pl.format(
                ", after deducting {}{}",
                pl.when(n == 1).then(pl.lit("a credit")).otherwise(pl.lit("credits")),
                amount.fill_null(""),
            )
        )
        .otherwise(pl.lit(""))
    )


def _net(row: dict) -> Fraction:
    """The exact net in cents: prorated shares of the key's lines plus its credits."""
    return sum(
        (Fraction(s["numerator"], s["period_days"]) for s in row["shares"]),
        Fraction(row["credit_cents"]),
    )
