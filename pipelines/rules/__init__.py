"""The nine rules of catalogue v1, one module each, and `evaluate` to run them all."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from pipelines.rules import (
    charge_after_deactivation,
    duplicate_recurring_charge,
    letter_to_departed_customer,
    swap_not_provisioned,
    tariff_mismatch,
    unbilled_active_line,
    unknown_sim_charged,
    usage_after_deactivation,
    wrong_disconnect_letter,
)
from pipelines.rules.detections import empty_detections
from pipelines.rules.inputs import NightInputs

RULES: dict[str, Callable[[NightInputs], pl.DataFrame]] = {
    m.RULE_ID: m.detect
    for m in (
        charge_after_deactivation,
        usage_after_deactivation,
        duplicate_recurring_charge,
        unbilled_active_line,
        tariff_mismatch,
        unknown_sim_charged,
        swap_not_provisioned,
        wrong_disconnect_letter,
        letter_to_departed_customer,
    )
}


def evaluate(night: NightInputs, rules: list[str] | None = None) -> pl.DataFrame:
    """Every rule's detections for the night, sorted by rule and case id."""
    frames = [RULES[r](night) for r in (rules or RULES)]
    return pl.concat([empty_detections(), *frames]).sort("rule_id", "case_id")


__all__ = ["RULES", "NightInputs", "evaluate"]
