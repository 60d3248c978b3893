"""USAGE_AFTER_DEACTIVATION: only usage wholly on or after the deactivation date."""

from tests.support.rules import amounts, line, run, sim

RULE = "USAGE_AFTER_DEACTIVATION"


def usage(**kw):
    return line(charge_type="usage", amount="4.20", **kw)


def gone(on="2024-04-05"):
    return sim(status="deactivated", deactivated_at=f"{on}T23:59:59Z")


def test_usage_starting_on_deactivation_day_fires():
    out = run(
        RULE,
        inventory=[gone()],
        billing=[usage(period_start="2024-04-05", period_end="2024-04-10")],
    )
    assert amounts(out) == ["4.20"]
    assert str(out["period_start"][0]) == "2024-04-05"


def test_usage_starting_the_day_before_deactivation_does_not_fire():
    out = run(
        RULE,
        inventory=[gone()],
        billing=[usage(period_start="2024-04-04", period_end="2024-04-10")],
    )
    assert out.is_empty()


def test_active_sim_and_unknown_sim_do_not_fire():
    billing = [
        usage(period_start="2024-04-05", period_end="2024-04-10"),
        usage(
            line_id="L2",
            iccid="89440000000000000019",
            period_start="2024-04-05",
            period_end="2024-04-10",
        ),
    ]
    assert run(RULE, inventory=[sim()], billing=billing).is_empty()


def test_credits_do_not_offset_usage():
    billing = [
        usage(period_start="2024-04-06", period_end="2024-04-10"),
        line(
            line_id="L2",
            charge_type="credit",
            amount="-4.20",
            period_start="2024-04-06",
            period_end="2024-04-10",
        ),
    ]
    assert amounts(run(RULE, inventory=[gone()], billing=billing)) == ["4.20"]
