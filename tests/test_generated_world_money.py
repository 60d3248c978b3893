"""On a generated world, against the generator's ground truth: the KPIs (docs/kpis.md), and
the letters to hold (contract section 3.1), published with every night, exactly the letters
of the night's two letter rules that are not false positives, rewritten from current
statuses by `recon letters hold-list`."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from pipelines.casestore import open_store
from pipelines.catalogue import RULE_SPECS, amount_kind
from pipelines.cli import main
from pipelines.generator import generate
from pipelines.kpis import kpis_document
from pipelines.night import backfill
from pipelines.publish.holds import HOLD_COLUMNS, hold_files, hold_rows

LETTER_RULES = {"WRONG_DISCONNECT_LETTER", "LETTER_TO_DEPARTED_CUSTOMER"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, date]:
    root = tmp_path_factory.mktemp("holds")
    generated = generate(root / "landing", seed=5, customers=60, start=date(2024, 1, 1), days=75)
    dates = generated.business_dates
    backfill(str(root / "landing"), str(root / "warehouse"), dates[0], dates[-1], validate=False)
    truth = json.loads(generated.ground_truth_path.read_text())
    return root / "warehouse", truth, dates[-1]


HISTORY_RULES = [r for r, spec in RULE_SPECS.items() if spec.rejudges_history]


def truth_money(cases: list[dict]) -> dict[tuple, Decimal]:
    """Per (rule, kind, currency): the ground truth's money, worked out here by hand."""
    out: dict[tuple, Decimal] = {}
    for c in cases:
        if c["amount_at_risk"] is None:
            continue
        amount = Decimal(c["amount_at_risk"])
        kind = amount_kind(c["rule_id"], amount)
        key = (c["rule_id"], kind, c["currency"])
        out[key] = out.get(key, Decimal("0.00")) + (
            abs(amount) if kind == "revenue_leakage" else amount
        )
    return out


def test_the_last_nights_kpis_hold_its_letters_and_fees(world) -> None:
    warehouse, truth, last = world
    doc = json.loads((warehouse / "cases" / f"business_date={last}" / "kpis.json").read_text())
    letters = [c for c in truth["cases"] if c["rule_id"] in LETTER_RULES]
    fees = sum(
        (
            Decimal(c["amount_at_risk"])
            for c in letters
            if c["rule_id"] == "WRONG_DISCONNECT_LETTER"
        ),
        Decimal("0.00"),
    )
    assert doc["period"] == {"from": str(last), "to": str(last), "as_of": str(last)}
    assert doc["letters_held"]["letters"] == len(letters)
    assert doc["letters_held"]["monthly_fees_protected"] == {"GBP": f"{fees:.2f}"}
    summary = json.loads(
        (warehouse / "cases" / f"business_date={last}" / "summary.json").read_text()
    )
    for source, q in doc["quarantined"].items():
        assert q["rows_read"] == summary["sources"][source]["rows_read"]
    report = (warehouse / "cases" / f"business_date={last}" / "report.html").read_text()
    assert "KPIs of the night" in report and f"Letters held: {len(letters)}" in report


def test_money_detected_is_money_recovered_plus_the_ground_truth_still_open(world) -> None:
    warehouse, truth, last = world
    with open_store(None, str(warehouse)) as store:
        first = min(c["first_seen"] for c in store.list_cases())
        doc = kpis_document(store.engine, first, last, last, {})
    open_now = {r: sum(b.values()) for r, b in doc["open_by_age"].items()}
    still = truth_money(truth["cases"])
    detected = {(d["rule_id"], d["amount_kind"], d["currency"]): d for d in doc["detected"]}
    recovered = {(d["rule_id"], d["amount_kind"], d["currency"]): d for d in doc["recovered"]}
    checked = 0
    for rule in HISTORY_RULES:
        found = sum(1 for c in truth["cases"] if c["rule_id"] == rule)
        assert open_now.get(rule, 0) == found, rule  # nobody triaged: open = detected tonight
        keys = {k for k in detected if k[0] == rule}
        cases = sum(detected[k]["cases"] for k in keys)
        back = sum(recovered[k]["cases"] for k in recovered if k[0] == rule)
        assert cases == found + back, rule  # every other case closed, with its recovery
        for key in keys:
            if key[1] is None:
                continue
            got = Decimal(detected[key]["amount"])
            want = still.get(key, Decimal("0.00")) + Decimal(
                recovered.get(key, {}).get("amount", "0.00")
            )
            assert got == want, key
            checked += 1
    assert checked >= 4 and doc["recovered"]  # the world closes cases as no longer detected


def held(warehouse: Path, day: date) -> tuple[list[dict[str, str]], pl.DataFrame]:
    folder = warehouse / "cases" / f"business_date={day}"
    text = (folder / "letters_to_hold.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text))), pl.read_parquet(
        folder / "letters_to_hold.parquet"
    )


def test_the_last_night_holds_exactly_its_letter_cases_not_false_positive(world) -> None:
    warehouse, truth, last = world
    expected = {c["key"]["letter_id"] for c in truth["cases"] if c["rule_id"] in LETTER_RULES}
    assert expected  # the world plants both letter rules
    rows, parquet = held(warehouse, last)
    assert tuple(parquet.columns) == HOLD_COLUMNS and tuple(rows[0]) == HOLD_COLUMNS
    assert {r["letter_id"] for r in rows} == expected and len(rows) == len(expected)
    assert parquet["letter_id"].to_list() == [r["letter_id"] for r in rows]
    assert parquet.schema["scheduled_send_date"] == pl.Date()
    assert all(r["campaign_id"] and r["letter_type"] and r["channel"] for r in rows)
    assert all(r["scheduled_send_date"] > last.isoformat() for r in rows)

    release = rows[0]
    with open_store(None, str(warehouse)) as store:
        store.set_status(release["case_id"], "false_positive", "os:tester", "the letter is right")
    result = CliRunner().invoke(
        main, ["letters", "hold-list", "--business-date", str(last), "--warehouse", str(warehouse)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{last}: {len(rows) - 1} letters to hold")
    again, parquet = held(warehouse, last)
    assert {r["letter_id"] for r in again} == expected - {release["letter_id"]}
    assert parquet.height == len(again)


def test_hold_list_of_a_night_not_published_fails(world) -> None:
    warehouse, _, _ = world
    result = CliRunner().invoke(
        main,
        ["letters", "hold-list", "--business-date", "2030-01-01", "--warehouse", str(warehouse)],
    )
    assert result.exit_code == 1 and "2030-01-01 is not published" in result.output


def test_released_cases_and_other_rules_are_not_held_and_csv_is_neutralised() -> None:
    letter = {
        "letter_id": "L1",
        "campaign_id": "=CAMP()",
        "letter_type": "winback",
        "scheduled_send_date": "2024-04-20",
        "channel": "email",
    }
    base = {
        "customer_id": "C1",
        "account_id": None,
        "letter_id": "L1",
        "summary": "-a reason",
        "evidence": json.dumps({"letter": letter}),
    }
    cases = [
        {**base, "case_id": "a", "rule_id": "WRONG_DISCONNECT_LETTER", "status": "acknowledged"},
        {
            **base,
            "case_id": "b",
            "rule_id": "LETTER_TO_DEPARTED_CUSTOMER",
            "status": "false_positive",
        },
        {**base, "case_id": "c", "rule_id": "LETTER_TO_DEPARTED_CUSTOMER", "status": "withdrawn"},
        {**base, "case_id": "d", "rule_id": "CHARGE_AFTER_DEACTIVATION", "status": "open"},
    ]
    rows = hold_rows(cases)
    assert [r["case_id"] for r in rows] == ["a"]
    text = hold_files(rows)["letters_to_hold.csv"].decode()
    assert "'=CAMP()" in text and "'-a reason" in text and ",2024-04-20," in text
