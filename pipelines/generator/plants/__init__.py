"""Planted discrepancies: dedicated customers that make each rule fire on the last night
(at least twice, with varied amounts), and near misses that must not fire."""

from __future__ import annotations

from ..world import World
from .billing_rules import (
    charge_after_deactivation,
    duplicate_recurring_charge,
    tariff_mismatch,
    unbilled_active_line,
    unknown_sim_charged,
    usage_after_deactivation,
)
from .crm_rules import letter_to_departed_customer, swap_not_provisioned, wrong_disconnect_letter
from .kit import Kit
from .several_cases import several_cases

PLANTS = (
    charge_after_deactivation,
    usage_after_deactivation,
    duplicate_recurring_charge,
    unbilled_active_line,
    tariff_mismatch,
    unknown_sim_charged,
    swap_not_provisioned,
    wrong_disconnect_letter,
    letter_to_departed_customer,
    several_cases,
)


def plant_all(world: World, usual_bill_days: list[int]) -> Kit:
    """Create every planted customer and schedule what happens to them."""
    kit = Kit(world, usual_bill_days)
    for plant in PLANTS:
        plant(kit)
    return kit
