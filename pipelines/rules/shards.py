"""Splitting a night into shards by a stable hash of customer_id.

Each rule keeps only the rows it is *driven* by (a billing line, a transaction, a letter)
for the shard's customers and joins them with the whole reference data (inventory,
agreed fees, credits), so every case is found by exactly the shard that owns its driving
rows and the union of the shards equals the unsharded night.
"""

from __future__ import annotations

import zlib

import polars as pl


def shard_of(customer_ids: pl.Series, shards: int) -> pl.Series:
    """CRC-32 of the UTF-8 id modulo `shards`: stable across processes, hosts and versions."""
    return pl.Series([zlib.crc32(c.encode("utf-8")) % shards for c in customer_ids], dtype=pl.Int64)


def shard_customers(frames: list[pl.LazyFrame], shard: int, shards: int) -> pl.LazyFrame:
    """The customer ids (of any of `frames`) that belong to `shard` of `shards`."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    ids = (
        pl.concat([f.select("customer_id") for f in frames])
        .drop_nulls()
        .unique()
        .collect()
        .get_column("customer_id")
    )
    return pl.LazyFrame({"customer_id": ids.filter(shard_of(ids, shards) == shard)})
