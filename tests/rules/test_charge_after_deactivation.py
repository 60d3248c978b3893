"""CHARGE_AFTER_DEACTIVATION: proration, credits netting, the 0.01 threshold, keys."""

import json

from pipelines.catalogue import case_id
from tests.support.rules import amounts, line, run, sim

RULE = "CHARGE_AFTER_DEACTIVATION"
ICCID = "89440000000000000001"


def deactivated(on: str) -> dict:
    return sim(
        status="deactivated", deactivated_at=f"{on}T08:00:00Z", status_changed_at=f"{on}T08:00:00Z"
    )


def test_prorates_inactive_days_including_deactivation_day():
    out = run(RULE, inventory=[deactivated("2024-04-21")], billing=[line()])
    assert amounts(out) == ["10.00"]  # 30.00 x 10 of 30 days (21st..30th)
    row = out.row(0, named=True)
    assert row["case_id"] == case_id(RULE, [ICCID, "2024-04-01"])
    assert (row["iccid"], row["invoice_id"], str(row["period_end"])) == (ICCID, "I1", "2024-04-30")
    evidence = json.loads(row["evidence"])
    assert evidence["lines"][0]["line_id"] == "L1"


def test_deactivated_the_day_after_period_end_does_not_fire():
    assert run(RULE, inventory=[deactivated("2024-05-01")], billing=[line()]).is_empty()


def test_deactivated_on_period_end_charges_one_day():
    out = run(RULE, inventory=[deactivated("2024-04-30")], billing=[line(amount="31.00")])
    assert amounts(out) == ["1.03"]  # 31.00 / 30 = 1.0333...


def test_active_sim_does_not_fire():
    assert run(RULE, inventory=[sim()], billing=[line()]).is_empty()


def test_credit_that_cancels_the_charge_closes_it():
    credit = line(
        line_id="L9",
        charge_type="credit",
        period_start="2024-04-21",
        period_end="2024-04-30",
        amount="-10.00",
    )
    assert run(RULE, inventory=[deactivated("2024-04-21")], billing=[line(), credit]).is_empty()


def test_rounded_credit_leaving_under_a_cent_does_not_fire():
    # 10.00 x 11/30 = 3.6666..., credit -3.66 leaves 0.00666... <= 0.01
    credit = line(
        line_id="L9",
        charge_type="credit",
        period_start="2024-04-20",
        period_end="2024-04-30",
        amount="-3.66",
    )
    out = run(RULE, inventory=[deactivated("2024-04-20")], billing=[line(amount="10.00"), credit])
    assert out.is_empty()


def test_exact_net_above_a_cent_fires_and_rounds_half_even_at_the_end():
    # 10.00 x 11/30 = 3.6666..., credit -3.65 leaves 0.01666... > 0.01 -> 0.02
    credit = line(
        line_id="L9",
        charge_type="credit",
        period_start="2024-04-20",
        period_end="2024-04-30",
        amount="-3.65",
    )
    out = run(RULE, inventory=[deactivated("2024-04-20")], billing=[line(amount="10.00"), credit])
    assert amounts(out) == ["0.02"]
    assert json.loads(out["evidence"][0])["credits"][0]["line_id"] == "L9"


def test_partial_credit_leaves_the_rest_at_risk():
    credit = line(
        line_id="L9",
        charge_type="credit",
        period_start="2024-04-21",
        period_end="2024-04-30",
        amount="-4.00",
    )
    out = run(RULE, inventory=[deactivated("2024-04-21")], billing=[line(), credit])
    assert amounts(out) == ["6.00"]


def test_credit_of_another_period_or_currency_or_sim_does_not_count():
    credits = [
        line(
            line_id="L7",
            charge_type="credit",
            period_start="2024-03-01",
            period_end="2024-03-31",
            amount="-10.00",
        ),
        line(line_id="L8", charge_type="credit", amount="-10.00", currency="EUR"),
        line(line_id="L9", charge_type="credit", amount="-10.00", iccid="89440000000000000019"),
    ]
    out = run(RULE, inventory=[deactivated("2024-04-21")], billing=[line(), *credits])
    assert amounts(out) == ["10.00"]


def test_usage_and_one_off_lines_are_not_this_rule():
    billing = [line(charge_type="usage"), line(line_id="L2", charge_type="one_off")]
    assert run(RULE, inventory=[deactivated("2024-04-01")], billing=billing).is_empty()


def test_lines_of_one_key_are_one_case():
    billing = [line(), line(line_id="L2", amount="15.00")]
    out = run(RULE, inventory=[deactivated("2024-04-21")], billing=billing)
    assert amounts(out) == ["15.00"]  # 10.00 + 5.00
