"""Exact money in polars: amounts travel as integer cents and become Decimal(18, 2) at the end.

Rounding of exact fractions is Python's `round(Fraction)`, which is half-even.
"""

from __future__ import annotations

import polars as pl

from pipelines.contract import MONEY_DTYPE


def to_cents(column: str) -> pl.Expr:
    """A money column (Decimal or decimal text) as exact Int64 cents."""
    return pl.col(column).cast(MONEY_DTYPE).to_physical().cast(pl.Int64)


def from_cents(column: str) -> pl.Expr:
    """An Int64 cents column as exact Decimal(18, 2) money."""
    return (pl.col(column).cast(MONEY_DTYPE) / 100).cast(MONEY_DTYPE)
