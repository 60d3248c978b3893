"""Letters to hold (contract section 3.1): published with every night, exactly the letters
of the night's two letter rules that are not false positives, rewritten from current
statuses by `recon letters hold-list`."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from pipelines.casestore import open_store
from pipelines.cli import main
from pipelines.generator import generate
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
