"""UNKNOWN_SIM_CHARGED: SIMs missing from inventory, held elsewhere or in stock."""

from tests.support.rules import amounts, line, run, sim

RULE = "UNKNOWN_SIM_CHARGED"


def test_sim_missing_from_inventory_sums_the_invoice_lines_credits_included():
    billing = [
        line(),
        line(line_id="L2", charge_type="usage", amount="2.50"),
        line(line_id="L3", charge_type="credit", amount="-1.00"),
        line(line_id="L4", invoice_id="I2", amount="30.00"),
    ]
    out = run(RULE, inventory=[], billing=billing)
    assert sorted(zip(out["invoice_id"], amounts(out), strict=True)) == [
        ("I1", "31.50"),
        ("I2", "30.00"),
    ]


def test_sim_of_another_account_or_in_stock_fires():
    other = run(RULE, inventory=[sim(account_id="A2")], billing=[line()])
    stock = run(
        RULE,
        inventory=[sim(status="in_stock", account_id=None, customer_id=None, msisdn=None)],
        billing=[line()],
    )
    assert other.height == 1 and stock.height == 1


def test_own_sim_and_account_level_lines_do_not_fire():
    billing = [line(), line(line_id="L2", iccid=None, msisdn=None, charge_type="one_off")]
    assert run(RULE, inventory=[sim()], billing=billing).is_empty()


def test_deactivated_sim_of_the_account_is_still_known():
    inventory = [sim(status="deactivated", deactivated_at="2024-01-10T00:00:00Z")]
    assert run(RULE, inventory=inventory, billing=[line()]).is_empty()
