"""Calendar arithmetic for bill cycles and charge periods, and the contract's date formats."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

ONE_DAY = timedelta(days=1)


def add_months(day: date, months: int) -> date:
    """`day` plus calendar months, clipped to the target month's last day (SQL semantics)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def is_full_period(start: date, end: date) -> bool:
    """The contract's full period: end = start + 1 calendar month - 1 day."""
    return end == add_months(start, 1) - ONE_DAY


def run_date(year: int, month: int, bill_day: int) -> date:
    """The bill run of a cycle in a month: its bill day, clipped to the month's last day."""
    return date(year, month, min(bill_day, calendar.monthrange(year, month)[1]))


def prev_run(day: date, bill_day: int) -> date:
    """The cycle's bill run in the month before `day`'s month."""
    first = add_months(day.replace(day=1), -1)
    return run_date(first.year, first.month, bill_day)


def next_run(day: date, bill_day: int) -> date:
    """The cycle's bill run in the month after `day`'s month."""
    first = add_months(day.replace(day=1), 1)
    return run_date(first.year, first.month, bill_day)


def is_run_date(day: date, bill_day: int) -> bool:
    return day == run_date(day.year, day.month, bill_day)


def runs_between(bill_day: int, first: date, last: date) -> list[date]:
    """The cycle's bill runs from `first` to `last` inclusive."""
    runs, month = [], first.replace(day=1)
    while month <= last:
        run = run_date(month.year, month.month, bill_day)
        if first <= run <= last:
            runs.append(run)
        month = add_months(month, 1)
    return runs


def at(day: date, seconds: int) -> datetime:
    """A moment of `day` (UTC), `seconds` after midnight."""
    return datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)


def ts_text(moment: datetime | None) -> str | None:
    """ISO 8601 UTC text as the contract writes it: 2024-03-10T11:42:07Z."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def days_between(first: date, last: date) -> int:
    """Days of the inclusive range [first, last]."""
    return (last - first).days + 1
