"""End to end on generated data: the last night equals the generator's ground truth."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipelines.casestore import open_store
from pipelines.catalogue import CASE_COLUMNS, RULE_SPECS
from pipelines.generator import generate
from pipelines.night import backfill, night_inputs
from pipelines.rules import evaluate
from pipelines.storage import open_storage

CUSTOMERS, DAYS, START = 300, 120, date(2024, 1, 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    generated = generate(root / "landing", seed=11, customers=CUSTOMERS, start=START, days=DAYS)
    dates = generated.business_dates
    results = backfill(
        str(root / "landing"), str(root / "warehouse"), dates[0], dates[-1], validate=False
    )
    return root, generated, results


def night_files(warehouse: Path, day: date) -> Path:
    return warehouse / "cases" / f"business_date={day.isoformat()}"


def test_last_night_equals_ground_truth(world):
    root, generated, _ = world
    truth = json.loads(generated.ground_truth_path.read_text())
    last = generated.business_dates[-1]
    assert truth["business_date"] == last.isoformat()
    cases = pl.read_parquet(night_files(root / "warehouse", last) / "cases.parquet")
    found = {r["case_id"]: r for r in cases.iter_rows(named=True)}
    expected = {c["case_id"]: c for c in truth["cases"]}
    missing = sorted((c["rule_id"], k) for k, c in expected.items() if k not in found)
    extra = sorted((c["rule_id"], k, c["summary"]) for k, c in found.items() if k not in expected)
    assert not missing, f"cases the engine missed: {missing}"
    assert not extra, f"cases the ground truth does not have: {extra}"
    for case_id, want in expected.items():
        got = found[case_id]
        assert got["rule_id"] == want["rule_id"]
        want_amount = None if want["amount_at_risk"] is None else Decimal(want["amount_at_risk"])
        assert got["amount_at_risk"] == want_amount, (case_id, want["rule_id"])
        if want_amount is not None:
            assert got["currency"] == want["currency"]
    assert {c["rule_id"] for c in truth["cases"]} == set(RULE_SPECS)


def test_published_files_follow_the_contract(world):
    root, generated, _ = world
    folder = night_files(root / "warehouse", generated.business_dates[-1])
    parquet = pl.read_parquet(folder / "cases.parquet")
    csv = pl.read_csv(folder / "cases.csv", infer_schema=False)
    assert tuple(parquet.columns[: len(CASE_COLUMNS)]) == CASE_COLUMNS
    assert tuple(csv.columns[: len(CASE_COLUMNS)]) == CASE_COLUMNS
    assert parquet["case_id"].to_list() == csv["case_id"].to_list()
    assert parquet.schema["amount_at_risk"] == pl.Decimal(18, 2)
    for evidence in parquet["evidence"]:
        json.loads(evidence)
    assert parquet["summary"].null_count() == 0
    summary = json.loads((folder / "summary.json").read_text())
    for source in summary["sources"].values():
        assert source["rows_read"] == source["rows_loaded"] + source["rows_quarantined"]
    assert (folder / "report.html").read_text().count("<tr>") > parquet.height


def test_cases_close_when_the_discrepancy_goes_away(world):
    root, _, results = world
    closed = sum(n.summary["cases"]["closed"] for n in results)
    assert closed > 0, "the generator plants a charge that a later credit settles"
    with open_store(None, str(root / "warehouse")) as store:
        resolved = store.list_cases(rule="CHARGE_AFTER_DEACTIVATION", status="resolved")
    assert resolved and all(c["resolution"] == "no_longer_detected" for c in resolved)


def test_backfilling_again_changes_nothing(world):
    root, generated, _ = world
    dates = generated.business_dates
    warehouse = root / "warehouse"
    before = {d: (night_files(warehouse, d) / "cases.csv").read_bytes() for d in dates}
    before_pq = {d: (night_files(warehouse, d) / "cases.parquet").read_bytes() for d in dates}
    backfill(str(root / "landing"), str(warehouse), dates[0], dates[-1], validate=False)
    for d in dates:
        assert (night_files(warehouse, d) / "cases.csv").read_bytes() == before[d], d
        assert (night_files(warehouse, d) / "cases.parquet").read_bytes() == before_pq[d], d
    curated = pl.read_parquet(warehouse / "curated" / "billing_lines" / "**" / "*.parquet")
    assert curated["line_id"].is_unique().all()


@pytest.mark.parametrize("shards", [2, 5])
def test_sharded_nights_find_exactly_the_unsharded_cases(world, shards):
    root, generated, _ = world
    warehouse, last = open_storage(str(root / "warehouse")), generated.business_dates[-1]
    whole = evaluate(night_inputs(warehouse, last))
    parts = [evaluate(night_inputs(warehouse, last, s, shards)) for s in range(shards)]
    merged = pl.concat(parts).unique(maintain_order=True).sort("rule_id", "case_id")
    assert merged.equals(whole)
    assert all(p.height < whole.height for p in parts)
