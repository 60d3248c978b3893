"""Date and money expressions that SQLite and PostgreSQL spell differently.

SQLite keeps dates as 'YYYY-MM-DD' text and money as decimal text (see schema.Money),
so each construct compiles to the form that compares and sorts right on each dialect.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class add_days(FunctionElement[Any]):
    """`day` plus `days` (an integer expression) as a date."""

    type = Date()
    inherit_cache = True


@compiles(add_days, "sqlite")
def _add_days_sqlite(element: add_days, compiler: Any, **kw: Any) -> str:
    day, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"date({day}, printf('%+d days', {days}))"


@compiles(add_days, "postgresql")
def _add_days_pg(element: add_days, compiler: Any, **kw: Any) -> str:
    day, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({day} AS DATE) + CAST({days} AS INTEGER))"


class days_between(FunctionElement[Any]):
    """Whole days from the first date to the second (negative when the second is earlier)."""

    type = Integer()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


@compiles(days_between, "postgresql")
def _days_between_pg(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({end} AS DATE) - CAST({start} AS DATE))"


class abs_cents(FunctionElement[Any]):
    """|amount| in whole cents as an integer: exact on both dialects, sorts as numbers."""

    type = Integer()
    inherit_cache = True


@compiles(abs_cents, "sqlite")
def _abs_cents_sqlite(element: abs_cents, compiler: Any, **kw: Any) -> str:
    amount = compiler.process(element.clauses.clauses[0], **kw)
    # Two-decimal text: the cents are the digits without the point, as an integer.
    return f"abs(CAST(replace({amount}, '.', '') AS INTEGER))"


@compiles(abs_cents, "postgresql")
def _abs_cents_pg(element: abs_cents, compiler: Any, **kw: Any) -> str:
    amount = compiler.process(element.clauses.clauses[0], **kw)
    return f"CAST(abs({amount}) * 100 AS BIGINT)"
