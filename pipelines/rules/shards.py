"""Splitting a night into shards.

The rules driven by a SIM's billing lines (the deactivation rules, duplicates, unknown SIMs,
tariffs) split by bucket (`pipelines.buckets`): every case of theirs is keyed by one SIM,
or (tariffs) by one number, and a shard reads only its buckets' share of the billing
history, split by SIM and, for tariffs, by number. The rules driven by a customer
(tonight's invoices, store transactions, letters) split by a stable hash of customer_id.
Each joins its driving rows with the whole reference data (inventory, agreed fees), so
every case is found by exactly the shards that own its driving rows, all alike, and the
union of the shards equals the unsharded night.
"""

from __future__ import annotations

import zlib
from dataclasses import replace

import polars as pl

from pipelines.rules.inputs import NightInputs


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


def shard_inputs(
    night: NightInputs,
    shard: int,
    shards: int,
    sim_billing: pl.LazyFrame | None = None,
    number_billing: pl.LazyFrame | None = None,
) -> NightInputs:
    """The night's inputs as shard `shard` of `shards` judges them; `sim_billing` and
    `number_billing` are the billing history of its SIM and number buckets when the layout
    gives them (else every line is read and filtered)."""
    customers = shard_customers([night.tonight(), night.transactions, night.letters], shard, shards)
    return replace(
        night,
        customers=customers,
        shard=(shard, shards),
        sim_billing=sim_billing,
        number_billing=number_billing,
    )
