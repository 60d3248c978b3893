"""Trends of the case store: open cases per night by severity, new against closed, ageing,
open amounts per currency (absolute)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pipelines.casestore import CaseStore
from pipelines.casestore.trends import read_trends, trends_of
from tests.support.cases import D1, D2, D3, D4, Runs, det

NIGHTS = [date(2024, 1, d) for d in range(1, 6)]


def case(
    severity="high",
    status="open",
    first=1,
    closed=None,
    decided=None,
    amount="10.00",
    resolution=None,
    currency="GBP",
):
    return {
        "severity": severity,
        "status": status,
        "resolution": resolution,
        "first_seen": date(2024, 1, first),
        "closed_on": None if closed is None else date(2024, 1, closed),
        "decided_on": None if decided is None else date(2024, 1, decided),
        "amount_at_risk": None if amount is None else Decimal(amount),
        "currency": currency if amount is not None else None,
    }


def per_night(rows, severity):
    return [r["cases"] for r in rows if r["severity"] == severity]


def test_a_case_is_open_from_its_first_night_until_it_closes():
    recovered = case(
        "low", "resolved", first=2, closed=4, resolution="no_longer_detected", amount="-5.00"
    )
    decided = case("medium", "false_positive", first=1, decided=3, resolution="false_positive")
    trends = trends_of(NIGHTS, [case(), recovered, decided])
    assert per_night(trends.open_by_severity, "high") == [1, 1, 1, 1, 1]
    assert per_night(trends.open_by_severity, "low") == [0, 1, 1, 0, 0]
    assert per_night(trends.open_by_severity, "medium") == [1, 1, 0, 0, 0]
    assert [(r["new"], r["closed"]) for r in trends.new_and_closed] == [
        (2, 0),
        (1, 0),
        (0, 1),
        (0, 1),
        (0, 0),
    ]
    # The undercharge counts by its absolute amount; amounts are exact Decimals.
    assert [r["amount"] for r in trends.money] == [
        Decimal("20.00"),
        Decimal("25.00"),
        Decimal("15.00"),
        Decimal("10.00"),
        Decimal("10.00"),
    ]
    assert {r["kind"] for r in trends.money} == {None}


def test_currencies_are_never_added_and_unpriced_cases_add_no_money():
    trends = trends_of(NIGHTS, [case(), case(currency="EUR", amount="3.00"), case(amount=None)])
    by_currency = {(r["currency"], r["night"]): r["amount"] for r in trends.money}
    assert by_currency[("GBP", NIGHTS[0])] == Decimal("10.00")
    assert by_currency[("EUR", NIGHTS[0])] == Decimal("3.00")
    assert per_night(trends.open_by_severity, "high")[0] == 3


def test_ageing_counts_open_cases_on_the_last_night_by_bucket():
    nights = [date(2024, 1, 1), date(2024, 4, 30)]
    rows = [
        {**case(), "first_seen": date(2024, 4, 23)},  # 7 days
        {**case(), "first_seen": date(2024, 4, 22)},  # 8 days
        {**case(severity="low"), "first_seen": date(2024, 1, 1)},  # 120 days
        {**case(status="resolved", decided=1), "first_seen": date(2024, 1, 1)},  # closed
    ]
    assert trends_of(nights, rows).ageing == [
        {"bucket": "0-7 days", "severity": "high", "cases": 1},
        {"bucket": "8-30 days", "severity": "high", "cases": 1},
        {"bucket": "over 90 days", "severity": "low", "cases": 1},
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'cases.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    with CaseStore(url) as s:
        yield s


def test_read_trends_from_a_store(store):
    runs = Runs(store)
    runs(D1, det(key="a"), det(key="b"))
    runs(D2, det(key="a"))
    runs(D3, det(key="a"))
    runs(D4, det(key="a"))
    trends = read_trends(store.engine)
    assert trends.nights == [D1, D2, D3, D4]
    assert per_night(trends.open_by_severity, "high") == [2, 1, 1, 1]
    assert [(r["new"], r["closed"]) for r in trends.new_and_closed] == [
        (2, 0),
        (0, 1),
        (0, 0),
        (0, 0),
    ]


def test_trends_as_of_a_night_leave_out_what_came_after_it(store):
    """A night's report draws the store as it stood that night: rerun later, it is the same."""
    runs = Runs(store)
    runs(D1, det(key="a"), det(key="b"))
    runs(D2, det(key="a"))  # b closes on D2
    runs(D3, det(key="a"), det(key="c"))  # c is new on D3
    then = read_trends(store.engine, as_of=D1)
    assert then.nights == [D1]
    assert per_night(then.open_by_severity, "high") == [2]
    assert [(r["new"], r["closed"]) for r in then.new_and_closed] == [(2, 0)]
    assert sum(r["cases"] for r in then.ageing) == 2
    later = read_trends(store.engine, as_of=D2)
    assert per_night(later.open_by_severity, "high") == [2, 1]
