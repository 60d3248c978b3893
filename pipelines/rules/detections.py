"""Turning a rule's firing rows into detections: one row per case key, with id and JSON."""

from __future__ import annotations

import hashlib

import polars as pl

from pipelines.catalogue import DETECTION_COLUMNS, RULE_SPECS
from pipelines.contract import MONEY_DTYPE
from pipelines.money import from_cents

DETECTION_SCHEMA: dict[str, pl.DataType] = {c: pl.String() for c in DETECTION_COLUMNS} | {
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "amount_at_risk": MONEY_DTYPE,
}


def money_text(cents_col: str, currency_col: str = "currency") -> pl.Expr:
    """'12.34 GBP' for a cents column, 'an unknown amount' when null."""
    return (
        pl.when(pl.col(cents_col).is_null())
        .then(pl.lit("an unknown amount"))
        .otherwise(
            pl.format(
                "{} {}",
                from_cents(cents_col),
                pl.col(currency_col).fill_null(""),
            ).str.strip_chars()
        )
    )


def sum_one_currency(frame: pl.LazyFrame, key: list[str], order_by: str) -> pl.LazyFrame:
    """Merge firing rows sharing a case key: other columns from the first row by `order_by`;
    `cents` summed when the rows share one currency (else cents and currency are null);
    `ev` (a struct per row) collected into the list `evs`."""
    others = [c for c in frame.collect_schema().names() if c not in {*key, "cents", "ev"}]
    one_currency = pl.col("currency").n_unique() == 1
    return (
        frame.sort(order_by)
        .group_by(key, maintain_order=True)
        .agg(
            pl.col(others).first(),
            cents=pl.when(one_currency & pl.col("cents").is_not_null().all()).then(
                pl.col("cents").sum()
            ),
            evs=pl.col("ev"),
            _currency=pl.when(one_currency).then(pl.col("currency").first()),
        )
        .with_columns(currency="_currency")
        .drop("_currency")
    )


def finish(rule_id: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Detections of one rule: add case_id and severity, keep the contract columns, sorted.

    `frame` has one row per case key, a `cents` column, `summary` and `evidence` (JSON text),
    and any of the other detection columns it knows.
    """
    if frame.is_empty():
        return empty_detections()
    spec = RULE_SPECS[rule_id]
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
        )
        .select(pl.col(c).cast(t) for c, t in DETECTION_SCHEMA.items())
        .sort("case_id")
    )


def _sha16(texts: pl.Series) -> pl.Series:
    return pl.Series(
        [hashlib.sha256(t.encode("utf-8")).hexdigest()[:16] for t in texts], dtype=pl.String
    )


def empty_detections() -> pl.DataFrame:
    return pl.DataFrame(schema=DETECTION_SCHEMA)
