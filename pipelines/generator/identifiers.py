"""Identifier formats (contract section 1) and the allocators that hand them out."""

from __future__ import annotations

import random


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload` + digit pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str(-total % 10)


def luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


class Ids:
    """Allocates every identifier of a world: unique, deterministic, in allocation order."""

    def __init__(self, rng: random.Random):
        self._rng = rng
        self._counters: dict[str, int] = {}
        self._iccid_serial = rng.randrange(10**9, 2 * 10**9)
        self._msisdn = 700_900_000 + rng.randrange(10_000)

    def _next(self, kind: str) -> int:
        self._counters[kind] = self._counters.get(kind, 0) + 1
        return self._counters[kind]

    def customer(self) -> tuple[str, str]:
        """A customer id and its billing account id (C0000001, A0000001)."""
        n = self._next("customer")
        return f"C{n:07d}", f"A{n:07d}"

    def iccid(self, issuer: str = "894420") -> str:
        """19 digits: 89, country, issuer, 12-digit serial, Luhn check digit."""
        self._iccid_serial += self._rng.randrange(1, 40)
        payload = f"{issuer}{self._iccid_serial:012d}"
        return payload + luhn_check_digit(payload)

    def msisdn(self) -> str:
        """A UK mobile number, E.164 without '+': 447 and 9 digits."""
        self._msisdn += self._rng.randrange(1, 12)
        return f"447{self._msisdn:09d}"

    def foreign_msisdn(self) -> str:
        return f"336{self._next('foreign_msisdn') + 12_340_000:08d}"

    def transaction(self) -> str:
        return f"T{self._next('transaction'):09d}"

    def line(self) -> str:
        return f"BL{self._next('line'):010d}"

    def invoice(self) -> str:
        return f"INV{self._next('invoice'):09d}"

    def letter(self) -> str:
        return f"LTR{self._next('letter'):08d}"
