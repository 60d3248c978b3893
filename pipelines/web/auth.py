"""Who is asking: a bearer token, a trusted proxy's header, or the signed session cookie.

Sessions are Starlette's signed cookies (itsdangerous; HttpOnly, SameSite=Lax). The
session holds the account name and the account's session epoch: changing the password or
disabling the account bumps the epoch, which ends every session signed before.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from fastapi import Request

from pipelines.casestore.accounts import Account
from pipelines.web.csrf import SESSION_KEY

if TYPE_CHECKING:
    from pipelines.web.app import Desk


class NotAuthenticated(Exception):
    """No valid session, token or proxy header (browser: to the login page; API: 401)."""


class LoginThrottle:
    """At most `limit` failed logins per user name and per client address in `window` seconds.

    Kept in the server process: a desk run as one process (what `recon serve` starts) sees
    every attempt.
    """

    def __init__(self, limit: int = 5, window: float = 300.0):
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, client: str) -> tuple[str, str]:
        return f"user:{username.strip().lower()}", f"addr:{client}"

    def retry_after(self, username: str, client: str) -> int:
        """Seconds until a login may be tried again (0: now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in self._keys(username, client):
                times = self._failures.get(key)
                if not times:
                    continue
                while times and now - times[0] > self.window:
                    times.popleft()
                if len(times) >= self.limit:
                    wait = max(wait, self.window - (now - times[0]))
        return int(wait) + (1 if wait else 0)

    def failed(self, username: str, client: str) -> None:
        with self._lock:
            for key in self._keys(username, client):
                self._failures.setdefault(key, deque()).append(time.monotonic())

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(username, "")[0], None)


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
    name, epoch = request.session.get("user"), request.session.get("epoch")
    if not isinstance(name, str):
        return None
    account = desk.accounts.get(name)
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
