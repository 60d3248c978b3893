"""Shards: a stable split by SIM and by customer whose union is exactly the unsharded night."""

import json
import zlib

import polars as pl

from pipelines.buckets import sim_bucket
from pipelines.rules import evaluate
from pipelines.rules.shards import shard_inputs, shard_of
from tests.support.rules import line, night, sim, tx


def test_shard_of_is_a_stable_crc32_split():
    ids = pl.Series(["C0000001", "C0000002", "C42"])
    assert shard_of(ids, 4).to_list() == shard_of(ids.reverse(), 4).reverse().to_list()
    assert shard_of(pl.Series(["C0000001"]), 1000).to_list() == [zlib.crc32(b"C0000001") % 1000]


def sharded(parts: dict, shards: int) -> pl.DataFrame:
    base = night(**parts)
    found = [evaluate(shard_inputs(base, s, shards)) for s in range(shards)]
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


def renewal(fee: str) -> dict:
    return tx(transaction_ts="2024-03-10", action="renewal", monthly_fee=fee)


OTHER_SIM = "89440000000000000018"  # bucket 1: shard 1 of 2 (the default SIM is in bucket 0)


def test_a_tariff_case_on_two_sims_of_other_shards_is_one_whole_case():
    # One number billed on two SIMs for April (a swap): one case, held by both shards alike.
    parts = {
        "transactions": [renewal("25.00")],
        "inventory": [sim(), sim(iccid=OTHER_SIM)],
        "billing": [line(), line(line_id="L2", iccid=OTHER_SIM, invoice_id="I2")],
    }
    assert owns_shards([sim()["iccid"], OTHER_SIM], 2) == [0, 1]
    whole = evaluate(night(**parts))
    tariff = whole.filter(pl.col("rule_id") == "TARIFF_MISMATCH")
    assert tariff.height == 1 and json.loads(tariff["evidence"][0])["lines"][1]["line_id"] == "L2"
    for shards in (2, 3):
        assert sharded(parts, shards).equals(whole)


def test_every_sim_and_every_line_belongs_to_exactly_one_shard():
    # 40 SIMs over every bucket, each billed to an account the inventory does not give it.
    iccids = [f"894400000000000{n:04d}1" for n in range(40)]
    parts = {
        "inventory": [sim(iccid=i, account_id="A2") for i in iccids],
        "billing": [line(line_id=f"L{n}", iccid=i) for n, i in enumerate(iccids)],
    }
    whole = evaluate(night(**parts))
    assert whole.filter(pl.col("rule_id") == "UNKNOWN_SIM_CHARGED").height == 40
    assert set(owns_shards(iccids, 8)) == set(range(8))
    for shards in (1, 2, 3, 8, 9):
        per_shard = [evaluate(shard_inputs(night(**parts), s, shards)) for s in range(shards)]
        assert sum(p.height for p in per_shard) == whole.height
        assert pl.concat(per_shard).sort("rule_id", "case_id").equals(whole)


def owns_shards(iccids: list[str], shards: int) -> list[int]:
    buckets = pl.Series(iccids).to_frame("iccid").select(sim_bucket(pl.col("iccid")))
    return [b % shards for b in buckets.to_series()]
