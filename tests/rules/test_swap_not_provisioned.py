"""SWAP_NOT_PROVISIONED: the two-day grace, which SIM was removed, status exactly active."""

from tests.support.rules import run, sim, tx

RULE = "SWAP_NOT_PROVISIONED"
OLD = "89440000000000000001"
NEW = "89440000000000000019"


def swap(on: str, **kw):
    return tx(
        transaction_id="S1",
        transaction_ts=on,
        action="sim_swap",
        iccid=NEW,
        previous_iccid=OLD,
        **kw,
    )


def test_old_sim_still_active_two_days_after_the_swap_fires():
    out = run(RULE, transactions=[swap("2024-04-13T23:59:00Z")], inventory=[sim()])
    assert out["transaction_id"].to_list() == ["S1"]
    assert out["iccid"].to_list() == [OLD]
    assert out["amount_at_risk"].to_list() == [None]


def test_one_day_after_the_swap_is_still_in_grace():
    assert run(RULE, transactions=[swap("2024-04-14T00:00:01Z")], inventory=[sim()]).is_empty()


def test_swapped_out_or_suspended_old_sim_does_not_fire():
    for status in ("swapped_out", "suspended"):
        inventory = [sim(status=status)]
        assert run(RULE, transactions=[swap("2024-04-01")], inventory=inventory).is_empty()


def test_cancel_line_checks_its_iccid():
    cancel = tx(transaction_id="X1", transaction_ts="2024-04-01", action="cancel_line", iccid=OLD)
    assert run(RULE, transactions=[cancel], inventory=[sim()]).height == 1
    port = tx(transaction_id="X2", transaction_ts="2024-04-01", action="port_out", iccid=OLD)
    assert run(RULE, transactions=[port], inventory=[sim()]).is_empty()


def test_the_new_sim_of_a_swap_being_active_is_fine():
    inventory = [sim(status="swapped_out"), sim(iccid=NEW)]
    assert run(RULE, transactions=[swap("2024-04-01")], inventory=inventory).is_empty()
