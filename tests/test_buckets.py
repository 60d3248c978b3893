"""SIM and number buckets: stable, from the identifiers' digits, every bucket in one shard."""

import polars as pl
import pytest

from pipelines.buckets import BUCKETS, number_bucket, shard_buckets, sim_bucket


def buckets(expr, values: list[str | None]) -> list[int]:
    return (
        pl.DataFrame({"v": values}, schema={"v": pl.String})
        .select(expr(pl.col("v")))["v"]
        .to_list()
    )


def test_a_sims_bucket_is_its_serial_digits_before_the_check_digit():
    # 19 and 20 digits: the three digits before the last (the Luhn check digit) modulo 8.
    assert buckets(sim_bucket, ["8944000000000001234", "89440000000000012345"]) == [
        123 % 8,
        234 % 8,
    ]


def test_a_numbers_bucket_is_its_last_three_digits():
    assert buckets(number_bucket, ["447700900123", "12345678"]) == [123 % 8, 678 % 8]


def test_a_missing_or_malformed_identifier_falls_in_bucket_0():
    assert buckets(sim_bucket, [None, "89abc", ""]) == [0, 0, 0]
    assert buckets(number_bucket, [None, "+44x"]) == [0, 0]


def test_consecutive_sims_fill_the_buckets_evenly():
    iccids = [f"8944000000000{n:06d}" for n in range(0, 80_000, 10)]  # serials, check digit 0
    counts = pl.Series(buckets(sim_bucket, iccids)).value_counts()["count"]
    assert counts.len() == BUCKETS and counts.max() == counts.min()


@pytest.mark.parametrize("shards", [1, 2, 3, 4, 5, 8, 9])
def test_every_bucket_belongs_to_exactly_one_shard(shards):
    owned = [b for k in range(shards) for b in shard_buckets(k, shards)]
    assert sorted(owned) == list(range(BUCKETS))


def test_a_shard_outside_the_count_is_refused():
    with pytest.raises(ValueError, match=r"shard 4 is not in 0\.\.3"):
        shard_buckets(4, 4)
