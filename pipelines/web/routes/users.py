"""Account management for admins: list, add, disable (the CLI does the same)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from pipelines.casestore.access import check_admin
from pipelines.casestore.schema import ROLES
from pipelines.web.views import templates

router = APIRouter()


@router.get("/users")
def users_page(request: Request) -> Response:
    check_admin(request.state.account)
    desk = request.app.state.desk
    context = {"account": request.state.account, "users": desk.accounts.listing(), "roles": ROLES}
    return templates.TemplateResponse(request, "users.html", context)


@router.post("/users")
def add_user(
    request: Request, name: str = Form(...), role: str = Form(...), password: str = Form(...)
) -> Response:
    check_admin(request.state.account)
    request.app.state.desk.accounts.add(name, role, password)
    request.session["flash"] = f"Account {name.strip()} added."
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{name}/disable")
def disable_user(request: Request, name: str) -> Response:
    check_admin(request.state.account)
    request.app.state.desk.accounts.disable(name)
    request.session["flash"] = f"Account {name} disabled."
    return RedirectResponse("/users", status_code=303)
