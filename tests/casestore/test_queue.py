"""The queue's SQL: due dates, ages, absolute amounts and facet counts, on both dialects."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.casestore.queue import Queue, QueueFilter
from pipelines.casestore.store import CaseStore
from pipelines.settings import ConfigError, parse_sla
from tests.support.desk import CHARGE, LETTER, NIGHT1, SMALL, TARIFF, build_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    url = (
        f"sqlite:///{tmp_path / 'cases.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    build_store(url)
    with CaseStore(url) as s:
        yield s


def due(store: CaseStore, case_id: str, sla: dict[str, int] | None = None) -> dict:
    return Queue(store.engine, sla, today=date(2024, 4, 3)).due_of(case_id)


def test_due_dates_follow_the_service_level_and_the_letters_send_date(store: CaseStore) -> None:
    # LETTER: critical, first seen 04-01, letter to be sent 04-04
    assert due(store, LETTER["case_id"])["due_on"] == date(2024, 4, 2)  # 1 day: sooner
    assert due(store, LETTER["case_id"], parse_sla("critical=5"))["due_on"] == date(2024, 4, 3)
    assert due(store, CHARGE["case_id"])["due_on"] == date(2024, 4, 4)  # high: 3 days
    assert due(store, SMALL["case_id"], parse_sla("medium=0"))["due_on"] == NIGHT1
    assert due(store, TARIFF["case_id"])["due_on"] == date(2024, 4, 7)  # first seen 04-02
    assert due(store, LETTER["case_id"])["overdue"] is True
    assert due(store, CHARGE["case_id"])["overdue"] is False


def test_closed_cases_stop_ageing(store: CaseStore) -> None:
    queue = Queue(store.engine, today=date(2030, 1, 1))
    store.set_status(CHARGE["case_id"], "resolved", "alice", "credited")
    decided = date.today()
    assert queue.due_of(CHARGE["case_id"])["age_days"] == (decided - NIGHT1).days
    assert queue.due_of(SMALL["case_id"])["age_days"] == (date(2030, 1, 1) - NIGHT1).days
    store.set_status(CHARGE["case_id"], "open", "alice", "reopened")
    assert queue.due_of(CHARGE["case_id"])["age_days"] == (date(2030, 1, 1) - NIGHT1).days


def test_amount_bounds_are_absolute_and_exact(store: CaseStore) -> None:
    queue = Queue(store.engine, today=date(2024, 4, 3))

    def ids(**bounds: Decimal) -> set[str]:
        page = queue.page(QueueFilter(owner="anyone", **bounds), None, with_counts=False)
        return {r["case_id"] for r in page.rows}

    assert ids(min_amount=Decimal("7.50")) == {LETTER["case_id"], TARIFF["case_id"]}
    assert ids(min_amount=Decimal("7.51"), max_amount=Decimal("124.49")) == set()
    assert ids(max_amount=Decimal("0.20")) == {CHARGE["case_id"]}
    with pytest.raises(ValueError, match="non-negative"):
        QueueFilter(min_amount=Decimal("NaN"))


def test_sla_setting_is_checked() -> None:
    assert parse_sla(None)["low"] == 10
    assert parse_sla(" high = 2 ")["high"] == 2
    for bad in ("urgent=1", "high=soon", "high"):
        with pytest.raises(ConfigError, match="RECON_SLA_DAYS"):
            parse_sla(bad)


def test_the_amount_kind_filters_and_is_counted(store: CaseStore) -> None:
    queue = Queue(store.engine, today=date(2024, 4, 3))
    leakage = QueueFilter(owner="anyone", amount_kinds=("revenue_leakage",))
    page = queue.page(leakage, None, with_counts=False)
    assert [r["case_id"] for r in page.rows] == [TARIFF["case_id"]]  # an undercharge
    assert page.rows[0]["amount_kind"] == "revenue_leakage"
    counts = queue.counts(QueueFilter(owner="anyone"), None)["amount_kind"]
    assert counts == {"revenue_at_risk": 1, "refund_due": 2, "revenue_leakage": 1, "misbilled": 1}
