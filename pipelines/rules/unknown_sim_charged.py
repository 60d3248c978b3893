"""UNKNOWN_SIM_CHARGED: a bill line names a SIM the inventory lacks or holds elsewhere."""

from __future__ import annotations

import polars as pl

from pipelines.rules.detections import finish, merge_key, mixed_money_text
from pipelines.rules.inputs import NightInputs, among
from pipelines.rules.wording import SIM_STATUSES, money, words

RULE_ID = "UNKNOWN_SIM_CHARGED"
KEY = ["iccid", "invoice_id"]


def detect(night: NightInputs) -> pl.DataFrame:
    sims = night.inventory.select(
        "iccid", inv_account="account_id", inv_status="status", in_inventory=pl.lit(True)
    )
    known = night.own_sims(night.inventory).select("iccid", "account_id").drop_nulls()
    billing = night.sim_lines().filter(pl.col("iccid").is_not_null())
    # The anti-join on the key columns alone; the firing lines' other columns are read for
    # them alone (line_id is unique across dates, contract section 1.3).
    unknown = (
        billing.select("line_id", "iccid", "account_id")
        .join(known, on=["iccid", "account_id"], how="anti")
        .select("line_id")
        .collect()
    )
    fired = (
        billing.filter(among(unknown, "line_id"))
        .join(sims, on="iccid", how="left")
        .select(
            *KEY,
            "period_start",
            "period_end",
            "customer_id",
            "account_id",
            "msisdn",
            "currency",
            "cents",
            "line_id",
            "inv_account",
            "inv_status",
            in_inventory=pl.col("in_inventory").fill_null(False),
            ev=pl.struct(
                "line_id",
                "bill_run_id",
                "charge_type",
                "period_start",
                "period_end",
                "amount",
                "currency",
            ),
        )
    )
    cases = merge_key(fired, KEY, "line_id").with_columns(
        evidence=pl.struct(
            inventory=pl.struct("in_inventory", account_id="inv_account", status="inv_status"),
            lines="evs",
        ).struct.json_encode(),
        summary=pl.format(
            "The customer's invoice {} {} to a SIM that {}.",
            pl.when(pl.col("cents") < 0).then(pl.lit("credits")).otherwise(pl.lit("charges")),
            pl.when(pl.col("cents") < 0)
            .then(money(-pl.col("cents")))
            .otherwise(mixed_money_text()),
            pl.when(~pl.col("in_inventory"))
            .then(pl.lit("is not in the inventory"))
            .when(pl.col("inv_account").is_null())
            .then(
                pl.format(
                    "the inventory holds {} for no account", words("inv_status", SIM_STATUSES)
                )
            )
            .otherwise(
                pl.format(
                    "the inventory holds for another account (status {})",
                    words("inv_status", SIM_STATUSES),
                )
            ),
        ),
    )
    return finish(RULE_ID, cases.collect())
