"""UNBILLED_ACTIVE_LINE: tonight's invoices only; activation and deactivation boundaries."""

from tests.support.rules import D, amounts, line, run, sim, tx

RULE = "UNBILLED_ACTIVE_LINE"
OTHER = "89440000000000000019"


def tonight(**kw):
    return line(period_start="2024-04-15", period_end="2024-05-14", **kw)


def second_sim(**kw):
    return sim(iccid=OTHER, msisdn="447700900002", **kw)


def test_active_sim_missing_from_tonights_invoice_fires_with_its_agreed_fee():
    out = run(
        RULE,
        inventory=[sim(), second_sim()],
        billing=[tonight()],
        transactions=[tx(msisdn="447700900002", monthly_fee="12.00", transaction_ts="2024-02-01")],
    )
    assert out["iccid"].to_list() == [OTHER]
    assert amounts(out) == ["12.00"]
    assert (out["invoice_id"][0], str(out["period_start"][0])) == ("I1", "2024-04-15")


def test_unknown_fee_gives_a_null_amount():
    out = run(RULE, inventory=[sim(), second_sim()], billing=[tonight()])
    assert amounts(out) == [None]


def test_billed_sims_and_other_accounts_do_not_fire():
    inventory = [sim(), second_sim(account_id="A2", customer_id="C2")]
    assert run(RULE, inventory=inventory, billing=[tonight()]).is_empty()


def test_activated_after_the_earliest_period_start_does_not_fire():
    inventory = [sim(), second_sim(activated_at="2024-04-16T09:00:00Z")]
    assert run(RULE, inventory=inventory, billing=[tonight()]).is_empty()


def test_activated_on_the_earliest_period_start_fires():
    inventory = [sim(), second_sim(activated_at="2024-04-15T23:00:00Z")]
    assert run(RULE, inventory=inventory, billing=[tonight()]).height == 1


def test_deactivated_before_the_latest_period_end_does_not_fire():
    inventory = [sim(), second_sim(status="deactivated", deactivated_at="2024-05-13T10:00:00Z")]
    assert run(RULE, inventory=inventory, billing=[tonight()]).is_empty()


def test_deactivated_on_the_latest_period_end_fires():
    inventory = [sim(), second_sim(status="deactivated", deactivated_at="2024-05-14T10:00:00Z")]
    assert run(RULE, inventory=inventory, billing=[tonight()]).height == 1


def test_only_tonights_bill_runs_and_only_invoices_with_recurring_lines():
    billing = [
        tonight(business_date="2024-03-15"),
        line(
            line_id="L2",
            charge_type="usage",
            period_start="2024-03-15",
            period_end="2024-04-14",
            business_date=D,
        ),
    ]
    assert run(RULE, inventory=[sim(), second_sim()], billing=billing).is_empty()
