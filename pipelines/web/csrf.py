"""CSRF protection: a synchronizer token kept in the signed session.

Pages carry it in `<meta name="csrf-token">` and in every form's `csrf_token` field; htmx
sends it as the `X-CSRF-Token` header. Every request that is not GET, HEAD or OPTIONS must
carry the session's token, except those authenticated by a bearer token (a script, which a
browser cannot be tricked into sending).
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

HEADER = "X-CSRF-Token"
FIELD = "csrf_token"
SESSION_KEY = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfFailed(Exception):
    """The request lacks the session's CSRF token (HTTP 403)."""


def csrf_token(request: Request) -> str:
    """The session's token, created on first use."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


async def sent_token(request: Request) -> str:
    """The token the request carries: the header, else the form field."""
    header = request.headers.get(HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def csrf_protect(request: Request) -> None:
    """FastAPI dependency: refuse a state-changing request without the session's token."""
    if request.method in SAFE_METHODS or getattr(request.state, "via", None) == "token":
        return
    expected = request.session.get(SESSION_KEY)
    sent = await sent_token(request)
    if not isinstance(expected, str) or not expected or not sent:
        raise CsrfFailed("this request has no CSRF token: reload the page and try again")
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfFailed("the CSRF token does not match this session: reload the page")
