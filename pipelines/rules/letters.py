"""What the two letter rules share: tonight's letters and each customer's active SIMs."""

from __future__ import annotations

import polars as pl

from pipelines.rules.inputs import NightInputs


def customers_with_active_sims(night: NightInputs) -> pl.LazyFrame:
    """Per customer with an active or suspended SIM: their active SIMs' msisdns and iccids."""
    return (
        night.sims()
        .filter(pl.col("is_active") & pl.col("customer_id").is_not_null())
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
