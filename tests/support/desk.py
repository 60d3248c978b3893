"""A demo-like desk for route and browser tests: a case store, accounts and a small warehouse."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from pipelines.casestore import accounts as accounts_module
from pipelines.casestore.accounts import Accounts
from pipelines.casestore.store import CaseStore
from pipelines.contract import SOURCE_SPECS
from pipelines.layout import cases_prefix, curated_key, stats_key
from pipelines.storage import parquet_bytes
from pipelines.storage.local import LocalStorage
from pipelines.web.app import create_app
from pipelines.web.config import DeskConfig
from tests.support.cases import det, night

PASSWORD = "correct horse battery"
TODAY = date(2024, 4, 10)
NIGHT1, NIGHT2 = date(2024, 4, 1), date(2024, 4, 2)
PEOPLE = {"alice": "agent", "bob": "agent", "lena": "lead", "audrey": "auditor", "ada": "admin"}
HOSTILE = "<script>alert(1)</script>"

LETTER = det(
    "WRONG_DISCONNECT_LETTER",
    key="L",
    letter_id="L1",
    amount="124.50",
    customer="C1",
    msisdn="447700900001",
    summary="A please-don't-leave letter is queued for a customer who just renewed three lines.",
    evidence=json.dumps(
        {
            "letter": {"letter_id": "L1", "scheduled_send_date": "2024-04-04", "channel": "letter"},
            "active_sims": ["89440000000000000011", "89440000000000000029"],
            "raised_commitment": True,
        }
    ),
)
CHARGE = det(key="a", amount="0.20", customer="C1")
TARIFF = det("TARIFF_MISMATCH", key="t", amount="-7.50", customer="C2", msisdn="447700900002")
SMALL = det("UNKNOWN_SIM_CHARGED", key="u", amount="5.00", customer="=1+1")
HOSTILE_CASE = det(
    "USAGE_AFTER_DEACTIVATION", key="h", amount="3.00", customer=HOSTILE, summary=HOSTILE
)
CASES = (LETTER, CHARGE, TARIFF, SMALL, HOSTILE_CASE)


def fast_hashing() -> None:
    """Cheap argon2 parameters: tests log in many times."""
    accounts_module._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def build_store(url: str) -> None:
    """Two nights of cases and one account per role (password PASSWORD)."""
    fast_hashing()
    with CaseStore(url) as store:
        store.record_night(NIGHT1, night(LETTER, CHARGE, SMALL), "r1")
        store.record_night(NIGHT2, night(LETTER, CHARGE, TARIFF, SMALL, HOSTILE_CASE), "r2")
        accounts = Accounts(store.engine)
        for name, role in PEOPLE.items():
            accounts.add(name, role, PASSWORD)


def _curated(storage: LocalStorage, source: str, day: date, rows: list[dict]) -> None:
    spec = SOURCE_SPECS[source]
    frame = pl.DataFrame(rows, schema=spec.schema) if rows else pl.DataFrame(schema=spec.schema)
    stats = {
        "source": source,
        "business_date": day.isoformat(),
        "files": ["part-0000.csv"],
        "rows_read": len(rows) + (1 if source == "billing_lines" else 0),
        "rows_loaded": len(rows),
        "rows_quarantined": 1 if source == "billing_lines" else 0,
        "manifest": [{"name": "part-0000.csv", "rows": len(rows), "sha256": "ab" * 32}],
    }
    storage.write_bytes(curated_key(source, day), parquet_bytes(frame))
    storage.write_bytes(stats_key(source, day), json.dumps(stats).encode())


def ts(day: int, hour: int = 10) -> datetime:
    return datetime(2024, 3, day, hour, 0, tzinfo=UTC)


def build_warehouse(root: Path) -> LocalStorage:
    """Curated history of customer C1 (a shop visit, an invoice, a letter) and a night."""
    storage = LocalStorage(root)
    base = {"customer_id": "C1", "account_id": "A1", "currency": "GBP", "agent_id": "AG7"}
    visit = [
        {
            **base,
            "transaction_id": f"T{i}",
            "transaction_ts": ts(30, 11),
            "channel": "store",
            "store_id": "LDN01",
            "msisdn": f"44770090000{i}",
            "iccid": f"8944000000000000001{i}",
            "previous_iccid": None,
            "action": action,
            "tariff_code": "UNL" if fee else None,
            "monthly_fee": Decimal(fee) if fee else None,
            "contract_months": 24 if fee else None,
        }
        for i, (action, fee) in enumerate(
            [
                ("renewal", "25.00"),
                ("renewal", "25.00"),
                ("new_line", "10.00"),
                ("cancel_line", None),
            ]
        )
    ]
    visit.append(
        {
            **base,
            "transaction_id": "T9",
            "transaction_ts": ts(12, 9),
            "channel": "telesales",
            "store_id": None,
            "msisdn": "447700900001",
            "iccid": None,
            "previous_iccid": None,
            "action": "handset_sale",
            "tariff_code": None,
            "monthly_fee": None,
            "contract_months": None,
            "agent_id": "TS3",
        }
    )
    _curated(storage, "store_transactions", NIGHT1, visit)
    _curated(storage, "store_transactions", NIGHT2, [])
    sims = [
        {
            "iccid": "89440000000000000011",
            "msisdn": "447700900001",
            "customer_id": "C1",
            "account_id": "A1",
            "sim_type": "voice",
            "status": "active",
            "activated_at": ts(1),
            "deactivated_at": None,
            "status_changed_at": ts(1),
        },
        {
            "iccid": "89440000000000000037",
            "msisdn": "447700900003",
            "customer_id": "C1",
            "account_id": "A1",
            "sim_type": "voice",
            "status": "deactivated",
            "activated_at": ts(1),
            "deactivated_at": ts(30),
            "status_changed_at": ts(30),
        },
    ]
    _curated(storage, "sim_inventory", NIGHT1, sims)
    _curated(storage, "sim_inventory", NIGHT2, sims)
    lines = [
        {
            "line_id": "BL1",
            "bill_run_id": "BR1",
            "invoice_id": "INV1",
            "customer_id": "C1",
            "account_id": "A1",
            "msisdn": "447700900001",
            "iccid": "89440000000000000011",
            "charge_type": "recurring",
            "tariff_code": "UNL",
            "description": "Unlimited plan",
            "period_start": date(2024, 4, 1),
            "period_end": date(2024, 4, 30),
            "amount": Decimal("25.00"),
            "currency": "GBP",
        },
    ]
    _curated(storage, "billing_lines", NIGHT1, lines)
    _curated(storage, "billing_lines", NIGHT2, [])
    letters = [
        {
            "campaign_id": "CMP1",
            "letter_id": "L1",
            "letter_type": "disconnect_save",
            "customer_id": "C1",
            "account_id": "A1",
            "msisdn": "447700900001",
            "trigger_reason": "churn_score",
            "scheduled_send_date": date(2024, 4, 4),
            "channel": "letter",
        },
    ]
    _curated(storage, "retention_campaigns", NIGHT1, [])
    _curated(storage, "retention_campaigns", NIGHT2, letters)
    quarantine = pl.DataFrame(
        {
            "_file": ["part-0000.csv"],
            "_row": [2],
            "_reason": ["amount: not a decimal"],
            "line_id": [HOSTILE],
        }
    )
    storage.write_bytes(
        "quarantine/billing_lines/business_date=2024-04-02/quarantine.parquet",
        parquet_bytes(quarantine),
    )
    for day in (NIGHT1, NIGHT2):
        summary = {
            "business_date": day.isoformat(),
            "run_id": f"run-{day}",
            "contract_version": 1,
            "catalogue_version": 1,
            "started_at": "x",
            "finished_at": "y",
            "sources": {"billing_lines": {"rows_read": 2, "rows_loaded": 1, "rows_quarantined": 1}},
            "cases": {"published": 3, "new": 1, "closed": 0},
        }
        storage.write_bytes(f"{cases_prefix(day)}/summary.json", json.dumps(summary).encode())
        storage.write_bytes(f"{cases_prefix(day)}/report.html", b"<html><body>report</body></html>")
        storage.write_bytes(f"{cases_prefix(day)}/cases.csv", b"case_id\n")
    return storage


def make_client(url: str, warehouse: Path | None = None, **config: object) -> TestClient:
    app = create_app(
        DeskConfig(
            db_url=url,
            warehouse=str(warehouse) if warehouse else None,
            today=TODAY,
            secret_key="test-secret",
            **config,
        )  # type: ignore[arg-type]
    )
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_of(client: TestClient, path: str = "/login") -> str:
    match = CSRF_META.search(client.get(path).text)
    assert match, "page has no csrf-token meta"
    return match.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    token = csrf_of(client)
    response = client.post(
        "/login", data={"username": name, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return csrf_of(client, "/")
