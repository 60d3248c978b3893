"""Rule catalogue v1 (contract section 2) and the case identity and layout (section 3)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

CATALOGUE_VERSION = 1


@dataclass(frozen=True)
class RuleSpec:
    """What the catalogue says of a rule: severity, case key, and whether it re-judges history."""

    rule_id: str
    severity: str
    key: tuple[str, ...]
    rejudges_history: bool


RULE_SPECS: dict[str, RuleSpec] = {
    r.rule_id: r
    for r in (
        RuleSpec("CHARGE_AFTER_DEACTIVATION", "high", ("iccid", "period_start"), True),
        RuleSpec("USAGE_AFTER_DEACTIVATION", "high", ("iccid", "period_start"), True),
        RuleSpec("DUPLICATE_RECURRING_CHARGE", "high", ("iccid", "period_start"), True),
        RuleSpec("UNBILLED_ACTIVE_LINE", "medium", ("iccid", "period_start"), False),
        RuleSpec("TARIFF_MISMATCH", "medium", ("msisdn", "period_start"), True),
        RuleSpec("UNKNOWN_SIM_CHARGED", "medium", ("iccid", "invoice_id"), True),
        RuleSpec("SWAP_NOT_PROVISIONED", "medium", ("transaction_id",), True),
        RuleSpec("WRONG_DISCONNECT_LETTER", "critical", ("letter_id",), False),
        RuleSpec("LETTER_TO_DEPARTED_CUSTOMER", "low", ("letter_id",), False),
    )
}

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# Days a person has to work a case of each severity (the desk's due dates; RECON_SLA_DAYS).
DEFAULT_SLA_DAYS = {"critical": 1, "high": 3, "medium": 5, "low": 10}

# The published columns, in contract order (section 3).
CASE_COLUMNS = (
    "case_id",
    "rule_id",
    "severity",
    "business_date",
    "customer_id",
    "account_id",
    "msisdn",
    "iccid",
    "invoice_id",
    "transaction_id",
    "letter_id",
    "period_start",
    "period_end",
    "amount_at_risk",
    "currency",
    "status",
    "first_seen",
    "last_seen",
    "summary",
    "evidence",
)

# What a rule produces for each case, before the case store adds status and dates.
DETECTION_COLUMNS = (
    "case_id",
    "rule_id",
    "severity",
    "customer_id",
    "account_id",
    "msisdn",
    "iccid",
    "invoice_id",
    "transaction_id",
    "letter_id",
    "period_start",
    "period_end",
    "amount_at_risk",
    "currency",
    "summary",
    "evidence",
    "amount_kind",
)

# Statuses people set, and `withdrawn`, set by a rerun of the latest night to a case that
# only the night's earlier run raised (contract section 3).
PERSON_STATUSES = ("open", "acknowledged", "resolved", "false_positive")
WITHDRAWN = "withdrawn"
STATUSES = (*PERSON_STATUSES, WITHDRAWN)
# Cases still being worked: they age, can be auto-closed, and fill the queue.
OPEN_STATUSES = ("open", "acknowledged")
# The statuses a person sets that need a note saying why.
NOTE_REQUIRED_STATUSES = ("resolved", "false_positive")
# What kind of money amount_at_risk is (contract section 3); null when the amount is null.
AMOUNT_KINDS = ("refund_due", "revenue_leakage", "misbilled", "revenue_at_risk")
# The kind of each rule's amounts; TARIFF_MISMATCH's depends on the sign (amount_kind).
RULE_KINDS = {
    "CHARGE_AFTER_DEACTIVATION": "refund_due",
    "USAGE_AFTER_DEACTIVATION": "refund_due",
    "DUPLICATE_RECURRING_CHARGE": "refund_due",
    "TARIFF_MISMATCH": "refund_due",
    "UNBILLED_ACTIVE_LINE": "revenue_leakage",
    "UNKNOWN_SIM_CHARGED": "misbilled",
    "WRONG_DISCONNECT_LETTER": "revenue_at_risk",
}
SIGNED_RULE = "TARIFF_MISMATCH"  # negative = undercharged = revenue_leakage
# Published after CASE_COLUMNS (contract section 3: more columns may follow the twenty).
PUBLISHED_COLUMNS = (*CASE_COLUMNS, "amount_kind")
NO_LONGER_DETECTED = "no_longer_detected"


def key_text(value: object) -> str:
    """How a key value enters the case id: dates ISO, nulls empty, everything else as str."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def case_id(rule_id: str, key_values: list[object] | tuple[object, ...]) -> str:
    """First 16 hex digits of SHA-256 of the rule id and key values joined with '|'."""
    text = "|".join([rule_id, *(key_text(v) for v in key_values)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def amount_kind(rule_id: str, amount: Decimal | None) -> str | None:
    """The kind of a case's amount (contract section 3); None when it has no amount."""
    if amount is None or rule_id not in RULE_KINDS:
        return None
    if rule_id == SIGNED_RULE and amount < 0:
        return "revenue_leakage"
    return RULE_KINDS[rule_id]


def total_value(kind: str | None, amount: Decimal) -> Decimal:
    """What an amount adds to its kind's total: revenue leakage counts as its absolute
    value (an undercharge of -4.48 is 4.48 of leakage); every other kind as it is."""
    return abs(amount) if kind == "revenue_leakage" else amount
