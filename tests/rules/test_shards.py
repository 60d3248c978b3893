"""Shards: a stable customer split whose union is exactly the unsharded night."""

import zlib

import polars as pl

from pipelines.rules import evaluate
from pipelines.rules.shards import shard_customers, shard_of
from tests.support.rules import line, night, sim


def test_shard_of_is_a_stable_crc32_split():
    ids = pl.Series(["C0000001", "C0000002", "C42"])
    assert shard_of(ids, 4).to_list() == shard_of(ids.reverse(), 4).reverse().to_list()
    assert shard_of(pl.Series(["C0000001"]), 1000).to_list() == [zlib.crc32(b"C0000001") % 1000]


def sharded(parts: dict, shards: int) -> pl.DataFrame:
    base = night(**parts)
    frames = [base.billing, base.transactions, base.letters]
    found = [
        evaluate(type(base)(**{**base.__dict__, "customers": shard_customers(frames, s, shards)}))
        for s in range(shards)
    ]
    return pl.concat(found).unique(maintain_order=True).sort("rule_id", "case_id")


def test_a_duplicate_chain_across_two_customers_is_one_case():
    # The same SIM billed to two customers (who land in different shards) for one period.
    parts = {
        "inventory": [sim()],
        "billing": [line(), line(line_id="L2", customer_id="C4", account_id="A4")],
    }
    whole = evaluate(night(**parts))
    assert sorted(whole["rule_id"]) == ["DUPLICATE_RECURRING_CHARGE", "UNKNOWN_SIM_CHARGED"]
    customers = pl.Series(["C1", "C4"])
    assert shard_of(customers, 2).n_unique() == 2, "the customers must fall in two shards"
    assert sharded(parts, 2).equals(whole)


def test_unknown_sim_charged_stays_exact_when_the_sim_belongs_to_another_shard():
    parts = {
        "inventory": [sim(customer_id="C4", account_id="A4")],
        "billing": [line()],
    }
    whole = evaluate(night(**parts))
    assert whole["rule_id"].to_list() == ["UNKNOWN_SIM_CHARGED"]
    assert sharded(parts, 2).equals(whole)
