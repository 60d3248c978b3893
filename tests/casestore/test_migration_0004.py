"""Migration 0004: amount_kind backfilled on a 0003 store's cases, the recoveries table."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from pipelines.casestore import migrate
from pipelines.casestore.schema import metadata
from pipelines.casestore.store import CaseStore
from tests.support.schema import schema_differences

# (case_id, rule_id, amount) -> the kind the migration must give it.
ROWS = [
    ("c1", "CHARGE_AFTER_DEACTIVATION", "12.00", "refund_due"),
    ("c2", "TARIFF_MISMATCH", "-4.48", "revenue_leakage"),
    ("c3", "TARIFF_MISMATCH", "3.00", "refund_due"),
    ("c4", "UNBILLED_ACTIVE_LINE", "9.99", "revenue_leakage"),
    ("c5", "UNBILLED_ACTIVE_LINE", None, None),  # no known fee: not priced, no kind
    ("c6", "UNKNOWN_SIM_CHARGED", "-5.00", "misbilled"),
    ("c7", "WRONG_DISCONNECT_LETTER", "124.50", "revenue_at_risk"),
    ("c8", "SWAP_NOT_PROVISIONED", None, None),
    ("c9", "LETTER_TO_DEPARTED_CUSTOMER", None, None),
    ("c10", "DUPLICATE_RECURRING_CHARGE", "0.50", "refund_due"),
    ("c11", "USAGE_AFTER_DEACTIVATION", "1.25", "refund_due"),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'recon.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_a_0003_store_with_cases_gets_their_amount_kinds(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(migrate._config(conn), "0003_withdrawn_status")
            for cid, rule, amount, _ in ROWS:
                conn.execute(
                    text(
                        "INSERT INTO cases (case_id, rule_id, severity, amount_at_risk, currency,"
                        " status, first_seen, last_seen, times_seen, updated_at) VALUES (:id,"
                        " :rule, 'medium', :amount, 'GBP', 'open', '2024-04-01', '2024-04-01', 1,"
                        " '2024-04-01 00:00:00+00:00')"
                    ),
                    {"id": cid, "rule": rule, "amount": amount},
                )
    finally:
        engine.dispose()
    assert migrate.upgrade(url) == ("0003_withdrawn_status", migrate.head())
    assert schema_differences(url, metadata) == []
    with CaseStore(url) as store:
        got = {c["case_id"]: (c["amount_kind"], c["amount_at_risk"]) for c in store.list_cases()}
    for cid, _, amount, kind in ROWS:
        assert got[cid][0] == kind, cid
        assert (None if got[cid][1] is None else str(got[cid][1])) == amount  # untouched


def test_the_migration_goes_back_to_0003(url: str) -> None:
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(migrate._config(conn), "0003_withdrawn_status")
        found = inspect(engine)
        assert "recoveries" not in found.get_table_names()
        assert "amount_kind" not in {c["name"] for c in found.get_columns("cases")}
    finally:
        engine.dispose()
    assert migrate.current(url) == "0003_withdrawn_status"
