"""SWAP_NOT_PROVISIONED: a SIM removed in a shop 2+ days ago is still active in inventory."""

from __future__ import annotations

import polars as pl

from pipelines.rules.detections import finish
from pipelines.rules.inputs import NightInputs
from pipelines.rules.wording import CHANNELS, the_line, words

RULE_ID = "SWAP_NOT_PROVISIONED"
GRACE_DAYS = 2


def detect(night: NightInputs) -> pl.DataFrame:
    removed = (
        night.own(night.actions())
        .filter(
            pl.col("action").is_in(["sim_swap", "cancel_line"])
            & (pl.col("tx_date") <= night.days_before(GRACE_DAYS))
        )
        .with_columns(
            removed_iccid=pl.when(pl.col("action") == "sim_swap")
            .then(pl.col("previous_iccid"))
            .otherwise(pl.col("iccid"))
        )
        .filter(pl.col("removed_iccid").is_not_null())
    )
    sims = night.inventory.select(
        removed_iccid="iccid", status="status", status_changed_at="status_changed_at"
    )
    fired = (
        removed.join(sims, on="removed_iccid")
        .filter(pl.col("status") == "active")
        .select(
            "transaction_id",
            "customer_id",
            "account_id",
            "msisdn",
            iccid="removed_iccid",
            cents=pl.lit(None, pl.Int64),
            currency=pl.lit(None, pl.String),
            evidence=pl.struct(
                transaction=pl.struct(
                    "transaction_id",
                    "transaction_ts",
                    "channel",
                    "store_id",
                    "agent_id",
                    "action",
                    "iccid",
                    "previous_iccid",
                ),
                inventory=pl.struct(
                    iccid="removed_iccid", status="status", status_changed_at="status_changed_at"
                ),
            ).struct.json_encode(),
            summary=pl.when(pl.col("action") == "sim_swap")
            .then(
                pl.format(
                    "The SIM swapped out of {} {} on {} is still active in the inventory.",
                    the_line(),
                    words("channel", CHANNELS),
                    "tx_date",
                )
            )
            .otherwise(
                pl.format(
                    "The SIM of {}, cancelled {} on {}, is still active in the inventory.",
                    the_line(),
                    words("channel", CHANNELS),
                    "tx_date",
                )
            ),
        )
    )
    return finish(RULE_ID, fired.collect())
