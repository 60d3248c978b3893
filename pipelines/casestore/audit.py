"""The audit log: case_history read by person, case and date, in SQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, func, select

from pipelines.casestore.schema import PIPELINE_ACTOR, case_history


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    case_id: str | None = None
    date_from: date | None = None  # UTC days, inclusive
    date_to: date | None = None
    people_only: bool = True  # leave out the pipeline's own entries


def audit_filter_from(params: Any) -> AuditFilter:
    """AuditFilter from query parameters actor, case_id, from, to, pipeline=1."""

    def day(name: str) -> date | None:
        text = (params.get(name) or "").strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{name}: not a date YYYY-MM-DD: {text!r}") from exc

    return AuditFilter(
        actor=(params.get("actor") or "").strip() or None,
        case_id=(params.get("case_id") or "").strip() or None,
        date_from=day("from"),
        date_to=day("to"),
        people_only=params.get("pipeline") not in ("1", "on", "true"),
    )


class AuditLog:
    def __init__(self, engine: Engine):
        self.engine = engine

    def _where(self, f: AuditFilter) -> list[ColumnElement[bool]]:
        h = case_history.c
        where: list[ColumnElement[bool]] = []
        if f.people_only:
            where.append(h.actor != PIPELINE_ACTOR)
        if f.actor:
            where.append(h.actor == f.actor)
        if f.case_id:
            where.append(h.case_id == f.case_id)
        if f.date_from:
            where.append(h.at >= datetime.combine(f.date_from, time(), UTC))
        if f.date_to:
            where.append(h.at < datetime.combine(f.date_to + timedelta(days=1), time(), UTC))
        return where

    def _select(self, f: AuditFilter) -> Select[Any]:
        return select(case_history).where(*self._where(f)).order_by(case_history.c.id.desc())

    def page(self, f: AuditFilter, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        with self.engine.connect() as conn:
            total = conn.scalar(
                select(func.count()).select_from(case_history).where(*self._where(f))
            )
            query = self._select(f).limit(per_page).offset((max(page, 1) - 1) * per_page)
            rows = [dict(r) for r in conn.execute(query).mappings()]
        return rows, total or 0

    def iter_all(self, f: AuditFilter) -> Iterator[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=1000).execute(self._select(f))
            for row in result.mappings():
                item = dict(row)
                item["changes"] = json.dumps(item["changes"]) if item["changes"] else None
                yield item

    def actors(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(case_history.c.actor)
                    .where(case_history.c.actor != PIPELINE_ACTOR)
                    .distinct()
                    .order_by(case_history.c.actor)
                )
            )
