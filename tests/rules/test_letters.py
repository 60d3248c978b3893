"""WRONG_DISCONNECT_LETTER and LETTER_TO_DEPARTED_CUSTOMER."""

import json

from tests.support.rules import amounts, letter, run, sim, tx

WRONG = "WRONG_DISCONNECT_LETTER"
DEPARTED = "LETTER_TO_DEPARTED_CUSTOMER"
# D = 2024-04-15: the 60-day window is 2024-02-16 .. 2024-04-15.


def msisdn(n: int) -> str:
    return f"4477009000{n:02d}"


def iccid(n: int) -> str:
    return f"894400000000000000{n:02d}"


def contract(n: int, fee: str, on: str, action="renewal", tid=None):
    return tx(
        transaction_id=tid or f"T{n}-{on}",
        transaction_ts=on,
        msisdn=msisdn(n),
        iccid=iccid(n),
        action=action,
        monthly_fee=fee,
    )


def leave(n: int, on: str, action="cancel_line"):
    return tx(
        transaction_id=f"X{n}",
        transaction_ts=on,
        msisdn=msisdn(n),
        iccid=iccid(n),
        action=action,
        currency=None,
    )


def active(n: int):
    return sim(iccid=iccid(n), msisdn=msisdn(n))


def test_story_customer_who_raised_commitment_gets_a_case():
    """Renews three lines, adds two data SIMs, hands back one old SIM, then a save letter."""
    history = [contract(n, "20.00", "2023-12-01", action="new_line") for n in (1, 2, 3, 4)]
    shop_visit = [contract(n, "25.00", "2024-04-02") for n in (1, 2, 3)]
    shop_visit += [contract(n, "10.00", "2024-04-02", action="new_line") for n in (5, 6)]
    shop_visit += [leave(4, "2024-04-02")]
    inventory = [active(n) for n in (1, 2, 3, 5, 6)]
    inventory.append(
        sim(
            iccid=iccid(4),
            msisdn=msisdn(4),
            status="deactivated",
            deactivated_at="2024-04-02T12:00:00Z",
        )
    )
    out = run(WRONG, transactions=history + shop_visit, inventory=inventory, letters=[letter()])
    assert out["letter_id"].to_list() == ["LT1"]
    assert amounts(out) == ["95.00"]  # 3 x 25.00 + 2 x 10.00
    assert json.loads(out["evidence"][0])["raised_commitment"] is True


def test_no_cancellation_in_60_days_fires_even_without_known_fees():
    out = run(
        WRONG,
        inventory=[active(1)],
        letters=[letter(letter_type="winback", trigger_reason="line_cancelled")],
    )
    assert amounts(out) == ["0.00"]


def test_cancellation_that_lowered_commitment_does_not_fire():
    transactions = [
        contract(1, "20.00", "2024-01-01", action="new_line"),
        contract(2, "20.00", "2024-01-01", action="new_line"),
        leave(2, "2024-04-01"),
    ]
    out = run(
        WRONG,
        transactions=transactions,
        inventory=[active(1)],
        letters=[letter(letter_type="winback", trigger_reason="line_cancelled")],
    )
    assert out.is_empty()


def test_cancellation_before_the_window_does_not_count_as_leaving():
    transactions = [
        contract(1, "20.00", "2024-01-01", action="new_line"),
        contract(2, "20.00", "2024-01-01", action="new_line"),
        leave(2, "2024-02-15"),
    ]  # D - 60: just outside the window
    out = run(WRONG, transactions=transactions, inventory=[active(1)], letters=[letter()])
    assert out.height == 1


def test_letters_the_customer_asked_for_or_other_types_do_not_fire():
    letters = [
        letter(letter_id="A", trigger_reason="disconnect_request"),
        letter(letter_id="B", trigger_reason="port_out_request"),
        letter(letter_id="C", letter_type="loyalty_reward"),
    ]
    assert run(WRONG, inventory=[active(1)], letters=letters).is_empty()


def test_customer_without_active_sim_is_not_wrong_disconnect():
    inventory = [sim(status="deactivated", deactivated_at="2024-03-01T00:00:00Z")]
    assert run(WRONG, inventory=inventory, letters=[letter()]).is_empty()


def test_suspended_sim_counts_as_active():
    assert run(WRONG, inventory=[sim(status="suspended")], letters=[letter()]).height == 1


def test_letter_to_departed_customer():
    inventory = [sim(status="deactivated", deactivated_at="2024-03-01T00:00:00Z")]
    letters = [
        letter(letter_id="A", letter_type="contract_end_offer", trigger_reason="contract_ending"),
        letter(letter_id="B", letter_type="winback", trigger_reason="line_cancelled"),
    ]
    out = run(DEPARTED, inventory=inventory, letters=letters)
    assert out["letter_id"].to_list() == ["A"]
    assert out["severity"].to_list() == ["low"]


def test_letter_to_customer_with_suspended_sim_is_not_departed():
    out = run(
        DEPARTED,
        inventory=[sim(status="suspended")],
        letters=[letter(letter_type="loyalty_reward")],
    )
    assert out.is_empty()


def test_unknown_customer_is_departed():
    out = run(DEPARTED, inventory=[], letters=[letter(letter_type="loyalty_reward")])
    assert out.height == 1
