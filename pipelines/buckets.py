"""The stable split of SIMs into buckets, which lays out the curated billing history and
divides the SIM-driven rules between shards.

A SIM's bucket is the number its three digits before the Luhn check digit form, modulo
SIM_BUCKETS (contract 1.0: an ICCID is 19 or 20 digits; those digits are the serial
number's last ones, so consecutive SIMs spread evenly). A line without an ICCID (or with
one that is not digits) falls in bucket 0. Shard k of N owns the buckets b with b % N == k,
so every bucket, and every SIM, belongs to exactly one shard for any N; the shards get
equal shares when N divides SIM_BUCKETS.
"""

from __future__ import annotations

import polars as pl

# 1000 serial values split evenly; 1, 2, 4 and 8 shards get equal shares.
SIM_BUCKETS = 8


def sim_bucket(iccid: pl.Expr) -> pl.Expr:
    """The bucket (0..SIM_BUCKETS-1) of each ICCID."""
    serial = iccid.str.slice(-4, 3).cast(pl.Int32, strict=False)
    return (serial % SIM_BUCKETS).fill_null(0)


def shard_buckets(shard: int, shards: int) -> list[int]:
    """The buckets shard `shard` of `shards` owns."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    return [b for b in range(SIM_BUCKETS) if b % shards == shard]


def owns_sim(iccid: pl.Expr, shard: int, shards: int) -> pl.Expr:
    """Whether shard `shard` of `shards` owns each ICCID's SIM."""
    return sim_bucket(iccid).is_in(shard_buckets(shard, shards))
