"""The words of case summaries: sentences an agent can read out to a customer's advocate.

A summary names amounts, dates and what happened in plain words; it never names an id
(those are in the evidence), never shows a raw code, and counts with singular or plural.
"""

from __future__ import annotations

import polars as pl

from pipelines.contract import MONEY_DTYPE

NOT_PRICED = "not priced"

LETTER_TYPES = {
    "disconnect_save": "disconnect-save",
    "winback": "win-back",
    "contract_end_offer": "contract-end offer",
    "loyalty_reward": "loyalty reward",
}
LETTER_CHANNELS = {"letter": "letter", "email": "email", "sms": "text message"}
TRIGGERS = {
    "disconnect_request": "sent because the customer asked to disconnect",
    "port_out_request": "sent because the customer asked to port out",
    "line_cancelled": "sent because a line was cancelled",
    "contract_ending": "sent because the contract is ending",
    "churn_score": "sent because a churn model flagged the customer",
}
CHANNELS = {
    "store": "in a shop",
    "online": "online",
    "telesales": "by telesales",
    "social": "through social care",
}
SIM_STATUSES = {
    "in_stock": "in stock",
    "active": "active",
    "suspended": "suspended",
    "deactivated": "deactivated",
    "swapped_out": "swapped out",
    "lost_stolen": "lost or stolen",
}


def money(cents: str | pl.Expr, currency: str | pl.Expr = "currency") -> pl.Expr:
    """'12.34 GBP' for an amount in cents, 'not priced' when there is none."""
    cents = pl.col(cents) if isinstance(cents, str) else cents
    currency = pl.col(currency) if isinstance(currency, str) else currency
    return (
        pl.when(cents.is_not_null())
        .then(pl.format("{} {}", _decimal(cents), currency.fill_null("")).str.strip_chars())
        .otherwise(pl.lit(NOT_PRICED))
    )


def _decimal(cents: pl.Expr) -> pl.Expr:
    return (cents.cast(MONEY_DTYPE) / 100).cast(MONEY_DTYPE)


def count(n: str | pl.Expr, singular: str, plural: str) -> pl.Expr:
    """'1 SIM', '3 SIMs'."""
    n = pl.col(n) if isinstance(n, str) else n
    return pl.format("{} {}", n, pl.when(n == 1).then(pl.lit(singular)).otherwise(pl.lit(plural)))


def the_line(msisdn: str = "msisdn") -> pl.Expr:
    """'the line ending 0123' (the last four digits of the msisdn), or 'a line with no
    number' when the msisdn is not known."""
    return (
        pl.when(pl.col(msisdn).is_not_null())
        .then(pl.format("the line ending {}", pl.col(msisdn).str.slice(-4)))
        .otherwise(pl.lit("a line with no number"))
    )


def capital(text: pl.Expr) -> pl.Expr:
    """The text with its first letter in upper case, to start a sentence."""
    return pl.concat_str(text.str.slice(0, 1).str.to_uppercase(), text.str.slice(1))


def words(column: str, table: dict[str, str]) -> pl.Expr:
    """A catalogue code in words; an unexpected code is shown with spaces for underscores."""
    return pl.col(column).replace(table).str.replace_all("_", " ")


def letter_phrase() -> pl.Expr:
    """'A disconnect-save email, sent because ..., due to go out on 2024-04-20,'."""
    return pl.format(
        "A {} {}, {} and due to go out on {},",
        words("letter_type", LETTER_TYPES),
        words("channel", LETTER_CHANNELS),
        words("trigger_reason", TRIGGERS),
        "scheduled_send_date",
    )
