"""The triage queue: every filter, count, order and page computed in SQL.

Due date: first_seen plus the service level of the case's severity; a letter case is due
the day before its letter's scheduled send date when that is sooner. Age: days from
first_seen to today, or to the day the case closed (closed cases age no further).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
)

from pipelines.casestore.schema import cases
from pipelines.casestore.sqlfn import abs_cents, add_days, days_between
from pipelines.catalogue import (
    DEFAULT_SLA_DAYS,
    OPEN_STATUSES,
    RULE_SPECS,
    SEVERITY_ORDER,
    STATUSES,
)

CLOSED = tuple(s for s in STATUSES if s not in OPEN_STATUSES)
LETTER_RULES = tuple(r for r, spec in RULE_SPECS.items() if spec.key == ("letter_id",))
SEARCH_COLUMNS = ("customer_id", "account_id", "msisdn", "iccid", "case_id")
# Owner filter keywords (reserved: no account may take these names).
MINE, UNASSIGNED, MINE_OR_UNASSIGNED, ANYONE = "mine", "unassigned", "mine-or-unassigned", "anyone"
OWNER_KEYWORDS = (MINE_OR_UNASSIGNED, MINE, UNASSIGNED, ANYONE)
DUE_CHOICES = ("overdue", "today", "next7")
ORDERS = ("triage", "due", "amount", "age", "first_seen")
LIST_COLUMNS = tuple(c for c in cases.c if c.name != "evidence")


@dataclass(frozen=True)
class QueueFilter:
    """What a person asks the queue for; the defaults are the desk's opening view."""

    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = OPEN_STATUSES
    owner: str = MINE_OR_UNASSIGNED  # a keyword of OWNER_KEYWORDS or an account name
    amount_kinds: tuple[str, ...] = ()
    min_amount: Decimal | None = None  # compared with |amount_at_risk|
    max_amount: Decimal | None = None
    min_age: int | None = None
    max_age: int | None = None
    due: str | None = None  # one of DUE_CHOICES
    promise_overdue: bool = False
    search: str | None = None  # exact customer / account / msisdn / iccid / case id
    first_seen_from: date | None = None
    first_seen_to: date | None = None
    order: str = "triage"

    def __post_init__(self) -> None:
        for name, values, allowed in (
            ("rule", self.rules, RULE_SPECS),
            ("severity", self.severities, SEVERITY_ORDER),
            ("status", self.statuses, STATUSES),
        ):
            unknown = sorted(set(values) - set(allowed))
            if unknown:
                raise ValueError(f"unknown {name}: {', '.join(unknown)}")
        if self.due is not None and self.due not in DUE_CHOICES:
            raise ValueError(f"unknown due filter {self.due!r}; expected one of {DUE_CHOICES}")
        if self.order not in ORDERS:
            raise ValueError(f"unknown order {self.order!r}; expected one of {ORDERS}")
        for amount in (self.min_amount, self.max_amount):
            if amount is not None and (not amount.is_finite() or amount < 0):
                raise ValueError("amount bounds are finite, non-negative numbers")
        for age in (self.min_age, self.max_age):
            if age is not None and age < 0:
                raise ValueError("ages are whole days, 0 or more")


@dataclass(frozen=True)
class QueuePage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class Queue:
    """Queue reads over the case store's `cases` table."""

    def __init__(
        self, engine: Engine, sla_days: Mapping[str, int] | None = None, today: date | None = None
    ):
        self.engine = engine
        self.sla_days = dict(sla_days or DEFAULT_SLA_DAYS)
        self._today = today

    @property
    def today(self) -> date:
        return self._today or date.today()

    # -- computed columns ---------------------------------------------------------------

    def due_on(self) -> ColumnElement[Any]:
        sla = case(
            {s: literal(d) for s, d in self.sla_days.items()}, value=cases.c.severity, else_=0
        )
        by_sla = add_days(cases.c.first_seen, sla)
        if not LETTER_RULES:
            return by_sla
        send_eve = add_days(cases.c.letter_send_date, -1)
        return case(
            (and_(cases.c.rule_id.in_(LETTER_RULES), send_eve < by_sla), send_eve), else_=by_sla
        )

    def age_days(self) -> ColumnElement[Any]:
        today = literal(self.today)
        closed = func.coalesce(cases.c.decided_on, cases.c.closed_on, today)
        end = case(
            (cases.c.status.in_(OPEN_STATUSES), today), (closed > today, today), else_=closed
        )
        return days_between(cases.c.first_seen, end)

    def _computed(self) -> dict[str, ColumnElement[Any]]:
        due = self.due_on()
        active = cases.c.status.in_(OPEN_STATUSES)
        return {
            "due_on": due,
            "age_days": self.age_days(),
            "overdue": and_(active, due < self.today),
            "promise_overdue": and_(
                active, cases.c.next_update_by.is_not(None), cases.c.next_update_by < self.today
            ),
        }

    # -- filters ------------------------------------------------------------------------

    def _conditions(
        self, f: QueueFilter, viewer: str | None, skip: frozenset[str] | set[str] = frozenset()
    ) -> list[ColumnElement[bool]]:
        c = cases.c
        computed = self._computed()
        where: list[ColumnElement[bool]] = []
        if f.rules and "rule_id" not in skip:
            where.append(c.rule_id.in_(f.rules))
        if f.severities and "severity" not in skip:
            where.append(c.severity.in_(f.severities))
        if f.statuses and "status" not in skip:
            where.append(c.status.in_(f.statuses))
        if f.amount_kinds and "amount_kind" not in skip:
            where.append(c.amount_kind.in_(f.amount_kinds))
        if "owner" not in skip:
            where.extend(_owner_condition(f.owner, viewer))
        if f.min_amount is not None:
            where.append(abs_cents(c.amount_at_risk) >= int(f.min_amount * 100))
        if f.max_amount is not None:
            where.append(abs_cents(c.amount_at_risk) <= int(f.max_amount * 100))
        age = computed["age_days"]
        if f.min_age is not None:
            where.append(age >= f.min_age)
        if f.max_age is not None:
            where.append(age <= f.max_age)
        if f.due is not None and "due" not in skip:
            due, today = computed["due_on"], self.today
            where.append(c.status.in_(OPEN_STATUSES))
            if f.due == "overdue":
                where.append(due < today)
            elif f.due == "today":
                where.append(due == today)
            else:
                where.append(and_(due >= today, due <= today + timedelta(days=7)))
        if f.promise_overdue and "promise_overdue" not in skip:
            where.append(computed["promise_overdue"])
        if f.search and f.search.strip():
            term = f.search.strip()
            where.append(or_(*(c[name] == term for name in SEARCH_COLUMNS)))
        if f.first_seen_from is not None:
            where.append(c.first_seen >= f.first_seen_from)
        if f.first_seen_to is not None:
            where.append(c.first_seen <= f.first_seen_to)
        return where

    def _ordering(self, order: str) -> list[ColumnElement[Any]]:
        c = cases.c
        computed = self._computed()
        severity = case(SEVERITY_ORDER, value=c.severity, else_=len(SEVERITY_ORDER))
        amount = abs_cents(c.amount_at_risk).desc().nulls_last()
        keys = {
            "triage": [severity, computed["due_on"], amount],
            "due": [computed["due_on"], severity, amount],
            "amount": [amount, severity],
            "age": [computed["age_days"].desc(), severity],
            "first_seen": [c.first_seen.desc(), severity],
        }[order]
        return [*keys, c.case_id]

    def select(self, f: QueueFilter, viewer: str | None) -> Select[Any]:
        """The matching cases (without evidence) and their computed columns, in order."""
        computed = self._computed()
        return (
            select(*LIST_COLUMNS, *(expr.label(name) for name, expr in computed.items()))
            .where(*self._conditions(f, viewer))
            .order_by(*self._ordering(f.order))
        )

    # -- reads --------------------------------------------------------------------------

    def page(
        self,
        f: QueueFilter,
        viewer: str | None,
        page: int = 1,
        per_page: int = 50,
        with_counts: bool = True,
    ) -> QueuePage:
        """One page of the queue, the total and (optionally) the counts per filter value."""
        page = max(1, page)
        with self.engine.connect() as conn:
            total = conn.scalar(
                select(func.count()).select_from(cases).where(*self._conditions(f, viewer))
            )
            ids = list(
                conn.scalars(
                    select(cases.c.case_id)
                    .where(*self._conditions(f, viewer))
                    .order_by(*self._ordering(f.order))
                    .limit(per_page)
                    .offset((page - 1) * per_page)
                )
            )
            # The page's ids come from the index alone; then its rows are read, in that order.
            computed = self._computed()
            by_id = select(*LIST_COLUMNS, *(e.label(n) for n, e in computed.items())).where(
                cases.c.case_id.in_(ids)
            )
            found = {r["case_id"]: dict(r) for r in conn.execute(by_id).mappings()}
            rows = [found[i] for i in ids if i in found]
        counts = self.counts(f, viewer) if with_counts else {}
        return QueuePage(rows, total or 0, page, per_page, counts)

    def counts(self, f: QueueFilter, viewer: str | None) -> dict[str, dict[str, int]]:
        """Per facet value, how many cases match every other filter (faceted search).

        One GROUP BY over the cases that pass the filters which are not facets (amount, age,
        due, search, first seen) gives a count per (status, severity, rule, kind, owner
        bucket); each facet's counts add up the groups that pass the other facets. `flags`
        counts the overdue cases and late promises under the whole filter.
        """
        facets = _facets(f, viewer)
        bucket = case(
            (cases.c.owner.is_(None), UNASSIGNED),
            (cases.c.owner == (viewer or ""), MINE),
            (cases.c.owner == f.owner, "named"),
            else_="other",
        )
        columns: list[ColumnElement[Any]] = [
            cases.c.status,
            cases.c.severity,
            cases.c.rule_id,
            cases.c.amount_kind,
        ]
        skip_facets = {"status", "severity", "rule_id", "amount_kind", "owner"}
        where = self._conditions(f, viewer, skip=skip_facets)
        query = select(*columns, bucket, func.count()).where(*where).group_by(*columns, bucket)
        computed = self._computed()
        flags = select(
            func.count().filter(computed["overdue"]),
            func.count().filter(computed["promise_overdue"]),
        ).where(*self._conditions(replace(f, due=None, promise_overdue=False), viewer))
        with self.engine.connect() as conn:
            groups = [tuple(r) for r in conn.execute(query)]
            overdue, promises = conn.execute(flags).one()
        counts: dict[str, dict[str, int]] = {
            name: {} for name in ("status", "severity", "rule_id", "amount_kind")
        }
        owner_counts = {MINE: 0, UNASSIGNED: 0, ANYONE: 0}
        for status, severity, rule, kind, owner_bucket, n in groups:
            values = {"status": status, "severity": severity, "rule_id": rule,
                      "amount_kind": kind, "owner": owner_bucket}  # fmt: skip
            passes = {name: test(values[name]) for name, test in facets.items()}
            for name in counts:
                if values[name] is not None and all(v for k, v in passes.items() if k != name):
                    counts[name][str(values[name])] = counts[name].get(str(values[name]), 0) + n
            if all(v for k, v in passes.items() if k != "owner"):
                owner_counts[ANYONE] += n
                if owner_bucket in (MINE, UNASSIGNED):
                    owner_counts[owner_bucket] += n
        counts["owner"] = owner_counts
        counts["flags"] = {"overdue": overdue, "promise_overdue": promises}
        return counts

    def iter_all(self, f: QueueFilter, viewer: str | None) -> Iterator[dict[str, Any]]:
        """Every matching case in queue order (for the CSV export), streamed in batches."""
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=1000).execute(self.select(f, viewer))
            for row in result.mappings():
                yield dict(row)

    def due_of(self, case_id: str) -> dict[str, Any]:
        """due_on, age_days, overdue and promise_overdue of one case ({} when unknown)."""
        computed = self._computed()
        query = select(*(e.label(n) for n, e in computed.items())).where(cases.c.case_id == case_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return {} if row is None else dict(row)


def _owner_condition(owner: str, viewer: str | None) -> list[ColumnElement[bool]]:
    c = cases.c
    if owner == ANYONE or not owner:
        return []
    if owner == UNASSIGNED:
        return [c.owner.is_(None)]
    if owner == MINE:
        return [c.owner == viewer] if viewer else [false()]
    if owner == MINE_OR_UNASSIGNED:
        return [or_(c.owner.is_(None), c.owner == viewer)] if viewer else [c.owner.is_(None)]
    return [c.owner == owner]


def _facets(f: QueueFilter, viewer: str | None) -> dict[str, Any]:
    """For each facet, a test of a group's value against the filter (as _conditions does)."""

    def among(values: tuple[str, ...]) -> Any:
        return lambda v: not values or v in values

    owner_tests = {
        ANYONE: lambda b: True,
        "": lambda b: True,
        UNASSIGNED: lambda b: b == UNASSIGNED,
        MINE: lambda b: viewer is not None and b == MINE,
        MINE_OR_UNASSIGNED: lambda b: b == UNASSIGNED or (viewer is not None and b == MINE),
    }
    return {
        "status": among(f.statuses),
        "severity": among(f.severities),
        "rule_id": among(f.rules),
        "amount_kind": among(f.amount_kinds),
        "owner": owner_tests.get(
            f.owner, lambda b: b == "named" or (b == MINE and f.owner == viewer)
        ),
    }
