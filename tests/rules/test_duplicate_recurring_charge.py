"""DUPLICATE_RECURRING_CHARGE: overlap chains, the kept line, adjacent periods."""

import json

from pipelines.catalogue import case_id
from tests.support.rules import amounts, line, run

RULE = "DUPLICATE_RECURRING_CHARGE"


def test_same_period_twice_charges_all_but_the_smallest_line_id():
    billing = [line(line_id="L2", amount="30.00"), line(line_id="L10", amount="31.00")]
    out = run(RULE, billing=billing)
    # "L10" < "L2" in string order: L10 is kept, L2's 30.00 is at risk
    assert amounts(out) == ["30.00"]
    assert json.loads(out["evidence"][0])["kept_line_id"] == "L10"


def test_a_chain_of_overlaps_is_one_group_keyed_on_its_first_start():
    billing = [
        line(line_id="A", period_start="2024-01-01", period_end="2024-01-31", amount="10.00"),
        line(line_id="B", period_start="2024-01-31", period_end="2024-02-29", amount="11.00"),
        line(line_id="C", period_start="2024-02-15", period_end="2024-03-14", amount="12.00"),
    ]
    out = run(RULE, billing=billing)
    assert amounts(out) == ["23.00"]
    assert out["case_id"][0] == case_id(RULE, ["89440000000000000001", "2024-01-01"])
    assert str(out["period_end"][0]) == "2024-03-14"


def test_adjacent_periods_do_not_overlap():
    billing = [
        line(line_id="A", period_start="2024-03-01", period_end="2024-03-31"),
        line(line_id="B", period_start="2024-04-01", period_end="2024-04-30"),
    ]
    assert run(RULE, billing=billing).is_empty()


def test_other_sims_and_other_charge_types_do_not_pair():
    billing = [
        line(line_id="A"),
        line(line_id="B", iccid="89440000000000000019"),
        line(line_id="C", charge_type="usage"),
        line(line_id="D", charge_type="credit", amount="-30.00"),
    ]
    assert run(RULE, billing=billing).is_empty()


def test_separate_groups_of_one_sim_are_separate_cases():
    billing = [
        line(line_id="A", period_start="2024-01-01", period_end="2024-01-31"),
        line(line_id="B", period_start="2024-01-01", period_end="2024-01-31"),
        line(line_id="C", period_start="2024-02-01", period_end="2024-02-29"),
        line(line_id="D", period_start="2024-03-01", period_end="2024-03-31"),
        line(line_id="E", period_start="2024-03-01", period_end="2024-03-31"),
    ]
    assert sorted(str(d) for d in run(RULE, billing=billing)["period_start"]) == [
        "2024-01-01",
        "2024-03-01",
    ]
