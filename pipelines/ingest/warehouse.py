"""Curated and quarantine layout in the warehouse, and lazy reads of the curated history."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date

import polars as pl

from pipelines.contract import SOURCE_SPECS
from pipelines.storage import Storage

CURATED_FILE = "data.parquet"
STATS_FILE = "_ingest.json"


def curated_prefix(source: str, business_date: date) -> str:
    return f"curated/{source}/business_date={business_date.isoformat()}"


def quarantine_prefix(source: str, business_date: date) -> str:
    return f"quarantine/{source}/business_date={business_date.isoformat()}"


def curated_dates(warehouse: Storage, source: str) -> list[date]:
    """The business dates of the source that hold a curated partition, in order."""
    pattern = re.compile(
        rf"curated/{re.escape(source)}/business_date=([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})/"
        + re.escape(CURATED_FILE)
    )
    found = (pattern.fullmatch(key) for key in warehouse.list(f"curated/{source}/"))
    return sorted(date.fromisoformat(m.group(1)) for m in found if m)


def scan_curated(warehouse: Storage, source: str, dates: Iterable[date]) -> pl.LazyFrame:
    """The curated rows of the given dates, with a `business_date` column (pl.Date) last.

    One hive-partitioned scan over all the files, so filters on business_date prune files
    and the engine reads the history as one table.
    """
    spec = SOURCE_SPECS[source]
    paths = [warehouse.uri(f"{curated_prefix(source, d)}/{CURATED_FILE}") for d in dates]
    if not paths:
        return pl.LazyFrame(schema={**spec.schema, "business_date": pl.Date()})
    return pl.scan_parquet(
        paths,
        hive_partitioning=True,
        hive_schema={"business_date": pl.Date()},
        storage_options=warehouse.storage_options,
    ).select(*spec.column_names, "business_date")


def history(warehouse: Storage, source: str, up_to: date) -> pl.LazyFrame:
    """Every curated row of the source with business_date <= up_to (empty when none)."""
    dates = [d for d in curated_dates(warehouse, source) if d <= up_to]
    return scan_curated(warehouse, source, dates)


def snapshot(warehouse: Storage, source: str, on: date) -> pl.LazyFrame:
    """The curated rows of one business date (empty when that date is not loaded)."""
    dates = [d for d in curated_dates(warehouse, source) if d == on]
    return scan_curated(warehouse, source, dates)


def ingest_stats(warehouse: Storage, source: str, business_date: date) -> dict[str, object]:
    """The rows read, loaded and quarantined when the night's partition was committed."""
    key = f"{curated_prefix(source, business_date)}/{STATS_FILE}"
    return json.loads(warehouse.read_bytes(key))
