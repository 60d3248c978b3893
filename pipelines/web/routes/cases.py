"""The case page and the changes made from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from pipelines.casestore.store import CaseNotFound
from pipelines.casestore.triage import TriageError, recovery_of
from pipelines.web.evidence import sections
from pipelines.web.views import templates

router = APIRouter()


def case_context(request: Request, case_id: str) -> dict:
    desk = request.app.state.desk
    case = desk.store.get_case(case_id)
    if case is None:
        raise CaseNotFound(case_id)
    case.update(desk.queue.due_of(case_id))
    return {
        "case": case,
        "evidence": sections(case["evidence"]),
        "recoveries": desk.store.recoveries_of(case_id),
    }


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str) -> Response:
    desk = request.app.state.desk
    context = case_context(request, case_id)
    context.update(account=request.state.account, owners=desk.accounts.names(), today=desk.today)
    return templates.TemplateResponse(request, "case.html", context)


def _back(request: Request, case_id: str, done: str) -> Response:
    request.session["flash"] = done
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


def _attempt(request: Request, case_id: str, change: Callable[[], object], done: str) -> Response:
    """Run the change; a change that cannot be made comes back as a message on the page."""
    try:
        changed = change()
    except TriageError as exc:
        return _back(request, case_id, f"Not changed: {exc}")
    return _back(request, case_id, done if changed is not False else "Nothing to change.")


@router.post("/cases/{case_id}/take")
def take(request: Request, case_id: str) -> Response:
    desk, account = request.app.state.desk, request.state.account
    return _attempt(
        request, case_id, lambda: desk.triage.take(account, case_id), "You took the case."
    )


@router.post("/cases/{case_id}/assign")
def assign(request: Request, case_id: str, owner: str = Form(""), note: str = Form("")) -> Response:
    desk, account = request.app.state.desk, request.state.account
    done = f"Assigned to {owner}." if owner else "The case has no owner now."
    return _attempt(
        request, case_id, lambda: desk.triage.assign(account, case_id, owner, note), done
    )


@router.post("/cases/{case_id}/status")
def set_status(
    request: Request,
    case_id: str,
    status: str = Form(...),
    note: str = Form(""),
    recovered: str = Form(""),
    recovered_how: str = Form(""),
) -> Response:
    desk, account = request.app.state.desk, request.state.account

    def change() -> bool:
        recovery = recovery_of(recovered, recovered_how)
        return bool(desk.triage.set_status(account, case_id, status, note, recovery))

    return _attempt(request, case_id, change, f"Status set to {status.replace('_', ' ')}.")


@router.post("/cases/{case_id}/contact")
def contact(
    request: Request,
    case_id: str,
    channel: str = Form(...),
    promise: str = Form(""),
    next_update_by: str = Form(""),
) -> Response:
    desk, account = request.app.state.desk, request.state.account

    def record() -> None:
        try:
            by = date.fromisoformat(next_update_by) if next_update_by.strip() else None
        except ValueError as exc:
            raise TriageError(f"next update by: not a date: {next_update_by!r}") from exc
        desk.triage.contact(account, case_id, channel, promise, by)

    return _attempt(request, case_id, record, "Contact recorded.")
