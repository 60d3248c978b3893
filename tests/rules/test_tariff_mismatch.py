"""TARIFF_MISMATCH: full periods only, the fee in force on period_start, the 0.01 threshold."""

from tests.support.rules import amounts, line, run, tx

RULE = "TARIFF_MISMATCH"


def fee(amount: str, on: str, tid: str = "T1", **kw):
    return tx(transaction_id=tid, transaction_ts=on, action="renewal", monthly_fee=amount, **kw)


def test_overcharge_and_undercharge():
    over = run(RULE, transactions=[fee("25.00", "2024-03-10")], billing=[line(amount="30.00")])
    under = run(RULE, transactions=[fee("35.00", "2024-03-10")], billing=[line(amount="30.00")])
    assert amounts(over) == ["5.00"]
    assert amounts(under) == ["-5.00"]


def test_exactly_one_cent_does_not_fire_two_cents_does():
    assert run(
        RULE, transactions=[fee("29.99", "2024-03-10")], billing=[line(amount="30.00")]
    ).is_empty()
    assert amounts(
        run(RULE, transactions=[fee("29.98", "2024-03-10")], billing=[line(amount="30.00")])
    ) == ["0.02"]


def test_fee_agreed_after_period_start_is_not_in_force():
    transactions = [fee("30.00", "2024-03-10", "T1"), fee("20.00", "2024-04-02", "T2")]
    assert run(RULE, transactions=transactions, billing=[line(amount="30.00")]).is_empty()


def test_fee_agreed_on_period_start_is_in_force_latest_of_the_day_wins():
    transactions = [
        fee("20.00", "2024-04-01T09:00:00Z", "T1"),
        fee("30.00", "2024-04-01T17:00:00Z", "T2"),
    ]
    assert run(RULE, transactions=transactions, billing=[line(amount="30.00")]).is_empty()


def test_non_contract_actions_do_not_set_the_fee():
    transactions = [
        fee("30.00", "2024-03-10", "T1"),
        tx(
            transaction_id="T2", transaction_ts="2024-03-20", action="sim_swap", monthly_fee="10.00"
        ),
    ]
    assert run(RULE, transactions=transactions, billing=[line(amount="30.00")]).is_empty()


def test_partial_periods_and_unknown_fees_are_not_compared():
    billing = [
        line(period_start="2024-04-01", period_end="2024-04-29", amount="99.00"),
        line(line_id="L2", msisdn="447700900999", amount="99.00"),
    ]
    assert run(RULE, transactions=[fee("30.00", "2024-03-10")], billing=billing).is_empty()


def test_month_end_clipping_defines_a_full_period():
    transactions = [fee("10.00", "2024-01-01")]
    full = line(period_start="2024-01-30", period_end="2024-02-28", amount="12.00")
    not_full = line(
        line_id="L2",
        period_start="2024-01-31",
        period_end="2024-03-01",
        amount="12.00",
        msisdn="447700900001",
    )
    out = run(RULE, transactions=transactions, billing=[full, not_full])
    assert [str(d) for d in out["period_start"]] == ["2024-01-30"]


def test_other_currency_is_not_compared():
    assert run(
        RULE,
        transactions=[fee("25.00", "2024-03-10", currency="EUR")],
        billing=[line(amount="30.00")],
    ).is_empty()


def test_an_overcharge_is_a_refund_due_an_undercharge_revenue_leakage():
    over = run(RULE, transactions=[fee("25.00", "2024-03-10")], billing=[line(amount="30.00")])
    under = run(RULE, transactions=[fee("35.00", "2024-03-10")], billing=[line(amount="30.00")])
    assert over["amount_kind"].to_list() == ["refund_due"]
    assert under["amount_kind"].to_list() == ["revenue_leakage"]
