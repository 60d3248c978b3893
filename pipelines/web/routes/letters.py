"""The letters to hold (contract section 3.1) and releasing one by marking its case false
positive."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from pipelines.casestore.triage import TriageError
from pipelines.publish.holds import LETTER_RULES, RELEASED, hold_rows
from pipelines.web.desk import NotFound
from pipelines.web.views import templates

router = APIRouter()


@router.get("/letters")
def letters_page(request: Request, business_date: str = "") -> Response:
    desk = request.app.state.desk
    try:
        night = date.fromisoformat(business_date) if business_date else None
    except ValueError as exc:
        raise NotFound(f"not a date: {business_date!r}") from exc
    night = night or desk.store.latest_business_date()
    cases = desk.store.night_cases(night, LETTER_RULES) if night else []
    released = [c for c in cases if c["status"] in RELEASED]
    context = {
        "account": request.state.account,
        "night": night,
        "held": hold_rows(cases),
        "released": released,
    }
    return templates.TemplateResponse(request, "letters.html", context)


@router.post("/letters/{case_id}/release")
def release(
    request: Request, case_id: str, note: str = Form(""), business_date: str = Form("")
) -> Response:
    """Release a letter: its case is a false positive (a note says why)."""
    desk, account = request.app.state.desk, request.state.account
    try:
        changed = desk.triage.set_status(account, case_id, "false_positive", note)
        flash = "Letter released: its case is a false positive." if changed else "Already released."
    except TriageError as exc:
        flash = f"Not released: {exc}"
    request.session["flash"] = flash
    back = (
        f"/letters?business_date={date.fromisoformat(business_date)}"
        if business_date
        else "/letters"
    )
    return RedirectResponse(back, status_code=303)
