"""Exact money helpers: amounts are integer cents, rounded half-even only at the end."""

from __future__ import annotations

from fractions import Fraction


def round_half_even(cents: Fraction | int) -> int:
    """An exact amount of cents rounded half-even to a whole cent."""
    value = Fraction(cents)
    whole, rest = divmod(value.numerator, value.denominator)
    twice = 2 * rest
    if twice > value.denominator or (twice == value.denominator and whole % 2 == 1):
        whole += 1
    return whole
