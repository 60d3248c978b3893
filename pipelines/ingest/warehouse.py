"""Curated and quarantine layout in the warehouse, and lazy reads of the curated history."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import date

import polars as pl

from pipelines.contract import SOURCE_SPECS
from pipelines.ingest.compacted import compacted, partition_versions
from pipelines.layout import curated_date, curated_key, curated_source_prefix, stats_key
from pipelines.storage import Storage


def curated_dates(warehouse: Storage, source: str) -> list[date]:
    """The business dates of the source that hold a curated partition, in order."""
    found = (curated_date(source, k) for k in warehouse.list_keys(curated_source_prefix(source)))
    return sorted(d for d in found if d is not None)


def scan_curated(warehouse: Storage, source: str, dates: Iterable[date]) -> pl.LazyFrame:
    """The curated rows of the given dates, with a `business_date` column (pl.Date) last.

    One hive-partitioned scan over all the files, so filters on business_date prune files
    and the engine reads the history as one table.
    """
    spec = SOURCE_SPECS[source]
    paths = [warehouse.uri(curated_key(source, d)) for d in dates]
    if not paths:
        return pl.LazyFrame(schema={**spec.schema, "business_date": pl.Date()})
    return pl.scan_parquet(
        paths,
        hive_partitioning=True,
        hive_schema={"business_date": pl.Date()},
        storage_options=warehouse.storage_options,
    ).select(*spec.column_names, "business_date")


def history(
    warehouse: Storage,
    source: str,
    up_to: date,
    buckets: Collection[int] | None = None,
    by_number: bool = False,
) -> pl.LazyFrame:
    """Every curated row of the source with business_date <= up_to (empty when none): from
    the compacted history when it holds exactly those partitions, else from them. With
    `buckets` (and `by_number`), the rows may be limited to a shard's share, read from
    those buckets' files alone (`compacted`), but may hold more: the reader filters them."""
    versions = partition_versions(warehouse, source)
    found = compacted(warehouse, source, up_to, versions, buckets, by_number)
    if found is not None:
        return found
    return scan_curated(warehouse, source, [d for d in versions if d <= up_to])


def snapshot(warehouse: Storage, source: str, on: date) -> pl.LazyFrame:
    """The curated rows of one business date (empty when that date is not loaded)."""
    dates = [on] if warehouse.exists(curated_key(source, on)) else []
    return scan_curated(warehouse, source, dates)


def ingest_stats(warehouse: Storage, source: str, business_date: date) -> dict[str, object]:
    """The rows read, loaded and quarantined when the night's partition was committed."""
    return json.loads(warehouse.read_bytes(stats_key(source, business_date)))
