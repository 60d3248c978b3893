"""DUPLICATE_RECURRING_CHARGE: recurring lines of one SIM whose periods overlap.

Lines chain into one group when each starts on or before the latest end seen so far in
the SIM's lines sorted by period_start.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.cases import finish, money_text
from pipelines.rules.inputs import NightInputs

RULE_ID = "DUPLICATE_RECURRING_CHARGE"
SIM = ["iccid", "currency"]


def detect(night: NightInputs) -> pl.DataFrame:
    recurring = night.lines("recurring").filter(pl.col("iccid").is_not_null())
    if night.customers is not None:
        # A SIM's whole chain is judged by every shard owning one of its lines.
        owned = night.own(recurring).select("iccid").unique()
        recurring = recurring.join(owned, on="iccid", how="semi")
    lines = (
        recurring
        .sort([*SIM, "period_start", "period_end", "line_id"])
        .with_columns(
            reach=pl.col("period_end").to_physical().cum_max().shift(1).over(SIM),
        )
        .with_columns(
            group=(
                pl.col("reach").is_null()
                | (pl.col("period_start").to_physical() > pl.col("reach"))
            ).cum_sum().over(SIM),
        )
    )
    groups = (
        lines.group_by([*SIM, "group"])
        .agg(
            n=pl.len(),
            period_start=pl.col("period_start").min(),
            period_end=pl.col("period_end").max(),
            customer_id=pl.col("customer_id").sort_by("line_id").first(),
            account_id=pl.col("account_id").sort_by("line_id").first(),
            msisdn=pl.col("msisdn").sort_by("line_id").first(),
            invoice_id=pl.col("invoice_id").sort_by("line_id").first(),
            kept_line=pl.col("line_id").min(),
            cents=pl.col("cents").sum() - pl.col("cents").sort_by("line_id").first(),
            evs=pl.struct("line_id", "invoice_id", "bill_run_id", "period_start",
                          "period_end", "amount", "tariff_code").sort_by(pl.col("line_id")),
        )
        .filter(pl.col("n") >= 2)
        .with_columns(
            evidence=pl.struct("iccid", kept_line_id="kept_line", lines="evs")
            .struct.json_encode(),
            summary=pl.format(
                "SIM {} (line {}) on account {} has {} recurring charges with overlapping "
                "periods between {} and {}: {} is charged more than once.",
                "iccid", pl.col("msisdn").fill_null("unknown"), "account_id", "n",
                "period_start", "period_end", money_text("cents"),
            ),
        )
    )
    return finish(RULE_ID, groups.collect())
