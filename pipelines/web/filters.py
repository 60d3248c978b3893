"""The queue filter as query parameters, shared by the queue page, its export and the API.

rule, severity, kind   repeatable
status                 repeatable; 'active' (default) = open or acknowledged, 'any' = all
owner                  mine-or-unassigned (default), mine, unassigned, anyone, or a name
min_amount, max_amount absolute amounts;  min_age, max_age  days
due                    overdue | today | next7;  promise_overdue=1
q                      exact customer, account, msisdn, iccid or case id
first_seen_from, first_seen_to   YYYY-MM-DD;  order  triage | due | amount | age | first_seen
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from starlette.datastructures import QueryParams

from pipelines.casestore.queue import QueueFilter
from pipelines.catalogue import OPEN_STATUSES

MAX_PER_PAGE = 200


def _one(params: QueryParams, name: str) -> str | None:
    value = params.get(name)
    return value.strip() if value and value.strip() else None


def _amount(params: QueryParams, name: str) -> Decimal | None:
    text = _one(params, name)
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"{name}: not an amount: {text!r}") from exc


def _int(params: QueryParams, name: str) -> int | None:
    text = _one(params, name)
    if text is None:
        return None
    if not text.isdigit():
        raise ValueError(f"{name}: not a whole number of days: {text!r}")
    return int(text)


def _date(params: QueryParams, name: str) -> date | None:
    text = _one(params, name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{name}: not a date YYYY-MM-DD: {text!r}") from exc


def _many(params: QueryParams, name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in params.getlist(name) if v.strip())


def _statuses(params: QueryParams) -> tuple[str, ...]:
    values = _many(params, "status")
    if not values:
        return OPEN_STATUSES
    if "any" in values:
        return ()
    expanded = [s for v in values for s in (OPEN_STATUSES if v == "active" else (v,))]
    return tuple(dict.fromkeys(expanded))


def queue_filter(params: QueryParams) -> QueueFilter:
    """The QueueFilter the parameters describe (ValueError with a clear message if bad)."""
    return QueueFilter(
        rules=_many(params, "rule"),
        severities=_many(params, "severity"),
        statuses=_statuses(params),
        owner=_one(params, "owner") or QueueFilter.owner,
        amount_kinds=_many(params, "kind"),
        min_amount=_amount(params, "min_amount"),
        max_amount=_amount(params, "max_amount"),
        min_age=_int(params, "min_age"),
        max_age=_int(params, "max_age"),
        due=_one(params, "due"),
        promise_overdue=_one(params, "promise_overdue") in ("1", "true", "on"),
        search=_one(params, "q"),
        first_seen_from=_date(params, "first_seen_from"),
        first_seen_to=_date(params, "first_seen_to"),
        order=_one(params, "order") or "triage",
    )


def paging(params: QueryParams, default: int = 50) -> tuple[int, int]:
    page = _int(params, "page") or 1
    per_page = min(_int(params, "per_page") or default, MAX_PER_PAGE)
    return page, max(per_page, 1)
