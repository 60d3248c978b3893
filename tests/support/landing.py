"""Landing-zone rows and partitions, built by hand for ingest and CLI tests."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl


def luhn_complete(body: str) -> str:
    """`body` followed by its Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str(-total % 10)


ICCID_1 = luhn_complete("894410000000000001")


ICCID_2 = luhn_complete("8944100000000000002")


ICCID_3 = luhn_complete("894410000000000003")


def data_rows(name: str, data: bytes) -> int:
    if name.endswith(".parquet"):
        return pl.read_parquet(io.BytesIO(data)).height
    return len(list(csv.reader(io.StringIO(data.decode(errors="replace"))))) - 1


BD = date(2024, 4, 1)


def billing_row(**changes: str | None) -> dict[str, str | None]:
    row = {
        "line_id": "L1",
        "bill_run_id": "BR1",
        "invoice_id": "INV1",
        "customer_id": "C1",
        "account_id": "A1",
        "msisdn": "447700900123",
        "iccid": ICCID_1,
        "charge_type": "recurring",
        "tariff_code": "T20",
        "description": "Monthly plan",
        "period_start": "2024-04-01",
        "period_end": "2024-04-30",
        "amount": "20.00",
        "currency": "GBP",
    }
    return {**row, **changes}


def store_row(**changes: str | None) -> dict[str, str | None]:
    row = {
        "transaction_id": "T1",
        "transaction_ts": "2024-04-01T11:42:07Z",
        "channel": "store",
        "store_id": "S1",
        "agent_id": "AG1",
        "customer_id": "C1",
        "account_id": "A1",
        "msisdn": "447700900123",
        "iccid": ICCID_1,
        "previous_iccid": None,
        "action": "renewal",
        "tariff_code": "T20",
        "monthly_fee": "20.00",
        "contract_months": "24",
        "currency": "GBP",
    }
    return {**row, **changes}


def inventory_row(**changes: str | None) -> dict[str, str | None]:
    row = {
        "iccid": ICCID_1,
        "msisdn": "447700900123",
        "customer_id": "C1",
        "account_id": "A1",
        "sim_type": "voice",
        "status": "active",
        "activated_at": "2023-01-05T09:00:00Z",
        "deactivated_at": None,
        "status_changed_at": "2023-01-05T09:00:00Z",
    }
    return {**row, **changes}


def letter_row(**changes: str | None) -> dict[str, str | None]:
    row = {
        "campaign_id": "CP1",
        "letter_id": "LT1",
        "letter_type": "winback",
        "customer_id": "C1",
        "account_id": "A1",
        "msisdn": "447700900123",
        "trigger_reason": "churn_score",
        "scheduled_send_date": "2024-04-03",
        "channel": "letter",
    }
    return {**row, **changes}


ROW_BUILDERS = {
    "billing_lines": billing_row,
    "store_transactions": store_row,
    "sim_inventory": inventory_row,
    "retention_campaigns": letter_row,
}


def csv_bytes(rows: list[dict[str, str | None]], columns: list[str] | None = None) -> bytes:
    """RFC 4180 CSV; None is written as an empty field."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = columns or list(rows[0])
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return buf.getvalue().encode()


def land(
    root: Path,
    source: str,
    parts: dict[str, bytes],
    business_date: date = BD,
    manifest: dict[str, object] | None = None,
) -> Path:
    """Write a partition of part files and a matching manifest (but for `manifest` changes)."""
    folder = root / "landing" / source / f"business_date={business_date.isoformat()}"
    folder.mkdir(parents=True)
    for name, data in parts.items():
        (folder / name).write_bytes(data)
    content = {
        "source": source,
        "business_date": business_date.isoformat(),
        "contract_version": 1,
        **(manifest or {}),
    }
    if "files" not in content:
        content["files"] = [
            {"name": n, "rows": data_rows(n, d), "sha256": hashlib.sha256(d).hexdigest()}
            for n, d in parts.items()
        ]
    (folder / "_manifest.json").write_text(json.dumps(content))
    return folder


def land_rows(
    root: Path,
    source: str,
    *rows: dict[str, str | None],
    business_date: date = BD,
    manifest: dict[str, object] | None = None,
) -> Path:
    """A partition of one CSV part holding `rows`."""
    return land(root, source, {"part-0000.csv": csv_bytes(list(rows))}, business_date, manifest)


PREFIX = "billing_lines/business_date=2024-04-01"


def land_night(root, day=BD, **rows):
    """All four sources for `day`; `rows` overrides a source's rows."""
    for source, build in ROW_BUILDERS.items():
        night_rows = rows.get(source, [build()])
        if source == "store_transactions":
            night_rows = [
                r | {"transaction_ts": f"{day}T10:00:00Z", "transaction_id": f"T{day}"}
                for r in night_rows
            ]
        if source == "retention_campaigns":
            night_rows = [
                r
                | {
                    "scheduled_send_date": str(day + timedelta(days=3)),
                    "letter_id": f"LT{day}",
                    "letter_type": "loyalty_reward",
                }
                for r in night_rows
            ]
        if source == "billing_lines":
            night_rows = [r | {"line_id": f"{r['line_id']}-{day}"} for r in night_rows]
        land_rows(root, source, *night_rows, business_date=day)
