"""The stable split of SIMs and numbers into buckets, which lays out the curated billing
history and divides the rules driven by billing lines between shards.

A SIM's bucket is the number its three digits before the Luhn check digit form, modulo
BUCKETS (contract 1.0: an ICCID is 19 or 20 digits; those digits are the serial number's
last ones, so consecutive SIMs spread evenly); a number's (an MSISDN, 8 to 15 digits) is
its last three digits' modulo BUCKETS. A value that is missing or not digits falls in
bucket 0. Shard k of N owns the buckets b with b % N == k, so every bucket belongs to
exactly one shard for any N; the shards get equal shares when N divides BUCKETS.
"""

from __future__ import annotations

import polars as pl

# 1000 values of three digits split evenly; 1, 2, 4 and 8 shards get equal shares.
BUCKETS = 8


def sim_bucket(iccid: pl.Expr) -> pl.Expr:
    """The bucket (0..BUCKETS-1) of each ICCID."""
    return _bucket(iccid.str.slice(-4, 3))


def number_bucket(msisdn: pl.Expr) -> pl.Expr:
    """The bucket (0..BUCKETS-1) of each MSISDN."""
    return _bucket(msisdn.str.slice(-3, 3))


def _bucket(digits: pl.Expr) -> pl.Expr:
    return (digits.cast(pl.Int32, strict=False) % BUCKETS).fill_null(0)


def shard_buckets(shard: int, shards: int) -> list[int]:
    """The buckets shard `shard` of `shards` owns."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    return [b for b in range(BUCKETS) if b % shards == shard]
