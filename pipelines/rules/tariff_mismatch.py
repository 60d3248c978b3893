"""TARIFF_MISMATCH: a full-period recurring charge that differs from the agreed fee."""

from __future__ import annotations

import polars as pl

from pipelines.money import from_cents
from pipelines.rules.detections import finish, merge_key, mixed_money_text
from pipelines.rules.inputs import NightInputs, joined_to
from pipelines.rules.wording import capital, money, the_line

RULE_ID = "TARIFF_MISMATCH"
KEY = ["msisdn", "period_start"]
THRESHOLD_CENTS = 1


def full_period_end(start: pl.Expr) -> pl.Expr:
    """period_start plus one calendar month (clipped to month end) minus one day."""
    return start.dt.offset_by("1mo").dt.offset_by("-1d")


def full_period(lines: pl.LazyFrame) -> pl.LazyFrame:
    """The lines whose period is one whole month."""
    return lines.filter(pl.col("period_end") == full_period_end(pl.col("period_start")))


def mismatched_lines(lines: pl.LazyFrame, fees: pl.LazyFrame) -> pl.DataFrame:
    """The lines whose amount differs from their number's agreed fee, with that fee; only
    the narrow columns are sorted and as-of joined."""
    return (
        lines.select("line_id", "msisdn", "period_start", "cents", "currency")
        .sort("period_start")
        .join_asof(
            fees,
            left_on="period_start",
            right_on="tx_date",
            by="msisdn",
            strategy="backward",
            check_sortedness=False,
        )
        .filter(
            pl.col("fee_cents").is_not_null()
            & (pl.col("fee_currency") == pl.col("currency"))
            & ((pl.col("cents") - pl.col("fee_cents")).abs() > THRESHOLD_CENTS)
        )
        .select("line_id", "fee_cents", "tx_date", "transaction_id")
        .collect()
    )


def detect(night: NightInputs) -> pl.DataFrame:
    fees = (
        night.own_numbers(night.contract_actions())
        .sort("transaction_ts", "transaction_id")
        .group_by("msisdn", "tx_date")
        .agg(pl.all().last())
        .sort("tx_date")
    )
    # A case holds every line of its number and period, on whatever SIM: a shard judges
    # the lines of the numbers it owns.
    lines = full_period(night.number_lines())
    mismatched = mismatched_lines(lines, fees)
    # The firing lines' other columns, read for them alone.
    fired = joined_to(lines, mismatched, "line_id").select(
        *KEY,
        "period_end",
        "customer_id",
        "account_id",
        "iccid",
        "invoice_id",
        "currency",
        "line_id",
        "fee_cents",
        billed_cents="cents",
        cents=pl.col("cents") - pl.col("fee_cents"),
        ev=pl.struct(
            "line_id",
            "invoice_id",
            "bill_run_id",
            "tariff_code",
            "amount",
            agreed_fee=from_cents("fee_cents"),
            agreed_by_transaction_id="transaction_id",
            agreed_on="tx_date",
        ),
    )
    cases = merge_key(fired, KEY, "line_id").with_columns(
        evidence=pl.struct(lines="evs").struct.json_encode(),
        summary=pl.format(
            "{} was billed {} for {} to {}, but its agreed monthly fee is {}: {}.",
            capital(the_line()),
            pl.when(pl.col("evs").list.len() == 1)
            .then(money("billed_cents"))
            .otherwise(pl.format("{} times", pl.col("evs").list.len())),
            "period_start",
            "period_end",
            money("fee_cents"),
            pl.when(pl.col("cents") > 0)
            .then(pl.format("overcharged by {}", money("cents")))
            .when(pl.col("cents") < 0)
            .then(pl.format("undercharged by {}", money(-pl.col("cents"))))
            .otherwise(pl.format("a difference of {}", mixed_money_text())),
        ),
    )
    return finish(RULE_ID, cases.collect())
