"""One customer across channels, from the curated history in the warehouse.

Every read is a lazy polars scan of the curated partitions (pipelines.ingest readers, local
or S3) filtered by customer_id before anything is collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from pipelines.ingest.warehouse import curated_dates, history, snapshot
from pipelines.storage import Storage

RECENT_INVOICES = 6
MAX_ROWS = 500
HISTORIES = ("store_transactions", "billing_lines", "retention_campaigns")


@dataclass
class CustomerRecord:
    customer_id: str
    as_of: date | None
    transactions: list[dict[str, Any]] = field(default_factory=list)
    sims: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)  # each with its "lines"
    letters: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.transactions or self.sims or self.invoices or self.letters)


def _latest(warehouse: Storage, source: str) -> date | None:
    dates = curated_dates(warehouse, source)
    return dates[-1] if dates else None


def read_customer(warehouse: Storage, customer_id: str) -> CustomerRecord:
    """The customer's transactions, SIMs (latest snapshot), recent invoices and letters,
    the four scans collected together so that polars runs them side by side."""
    as_of = _latest(warehouse, "sim_inventory")
    record = CustomerRecord(customer_id, as_of)
    mine = pl.col("customer_id") == customer_id
    latest = {s: _latest(warehouse, s) for s in HISTORIES}
    scans: dict[str, pl.LazyFrame] = {}
    if latest["store_transactions"]:
        scans["transactions"] = (
            history(warehouse, "store_transactions", latest["store_transactions"])
            .filter(mine)
            .sort("transaction_ts", "transaction_id", descending=True)
            .head(MAX_ROWS)
        )
    if as_of:
        scans["sims"] = (
            snapshot(warehouse, "sim_inventory", as_of)
            .filter(mine)
            .sort("status", "iccid")
            .head(MAX_ROWS)
        )
    if latest["billing_lines"]:
        scans["lines"] = history(warehouse, "billing_lines", latest["billing_lines"]).filter(mine)
    if latest["retention_campaigns"]:
        scans["letters"] = (
            history(warehouse, "retention_campaigns", latest["retention_campaigns"])
            .filter(mine)
            .sort("business_date", "letter_id", descending=True)
            .head(MAX_ROWS)
        )
    frames = dict(zip(scans, pl.collect_all(list(scans.values())), strict=True))
    record.transactions = _dicts(frames.get("transactions"))
    record.sims = _dicts(frames.get("sims"))
    record.letters = _dicts(frames.get("letters"))
    if "lines" in frames:
        record.invoices = _invoices(frames["lines"])
    record.timeline = _timeline(record)
    return record


def _dicts(frame: pl.DataFrame | None) -> list[dict[str, Any]]:
    return [] if frame is None else frame.to_dicts()


def _invoices(lines: pl.DataFrame) -> list[dict[str, Any]]:
    """The most recent invoices (by bill run date), each with its lines and totals."""
    if lines.is_empty():
        return []
    heads = (
        lines.group_by("invoice_id")
        .agg(
            pl.col("business_date").max().alias("billed_on"),
            pl.col("bill_run_id").first(),
            pl.col("account_id").first(),
            pl.col("period_start").min(),
            pl.col("period_end").max(),
            pl.len().alias("line_count"),
        )
        .sort("billed_on", "invoice_id", descending=True)
        .head(RECENT_INVOICES)
    )
    invoices = heads.to_dicts()
    for invoice in invoices:
        mine = lines.filter(pl.col("invoice_id") == invoice["invoice_id"]).sort("line_id")
        invoice["lines"] = mine.to_dicts()
        totals = mine.group_by("currency").agg(pl.col("amount").sum()).sort("currency")
        invoice["totals"] = [(c, a) for c, a in totals.iter_rows()]
    return invoices


def _timeline(record: CustomerRecord) -> list[dict[str, Any]]:
    """Transactions, letters and invoices in one list, newest first."""
    events: list[dict[str, Any]] = []
    for t in record.transactions:
        where = t["channel"] + (f" {t['store_id']}" if t.get("store_id") else "")
        detail = t["action"].replace("_", " ")
        if t.get("tariff_code"):
            detail += f", tariff {t['tariff_code']}"
        if t.get("monthly_fee") is not None:
            detail += f", {t['monthly_fee']} {t.get('currency') or ''}/month".rstrip()
        events.append(
            {
                "when": t["transaction_ts"],
                "day": t["transaction_ts"].date(),
                "kind": "transaction",
                "channel": where,
                "agent": t.get("agent_id"),
                "line": t.get("msisdn"),
                "detail": detail,
                "ref": t["transaction_id"],
            }
        )
    for letter in record.letters:
        events.append(
            {
                "when": None,
                "day": letter["business_date"],
                "kind": "letter queued",
                "channel": letter["channel"],
                "agent": None,
                "line": letter.get("msisdn"),
                "detail": f"{letter['letter_type'].replace('_', ' ')} "
                f"({letter['trigger_reason'].replace('_', ' ')}), "
                f"to be sent {letter['scheduled_send_date']}",
                "ref": letter["letter_id"],
            }
        )
    for invoice in record.invoices:
        total = ", ".join(f"{a} {c}" for c, a in invoice["totals"])
        events.append(
            {
                "when": None,
                "day": invoice["billed_on"],
                "kind": "invoice",
                "channel": "billing",
                "agent": None,
                "line": None,
                "detail": f"{_lines(invoice['line_count'])}, {total}",
                "ref": invoice["invoice_id"],
            }
        )
    return sorted(
        events, key=lambda e: (e["day"], e["when"] is not None, str(e["when"])), reverse=True
    )


def _lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"
