"""KPIs (docs/kpis.md) on a hand-made case store, against figures worked out by hand."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.casestore.store import CaseStore, Recovery
from pipelines.cli import main
from pipelines.kpis import month_bounds, recovery_by_month, store_kpis
from tests.support.cases import D1, D2, D3, Runs, det

LETTER = det(
    "WRONG_DISCONNECT_LETTER",
    key="L",
    letter_id="L",
    amount="124.50",
    evidence=json.dumps({"letter": {"letter_id": "L", "scheduled_send_date": "2024-04-09"}}),
)
A = det(key="a", amount="12.00")
B = det(key="b", amount="3.00")
E = det(key="e", amount="5.00", currency="EUR")
T = det("TARIFF_MISMATCH", key="t", amount="-7.50", msisdn="447700900002")
U = det("UNBILLED_ACTIVE_LINE", key="u", amount=None)


@pytest.fixture
def store(tmp_path: Path):
    with CaseStore(f"sqlite:///{tmp_path / 'recon.db'}") as s:
        run = Runs(s)
        run(D1, A, T, LETTER, U, E)
        run(D2, E)  # A and T are no longer detected: recovered on D2
        run(D3, E, B)
        yield s


def by_key(rows: list[dict]) -> dict[tuple, dict]:
    return {(r["rule_id"], r["amount_kind"], r["currency"]): r for r in rows}


def test_money_detected_and_recovered_per_rule_kind_and_currency(store) -> None:
    k = store_kpis(store.engine, D1, D3, D3)
    detected = by_key(k["detected"])
    assert detected[("CHARGE_AFTER_DEACTIVATION", "refund_due", "GBP")] == {
        "rule_id": "CHARGE_AFTER_DEACTIVATION",
        "amount_kind": "refund_due",
        "currency": "GBP",
        "cases": 2,  # A and B
        "not_priced": 0,
        "amount": "15.00",
        "recovered_since": "12.00",  # A
        "percent_recovered": "80.0",
    }
    assert detected[("CHARGE_AFTER_DEACTIVATION", "refund_due", "EUR")]["amount"] == "5.00"
    leak = detected[("TARIFF_MISMATCH", "revenue_leakage", "GBP")]
    assert (leak["amount"], leak["recovered_since"], leak["percent_recovered"]) == (
        "7.50",  # the undercharge's absolute value
        "7.50",
        "100.0",
    )
    unpriced = detected[("UNBILLED_ACTIVE_LINE", None, None)]
    assert (unpriced["cases"], unpriced["not_priced"], unpriced["percent_recovered"]) == (
        1,
        1,
        None,
    )
    assert detected[("WRONG_DISCONNECT_LETTER", "revenue_at_risk", "GBP")]["amount"] == "124.50"
    assert len(detected) == 5  # no total mixes kinds or currencies

    recovered = by_key(k["recovered"])
    assert recovered[("CHARGE_AFTER_DEACTIVATION", "refund_due", "GBP")]["by_method"] == {
        "no_longer_detected": "12.00"
    }
    assert recovered[("TARIFF_MISMATCH", "revenue_leakage", "GBP")]["amount"] == "7.50"
    assert len(recovered) == 2
    assert k["days_per_recovery_case"] == [
        {"rule_id": r, "amount_kind": kind, "cases": 1, "median": "1.0", "mean": "1.0"}
        for r, kind in (
            ("CHARGE_AFTER_DEACTIVATION", "refund_due"),
            ("TARIFF_MISMATCH", "revenue_leakage"),
        )
    ]
    # A night's own KPIs: what was first seen and recovered on that night only.
    night2 = store_kpis(store.engine, D2, D2, D2)
    assert night2["detected"] == [] and len(night2["recovered"]) == 2


def test_ageing_past_due_and_letters_held(store) -> None:
    k = store_kpis(store.engine, D1, D3, D3)

    def ages(*counts: int) -> dict[str, int]:
        labels = ("0-7 days", "8-30 days", "31-60 days", "61-90 days", "over 90 days")
        return dict(zip(labels, counts, strict=True))

    assert k["open_by_age"] == {
        "CHARGE_AFTER_DEACTIVATION": ages(2, 0, 0, 0, 0),  # E (2 days), B (0)
        "UNBILLED_ACTIVE_LINE": ages(1, 0, 0, 0, 0),
        "WRONG_DISCONNECT_LETTER": ages(1, 0, 0, 0, 0),
    }
    # critical: due a day after first seen (D2), before D3; high (3 days) and medium (5) not.
    assert k["past_due"] == {"WRONG_DISCONNECT_LETTER": 1}
    later = store_kpis(store.engine, D1, D3, date(2024, 4, 12))
    assert later["open_by_age"]["CHARGE_AFTER_DEACTIVATION"] == ages(0, 2, 0, 0, 0)  # 9 and 11
    assert later["past_due"] == {
        "CHARGE_AFTER_DEACTIVATION": 2,
        "UNBILLED_ACTIVE_LINE": 1,
        "WRONG_DISCONNECT_LETTER": 1,
    }
    assert k["letters_held"] == {
        "letters": 1,
        "by_rule": {"WRONG_DISCONNECT_LETTER": 1},
        "monthly_fees_protected": {"GBP": "124.50"},
    }
    store.set_status(str(LETTER["case_id"]), "false_positive", "alice", "the letter is right")
    released = store_kpis(store.engine, D1, D3, D3)["letters_held"]
    assert released == {"letters": 0, "by_rule": {}, "monthly_fees_protected": {}}


def test_a_persons_recovery_counts_and_a_reopened_case_does_not(store) -> None:
    today = date.today()
    store.set_status(
        str(B["case_id"]), "resolved", "bob", "credited", Recovery(Decimal("3.00"), "credit_note")
    )
    k = store_kpis(store.engine, D1, today, D3)
    charge = by_key(k["recovered"])[("CHARGE_AFTER_DEACTIVATION", "refund_due", "GBP")]
    assert (charge["cases"], charge["amount"]) == (2, "15.00")
    assert charge["by_method"] == {"credit_note": "3.00", "no_longer_detected": "12.00"}
    waited = sorted([1, (today - D3).days])
    days = {d["rule_id"]: d for d in k["days_per_recovery_case"]}["CHARGE_AFTER_DEACTIVATION"]
    assert days["median"] == f"{Decimal(sum(waited)) / 2:.1f}"
    detected = by_key(k["detected"])[("CHARGE_AFTER_DEACTIVATION", "refund_due", "GBP")]
    assert detected["percent_recovered"] == "100.0"
    store.set_status(str(A["case_id"]), "open", "bob", "the credit bounced")
    again = by_key(store_kpis(store.engine, D1, today, D3)["recovered"])
    assert again[("CHARGE_AFTER_DEACTIVATION", "refund_due", "GBP")]["amount"] == "3.00"


def test_recon_kpis_prints_the_month_as_table_json_and_neutralised_csv(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    with CaseStore(f"sqlite:///{warehouse / 'recon.db'}") as s:
        Runs(s)(D1, A, det(key="x", amount="1.00", customer="=1+1", currency="@X"))
    args = ["kpis", "--warehouse", str(warehouse), "--month", "2024-04"]
    doc = json.loads(CliRunner().invoke(main, [*args, "--format", "json"]).output)
    assert doc["period"] == {
        "from": "2024-04-01",
        "to": "2024-04-30",
        "as_of": "2024-04-01",
        "month": "2024-04",
        "nights_published": 0,
    }
    csv_out = CliRunner().invoke(main, [*args, "--format", "csv"]).output
    assert csv_out.splitlines()[0] == "section,rule_id,amount_kind,currency,metric,value"
    assert "detected,CHARGE_AFTER_DEACTIVATION,refund_due,GBP,amount,12.00" in csv_out
    assert ",'@X,amount,1.00" in csv_out
    table = CliRunner().invoke(main, args)
    assert table.exit_code == 0 and table.output.startswith("KPIs 2024-04-01..2024-04-30")
    bad = CliRunner().invoke(main, ["kpis", "--warehouse", str(warehouse), "--month", "April"])
    assert bad.exit_code == 2 and "not a month YYYY-MM" in bad.output


def test_month_bounds() -> None:
    assert month_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    with pytest.raises(ValueError):
        month_bounds("2024-13")


def test_a_letter_none_of_whose_fees_is_known_counts_as_not_priced(tmp_path: Path) -> None:
    """Its amount is 0.00 with no currency (unknown fees count 0): not priced, not a row of
    money in a blank currency."""
    unknown = det(
        "WRONG_DISCONNECT_LETTER",
        key="M",
        letter_id="M",
        amount="0.00",
        currency=None,
        evidence=json.dumps({"letter": {"letter_id": "M", "scheduled_send_date": "2024-04-09"}}),
    )
    with CaseStore(f"sqlite:///{tmp_path / 'recon.db'}") as s:
        Runs(s)(D1, unknown)
        (row,) = store_kpis(s.engine, D1, D1, D1)["detected"]
    assert (row["currency"], row["cases"], row["not_priced"], row["amount"]) == (None, 1, 1, "0.00")


def test_the_charts_recovery_by_month_is_what_the_kpis_say(store) -> None:
    """Summed over rules per kind and currency from store_kpis' detected rows: the
    dashboard's and the report's chart agree with `recon kpis --month`."""
    rows = recovery_by_month(store.engine, [D1, D2, D3])
    by_series = {(r["month"], r["kind"], r["currency"]): r for r in rows}
    detected = by_key(store_kpis(store.engine, date(2024, 1, 1), D3, D3)["detected"])
    for (month, kind, currency), r in by_series.items():
        assert month == f"{D3:%Y-%m}"
        groups = [g for (_, k, c), g in detected.items() if (k, c) == (kind, currency)]
        assert r["detected"] == sum(Decimal(g["amount"]) for g in groups)
        assert r["recovered"] == sum(Decimal(g["recovered_since"]) for g in groups)
    refund = by_series[(f"{D3:%Y-%m}", "refund_due", "GBP")]
    assert (refund["detected"], refund["recovered"], refund["rate"]) == (
        Decimal("15.00"),
        Decimal("12.00"),
        Decimal("0.8000"),
    )
    assert (f"{D3:%Y-%m}", None, None) not in by_series  # not priced: nothing to recover
