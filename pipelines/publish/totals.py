"""Money totals that never mix kinds or currencies (contract section 3), and their text."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from pipelines.catalogue import AMOUNT_KINDS, total_value


def money_by_kind(cases: pl.DataFrame) -> dict[str, dict[str, str]]:
    """Exact totals of amount_at_risk per amount_kind and currency, as decimal strings
    (revenue leakage as absolute values, `catalogue.total_value`); cases without an
    amount add nothing (they are counted as not priced)."""
    totals: dict[str, dict[str, Decimal]] = {}
    rows = cases.select("amount_kind", "currency", "amount_at_risk").iter_rows()
    for kind, currency, amount in rows:
        if amount is not None and currency is not None and kind is not None:
            by_currency = totals.setdefault(kind, {})
            by_currency[currency] = by_currency.get(currency, Decimal("0.00")) + total_value(
                kind, amount
            )
    return {
        k: {c: f"{v:.2f}" for c, v in sorted(totals[k].items())}
        for k in AMOUNT_KINDS
        if k in totals
    }


def kind_label(kind: str) -> str:
    """'revenue_leakage' -> 'revenue leakage'."""
    return kind.replace("_", " ")


def money_by_kind_text(totals: dict[str, dict[str, str]], not_priced: int = 0) -> str:
    """'12.00 GBP refund due; 4.48 GBP revenue leakage; 1 not priced', or '-' for none."""
    parts = [
        f"{amount} {currency} {kind_label(kind)}"
        for kind, by_currency in totals.items()
        for currency, amount in by_currency.items()
    ]
    if not_priced:
        parts.append(f"{not_priced} not priced")
    return "; ".join(parts) or "-"
