"""Exact money helpers: cents in, Decimal(18, 2) out, nothing lost on the way."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import polars as pl

from pipelines.contract import MONEY_DTYPE
from pipelines.money import from_cents, to_cents


def test_cents_round_trip_exactly() -> None:
    frame = pl.DataFrame({"amount": ["12.50", "-0.01", "99999999.99", None]})
    cents = frame.select(c=to_cents("amount"))
    assert cents["c"].to_list() == [1250, -1, 9999999999, None]
    back = cents.select(m=from_cents("c"))
    assert back.schema["m"] == MONEY_DTYPE
    assert back["m"].to_list() == [Decimal("12.50"), Decimal("-0.01"), Decimal("99999999.99"), None]


def test_fractions_round_half_even() -> None:
    # the contract rounds exact amounts half-even to cents only at the end
    assert [round(Fraction(n, 2)) for n in (1, 3, 5, -1, -3)] == [0, 2, 2, 0, -2]
    assert round(Fraction(2501, 1000)) == 3
