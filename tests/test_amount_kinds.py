"""Amount kinds (contract section 3): no total mixes kinds or currencies, revenue leakage
counts as its absolute value, "largest" is the largest absolute amount, no amount is
"not priced"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from pipelines.catalogue import amount_kind
from pipelines.contract import MONEY_DTYPE
from pipelines.publish import money_by_kind, money_by_kind_text
from pipelines.publish.report import render_report

CASES = [
    ("a", "CHARGE_AFTER_DEACTIVATION", "high", "12.00", "GBP"),
    ("b", "TARIFF_MISMATCH", "medium", "-40.48", "GBP"),
    ("c", "TARIFF_MISMATCH", "medium", "3.00", "GBP"),
    ("d", "UNKNOWN_SIM_CHARGED", "medium", "-5.00", "GBP"),
    ("e", "WRONG_DISCONNECT_LETTER", "critical", "124.50", "GBP"),
    ("f", "CHARGE_AFTER_DEACTIVATION", "high", "7.00", "EUR"),
    ("g", "WRONG_DISCONNECT_LETTER", "critical", None, None),
    ("h", "UNBILLED_ACTIVE_LINE", "medium", "9.99", "GBP"),
]


def frame() -> pl.DataFrame:
    rows = [
        {
            "case_id": cid,
            "rule_id": rule,
            "severity": sev,
            "status": "open",
            "first_seen": date(2024, 4, 1),
            "customer_id": "C1",
            "amount_at_risk": None if amount is None else Decimal(amount),
            "currency": currency,
            "amount_kind": amount_kind(rule, None if amount is None else Decimal(amount)),
            "summary": f"case {cid}",
        }
        for cid, rule, sev, amount, currency in CASES
    ]
    return pl.DataFrame(rows, schema_overrides={"amount_at_risk": MONEY_DTYPE})


def test_kinds_follow_the_rule_and_the_sign() -> None:
    assert amount_kind("TARIFF_MISMATCH", Decimal("-0.02")) == "revenue_leakage"
    assert amount_kind("TARIFF_MISMATCH", Decimal("0.02")) == "refund_due"
    assert amount_kind("UNKNOWN_SIM_CHARGED", Decimal("-5.00")) == "misbilled"
    assert amount_kind("UNBILLED_ACTIVE_LINE", None) is None
    assert amount_kind("SWAP_NOT_PROVISIONED", None) is None


def test_totals_are_per_kind_and_currency_leakage_absolute() -> None:
    assert money_by_kind(frame()) == {
        "refund_due": {"EUR": "7.00", "GBP": "15.00"},
        "revenue_leakage": {"GBP": "50.47"},  # 40.48 undercharged + 9.99 unbilled
        "misbilled": {"GBP": "-5.00"},  # a credit on a SIM not the account's, as it is
        "revenue_at_risk": {"GBP": "124.50"},
    }
    text = money_by_kind_text(money_by_kind(frame()), 1)
    assert text.startswith("7.00 EUR refund due; 15.00 GBP refund due; 50.47 GBP revenue leakage")
    assert text.endswith("; 1 not priced")


def test_the_report_shows_kinds_the_largest_absolute_first_and_not_priced() -> None:
    summary = {
        "contract_version": 1,
        "catalogue_version": 1,
        "run_id": "r",
        "rules": {},
        "sources": {},
        "cases": {
            "published": 8,
            "new": 8,
            "closed": 0,
            "amount_by_kind": money_by_kind(frame()),
            "not_priced": 1,
        },
    }
    html = render_report(date(2024, 4, 1), frame(), summary)
    assert "<b>50.47 GBP</b>revenue leakage" in html and "<b>1</b>not priced" in html
    assert "<b>124.50 GBP</b>revenue at risk" in html and "<b>-5.00 GBP</b>misbilled" in html
    largest = html.split("<h2>Largest amounts</h2>")[1].split("<h2>")[0]
    order = [largest.index(f"<code>{c}</code>") for c in ("e", "b", "a", "h", "f", "d", "c")]
    assert order == sorted(order)
    every = html.split("<h2>Every case</h2>")[1]
    assert "not priced" in every and ">0.00<" not in html
