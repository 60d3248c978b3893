"""Customers with cases of several rules, from what they did in several channels: the
customer record of the desk, and the customer's other cases on a case page, have a story."""

from __future__ import annotations

from decimal import Decimal

from ..ground_truth import Case
from ..money import CURRENCY, money
from ..reference_data import AGENTS, STORES
from ..world import Channel, Customer
from .kit import Kit, Ref, plan

SNP, WDL = "SWAP_NOT_PROVISIONED", "WRONG_DISCONNECT_LETTER"
VOICE = ("voice", "VOX-M-15", "15.00")
DATA = ("data", "DAT-5GB", "5.00")


def several_cases(kit: Kit) -> None:
    """Two customers renew a line (online; in a shop), have its SIM swapped 30 days before
    the last night (by telesales; through social care) with the old SIM left active, and
    are sent a "please don't leave us" letter tonight: a SWAP_NOT_PROVISIONED and a
    WRONG_DISCONNECT_LETTER case each."""
    for renew_in, swap_by in (("online", "telesales"), ("store", "social")):
        _customer_with_two_cases(kit, renew_in, swap_by)


def _customer_with_two_cases(kit: Kit, renew_in: str, swap_by: str) -> None:
    world = kit.world
    customer, (line, _) = kit.customer(kit.cycle()[0], VOICE, DATA)
    renewed, swapped = kit.day(-50), kit.day(-30)
    renew = Channel(
        renew_in,
        world.rng.choice(STORES) if renew_in == "store" else None,
        None if renew_in == "online" else world.rng.choice(AGENTS),
    )
    swap = Channel(swap_by, None, world.rng.choice(AGENTS))
    swap_id = Ref()

    def renewal() -> None:
        fee = "17.50"
        world.agree(
            customer, line, kit.moment(renewed), "renewal", renew, plan("voice", fee), money(fee)
        )

    def unprovisioned_swap() -> None:
        swap_id.value = world.swap_sim(
            customer, line, kit.moment(swapped, 660), swap, old_status="active"
        )

    kit.on(renewed, renewal)
    kit.on(swapped, unprovisioned_swap)
    letter = kit.letter(customer, "disconnect_save", "churn_score")
    kit.expect(
        lambda: [
            Case(SNP, (swap_id.value,), customer.customer_id),
            _wrong_letter(kit, customer, letter.value),
        ]
    )


def _wrong_letter(kit: Kit, customer: Customer, letter_id: str) -> Case:
    """The letter's case: the agreed fees of the numbers of the customer's active SIMs (the
    swapped line counts once, though its old SIM is still active too)."""
    lines = {id(s.line): s.line for s in customer.sims if s.active and s.line}
    fees = [f for f in (ln.agreed_fee(kit.last) for ln in lines.values()) if f is not None]
    return Case(WDL, (letter_id,), customer.customer_id, sum(fees, Decimal(0)), CURRENCY)
