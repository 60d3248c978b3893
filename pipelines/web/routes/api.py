"""The JSON API: the queue, a case with its history, its changes, and a customer.

Amounts are decimal strings (exact), dates ISO 8601. Errors are {"error": message}.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from pipelines.web.customer_record import read_customer
from pipelines.web.filters import paging, queue_filter
from pipelines.web.routes.cases import case_context
from pipelines.web.routes.customers import customer_cases

router = APIRouter(prefix="/api")


class StatusChange(BaseModel):
    status: str
    note: str | None = None


class Assignment(BaseModel):
    owner: str | None = None
    note: str | None = None


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, default=_default, ensure_ascii=False)
    return Response(body, status_code=status, media_type="application/json")


@router.get("/cases")
def list_cases(request: Request) -> Response:
    desk = request.app.state.desk
    f = queue_filter(request.query_params)
    page, per_page = paging(request.query_params)
    result = desk.queue.page(f, request.state.account.name, page, per_page)
    return json_response(
        {
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "pages": result.pages,
            "counts": result.counts,
            "cases": result.rows,
        }
    )


def _case(request: Request, case_id: str) -> dict[str, Any]:
    case = case_context(request, case_id)["case"]
    case.pop("other_cases", None)
    return case


@router.get("/cases/{case_id}")
def get_case(request: Request, case_id: str) -> Response:
    return json_response(_case(request, case_id))


@router.post("/cases/{case_id}/status")
def set_status(request: Request, case_id: str, body: StatusChange) -> Response:
    desk = request.app.state.desk
    changed = desk.triage.set_status(request.state.account, case_id, body.status, body.note)
    return json_response({"changed": changed, "case": _case(request, case_id)})


@router.post("/cases/{case_id}/assign")
def assign(request: Request, case_id: str, body: Assignment) -> Response:
    desk = request.app.state.desk
    changed = desk.triage.assign(request.state.account, case_id, body.owner, body.note)
    return json_response({"changed": changed, "case": _case(request, case_id)})


@router.get("/customers/{customer_id:path}")
def get_customer(request: Request, customer_id: str) -> Response:
    desk = request.app.state.desk
    record = read_customer(desk.warehouse, customer_id) if desk.warehouse else None
    payload: dict[str, Any] = {
        "customer_id": customer_id,
        "cases": customer_cases(request, customer_id),
    }
    if record is not None:
        payload.update(
            as_of=record.as_of,
            sims=record.sims,
            transactions=record.transactions,
            invoices=record.invoices,
            letters=record.letters,
        )
    return json_response(payload)
