"""The audit log: every change by every person, filterable and exportable."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from pipelines.casestore.audit import AuditFilter, audit_filter_from
from pipelines.csv_safe import csv_lines
from pipelines.web.filters import paging
from pipelines.web.views import templates

router = APIRouter()
AUDIT_COLUMNS = (
    "id",
    "at",
    "actor",
    "case_id",
    "action",
    "old_status",
    "new_status",
    "note",
    "changes",
)


def _filter(request: Request) -> AuditFilter:
    return audit_filter_from(request.query_params)


@router.get("/audit")
def audit_page(request: Request) -> Response:
    desk = request.app.state.desk
    f = _filter(request)
    page, per_page = paging(request.query_params, default=100)
    rows, total = desk.audit.page(f, page, per_page)
    context = {
        "account": request.state.account,
        "f": f,
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // per_page)),
        "actors": desk.audit.actors(),
    }
    return templates.TemplateResponse(request, "audit.html", context)


@router.get("/audit.csv")
def audit_export(request: Request) -> Response:
    desk = request.app.state.desk
    rows = desk.audit.iter_all(_filter(request))
    return StreamingResponse(
        csv_lines(AUDIT_COLUMNS, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
