"""Identifier formats: MSISDN, ICCID (with its Luhn check digit), ISO 4217 currency."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.ingest.identifiers import (
    ISO_4217,
    is_currency,
    is_iccid,
    is_iccid_shaped,
    is_msisdn,
    luhn_ok,
)
from tests.support.landing import luhn_complete


def check(expr, values: list[str | None]) -> list[bool | None]:
    return (
        pl.DataFrame({"x": values}, schema={"x": pl.String})
        .select(expr(pl.col("x")))["x"]
        .to_list()
    )


def test_luhn_known_numbers():
    assert check(luhn_ok, ["79927398713", "79927398710", "0"]) == [True, False, True]


def test_luhn_is_null_for_text_that_is_not_up_to_20_digits():
    assert check(luhn_ok, ["abc", "7992739871x", "1" * 21, None]) == [None] * 4


def test_luhn_complete_helper_agrees_with_the_expression():
    numbers = [luhn_complete(f"8944{n:014d}") for n in range(50)]
    assert all(check(luhn_ok, numbers))


@pytest.mark.parametrize(
    "iccid",
    [luhn_complete("894410000000000012"), luhn_complete("8944100000000000123")],
    ids=["19 digits", "20 digits"],
)
def test_valid_iccids(iccid):
    assert check(is_iccid, [iccid]) == [True]


@pytest.mark.parametrize(
    "iccid",
    [
        luhn_complete("89441000000000001"),  # 18 digits
        luhn_complete("89441000000000001234"),  # 21 digits
        luhn_complete("884410000000000012"),  # prefix 88
        luhn_complete("984410000000000012"),  # prefix 98
        "8944100000000000A12",
        " " + luhn_complete("894410000000000012"),
        "",
    ],
)
def test_malformed_iccids(iccid):
    assert check(is_iccid_shaped, [iccid]) == [False]
    assert check(is_iccid, [iccid]) == [False]


def test_wrong_check_digit_is_shaped_but_invalid():
    good = luhn_complete("894410000000000012")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert check(is_iccid_shaped, [bad]) == [True]
    assert check(is_iccid, [good, bad]) == [True, False]


def test_null_iccid_is_neither_valid_nor_invalid():
    assert check(is_iccid, [None]) == [None]


def test_msisdn():
    values = [
        "12345678",
        "447700900123",
        "123456789012345",
        "1234567",
        "1234567890123456",
        "+447700900123",
        "4477OO900123",
        "07700900123",
    ]
    assert check(is_msisdn, values) == [True, True, True, False, False, False, False, True]


def test_currency():
    assert check(is_currency, ["GBP", "EUR", "USD", "gbp", "XXX", "ABC", "GB"]) == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_iso_4217_codes_are_three_upper_case_letters():
    assert len(ISO_4217) > 150
    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in ISO_4217)
