"""Who is asking: a bearer token, a trusted proxy's header, or the signed session cookie.

Sessions are Starlette's signed cookies (itsdangerous; HttpOnly, SameSite=Lax). The
session holds the account name and the account's session epoch: changing the password or
disabling the account bumps the epoch, which ends every session signed before.
"""

from __future__ import annotations

import secrets

from fastapi import Request

from pipelines.casestore.accounts import Account
from pipelines.web.csrf import SESSION_KEY
from pipelines.web.desk import Desk


class NotAuthenticated(Exception):
    """No valid session, token or proxy header (browser: to the login page; API: 401)."""


def _desk(request: Request) -> Desk:
    return request.app.state.desk


def resolve_account(request: Request) -> Account | None:
    """The account behind the request, recording how it was found in request.state.via."""
    desk = _desk(request)
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        request.state.via = "token"
        return desk.accounts.for_token(token.strip())
    config = desk.config
    client = request.client.host if request.client else None
    if config.trusted_user_header and config.trusts(client):
        name = request.headers.get(config.trusted_user_header, "").strip()
        if name:
            request.state.via = "proxy"
            return desk.accounts.get(name)
    user, epoch = request.session.get("user"), request.session.get("epoch")
    if not isinstance(user, str):
        return None
    account = desk.accounts.get(user)
    if account is None or account.session_epoch != epoch:
        request.session.pop("user", None)
        return None
    request.state.via = "session"
    return account


async def require_account(request: Request) -> Account:
    """FastAPI dependency: the authenticated account, else NotAuthenticated."""
    account = resolve_account(request)
    if account is None:
        raise NotAuthenticated()
    request.state.account = account
    return account


def start_session(request: Request, account: Account) -> None:
    """A fresh session for the account (new CSRF token: no fixation across a login)."""
    request.session.clear()
    request.session.update(
        {
            "user": account.name,
            "epoch": account.session_epoch,
            SESSION_KEY: secrets.token_urlsafe(32),
        }
    )


def end_session(request: Request) -> None:
    request.session.clear()
