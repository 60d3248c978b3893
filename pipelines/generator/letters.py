"""Organic retention letters, and the commitment reading that keeps them legitimate."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from pipelines.contract import CONTRACT_ACTIONS

from .world import ENDING_ACTIONS, Customer, World

WINDOW_DAYS = 60
# Nightly chance, per active customer, of each letter.
CONTRACT_END_OFFER, LOYALTY_REWARD, DISCONNECT_SAVE = 0.004, 0.003, 0.0015


def window_start(day: date) -> date:
    return day - timedelta(days=WINDOW_DAYS - 1)


def ended_a_line_lately(customer: Customer, day: date) -> bool:
    """A cancel_line or port_out in the 60 days up to `day`."""
    first = window_start(day)
    return any(first <= a.day <= day and a.action in ENDING_ACTIONS for a in customer.actions)


def raised_commitment(customer: Customer, day: date) -> bool:
    """Whether the monthly fees the customer is committed to grew over the 60-day window.

    Per number: before = fee of its latest contract action before the window (0 if none);
    after = 0 if its latest action is a cancel or port out, else the fee of its latest
    contract action up to `day` (0 if none).
    """
    first = window_start(day)
    before: dict[str, Decimal] = {}
    after: dict[str, Decimal] = {}
    last_action: dict[str, str] = {}
    for a in customer.actions:  # chronological
        if a.day > day:
            break
        if a.action in CONTRACT_ACTIONS:
            after[a.msisdn] = a.fee or Decimal(0)
            if a.day < first:
                before[a.msisdn] = a.fee or Decimal(0)
        last_action[a.msisdn] = a.action
    total_after = sum(
        (after.get(m, Decimal(0)) for m, act in last_action.items() if act not in ENDING_ACTIONS),
        Decimal(0),
    )
    return total_after > sum(before.values(), Decimal(0))


def organic_letters(world: World) -> None:
    """Tonight's letters to organic customers, none of which breaks a rule.

    Offers and loyalty rewards go to customers with an active SIM; save letters only to
    those who asked to leave; winbacks to departed customers, to those who ported a number
    out, or to those who cancelled a line lately without raising their commitment.
    """
    day, rng = world.day, world.rng
    for customer in world.customers:
        if customer.planted:
            continue
        active = customer.has_active_sim()
        if customer.winback and customer.winback[0] == day:
            trigger = customer.winback[1]
            customer.winback = None
            if (
                not active
                or trigger == "port_out_request"
                or (ended_a_line_lately(customer, day) and not raised_commitment(customer, day))
            ):
                world.queue_letter(customer, "winback", trigger)
        if not active:
            continue
        draw = rng.random()
        if draw < CONTRACT_END_OFFER:
            line = rng.choice(customer.open_lines())
            world.queue_letter(customer, "contract_end_offer", "contract_ending", line.msisdn)
        elif draw < CONTRACT_END_OFFER + LOYALTY_REWARD:
            world.queue_letter(customer, "loyalty_reward", "churn_score")
        elif draw < CONTRACT_END_OFFER + LOYALTY_REWARD + DISCONNECT_SAVE:
            world.queue_letter(customer, "disconnect_save", "disconnect_request")
