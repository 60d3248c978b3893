"""The customer page: one record across channels, and every case of the customer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from pipelines.casestore.schema import cases
from pipelines.web.customer_record import read_customer
from pipelines.web.views import templates

router = APIRouter()


def customer_cases(request: Request, customer_id: str) -> list[dict]:
    desk = request.app.state.desk
    query = (
        select(
            cases.c.case_id,
            cases.c.rule_id,
            cases.c.severity,
            cases.c.status,
            cases.c.owner,
            cases.c.amount_at_risk,
            cases.c.currency,
            cases.c.first_seen,
            cases.c.summary,
            cases.c.amount_kind,
        )
        .where(cases.c.customer_id == customer_id)
        .order_by(cases.c.first_seen.desc(), cases.c.case_id)
    )
    with desk.store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


@router.get("/customers/{customer_id:path}")
def customer_page(request: Request, customer_id: str) -> Response:
    desk = request.app.state.desk
    record = read_customer(desk.warehouse, customer_id) if desk.warehouse else None
    context = {
        "account": request.state.account,
        "customer_id": customer_id,
        "record": record,
        "cases": customer_cases(request, customer_id),
    }
    return templates.TemplateResponse(request, "customer.html", context)
