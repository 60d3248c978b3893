"""Recoveries: a history-rejudging case closed as no longer detected records the amount no
longer at risk and what cleared it; a reopening or a rerun takes it back; a person resolving
a case records what they recovered and how, in the history under their account."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.casestore.store import CaseStore, Recovery
from pipelines.cli.cases import cases as cases_cli
from pipelines.rules.clearing import clearing_evidence
from tests.support.cases import D1, D2, D3, Runs, det
from tests.support.cases import night as night_of
from tests.support.rules import line, night, sim


@pytest.fixture
def store(tmp_path: Path):
    with CaseStore(f"sqlite:///{tmp_path / 'recon.db'}") as s:
        yield s


def test_a_case_no_longer_detected_records_its_amount_and_what_cleared_it(store) -> None:
    run = Runs(store)
    charge = det(amount="12.00")
    letter = det("WRONG_DISCONNECT_LETTER", key="L", letter_id="L", amount="50.00")
    seen: list[list[str]] = []

    def clearing(rows):
        seen.append([r["case_id"] for r in rows])
        return {r["case_id"]: {"credit_lines": [{"line_id": "CR1"}]} for r in rows}

    run(D1, charge, letter)
    store.record_night(D2, night_of(), "run-x", clearing)
    assert seen == [[charge["case_id"]]]  # letters are never closed by the pipeline
    (got,) = store.recoveries_of(str(charge["case_id"]))
    assert (got["amount"], got["currency"], got["amount_kind"]) == (
        Decimal("12.00"),
        "GBP",
        "refund_due",
    )
    assert (got["method"], got["recovered_on"], got["actor"]) == ("no_longer_detected", D2, "recon")
    evidence = json.loads(got["evidence"])
    assert (
        evidence["credit_lines"] == [{"line_id": "CR1"}] and evidence["cleared_on"] == "2024-04-02"
    )
    closed = store.get_case(str(charge["case_id"]))["history"][-1]  # type: ignore[index]
    assert closed["note"] == "no longer detected on 2024-04-02: 12.00 GBP no longer at risk"
    assert store.recoveries_of(str(letter["case_id"])) == []


def test_a_reopened_case_loses_its_recovery_and_a_rerun_keeps_one(store) -> None:
    run = Runs(store)
    charge = det(amount="12.00")
    run(D1, charge)
    run(D2)
    run(D2)  # the closing night again: one recovery, not two
    assert len(store.recoveries_of(str(charge["case_id"]))) == 1
    run(D3, charge)  # the charge is back
    assert store.recoveries_of(str(charge["case_id"])) == []
    run(D3)  # a rerun of D3 that does not find it: closed on D2 again, recovered again
    (again,) = store.recoveries_of(str(charge["case_id"]))
    assert again["recovered_on"] == D2


def test_a_rerun_of_the_closing_night_that_finds_the_case_takes_the_recovery_back(store) -> None:
    run = Runs(store)
    charge = det(amount="12.00")
    run(D1, charge)
    run(D2)
    run(D2, charge)
    assert store.recoveries_of(str(charge["case_id"])) == []
    assert store.get_case(str(charge["case_id"]))["status"] == "open"  # type: ignore[index]


def test_a_person_records_what_was_recovered_and_how(store) -> None:
    run = Runs(store)
    tariff = det("TARIFF_MISMATCH", key="t", amount="-7.50", msisdn="447700900002")
    run(D1, tariff)
    cid = str(tariff["case_id"])
    with pytest.raises(ValueError, match="when a case is resolved"):
        store.set_status(cid, "acknowledged", "alice", "x", Recovery(Decimal("7.50"), "re_bill"))
    with pytest.raises(ValueError, match="recovered how"):
        Recovery(Decimal("1.00"), "magic")
    with pytest.raises(ValueError, match=r"at least 0\.00"):
        Recovery(Decimal("-1.00"), "re_bill")
    assert store.set_status(
        cid, "resolved", "alice", "re-billed", Recovery(Decimal("7.50"), "re_bill")
    )
    (got,) = store.recoveries_of(cid)
    assert (got["amount"], got["currency"], got["amount_kind"], got["method"], got["actor"]) == (
        Decimal("7.50"),
        "GBP",
        "revenue_leakage",
        "re_bill",
        "alice",
    )
    last = store.get_case(cid)["history"][-1]  # type: ignore[index]
    assert (last["actor"], last["changes"]["recovered"]) == ("alice", [None, "7.50 GBP by re bill"])


def test_set_status_on_the_command_line_records_a_recovery(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    with CaseStore(url) as store:
        Runs(store)(D1, det(amount="12.00"))
    cid = str(det()["case_id"])
    args = ["set-status", cid, "resolved", "--note", "credit note sent", "--db", url]
    bad = CliRunner().invoke(cases_cli, [*args, "--recovered", "twelve", "--how", "credit_note"])
    assert bad.exit_code == 2 and "not an amount" in bad.output
    alone = CliRunner().invoke(cases_cli, [*args, "--recovered", "12.00"])
    assert alone.exit_code == 2 and "say how" in alone.output
    result = CliRunner().invoke(cases_cli, [*args, "--recovered", "12.00", "--how", "credit_note"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("recovered 12.00 GBP by credit note")
    with CaseStore(url) as store:
        (got,) = store.recoveries_of(cid)
        assert got["actor"].startswith("os:") and got["method"] == "credit_note"


def test_clearing_evidence_names_the_credits_the_gone_charges_and_the_sim() -> None:
    inputs = night(
        inventory=[sim(status="deactivated", deactivated_at="2024-04-10")],
        billing=[
            line(line_id="R1"),
            line(line_id="CR1", charge_type="credit", amount="-12.00"),
            line(
                line_id="CR2",
                charge_type="credit",
                amount="-1.00",
                period_start="2024-05-01",
                period_end="2024-05-31",
            ),  # another period: not this case's
        ],
    )
    case = {
        "case_id": "c1",
        "iccid": "89440000000000000001",
        "msisdn": "447700900001",
        "invoice_id": None,
        "period_start": date(2024, 4, 1),
        "period_end": date(2024, 4, 30),
        "evidence": json.dumps({"lines": [{"line_id": "R1"}, {"line_id": "R0"}]}),
    }
    got = clearing_evidence(inputs, [case])["c1"]
    assert [c["line_id"] for c in got["credit_lines"]] == ["CR1"]
    assert got["credit_lines"][0]["amount"] == "-12.00"
    assert got["charges_gone"] == ["R0"]
    assert got["sim"]["status"] == "deactivated"
