"""The data contract as code: sources, columns, types, enums, keys (contract section 1)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

CONTRACT_VERSION = 1
SOURCES = ("store_transactions", "sim_inventory", "billing_lines", "retention_campaigns")
MONEY_DTYPE = pl.Decimal(18, 2)
TIMESTAMP_DTYPE = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Column:
    """One contract column. `kind` drives parsing and validation."""

    name: str
    kind: str  # string | msisdn | iccid | currency | enum | timestamp | date | money | int
    nullable: bool
    values: tuple[str, ...] = ()

    @property
    def dtype(self) -> pl.DataType:
        """The curated (typed) polars dtype of this column."""
        return {
            "timestamp": TIMESTAMP_DTYPE,
            "date": pl.Date(),
            "money": MONEY_DTYPE,
            "int": pl.Int64(),
        }.get(self.kind, pl.String())


@dataclass(frozen=True)
class Source:
    """One landing source: its columns and its unique key."""

    name: str
    columns: tuple[Column, ...]
    key: str

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}


CHANNELS = ("store", "online", "telesales", "social")
ACTIONS = (
    "new_line",
    "renewal",
    "upgrade",
    "downgrade",
    "sim_swap",
    "handset_sale",
    "cancel_line",
    "port_out",
)
CONTRACT_ACTIONS = ("new_line", "renewal", "upgrade", "downgrade")
SIM_TYPES = ("voice", "data")
SIM_STATUSES = ("in_stock", "active", "suspended", "deactivated", "swapped_out", "lost_stolen")
ACTIVE_STATUSES = ("active", "suspended")
CHARGE_TYPES = ("recurring", "usage", "one_off", "credit")
LETTER_TYPES = ("disconnect_save", "winback", "contract_end_offer", "loyalty_reward")
TRIGGER_REASONS = (
    "disconnect_request",
    "port_out_request",
    "line_cancelled",
    "contract_ending",
    "churn_score",
)
LETTER_CHANNELS = ("letter", "email", "sms")

STORE_TRANSACTIONS = Source(
    "store_transactions",
    (
        Column("transaction_id", "string", False),
        Column("transaction_ts", "timestamp", False),
        Column("channel", "enum", False, CHANNELS),
        Column("store_id", "string", True),
        Column("agent_id", "string", True),
        Column("customer_id", "string", False),
        Column("account_id", "string", False),
        Column("msisdn", "msisdn", False),
        Column("iccid", "iccid", True),
        Column("previous_iccid", "iccid", True),
        Column("action", "enum", False, ACTIONS),
        Column("tariff_code", "string", True),
        Column("monthly_fee", "money", True),
        Column("contract_months", "int", True),
        Column("currency", "currency", True),
    ),
    key="transaction_id",
)

SIM_INVENTORY = Source(
    "sim_inventory",
    (
        Column("iccid", "iccid", False),
        Column("msisdn", "msisdn", True),
        Column("customer_id", "string", True),
        Column("account_id", "string", True),
        Column("sim_type", "enum", False, SIM_TYPES),
        Column("status", "enum", False, SIM_STATUSES),
        Column("activated_at", "timestamp", True),
        Column("deactivated_at", "timestamp", True),
        Column("status_changed_at", "timestamp", False),
    ),
    key="iccid",
)

BILLING_LINES = Source(
    "billing_lines",
    (
        Column("line_id", "string", False),
        Column("bill_run_id", "string", False),
        Column("invoice_id", "string", False),
        Column("customer_id", "string", False),
        Column("account_id", "string", False),
        Column("msisdn", "msisdn", True),
        Column("iccid", "iccid", True),
        Column("charge_type", "enum", False, CHARGE_TYPES),
        Column("tariff_code", "string", True),
        Column("description", "string", True),
        Column("period_start", "date", False),
        Column("period_end", "date", False),
        Column("amount", "money", False),
        Column("currency", "currency", False),
    ),
    key="line_id",
)

RETENTION_CAMPAIGNS = Source(
    "retention_campaigns",
    (
        Column("campaign_id", "string", False),
        Column("letter_id", "string", False),
        Column("letter_type", "enum", False, LETTER_TYPES),
        Column("customer_id", "string", False),
        Column("account_id", "string", True),
        Column("msisdn", "msisdn", True),
        Column("trigger_reason", "enum", False, TRIGGER_REASONS),
        Column("scheduled_send_date", "date", False),
        Column("channel", "enum", False, LETTER_CHANNELS),
    ),
    key="letter_id",
)

SOURCE_SPECS: dict[str, Source] = {
    s.name: s for s in (STORE_TRANSACTIONS, SIM_INVENTORY, BILLING_LINES, RETENTION_CAMPAIGNS)
}
