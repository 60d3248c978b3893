"""The triage desk: a FastAPI application over the case store and the warehouse."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from pipelines.casestore.access import Forbidden
from pipelines.casestore.accounts import AccountError
from pipelines.casestore.store import CaseNotFound
from pipelines.casestore.triage import TriageError
from pipelines.web.auth import NotAuthenticated, require_account
from pipelines.web.config import DeskConfig
from pipelines.web.csrf import CsrfFailed, csrf_protect
from pipelines.web.desk import Desk, NotFound, open_desk
from pipelines.web.routes import (
    api,
    audit,
    cases,
    customers,
    dashboard,
    letters,
    login,
    nights,
    queue,
    users,
)
from pipelines.web.views import templates

STATIC = Path(__file__).with_name("static")
SESSION_COOKIE = "recon_session"


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    context = {
        "status": status,
        "message": message,
        "account": getattr(request.state, "account", None),
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(request: Request, _exc: NotAuthenticated) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": "authentication required: a session or a bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse("/login", status_code=303)
        if request.method == "GET" and target != "/":
            response = RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "nothing here", 405: "method not allowed"}
        return _error(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(CaseNotFound)
    async def _no_case(request: Request, exc: CaseNotFound) -> Response:
        return _error(request, 404, f"no case {exc.args[0]}")

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(TriageError)
    async def _triage(request: Request, exc: TriageError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(AccountError)
    async def _account(request: Request, exc: AccountError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in exc.errors()
        )
        return _error(request, 422, f"invalid request: {problems}")

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> Response:
        return _error(request, 400, str(exc))


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def create_app(config: DeskConfig, desk: Desk | None = None) -> FastAPI:
    """The desk application; every route but /login and /static needs an account."""
    app = FastAPI(title="recon triage desk", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.desk = desk or open_desk(config)
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.signing_key(),
        session_cookie=SESSION_COOKIE,
        max_age=config.session_hours * 3600,
        same_site="lax",
        https_only=config.cookie_secure,
    )
    _install_errors(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(login.router)
    protected = [Depends(require_account), Depends(csrf_protect)]
    for module in (queue, cases, customers, dashboard, nights, letters, audit, users, api):
        app.include_router(module.router, dependencies=protected)

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        return response

    return app
