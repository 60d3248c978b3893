"""Typed parsing and row checks: every failing rule of a row goes into its `_reason`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl

from pipelines.contract import MONEY_DTYPE, Column, Source
from pipelines.ingest.identifiers import is_currency, is_iccid_shaped, is_msisdn, luhn_ok

# [0-9], not \d: the regex engine's \d also matches non-ASCII digits.
DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIMESTAMP_TEXT = DATE_TEXT[:-1] + r"T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|\+00:00)$"
INT_TEXT = r"^-?[0-9]+$"
MONEY_TEXT = r"^-?[0-9]+(\.[0-9]{1,2})?$"

TYPED = "__typed"  # suffix of the parsed twin of each text column while rows are checked
REASON_SEPARATOR = "; "

# (condition, reason): a row fails the check where the condition is true. Conditions see
# the text and parsed columns (and `_loaded_on`); reasons are only built for failing rows,
# which also carry `_first_file` and `_first_row` (the first occurrence of their key).
Check = tuple[pl.Expr, pl.Expr]


def split_rows(
    text: pl.LazyFrame, spec: Source, business_date: date, loaded: pl.LazyFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Check every row of a text frame (see read.read_part); returns (valid, quarantined).

    `valid` holds exactly the contract columns in curated dtypes; `quarantined` the text
    columns, `_file`, `_row` and `_reason` (every failing check, in contract column order).
    `loaded` holds the key and `business_date` of the rows curated for other business
    dates (at least of those whose key is in `text`), or is None when keys need only be
    unique within the partition.
    """
    key = spec.key
    checks = [check for c in spec.columns for check in _column_checks(c)]
    checks += SOURCE_CHECKS.get(spec.name, _no_checks)(business_date)
    checks.append(_duplicate_in_partition(key))
    frame = text.with_columns(_parsed(c).alias(c.name + TYPED) for c in spec.columns)
    if loaded is not None:
        first_loaded = (
            loaded.join(text.select(key), on=key, how="semi")
            .group_by(key)
            .agg(pl.col("business_date").min().alias("_loaded_on"))
        )
        frame = frame.join(first_loaded, on=key, how="left", maintain_order="left")
        checks.append(_loaded_before(key))
    flags = [f"_check_{i}" for i in range(len(checks))]
    checked = frame.with_columns(
        bad.fill_null(False).alias(flag) for flag, (bad, _) in zip(flags, checks, strict=True)
    ).collect()

    failed = pl.any_horizontal(flags)
    valid = checked.filter(~failed).select(
        _typed(c.name).cast(c.dtype).alias(c.name) for c in spec.columns
    )
    rejected = checked.filter(failed)
    first = (
        checked.join(rejected.select(key), on=key, how="semi", maintain_order="left")
        .group_by(key, maintain_order=True)
        .agg(_first_file=pl.col("_file").first(), _first_row=pl.col("_row").first())
    )
    reasons = pl.concat_str(
        [pl.when(flag).then(reason) for flag, (_, reason) in zip(flags, checks, strict=True)],
        separator=REASON_SEPARATOR,
        ignore_nulls=True,
    )
    quarantined = rejected.join(first, on=key, how="left", maintain_order="left").select(
        *spec.column_names, "_file", "_row", reasons.alias("_reason")
    )
    return valid, quarantined


def _parsed(column: Column) -> pl.Expr:
    """The column's text in its curated dtype; null when absent or malformed."""
    text = pl.col(column.name)
    if column.kind == "timestamp":
        naive = text.str.replace(r"(Z|\+00:00)$", "").str.strptime(
            pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False
        )
        return pl.when(text.str.contains(TIMESTAMP_TEXT)).then(naive.dt.replace_time_zone("UTC"))
    if column.kind == "date":
        day = text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        return pl.when(text.str.contains(DATE_TEXT)).then(day)
    if column.kind == "int":
        return pl.when(text.str.contains(INT_TEXT)).then(text.cast(pl.Int64, strict=False))
    if column.kind == "money":
        return pl.when(text.str.contains(MONEY_TEXT)).then(text.cast(MONEY_DTYPE, strict=False))
    return text


def _column_checks(column: Column) -> list[Check]:
    """Checks of one column: nullability, then its kind."""
    name = column.name
    text = pl.col(name)
    present = text.is_not_null()
    parse_failed = present & _typed(name).is_null()

    def reason(problem: str) -> pl.Expr:
        return pl.format(f"{name}: {problem} ('{{}}')", text)

    checks: list[Check] = []
    if not column.nullable:
        checks.append((text.is_null(), pl.lit(f"{name}: missing")))
    if column.kind == "timestamp":
        checks.append((parse_failed, reason("not an ISO 8601 UTC timestamp")))
    elif column.kind == "date":
        checks.append((parse_failed, reason("not a YYYY-MM-DD date")))
    elif column.kind == "int":
        checks.append((parse_failed, reason("not an integer")))
    elif column.kind == "money":
        checks.append((parse_failed, reason("not a decimal with at most 2 decimals")))
    elif column.kind == "enum":
        allowed = reason(f"not one of {'|'.join(column.values)}")
        checks.append((present & ~text.is_in(column.values), allowed))
    elif column.kind == "msisdn":
        checks.append((present & ~is_msisdn(text), reason("not an MSISDN of 8 to 15 digits")))
    elif column.kind == "iccid":
        shaped = is_iccid_shaped(text)
        checks.append((present & ~shaped, reason("not an ICCID of 19 or 20 digits starting 89")))
        checks.append((shaped & ~luhn_ok(text), reason("ICCID with a wrong Luhn check digit")))
    elif column.kind == "currency":
        checks.append((present & ~is_currency(text), reason("not an ISO 4217 currency code")))
    return checks


def _typed(name: str) -> pl.Expr:
    """The parsed twin of a text column."""
    return pl.col(name + TYPED)


def _billing_checks(_: date) -> list[Check]:
    return [
        (
            _typed("period_start") > _typed("period_end"),
            pl.format("period_start: after period_end ('{}' > '{}')", "period_start", "period_end"),
        ),
        (
            (pl.col("charge_type") == "credit") & (_typed("amount") > 0),
            pl.format("amount: positive on a credit line ('{}')", "amount"),
        ),
    ]


def _store_checks(business_date: date) -> list[Check]:
    return [
        (
            _typed("transaction_ts").dt.date() != business_date,
            pl.format(
                f"transaction_ts: not on the business date {business_date} ('{{}}')",
                "transaction_ts",
            ),
        )
    ]


def _letter_checks(business_date: date) -> list[Check]:
    return [
        (
            _typed("scheduled_send_date") <= business_date,
            pl.format(
                f"scheduled_send_date: not after the business date {business_date} ('{{}}')",
                "scheduled_send_date",
            ),
        )
    ]


def _no_checks(_: date) -> list[Check]:
    return []


SOURCE_CHECKS: dict[str, Callable[[date], list[Check]]] = {
    "billing_lines": _billing_checks,
    "store_transactions": _store_checks,
    "retention_campaigns": _letter_checks,
}


def _duplicate_in_partition(key: str) -> Check:
    """Every occurrence of a key after its first (by file, then row) is a duplicate."""
    return (
        pl.col(key).is_not_null() & ~pl.col(key).is_first_distinct(),
        pl.format(f"{key}: duplicate of {{}} row {{}}", "_first_file", "_first_row"),
    )


def _loaded_before(key: str) -> Check:
    return (
        pl.col("_loaded_on").is_not_null(),
        pl.format(f"{key}: already loaded for business date {{}}", "_loaded_on"),
    )
