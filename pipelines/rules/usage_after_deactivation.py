"""USAGE_AFTER_DEACTIVATION: usage billed for a period wholly on or after deactivation."""

from __future__ import annotations

import polars as pl

from pipelines.rules.detections import finish, merge_key, mixed_money_text
from pipelines.rules.inputs import NightInputs
from pipelines.rules.wording import the_line

RULE_ID = "USAGE_AFTER_DEACTIVATION"
KEY = ["iccid", "period_start"]


def detect(night: NightInputs) -> pl.DataFrame:
    fired = (
        night.with_deactivation(night.sim_lines("usage"))
        .filter(pl.col("period_start") >= pl.col("deact_date"))
        .select(
            *KEY,
            "period_end",
            "customer_id",
            "account_id",
            "msisdn",
            "invoice_id",
            "currency",
            "cents",
            "deact_date",
            "status",
            "line_id",
            ev=pl.struct(
                "line_id",
                "invoice_id",
                "bill_run_id",
                "period_start",
                "period_end",
                "amount",
                "currency",
                "description",
            ),
        )
    )
    cases = merge_key(fired, KEY, "line_id").with_columns(
        evidence=pl.struct(
            sim=pl.struct("iccid", "status", deactivated_on="deact_date"), lines="evs"
        ).struct.json_encode(),
        summary=pl.format(
            "The SIM of {} was deactivated on {}, but the customer is billed {} of usage "
            "for {} to {}.",
            the_line(),
            "deact_date",
            mixed_money_text(),
            "period_start",
            "period_end",
        ),
    )
    return finish(RULE_ID, cases.collect())
