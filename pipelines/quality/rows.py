"""What GX validates: a landing partition's raw text rows, derived columns, and row counts.

`_quarantined` is ingest's verdict on each row: whether it was quarantined, for any reason
(nulls, formats, Luhn check digits, impossible dates, duplicates on this or another date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.contract import CHARGE_TYPES, SOURCE_SPECS
from pipelines.ingest.landing import LandingPartition
from pipelines.ingest.manifest import verified_files
from pipelines.ingest.parse import DATE_TEXT, INT_TEXT, MONEY_TEXT, TIMESTAMP_TEXT
from pipelines.ingest.read import read_part, text_schema
from pipelines.layout import QUARANTINE_FILE, curated_key, quarantine_prefix
from pipelines.storage import Storage

DEACTIVATED_STATUSES = ("deactivated", "swapped_out", "lost_stolen")  # deactivated_at is set


QUARANTINED = "_quarantined"
POSITION = ["_file", "_row"]


@dataclass(frozen=True)
class Checked:
    """What ingest made of a partition: rows loaded, and the quarantined rows' positions."""

    rows_loaded: int
    quarantined: pl.DataFrame  # `_file`, `_row` of every quarantined row

    @property
    def rows_quarantined(self) -> int:
        return self.quarantined.height

    @classmethod
    def of(cls, rows_loaded: int, quarantined: pl.DataFrame | None) -> Checked:
        """From a quarantine frame (None or empty: no row quarantined)."""
        if quarantined is None or quarantined.is_empty():
            return cls(rows_loaded, pl.DataFrame(schema={"_file": pl.String, "_row": pl.Int64}))
        return cls(rows_loaded, quarantined.select(POSITION))


@dataclass(frozen=True)
class PartitionRows:
    """Every row the manifest promised, as text, with the derived columns the suite names."""

    frame: pl.DataFrame
    manifest_rows: int


def partition_rows(
    landing: Storage, source: str, business_date: date, checked: Checked
) -> PartitionRows:
    """The partition's rows before quarantine, each with ingest's verdict; raises
    RejectedPartition as ingest does."""
    spec = SOURCE_SPECS[source]
    part = LandingPartition(source, business_date)
    files = verified_files(landing, part)
    texts = [read_part(landing, part, f, spec) for f in files]
    text = pl.concat(texts) if texts else pl.DataFrame(schema=text_schema(spec))
    derived = DERIVED[source](business_date)
    marks = (
        checked.quarantined.select(POSITION).unique().with_columns(pl.lit(True).alias(QUARANTINED))
    )
    verdicts = text.join(marks, on=POSITION, how="left", maintain_order="left")
    return PartitionRows(
        frame=verdicts.with_columns(pl.col(QUARANTINED).fill_null(False)).with_columns(
            expr.alias(name) for name, expr in derived.items()
        ),
        manifest_rows=sum(f.rows for f in files),
    )


def ingested(warehouse: Storage, source: str, business_date: date) -> Checked:
    """What the warehouse holds of a partition after its commit."""
    curated = curated_key(source, business_date)
    if not warehouse.exists(curated):
        raise FileNotFoundError(
            f"{warehouse.uri(curated)} is missing: ingest {source} {business_date} before "
            "validating it"
        )
    quarantine = f"{quarantine_prefix(source, business_date)}/{QUARANTINE_FILE}"
    quarantined = (
        _parquet(warehouse, quarantine).select(POSITION).collect()
        if warehouse.exists(quarantine)
        else None
    )
    return Checked.of(_parquet(warehouse, curated).select(pl.len()).collect().item(), quarantined)


def _parquet(warehouse: Storage, key: str) -> pl.LazyFrame:
    return pl.scan_parquet(warehouse.uri(key), storage_options=warehouse.storage_options)


def _money(name: str) -> pl.Expr:
    text = pl.col(name)
    return pl.when(text.str.contains(MONEY_TEXT)).then(text.cast(pl.Float64, strict=False))


def _date(name: str) -> pl.Expr:
    text = pl.col(name)
    day = text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    return pl.when(text.str.contains(DATE_TEXT)).then(day)


def _billing(_: date) -> dict[str, pl.Expr]:
    amounts = {  # 0 on lines of other charge types, so a check counts every row
        f"_{charge}_amount": pl.when(pl.col("charge_type") == charge)
        .then(_money("amount"))
        .otherwise(0.0)
        for charge in CHARGE_TYPES
    }
    return {**amounts, "_period_start": _date("period_start"), "_period_end": _date("period_end")}


def _store(business_date: date) -> dict[str, pl.Expr]:
    ts = pl.col("transaction_ts")
    day = pl.when(ts.str.contains(TIMESTAMP_TEXT)).then(  # always UTC: its first 10 characters
        ts.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    )
    months = pl.col("contract_months")
    return {
        "_monthly_fee": _money("monthly_fee"),
        "_contract_months": pl.when(months.str.contains(INT_TEXT)).then(
            months.cast(pl.Int64, strict=False)
        ),
        "_days_from_business_date": (day - pl.lit(business_date)).dt.total_days(),
    }


def _letters(business_date: date) -> dict[str, pl.Expr]:
    days = _date("scheduled_send_date") - pl.lit(business_date)
    return {"_days_from_business_date": days.dt.total_days()}


def _inventory(_: date) -> dict[str, pl.Expr]:
    missing = pl.col("status").is_in(DEACTIVATED_STATUSES) & pl.col("deactivated_at").is_null()
    return {"_deactivated_at_missing": missing.fill_null(False)}


# Derived columns per source (named with a leading '_'), for the business date.
DERIVED = {
    "sim_inventory": _inventory,
    "billing_lines": _billing,
    "store_transactions": _store,
    "retention_campaigns": _letters,
}
