"""What the two letter rules share: tonight's letters and their recipients' active SIMs."""

from __future__ import annotations

import polars as pl

from pipelines.rules.inputs import NightInputs, among


def customers_with_active_sims(night: NightInputs, recipients: pl.DataFrame) -> pl.LazyFrame:
    """Per customer of `recipients` (collected, few) with an active or suspended SIM: their
    active SIMs' msisdns and iccids. Only those customers' SIMs are read whole."""
    return (
        night.sims()
        .filter(among(recipients, "customer_id") & pl.col("is_active"))
        .group_by("customer_id")
        .agg(
            active_iccids=pl.col("iccid").sort(),
            active_msisdns=pl.col("msisdn").drop_nulls().unique().sort(),
        )
    )


def letter_evidence() -> pl.Expr:
    return pl.struct(
        "letter_id",
        "campaign_id",
        "letter_type",
        "trigger_reason",
        "scheduled_send_date",
        "channel",
    )
