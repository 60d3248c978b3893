"""WRONG_DISCONNECT_LETTER: a "please don't leave us" letter the customer gave no reason for.

Fires for unrequested disconnect_save/winback letters to customers who still have an
active SIM and who, in the 60 days up to tonight, cancelled or ported nothing, or raised
their commitment (see `raised_commitment`).
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from pipelines.contract import CONTRACT_ACTIONS
from pipelines.money import to_cents
from pipelines.rules.detections import (
    MIXED_JSON,
    MIXED_TEXT,
    currency_totals,
    finish,
    mixed_money_text,
)
from pipelines.rules.inputs import NightInputs, among, latest
from pipelines.rules.letters import customers_with_active_sims, letter_evidence
from pipelines.rules.wording import count, letter_phrase

RULE_ID = "WRONG_DISCONNECT_LETTER"
WINDOW_DAYS = 60
LEAVING = ("cancel_line", "port_out")


def raised_commitment(night: NightInputs) -> pl.LazyFrame:
    """Customers whose agreed fees after the window's changes exceed those before it."""
    window_start = night.days_before(WINDOW_DAYS - 1)
    actions = night.actions().filter(pl.col("tx_date") <= night.business_date)
    contract = actions.filter(pl.col("action").is_in(CONTRACT_ACTIONS))
    per_line = ["customer_id", "msisdn"]
    fee = to_cents("monthly_fee")
    before = latest(contract.filter(pl.col("tx_date") < window_start), *per_line).select(
        *per_line, cents=fee.fill_null(0), currency="currency"
    )
    after_contract = latest(contract, *per_line).select(
        *per_line, after_cents=fee.fill_null(0), after_currency="currency"
    )
    after = (
        latest(actions, *per_line)
        .select(*per_line, last_action="action")
        .join(after_contract, on=per_line, how="left")
        .select(
            *per_line,
            cents=pl.when(pl.col("last_action").is_in(LEAVING))
            .then(0)
            .otherwise(pl.col("after_cents").fill_null(0)),
            currency="after_currency",
        )
    )
    changes = pl.concat(
        [
            after,
            before.with_columns(cents=-pl.col("cents")),
        ]
    )
    return (
        changes.filter(pl.col("cents") != 0)
        .group_by("customer_id", "currency")
        .agg(delta=pl.col("cents").sum())
        .group_by("customer_id")
        .agg(raised=(pl.col("delta") > 0).any())
        .filter("raised")
        .select("customer_id")
    )


def detect(night: NightInputs) -> pl.DataFrame:
    letters = night.own(night.letters).filter(
        pl.col("letter_type").is_in(["disconnect_save", "winback"])
        & ~pl.col("trigger_reason").is_in(["disconnect_request", "port_out_request"])
    )
    # Only the recipients of such letters are judged: narrow the history to them first.
    recipients = letters.select("customer_id").unique().collect()
    theirs = replace(
        night, transactions=night.transactions.filter(among(recipients, "customer_id"))
    )
    window_start = night.days_before(WINDOW_DAYS - 1)
    departed_lines = (
        theirs.actions()
        .filter(
            pl.col("action").is_in(LEAVING)
            & pl.col("tx_date").is_between(window_start, night.business_date)
        )
        .group_by("customer_id")
        .agg(leaving_transactions=pl.col("transaction_id").sort())
    )
    raised = raised_commitment(theirs).with_columns(raised=pl.lit(True))
    active = customers_with_active_sims(night, recipients)
    active_msisdns = active.select(msisdn="active_msisdns").explode("msisdn")
    fees = night.agreed_fees_on(night.business_date, active_msisdns)
    exposure = (
        active.select("customer_id", msisdn="active_msisdns")
        .explode("msisdn")
        .join(fees, on="msisdn", how="left")
        .select("customer_id", cents="fee_cents", currency="fee_currency")
    )
    fired = (
        letters.join(active, on="customer_id")
        .join(departed_lines, on="customer_id", how="left")
        .join(raised, on="customer_id", how="left")
        .with_columns(raised=pl.col("raised").fill_null(False))
        .filter(pl.col("leaving_transactions").is_null() | pl.col("raised"))
        .join(currency_totals(exposure, ["customer_id"]), on="customer_id", how="left")
        # Unknown fees count 0: without any known fee the amount is 0.00, with no currency.
        .with_columns(
            cents=pl.when(pl.col(MIXED_JSON).is_null()).then(pl.col("cents").fill_null(0))
        )
        .select(
            "letter_id",
            "customer_id",
            "account_id",
            "msisdn",
            "cents",
            "currency",
            MIXED_JSON,
            MIXED_TEXT,
            evidence=pl.struct(
                letter=letter_evidence(),
                active_sims="active_iccids",
                leaving_transactions_in_60_days="leaving_transactions",
                raised_commitment="raised",
            ).struct.json_encode(),
            summary=pl.format(
                "{} is queued for a customer who still has {} and {}; {}.",
                letter_phrase(),
                count(pl.col("active_iccids").list.len(), "active SIM", "active SIMs"),
                pl.when(pl.col("raised"))
                .then(pl.lit("raised their commitment in the last 60 days"))
                .otherwise(pl.lit("cancelled or ported no line in the last 60 days")),
                pl.when(pl.col("cents").is_not_null() & pl.col("currency").is_null())
                .then(pl.lit("none of their agreed monthly fees is known"))
                .otherwise(pl.format("their agreed monthly fees total {}", mixed_money_text())),
            ),
        )
    )
    return finish(RULE_ID, fired.collect())
