"""The cases the engine must find on the last night, from the plants' own bookkeeping."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from pipelines.catalogue import RULE_SPECS, case_id, key_text

from .money import CURRENCY, money_text


@dataclass(frozen=True)
class Case:
    """One expected case: key values in the rule's key order, amount exact to the cent."""

    rule_id: str
    key: tuple[object, ...]
    customer_id: str
    amount: Decimal | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        assert len(self.key) == len(RULE_SPECS[self.rule_id].key), self

    @classmethod
    def priced(
        cls, rule_id: str, key: tuple[object, ...], customer_id: str, amount: Decimal
    ) -> Case:
        """A case whose amount at risk is in the world's currency."""
        return cls(rule_id, key, customer_id, amount, CURRENCY)

    @property
    def case_id(self) -> str:
        return case_id(self.rule_id, self.key)

    def as_json(self) -> dict[str, object]:
        names = RULE_SPECS[self.rule_id].key
        return {
            "case_id": self.case_id,
            "rule_id": self.rule_id,
            "key": {name: key_text(value) for name, value in zip(names, self.key, strict=True)},
            "amount_at_risk": None if self.amount is None else money_text(self.amount),
            "currency": self.currency,
            "customer_id": self.customer_id,
        }


def write_ground_truth(path: Path, business_date: date, cases: list[Case]) -> None:
    """`_ground_truth.json`: the last business date and its cases, sorted by case_id."""
    ids = [c.case_id for c in cases]
    assert len(set(ids)) == len(ids), "two plants produced the same case"
    body = {
        "business_date": business_date.isoformat(),
        "cases": [c.as_json() for c in sorted(cases, key=lambda c: c.case_id)],
    }
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
