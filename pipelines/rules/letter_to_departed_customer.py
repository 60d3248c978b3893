"""LETTER_TO_DEPARTED_CUSTOMER: a non-winback letter to a customer with no active SIM."""

from __future__ import annotations

import polars as pl

from pipelines.rules.detections import finish
from pipelines.rules.inputs import NightInputs
from pipelines.rules.letters import customers_with_active_sims, letter_evidence
from pipelines.rules.wording import letter_phrase

RULE_ID = "LETTER_TO_DEPARTED_CUSTOMER"


def detect(night: NightInputs) -> pl.DataFrame:
    letters = night.own(night.letters).filter(pl.col("letter_type") != "winback")
    recipients = letters.select("customer_id").unique().collect()
    fired = letters.join(
        customers_with_active_sims(night, recipients), on="customer_id", how="anti"
    ).select(
        "letter_id",
        "customer_id",
        "account_id",
        "msisdn",
        cents=pl.lit(None, pl.Int64),
        currency=pl.lit(None, pl.String),
        evidence=pl.struct(letter=letter_evidence()).struct.json_encode(),
        summary=pl.format(
            "{} is queued for a customer who has no active SIM left.", letter_phrase()
        ),
    )
    return finish(RULE_ID, fired.collect())
