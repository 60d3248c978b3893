"""Exact money: fractions while computing, half-even cents at the end, contract text."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

CURRENCY = "GBP"


def cents(value: Fraction | Decimal | int) -> Decimal:
    """Round an exact amount half-even to cents."""
    hundredths = round(Fraction(value) * 100)  # round() on a Fraction is exact half-even
    return (Decimal(hundredths) / 100).quantize(Decimal("0.01"))


def money(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.01"))


def prorate(amount: Decimal, days: int, period_days: int) -> Fraction:
    """`amount` * days / period_days, exactly."""
    return Fraction(amount) * days / period_days


def money_text(value: Decimal) -> str:
    """Two decimals, never a negative zero."""
    return str(value.quantize(Decimal("0.01")) + Decimal("0.00"))
