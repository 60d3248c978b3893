"""Identifier formats of the contract (section 1) as vectorised polars checks."""

from __future__ import annotations

import polars as pl

# [0-9], not \d: the regex engine's \d also matches non-ASCII digits.
MSISDN_PATTERN = r"^[0-9]{8,15}$"
ICCID_PATTERN = r"^89[0-9]{17,18}$"

# ISO 4217 alphabetic codes in current use, plus a few withdrawn since 2023 that older
# partitions may still carry. XTS (testing) and XXX (no currency) are left out.
ISO_4217 = frozenset(
    {
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HRK",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SLL",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XCD",
        "XCG",
        "XDR",
        "XOF",
        "XPD",
        "XPF",
        "XPT",
        "XSU",
        "XUA",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
        "ZWL",
    }
)


def is_msisdn(text: pl.Expr) -> pl.Expr:
    """8 to 15 digits (E.164 without '+')."""
    return text.str.contains(MSISDN_PATTERN)


def is_iccid_shaped(text: pl.Expr) -> pl.Expr:
    """19 or 20 digits starting '89' (the check digit is not looked at)."""
    return text.str.contains(ICCID_PATTERN)


def luhn_ok(digits: pl.Expr) -> pl.Expr:
    """Whether a string of up to 20 ASCII digits passes the Luhn check (last digit = check digit).

    Null for other text: callers check the shape first.
    """
    number = pl.when(digits.str.len_bytes() <= 20).then(digits.cast(pl.Int128, strict=False))
    terms = []
    for position in range(20):  # from the right; every second digit is doubled
        digit = number // 10**position % 10
        terms.append(digit if position % 2 == 0 else digit * 2 - 9 * (digit >= 5))
    return pl.sum_horizontal(terms, ignore_nulls=False) % 10 == 0


def is_iccid(text: pl.Expr) -> pl.Expr:
    """A well-formed ICCID with a valid Luhn check digit."""
    return is_iccid_shaped(text) & luhn_ok(text)


def is_currency(text: pl.Expr) -> pl.Expr:
    """An ISO 4217 alphabetic code (upper case)."""
    return text.is_in(sorted(ISO_4217))
