"""Plants of the inventory and letter rules: unprovisioned swaps and cancels, wrong
retention letters (the contract's story among them), and their near misses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from ..ground_truth import Case
from ..money import CURRENCY, money
from ..reference_data import AGENTS, STORES
from ..world import Channel, Customer
from .kit import Kit, Ref, plan

SNP, WDL = "SWAP_NOT_PROVISIONED", "WRONG_DISCONNECT_LETTER"
LTD = "LETTER_TO_DEPARTED_CUSTOMER"
VOICE = ("voice", "VOX-M-15", "15.00")
DATA = ("data", "DAT-5GB", "5.00")


def _case(rule: str, ref: Ref, customer: Customer) -> Callable[[], list[Case]]:
    """The case of `rule` keyed by the id `ref` will hold once the world has run."""
    return lambda: [Case(rule, (ref.value,), customer.customer_id)]


def swap_not_provisioned(kit: Kit) -> None:
    """SWAP_NOT_PROVISIONED: swaps 2 and 40 days and a cancel 20 days before the last night
    left the SIM active; near misses: a swap the day before, an old SIM left suspended."""
    for action, days_before, old_status in (
        ("swap", 2, "active"),
        ("cancel", 20, "active"),
        ("swap", 40, "active"),
        ("swap", 1, "active"),  # near miss: not 2 days old yet
        ("swap", 10, "suspended"),  # near miss: not exactly active
    ):
        day = kit.day(-days_before)
        quiet = (day - timedelta(days=1), kit.last) if days_before <= 10 else None
        bill_day, _ = kit.cycle(avoid=quiet)
        customer, (line, _) = kit.customer(bill_day, VOICE, DATA)
        if action == "swap":
            ref = kit.swap(customer, line, day, old_status)
        else:
            ref = kit.end(customer, line, day, provision=False)
        if days_before >= 2 and old_status == "active":
            kit.expect(_case(SNP, ref, customer))


def _active_fees(customer: Customer, day: date) -> list[Decimal]:
    """The known agreed fees, on `day`, of the numbers of the customer's active SIMs."""
    fees = (s.line.agreed_fee(day) for s in customer.sims if s.active and s.line)
    return [f for f in fees if f is not None]


def _expect_wrong_letter(kit: Kit, customer: Customer, letter_type: str, trigger: str) -> None:
    """A letter on the last night that must be a WRONG_DISCONNECT_LETTER case, its amount
    the agreed fees of the customer's active SIMs (0.00 without currency when none known)."""
    ref = kit.letter(customer, letter_type, trigger)

    def case() -> list[Case]:
        fees = _active_fees(customer, kit.last)
        key = (ref.value,)
        if not fees:
            return [Case(WDL, key, customer.customer_id, Decimal("0.00"))]
        return [Case(WDL, key, customer.customer_id, sum(fees, Decimal(0)), CURRENCY)]

    kit.expect(case)


def _the_contract_story(kit: Kit) -> None:
    """Case: in a shop within the 60 days, three renewals, two new data SIMs and one old SIM
    handed back (commitment 90.00 -> 106.00); then a "please don't leave us" letter."""
    world = kit.world
    story, lines = kit.customer(
        kit.cycle()[0],
        ("voice", "VOX-M-18", "18.50"),
        ("voice", "VOX-L-22", "22.50"),
        ("voice", "VOX-L-27", "27.99"),
        ("voice", "VOX-M-15", "15.00"),
    )
    for offset, (line, old_fee) in enumerate(
        zip(lines, ("20.00", "25.00", "30.00", "15.00"), strict=True)
    ):
        kit.agree(
            story, line, kit.first + timedelta(days=1 + offset), plan("voice", old_fee), old_fee
        )
    visit = kit.day(-30)
    shop = Channel("store", world.rng.choice(STORES), world.rng.choice(AGENTS))

    def shop_visit() -> None:
        for minute, (renewed, new_fee) in enumerate(
            zip(lines, ("22.00", "27.00", "35.00"), strict=False)
        ):
            world.agree(
                story,
                renewed,
                kit.moment(visit, 900 + minute),
                "renewal",
                shop,
                plan("voice", new_fee),
                money(new_fee),
            )
        for minute, data_fee in ((904, "10.00"), (906, "12.00")):
            world.open_line(
                story,
                kit.moment(visit, minute),
                shop,
                "data",
                plan("data", data_fee),
                money(data_fee),
            )
        world.end_line(story, lines[3], kit.moment(visit, 908), shop)

    kit.on(visit, shop_visit)
    _expect_wrong_letter(kit, story, "disconnect_save", "churn_score")


def wrong_disconnect_letter(kit: Kit) -> None:
    """WRONG_DISCONNECT_LETTER: the contract's story, a winback to a customer who never
    left, a save letter to a customer with no known fee; four near misses."""
    _the_contract_story(kit)

    never_left, (line, _) = kit.customer(kit.cycle()[0], VOICE, DATA)
    kit.agree(never_left, line, kit.first + timedelta(days=2), "VOX-M-18", "18.50")
    _expect_wrong_letter(kit, never_left, "winback", "line_cancelled")

    no_fee, _ = kit.customer(kit.cycle()[0], VOICE)
    _expect_wrong_letter(kit, no_fee, "disconnect_save", "churn_score")

    # Near miss: the customer asked to disconnect.
    asked, _ = kit.customer(kit.cycle()[0], VOICE)
    kit.letter(asked, "disconnect_save", "disconnect_request")

    # Near miss: cancelled a line 20 days ago and lowered the commitment (45.00 -> 35.00).
    lowered, lines = kit.customer(kit.cycle()[0], VOICE, VOICE, DATA)
    for offset, (each, agreed) in enumerate(zip(lines, ("20.00", "15.00", "10.00"), strict=True)):
        kit.agree(
            lowered,
            each,
            kit.first + timedelta(days=1 + offset),
            plan(each.sim.sim_type, agreed),
            agreed,
        )
    kit.end(lowered, lines[2], kit.day(-20))
    kit.letter(lowered, "winback", "line_cancelled")

    # Near miss: a winback to a customer who left 15 days ago.
    left, lines = kit.customer(kit.cycle()[0], VOICE, DATA)
    for minute, each in enumerate(lines):
        kit.end(left, each, kit.day(-15), minute=600 + minute)
    kit.letter(left, "winback", "line_cancelled")

    # Near miss: ported one number out 10 days ago, winback on the port-out request.
    ported, (_, line) = kit.customer(kit.cycle()[0], VOICE, VOICE)
    kit.end(ported, line, kit.day(-10), "port_out")
    kit.letter(ported, "winback", "port_out_request")


def letter_to_departed_customer(kit: Kit) -> None:
    """LETTER_TO_DEPARTED_CUSTOMER: an offer, a reward and a save letter to customers whose
    every line has ended."""
    for days_before, ending, letter_type, trigger, lines in (
        (25, "cancel_line", "contract_end_offer", "contract_ending", (VOICE, DATA)),
        (40, "port_out", "loyalty_reward", "churn_score", (VOICE,)),
        (5, "cancel_line", "disconnect_save", "disconnect_request", (VOICE, VOICE)),
    ):
        customer, made = kit.customer(kit.cycle()[0], *lines)
        for minute, line in enumerate(made):
            kit.end(customer, line, kit.day(-days_before), ending, minute=600 + minute)
        ref = kit.letter(customer, letter_type, trigger)
        kit.expect(_case(LTD, ref, customer))
