"""Login and logout (the only pages open without an account)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from pipelines.web.auth import end_session, require_account, resolve_account, start_session
from pipelines.web.csrf import csrf_protect
from pipelines.web.views import templates

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no '//host', no backslash tricks)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if resolve_account(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next)})


@router.post("/login", dependencies=[Depends(csrf_protect)])
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    desk = request.app.state.desk
    client = request.client.host if request.client else "unknown"
    wait = desk.throttle.retry_after(username, client)
    error, status = None, 200
    if wait:
        error, status = f"Too many failed logins: try again in {wait} seconds.", 429
    else:
        account = desk.accounts.authenticate(username.strip(), password)
        if account is not None:
            desk.throttle.succeeded(username)
            start_session(request, account)
            return RedirectResponse(_safe_next(next), status_code=303)
        desk.throttle.failed(username, client)
        error, status = "Unknown user name or wrong password.", 401
    return templates.TemplateResponse(
        request,
        "login.html",
        {"next": _safe_next(next), "error": error, "username": username},
        status_code=status,
    )


@router.post("/logout", dependencies=[Depends(require_account), Depends(csrf_protect)])
def logout(request: Request) -> Response:
    end_session(request)
    return RedirectResponse("/login", status_code=303)
