"""The synthetic landing-zone generator: contract layout, formats, determinism, ground truth."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from pipelines.catalogue import RULE_SPECS, case_id
from pipelines.contract import SOURCE_SPECS, SOURCES
from pipelines.generator import GenerationResult, generate
from pipelines.generator.identifiers import luhn_valid

START, DAYS, CUSTOMERS, SEED = date(2024, 1, 1), 75, 60, 11
MONEY = re.compile(r"^-?\d+\.\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MSISDN = re.compile(r"^[0-9]{8,15}$")


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _partition(root: Path, source: str, day: date) -> Path:
    return root / source / f"business_date={day.isoformat()}"


def _read(root: Path, source: str, day: date) -> list[dict[str, str]]:
    """The partition's rows, every part file in manifest order."""
    folder = _partition(root, source, day)
    manifest = json.loads((folder / "_manifest.json").read_text())
    rows: list[dict[str, str]] = []
    for entry in manifest["files"]:
        rows += csv.DictReader(io.StringIO((folder / entry["name"]).read_text("utf-8")))
    return rows


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationResult]:
    root = tmp_path_factory.mktemp("landing")
    return root, generate(root, SEED, CUSTOMERS, START, DAYS)


@pytest.fixture(scope="module")
def truth(world: tuple[Path, GenerationResult]) -> dict:
    return json.loads(world[1].ground_truth_path.read_text())


def test_result_describes_the_run(world: tuple[Path, GenerationResult]) -> None:
    root, result = world
    assert result.business_dates == [START + timedelta(days=n) for n in range(DAYS)]
    assert result.ground_truth_path == root / "_ground_truth.json"
    for source in SOURCES:
        assert result.rows[source] == sum(
            len(_read(root, source, day)) for day in result.business_dates
        )
    assert all(result.rows[s] > 0 for s in SOURCES)


def test_same_seed_same_bytes_other_seed_differs(
    world: tuple[Path, GenerationResult],
    tmp_path: Path,
) -> None:
    root, _ = world
    generate(tmp_path / "again", SEED, CUSTOMERS, START, DAYS)
    generate(tmp_path / "other", SEED + 1, CUSTOMERS, START, DAYS)
    first = _files(root)
    assert _files(tmp_path / "again") == first
    other = _files(tmp_path / "other")
    assert other.keys() == first.keys()
    assert other != first


def test_every_partition_has_a_manifest_that_matches_its_files(
    world: tuple[Path, GenerationResult],
) -> None:
    root, result = world
    multi_part = 0
    for source in SOURCES:
        assert sorted(p.name for p in (root / source).iterdir()) == [
            f"business_date={d.isoformat()}" for d in result.business_dates
        ]
        for day in result.business_dates:
            folder = _partition(root, source, day)
            manifest = json.loads((folder / "_manifest.json").read_text())
            assert manifest["source"] == source
            assert manifest["business_date"] == day.isoformat()
            assert manifest["contract_version"] == 1
            names = [f["name"] for f in manifest["files"]]
            assert sorted(p.name for p in folder.glob("part-*.csv")) == names
            multi_part += len(names) > 1
            for entry in manifest["files"]:
                data = (folder / entry["name"]).read_bytes()
                assert entry["sha256"] == hashlib.sha256(data).hexdigest()
                assert entry["rows"] == len(list(csv.reader(io.StringIO(data.decode())))) - 1
    assert multi_part >= 1


def test_headers_are_the_contract_columns(world: tuple[Path, GenerationResult]) -> None:
    root, result = world
    for source in SOURCES:
        for day in (result.business_dates[0], result.business_dates[-1]):
            for part in _partition(root, source, day).glob("part-*.csv"):
                header = part.read_text("utf-8").splitlines()[0]
                assert header.split(",") == SOURCE_SPECS[source].column_names


def test_identifiers_money_dates_and_enums_follow_the_contract(
    world: tuple[Path, GenerationResult],
) -> None:
    root, result = world
    for source in SOURCES:
        spec = SOURCE_SPECS[source]
        for day in result.business_dates:
            for row in _read(root, source, day):
                for column in spec.columns:
                    value = row[column.name]
                    if value == "":
                        assert column.nullable, (source, column.name)
                        continue
                    if column.kind == "iccid":
                        assert len(value) == 19 and value.startswith("89") and luhn_valid(value)
                    elif column.kind == "msisdn":
                        assert MSISDN.match(value)
                    elif column.kind == "money":
                        assert MONEY.match(value)
                    elif column.kind == "timestamp":
                        assert TIMESTAMP.match(value)
                    elif column.kind == "date":
                        assert DATE.match(value)
                    elif column.kind == "enum":
                        assert value in column.values
                    elif column.kind == "currency":
                        assert value == "GBP"
                if source == "store_transactions":
                    assert row["transaction_ts"][:10] == day.isoformat()
                if source == "retention_campaigns":
                    assert row["scheduled_send_date"] > day.isoformat()


def test_ids_are_unique_across_dates(world: tuple[Path, GenerationResult]) -> None:
    root, result = world
    for source, key in (
        ("store_transactions", "transaction_id"),
        ("billing_lines", "line_id"),
        ("retention_campaigns", "letter_id"),
    ):
        ids = [r[key] for d in result.business_dates for r in _read(root, source, d)]
        assert len(ids) == len(set(ids))


def test_inventory_is_a_full_snapshot_that_keeps_every_sim(
    world: tuple[Path, GenerationResult],
) -> None:
    root, result = world
    seen: set[str] = set()
    for day in result.business_dates:
        snapshot = _read(root, "sim_inventory", day)
        keys = [r["iccid"] for r in snapshot]
        assert len(keys) == len(set(keys))
        assert seen <= set(keys)
        seen |= set(keys)
    statuses = Counter(r["status"] for r in snapshot)
    assert {"active", "in_stock", "deactivated", "swapped_out"} <= statuses.keys()
    for row in snapshot:
        in_stock = row["status"] == "in_stock"
        assert in_stock == (row["customer_id"] == "") == (row["account_id"] == "")
        assert (row["deactivated_at"] != "") == (
            row["status"] in ("deactivated", "swapped_out", "lost_stolen")
        )


def test_billing_is_header_only_on_days_without_charges(
    world: tuple[Path, GenerationResult],
) -> None:
    root, result = world
    header = ",".join(SOURCE_SPECS["billing_lines"].column_names) + "\n"
    empty = 0
    for day in result.business_dates:
        folder = _partition(root, "billing_lines", day)
        manifest = json.loads((folder / "_manifest.json").read_text())
        rows = _read(root, "billing_lines", day)
        if not rows:
            empty += 1
            assert [f["rows"] for f in manifest["files"]] == [0]
            assert (folder / "part-0000.csv").read_text("utf-8") == header
        cycle_runs = {r["bill_run_id"] for r in rows if not r["bill_run_id"].endswith("-OFF")}
        for row in rows:  # off-cycle invoices carry no recurring lines but re-ratings
            if row["bill_run_id"].endswith("-OFF") and row["charge_type"] == "recurring":
                assert row["description"].endswith("re-rated")
        assert all(run.startswith(f"BR-{day:%Y%m%d}-D") for run in cycle_runs)
    assert empty > 0


def test_ground_truth_covers_every_rule_with_catalogue_case_ids(
    world: tuple[Path, GenerationResult],
    truth: dict,
) -> None:
    _, result = world
    assert truth["business_date"] == result.business_dates[-1].isoformat()
    cases = truth["cases"]
    assert [c["case_id"] for c in cases] == sorted(c["case_id"] for c in cases)
    assert Counter(c["rule_id"] for c in cases).keys() == RULE_SPECS.keys()
    assert min(Counter(c["rule_id"] for c in cases).values()) >= 2
    for case in cases:
        spec = RULE_SPECS[case["rule_id"]]
        assert list(case["key"]) == list(spec.key)
        assert case["case_id"] == case_id(spec.rule_id, [case["key"][k] for k in spec.key])
        amount = case["amount_at_risk"]
        assert amount is None or MONEY.match(amount)
        assert case["currency"] in (None, "GBP")
        assert re.match(r"^C\d{7}$", case["customer_id"])


def test_ground_truth_keys_point_at_delivered_rows(
    world: tuple[Path, GenerationResult],
    truth: dict,
) -> None:
    root, result = world
    last = result.business_dates[-1]
    letters = {r["letter_id"]: r for r in _read(root, "retention_campaigns", last)}
    transactions = {
        r["transaction_id"]
        for d in result.business_dates
        for r in _read(root, "store_transactions", d)
    }
    inventory = {r["iccid"] for r in _read(root, "sim_inventory", last)}
    for case in truth["cases"]:
        key = case["key"]
        if "letter_id" in key:
            assert letters[key["letter_id"]]["customer_id"] == case["customer_id"]
        if "transaction_id" in key:
            assert key["transaction_id"] in transactions
        if case["rule_id"] in (
            "CHARGE_AFTER_DEACTIVATION",
            "USAGE_AFTER_DEACTIVATION",
            "DUPLICATE_RECURRING_CHARGE",
            "UNBILLED_ACTIVE_LINE",
        ):
            assert key["iccid"] in inventory


def test_the_contract_story_is_a_wrong_disconnect_letter(
    world: tuple[Path, GenerationResult],
    truth: dict,
) -> None:
    root, result = world
    last = result.business_dates[-1]
    story = next(
        c
        for c in truth["cases"]
        if c["rule_id"] == "WRONG_DISCONNECT_LETTER" and c["amount_at_risk"] == "106.00"
    )
    window = [last - timedelta(days=n) for n in range(60)]
    visit = [
        r
        for d in window
        for r in _read(root, "store_transactions", d)
        if r["customer_id"] == story["customer_id"]
    ]
    assert Counter(r["action"] for r in visit) == {"renewal": 3, "new_line": 2, "cancel_line": 1}
    assert {r["channel"] for r in visit} == {"store"}
    letter = next(
        r
        for r in _read(root, "retention_campaigns", last)
        if r["letter_id"] == story["key"]["letter_id"]
    )
    assert (letter["letter_type"], letter["trigger_reason"]) == ("disconnect_save", "churn_score")


@pytest.mark.parametrize(("customers", "days"), [(49, 120), (400, 69)])
def test_too_small_a_world_is_refused(tmp_path: Path, customers: int, days: int) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate(tmp_path, SEED, customers, START, days)
