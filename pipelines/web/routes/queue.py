"""The queue page, its CSV export and a lead's bulk actions."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from pipelines.csv_safe import csv_lines
from pipelines.web.filters import paging, queue_filter
from pipelines.web.views import templates

router = APIRouter()
EXPORT_COLUMNS = (
    "case_id",
    "rule_id",
    "severity",
    "status",
    "owner",
    "due_on",
    "overdue",
    "next_update_by",
    "promise_overdue",
    "age_days",
    "customer_id",
    "account_id",
    "msisdn",
    "iccid",
    "amount_at_risk",
    "currency",
    "amount_kind",
    "first_seen",
    "last_seen",
    "resolution",
    "summary",
)


@router.get("/")
def queue_page(request: Request) -> Response:
    desk = request.app.state.desk
    account = request.state.account
    f = queue_filter(request.query_params)
    page, per_page = paging(request.query_params)
    result = desk.queue.page(f, account.name, page, per_page, with_counts=False)
    context = {
        "account": account,
        "f": f,
        "result": result,
        "owners": desk.accounts.names(),
        "today": desk.today,
    }
    name = "_queue_results.html" if request.headers.get("HX-Request") else "queue.html"
    return templates.TemplateResponse(request, name, context)


@router.get("/queue/counts")
def queue_counts(request: Request) -> Response:
    """The counts per filter value, loaded by the queue page after its rows (htmx)."""
    desk = request.app.state.desk
    f = queue_filter(request.query_params)
    counts = desk.queue.counts(f, request.state.account.name)
    return templates.TemplateResponse(request, "_queue_counts.html", {"c": counts})


@router.get("/cases.csv")
def export(request: Request) -> Response:
    desk = request.app.state.desk
    f = queue_filter(request.query_params)
    rows = desk.queue.iter_all(f, request.state.account.name)
    return StreamingResponse(
        csv_lines(EXPORT_COLUMNS, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="cases-{desk.today}.csv"'},
    )


@router.post("/bulk")
def bulk(
    request: Request,
    case_id: list[str] = Form(default_factory=list),
    action: str = Form(""),
    status: str = Form(""),
    owner: str = Form(""),
    note: str = Form(""),
    back: str = Form("/"),
) -> Response:
    desk = request.app.state.desk
    outcome = desk.triage.bulk(
        request.state.account,
        case_id,
        status=status or None if action == "status" else None,
        owner=owner or None,
        assign=action == "assign",
        note=note,
    )
    request.session["flash"] = f"{outcome['changes']} changes to {outcome['cases']} cases"
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    return RedirectResponse(target, status_code=303)
