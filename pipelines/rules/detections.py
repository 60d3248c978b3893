"""Turning a rule's firing rows into detections: one row per case key, with id and JSON."""

from __future__ import annotations

import hashlib

import polars as pl

from pipelines.catalogue import DETECTION_COLUMNS, RULE_KINDS, RULE_SPECS, SIGNED_RULE
from pipelines.contract import MONEY_DTYPE
from pipelines.money import from_cents
from pipelines.rules.wording import money

MIXED_JSON = "amounts_by_currency"
MIXED_TEXT = "amounts_text"
DETECTION_SCHEMA: dict[str, pl.DataType] = {c: pl.String() for c in DETECTION_COLUMNS} | {
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "amount_at_risk": MONEY_DTYPE,
}


def mixed_money_text(cents_col: str = "cents") -> pl.Expr:
    """wording.money, naming each currency's amount when the key met several currencies."""
    return (
        pl.when(pl.col(MIXED_TEXT).is_not_null())
        .then(pl.format("{} (several currencies, not added up)", pl.col(MIXED_TEXT)))
        .otherwise(money(cents_col))
    )


def currency_totals(frame: pl.LazyFrame, key: list[str], cents: str = "cents") -> pl.LazyFrame:
    """Per case key, the exact sum of `cents` per currency (rows without an amount or a
    currency add nothing).

    One currency: `cents` and `currency` are that sum and currency, `amounts_by_currency`
    is null. Several (docs/rule-semantics.md, "Several currencies under one key"): `cents`
    and `currency` are null, `amounts_by_currency` is the JSON object {"EUR": "1.00", ...}
    and `amounts_text` reads '1.00 EUR + 2.00 GBP' (currencies in code order).
    """
    amount = from_cents("cents").cast(pl.String)
    one = pl.col("currencies") == 1
    return (
        frame.filter(pl.col(cents).is_not_null() & pl.col("currency").is_not_null())
        .group_by(*key, "currency")
        .agg(pl.col(cents).sum().alias("cents"))
        .sort("currency")
        .group_by(key)
        .agg(
            currencies=pl.len(),
            one_cents=pl.col("cents").first(),
            one_currency=pl.col("currency").first(),
            json_parts=pl.format('"{}":"{}"', "currency", amount),
            text_parts=pl.format("{} {}", amount, "currency"),
        )
        .select(
            *key,
            cents=pl.when(one).then("one_cents"),
            currency=pl.when(one).then("one_currency"),
            **{
                MIXED_JSON: pl.when(~one).then(
                    pl.concat_str(pl.lit("{"), pl.col("json_parts").list.join(","), pl.lit("}"))
                ),
                MIXED_TEXT: pl.when(~one).then(pl.col("text_parts").list.join(" + ")),
            },
        )
    )


def merge_key(frame: pl.LazyFrame, key: list[str], order_by: str) -> pl.LazyFrame:
    """Merge firing rows sharing a case key: other columns from the first row by `order_by`,
    `ev` (a struct per row) collected into the list `evs`, and the key's money from
    `currency_totals` (`cents`, `currency`, `amounts_by_currency`, `amounts_text`)."""
    frame = frame.collect().lazy()  # the firing rows (few), read twice below
    others = [
        c for c in frame.collect_schema().names() if c not in {*key, "cents", "currency", "ev"}
    ]
    merged = (
        frame.sort(order_by)
        .group_by(key, maintain_order=True)
        .agg(pl.col(others).first(), evs=pl.col("ev"))
    )
    return merged.join(currency_totals(frame, key), on=key, how="left", nulls_equal=True)


def finish(rule_id: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Detections of one rule: add case_id and severity, keep the contract columns, sorted.

    `frame` has one row per case key, a `cents` column, `summary` and `evidence` (JSON text),
    and any of the other detection columns it knows. A key that met several currencies
    (`amounts_by_currency` set, see `currency_totals`) gets them added to its evidence.
    """
    if frame.is_empty():
        return empty_detections()
    spec = RULE_SPECS[rule_id]
    if MIXED_JSON in frame.columns:
        frame = frame.with_columns(
            evidence=pl.when(pl.col(MIXED_JSON).is_null())
            .then("evidence")
            .otherwise(
                pl.concat_str(
                    pl.col("evidence").str.strip_suffix("}"),
                    pl.lit(f',"{MIXED_JSON}":'),
                    pl.col(MIXED_JSON),
                    pl.lit("}"),
                )
            )
        )
    missing = [c for c in DETECTION_SCHEMA if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, DETECTION_SCHEMA[c]).alias(c) for c in missing)
    key_text = pl.concat_str(
        [pl.lit(rule_id), *(pl.col(k).cast(pl.String).fill_null("") for k in spec.key)],
        separator="|",
    )
    return (
        frame.with_columns(
            case_id=key_text.map_batches(_sha16, return_dtype=pl.String),
            rule_id=pl.lit(rule_id),
            severity=pl.lit(spec.severity),
            amount_at_risk=from_cents("cents"),
            amount_kind=kind_of(rule_id, "cents"),
        )
        .select(pl.col(c).cast(t) for c, t in DETECTION_SCHEMA.items())
        .sort("case_id")
    )


def kind_of(rule_id: str, cents: str) -> pl.Expr:
    """The amount_kind of a rule's amounts (contract section 3, `catalogue.amount_kind`)."""
    kind = pl.lit(RULE_KINDS.get(rule_id), pl.String)
    if rule_id == SIGNED_RULE:
        kind = pl.when(pl.col(cents) < 0).then(pl.lit("revenue_leakage")).otherwise(kind)
    return pl.when(pl.col(cents).is_not_null()).then(kind)


def _sha16(texts: pl.Series) -> pl.Series:
    return pl.Series(
        [hashlib.sha256(t.encode("utf-8")).hexdigest()[:16] for t in texts], dtype=pl.String
    )


def empty_detections() -> pl.DataFrame:
    return pl.DataFrame(schema=DETECTION_SCHEMA)
