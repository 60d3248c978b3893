"""Every rule's summary is a sentence an agent can read out: amounts with their currency
or "not priced", dates, plain words, singular and plural; no ids, no raw codes."""

import re

import pytest

from tests.support.rules import letter, line, run, sim, tx

ICCID = "89440000000000000001"
OTHER_ICCID = "89440000000000000019"
# Ids of the hand-made rows (tests.support.rules) that no sentence may name.
IDS = ("C1", "A1", "I1", "L1", "T1", "S1", "LT1", "K1", "BR1", ICCID, "447700900001")


def summary(rule: str, **parts) -> str:
    out = run(rule, **parts)
    assert out.height == 1
    return out["summary"][0]


def readable(text: str) -> str:
    """The sentence, after checking what no sentence may hold."""
    for word in re.findall(r"[A-Za-z0-9_]+", text):
        assert word not in IDS, f"{word!r} is an id: {text}"
        assert "_" not in word, f"{word!r} is a raw code: {text}"
    assert "(s)" not in text and "unknown amount" not in text
    assert not re.search(r"\([a-z_]+\)", text), text  # no "(churn_score)"
    assert text.endswith(".") and text[0].isupper()
    return text


def deactivated(on: str = "2024-04-21") -> dict:
    return sim(status="deactivated", deactivated_at=f"{on}T08:00:00Z")


def credit(amount: str, line_id: str = "CR1") -> dict:
    return line(line_id=line_id, charge_type="credit", amount=amount)


def test_charge_after_deactivation_without_credits_says_nothing_of_credits():
    text = readable(
        summary("CHARGE_AFTER_DEACTIVATION", inventory=[deactivated()], billing=[line()])
    )
    assert text == (
        "The SIM of the line ending 0001 was deactivated on 2024-04-21, but the customer is "
        "still charged 10.00 GBP for 10 days of the period 2024-04-01 to 2024-04-30."
    )


def test_charge_after_deactivation_names_the_credit_deducted():
    billing = [line(), credit("-4.00")]
    text = readable(
        summary("CHARGE_AFTER_DEACTIVATION", inventory=[deactivated()], billing=billing)
    )
    assert text.endswith(
        "still charged 6.00 GBP for 10 days of the period 2024-04-01 to "
        "2024-04-30, after deducting a credit of 4.00 GBP."
    )


def test_charge_after_deactivation_two_credits_and_one_day():
    billing = [line(amount="31.00"), credit("-0.01", "CR1"), credit("-0.01", "CR2")]
    text = readable(
        summary("CHARGE_AFTER_DEACTIVATION", inventory=[deactivated("2024-04-30")], billing=billing)
    )
    assert "charged 1.01 GBP for 1 day of the period" in text
    assert text.endswith(", after deducting credits of 0.02 GBP.")


def test_usage_after_deactivation():
    usage = line(
        charge_type="usage", period_start="2024-04-22", period_end="2024-04-25", amount="4.20"
    )
    text = readable(summary("USAGE_AFTER_DEACTIVATION", inventory=[deactivated()], billing=[usage]))
    assert text == (
        "The SIM of the line ending 0001 was deactivated on 2024-04-21, but the customer is "
        "billed 4.20 GBP of usage for 2024-04-22 to 2024-04-25."
    )


def test_a_sim_without_a_number_is_a_line_with_no_number():
    usage = line(
        charge_type="usage", period_start="2024-04-22", period_end="2024-04-25", msisdn=None
    )
    text = readable(summary("USAGE_AFTER_DEACTIVATION", inventory=[deactivated()], billing=[usage]))
    assert text.startswith("The SIM of a line with no number was deactivated")


def test_duplicate_recurring_charge():
    billing = [line(), line(line_id="L2", period_start="2024-04-10", period_end="2024-05-09")]
    text = readable(summary("DUPLICATE_RECURRING_CHARGE", billing=billing))
    assert text == (
        "The SIM of the line ending 0001 has 2 recurring charges with overlapping periods "
        "between 2024-04-01 and 2024-05-09: 30.00 GBP is charged more than once."
    )


def tonight(**kw) -> dict:
    return line(period_start="2024-04-15", period_end="2024-05-14", **kw)


def second_sim() -> dict:
    return sim(iccid=OTHER_ICCID, msisdn="447700900002")


def test_unbilled_active_line_with_its_agreed_fee():
    fee = tx(msisdn="447700900002", monthly_fee="12.00", transaction_ts="2024-02-01")
    text = readable(
        summary(
            "UNBILLED_ACTIVE_LINE",
            inventory=[sim(), second_sim()],
            billing=[tonight()],
            transactions=[fee],
        )
    )
    assert text == (
        "The active SIM of the line ending 0002 has no recurring charge on tonight's invoice "
        "for the period from 2024-04-15; its agreed monthly fee is 12.00 GBP."
    )


def test_unbilled_active_line_without_a_fee_is_not_priced():
    text = readable(
        summary("UNBILLED_ACTIVE_LINE", inventory=[sim(), second_sim()], billing=[tonight()])
    )
    assert text.endswith("; no agreed monthly fee is known, so it is not priced.")


def fee(amount: str) -> dict:
    return tx(transaction_ts="2024-03-10", action="renewal", monthly_fee=amount)


def test_tariff_mismatch_names_the_billed_and_the_agreed_price():
    over = readable(summary("TARIFF_MISMATCH", transactions=[fee("25.00")], billing=[line()]))
    assert over == (
        "The line ending 0001 was billed 30.00 GBP for 2024-04-01 to 2024-04-30, but its "
        "agreed monthly fee is 25.00 GBP: overcharged by 5.00 GBP."
    )


def test_tariff_mismatch_undercharge_reads_as_a_positive_amount():
    under = readable(summary("TARIFF_MISMATCH", transactions=[fee("35.00")], billing=[line()]))
    assert under.endswith("agreed monthly fee is 35.00 GBP: undercharged by 5.00 GBP.")
    assert "-" not in under.replace("2024-04-01", "").replace("2024-04-30", "")


def test_tariff_mismatch_charged_twice_in_one_period():
    billing = [line(), line(line_id="L2", amount="32.00")]
    text = readable(summary("TARIFF_MISMATCH", transactions=[fee("25.00")], billing=billing))
    assert "was billed 2 times for 2024-04-01 to 2024-04-30" in text
    assert text.endswith("overcharged by 12.00 GBP.")


def test_unknown_sim_charged_not_in_inventory():
    text = readable(summary("UNKNOWN_SIM_CHARGED", inventory=[], billing=[line()]))
    assert text == "The customer's invoice charges 30.00 GBP to a SIM that is not in the inventory."


def test_unknown_sim_charged_held_elsewhere_in_stock_and_a_credit():
    other = readable(
        summary(
            "UNKNOWN_SIM_CHARGED",
            inventory=[sim(account_id="A2", status="swapped_out")],
            billing=[line()],
        )
    )
    assert other.endswith(
        "to a SIM that the inventory holds for another account (status swapped out)."
    )
    stock = readable(
        summary(
            "UNKNOWN_SIM_CHARGED",
            inventory=[sim(status="in_stock", account_id=None, customer_id=None, msisdn=None)],
            billing=[line()],
        )
    )
    assert stock.endswith("to a SIM that the inventory holds in stock for no account.")
    refund = readable(summary("UNKNOWN_SIM_CHARGED", inventory=[], billing=[credit("-5.00")]))
    assert refund.startswith("The customer's invoice credits 5.00 GBP to a SIM")


def removal(action: str, channel: str) -> dict:
    swap = {"iccid": OTHER_ICCID, "previous_iccid": ICCID} if action == "sim_swap" else {}
    return tx(
        transaction_id="S1",
        transaction_ts="2024-04-10",
        action=action,
        channel=channel,
        **({"iccid": ICCID} | swap),
    )


@pytest.mark.parametrize(
    ("action", "channel", "expected"),
    [
        (
            "sim_swap",
            "store",
            "The SIM swapped out of the line ending 0001 in a shop on "
            "2024-04-10 is still active in the inventory.",
        ),
        (
            "cancel_line",
            "telesales",
            "The SIM of the line ending 0001, cancelled by telesales "
            "on 2024-04-10, is still active in the inventory.",
        ),
    ],
)
def test_swap_not_provisioned(action, channel, expected):
    text = summary(
        "SWAP_NOT_PROVISIONED", transactions=[removal(action, channel)], inventory=[sim()]
    )
    assert readable(text) == expected


def renewal(n: int, fee_: str | None) -> dict:
    return tx(
        transaction_id=f"T{n}0",
        transaction_ts="2024-01-05",
        msisdn=f"44770090000{n}",
        iccid=f"8944000000000000000{n}",
        monthly_fee=fee_,
        action="new_line",
    )


def active(n: int) -> dict:
    return sim(iccid=f"8944000000000000000{n}", msisdn=f"44770090000{n}")


def test_wrong_disconnect_letter_one_sim_names_the_send_date_and_the_trigger_in_words():
    text = readable(
        summary(
            "WRONG_DISCONNECT_LETTER",
            transactions=[renewal(1, "20.00")],
            inventory=[active(1)],
            letters=[letter()],
        )
    )
    assert text == (
        "A disconnect-save letter, sent because a churn model flagged the customer and due to "
        "go out on 2024-04-20, is queued for a customer who still has 1 active SIM and "
        "cancelled or ported no line in the last 60 days; their agreed monthly fees total "
        "20.00 GBP."
    )


def test_wrong_disconnect_letter_several_sims_and_no_known_fee():
    text = readable(
        summary(
            "WRONG_DISCONNECT_LETTER",
            inventory=[active(1), active(2)],
            letters=[
                letter(letter_type="winback", channel="sms", trigger_reason="contract_ending")
            ],
        )
    )
    assert text.startswith("A win-back text message, sent because the contract is ending and")
    assert "still has 2 active SIMs and" in text
    assert text.endswith("; none of their agreed monthly fees is known.")


def test_letter_to_departed_customer():
    text = readable(
        summary(
            "LETTER_TO_DEPARTED_CUSTOMER",
            inventory=[deactivated()],
            letters=[
                letter(
                    letter_type="contract_end_offer",
                    channel="email",
                    trigger_reason="line_cancelled",
                )
            ],
        )
    )
    assert text == (
        "A contract-end offer email, sent because a line was cancelled and due to go out on "
        "2024-04-20, is queued for a customer who has no active SIM left."
    )
