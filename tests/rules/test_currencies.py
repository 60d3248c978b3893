"""Several currencies under one case key: one case, amount and currency null, the exact
amount per currency in evidence (docs/rule-semantics.md); one currency: a plain amount."""

import json

from pipelines.casestore.store import normalise_detections
from pipelines.catalogue import case_id
from pipelines.rules import evaluate
from tests.support.rules import amounts, letter, line, night, run, sim, tx

ICCID = "89440000000000000001"


def deactivated(on: str = "2024-04-21") -> dict:
    return sim(status="deactivated", deactivated_at=f"{on}T08:00:00Z")


def by_currency(out) -> dict[str, str] | None:
    return json.loads(out["evidence"][0]).get("amounts_by_currency")


def test_duplicate_groups_of_one_sim_in_two_currencies_are_one_case_not_a_crash():
    billing = [
        line(line_id="L1", amount="30.00"),
        line(line_id="L2", amount="31.00"),
        line(line_id="L3", amount="35.00", currency="EUR"),
        line(line_id="L4", amount="36.00", currency="EUR", period_start="2024-04-03"),
    ]
    out = run("DUPLICATE_RECURRING_CHARGE", billing=billing)
    assert out.height == 1
    assert out["case_id"][0] == case_id("DUPLICATE_RECURRING_CHARGE", [ICCID, "2024-04-01"])
    assert amounts(out) == [None] and out["currency"][0] is None
    assert by_currency(out) == {"EUR": "36.00", "GBP": "31.00"}  # each group but its kept line
    assert (
        "36.00 EUR + 31.00 GBP (several currencies, not added up) is charged" in out["summary"][0]
    )
    normalise_detections(evaluate(night(billing=billing)))  # one case id: the store takes it


def test_the_same_period_in_another_currency_is_not_a_duplicate():
    billing = [line(line_id="L1"), line(line_id="L2", currency="EUR")]
    assert run("DUPLICATE_RECURRING_CHARGE", billing=billing).is_empty()


def test_groups_in_two_currencies_with_other_starts_are_separate_cases():
    billing = [
        line(line_id="L1"),
        line(line_id="L2"),
        line(line_id="L3", currency="EUR", period_start="2024-04-02"),
        line(line_id="L4", currency="EUR", period_start="2024-04-02"),
    ]
    out = run("DUPLICATE_RECURRING_CHARGE", billing=billing)
    assert sorted(zip(out["currency"], amounts(out), strict=True)) == [
        ("EUR", "30.00"),
        ("GBP", "30.00"),
    ]


def test_usage_after_deactivation_in_two_currencies():
    usage = dict(charge_type="usage", period_start="2024-04-22", period_end="2024-04-25")
    billing = [
        line(line_id="U1", amount="4.20", **usage),
        line(line_id="U2", amount="1.10", currency="EUR", **usage),
        line(line_id="U3", amount="0.80", **usage),
    ]
    out = run("USAGE_AFTER_DEACTIVATION", inventory=[deactivated()], billing=billing)
    assert amounts(out) == [None] and out["currency"][0] is None
    assert by_currency(out) == {"EUR": "1.10", "GBP": "5.00"}


def test_unknown_sim_charged_invoice_in_two_currencies():
    billing = [line(line_id="L1"), line(line_id="L2", charge_type="usage", currency="USD")]
    out = run("UNKNOWN_SIM_CHARGED", billing=billing)
    assert amounts(out) == [None]
    assert by_currency(out) == {"GBP": "30.00", "USD": "30.00"}


def test_charge_after_deactivation_nets_each_currency_with_its_own_credits():
    billing = [
        line(line_id="L1"),  # 10.00 GBP of it after the 21st
        line(line_id="L2", amount="60.00", currency="EUR"),  # 20.00 EUR after
        line(
            line_id="C1",
            charge_type="credit",
            amount="-5.00",
            currency="EUR",
            period_start="2024-04-21",
        ),
    ]
    out = run("CHARGE_AFTER_DEACTIVATION", inventory=[deactivated()], billing=billing)
    assert amounts(out) == [None] and out["currency"][0] is None
    assert by_currency(out) == {"EUR": "15.00", "GBP": "10.00"}
    assert json.loads(out["evidence"][0])["credits"][0]["line_id"] == "C1"


def test_charge_after_deactivation_fires_when_one_currency_is_above_the_threshold():
    billing = [
        line(line_id="L1"),
        line(line_id="L2", amount="60.00", currency="EUR"),
        line(line_id="C1", charge_type="credit", amount="-20.00", currency="EUR"),
    ]
    out = run("CHARGE_AFTER_DEACTIVATION", inventory=[deactivated()], billing=billing)
    assert by_currency(out) == {"EUR": "0.00", "GBP": "10.00"}
    credited = [*billing[1:], line(line_id="C2", charge_type="credit", amount="-10.00")]
    assert run(
        "CHARGE_AFTER_DEACTIVATION", inventory=[deactivated()], billing=[billing[0], *credited]
    ).is_empty()


def test_wrong_disconnect_letter_fees_in_two_currencies():
    sims = [sim(), sim(iccid="89440000000000000019", msisdn="447700900002")]
    fees = [
        tx(transaction_id="T1", monthly_fee="20.00"),
        tx(transaction_id="T2", msisdn="447700900002", monthly_fee="15.00", currency="EUR"),
    ]
    out = run("WRONG_DISCONNECT_LETTER", inventory=sims, transactions=fees, letters=[letter()])
    assert amounts(out) == [None] and out["currency"][0] is None
    assert by_currency(out) == {"EUR": "15.00", "GBP": "20.00"}


def test_wrong_disconnect_letter_without_known_fees_is_zero_without_currency():
    out = run("WRONG_DISCONNECT_LETTER", inventory=[sim()], letters=[letter()])
    assert (amounts(out), out["currency"][0], by_currency(out)) == (["0.00"], None, None)


def test_unbilled_sim_missing_from_two_invoices_with_one_start_is_one_fee():
    tonight = dict(period_start="2024-04-15", period_end="2024-05-14")
    other = "89440000000000000019"
    out = run(
        "UNBILLED_ACTIVE_LINE",
        inventory=[sim(), sim(iccid=other, msisdn="447700900002")],
        billing=[line(line_id="L1", **tonight), line(line_id="L2", invoice_id="I2", **tonight)],
        transactions=[tx(msisdn="447700900002", monthly_fee="12.00", transaction_ts="2024-02-01")],
    )
    assert out["iccid"].to_list() == [other]
    assert amounts(out) == ["12.00"]  # the agreed fee once, not once per invoice
    invoices = json.loads(out["evidence"][0])["invoices"]
    assert [i["invoice_id"] for i in invoices] == ["I1", "I2"]
