"""UNBILLED_ACTIVE_LINE: an active SIM of an account missing from tonight's invoice."""

from __future__ import annotations

import polars as pl

from pipelines.rules.detections import finish
from pipelines.rules.inputs import NightInputs
from pipelines.rules.wording import NOT_PRICED, money, the_line

RULE_ID = "UNBILLED_ACTIVE_LINE"
KEY = ["iccid", "period_start"]


def detect(night: NightInputs) -> pl.DataFrame:
    recurring = night.own(night.tonight()).filter(pl.col("charge_type") == "recurring")
    invoices = recurring.group_by("invoice_id", "account_id").agg(
        period_start=pl.col("period_start").min(),
        period_end=pl.col("period_end").max(),
        bill_run_id=pl.col("bill_run_id").sort_by("line_id").first(),
        billed_sims=pl.col("iccid").drop_nulls().unique().sort(),
    )
    billed = recurring.select("invoice_id", "iccid").drop_nulls().unique()
    missing = (
        invoices.join(
            night.sims().select(
                "iccid",
                "msisdn",
                "customer_id",
                "account_id",
                "status",
                "sim_type",
                "act_date",
                "deact_date",
            ),
            on="account_id",
        )
        .filter(
            pl.col("act_date").is_not_null()
            & (pl.col("act_date") <= pl.col("period_start"))
            & (pl.col("deact_date").is_null() | (pl.col("deact_date") >= pl.col("period_end")))
        )
        .join(billed, on=["invoice_id", "iccid"], how="anti")
        .collect()
        .lazy()
    )
    # The agreed fees of the missing SIMs' numbers alone (few), not of every number.
    fees = night.agreed_fees_on(night.business_date, missing.select("msisdn").unique())
    fired = missing.join(fees, on="msisdn", how="left").select(
        *KEY,
        "period_end",
        "customer_id",
        "account_id",
        "msisdn",
        "invoice_id",
        cents="fee_cents",
        currency="fee_currency",
        ev=pl.struct(
            "invoice_id",
            "bill_run_id",
            "billed_sims",
            sim=pl.struct("iccid", "msisdn", "status", "sim_type", activated_on="act_date"),
            agreed_fee_transaction_id="fee_transaction_id",
        ),
    )
    # One SIM missing from several invoices with the same start is one case: its amount is
    # the SIM's one agreed fee, not a sum over the invoices.
    cases = (
        fired.sort("invoice_id")
        .group_by(KEY, maintain_order=True)
        .agg(pl.all().exclude("ev").first(), evs=pl.col("ev"))
    ).with_columns(
        evidence=pl.struct(invoices="evs").struct.json_encode(),
        summary=pl.format(
            "The active SIM of {} has no recurring charge on tonight's invoice for the period "
            "from {}; {}.",
            the_line(),
            "period_start",
            pl.when(pl.col("cents").is_not_null())
            .then(pl.format("its agreed monthly fee is {}", money("cents")))
            .otherwise(pl.lit(f"no agreed monthly fee is known, so it is {NOT_PRICED}")),
        ),
    )
    return finish(RULE_ID, cases.collect())
