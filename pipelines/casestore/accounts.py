"""People who work the cases: accounts with a role, argon2 password hashes and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, insert, select, update

from pipelines.casestore.queue import OWNER_KEYWORDS
from pipelines.casestore.schema import PIPELINE_ACTOR, ROLES, api_tokens, users

TOKEN_PREFIX = "recon_"
MIN_PASSWORD = 12
_hasher = PasswordHasher()
# Verified when the name is unknown, so a login takes as long whether or not it exists.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """An account operation that cannot be done (unknown name, bad role, weak password)."""


@dataclass(frozen=True)
class Account:
    """An authenticated person (or script acting for one)."""

    name: str
    role: str
    session_epoch: int = 0

    @property
    def is_auditor(self) -> bool:
        return self.role == "auditor"


def _now() -> datetime:
    return datetime.now(UTC)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise AccountError("a user name is 1-64 letters, digits or . _ - @")
    if name in (PIPELINE_ACTOR, *OWNER_KEYWORDS) or name.startswith("os:"):
        raise AccountError(f"{name!r} is reserved")
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")


def token_digest(token: str) -> str:
    """The SHA-256 hex digest stored for a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """The users and api_tokens tables of a case store."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, name: str, role: str, password: str | None) -> Account:
        """A new enabled account; without a password it can log in only by token or proxy."""
        name = _check_name(name)
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        if password is not None:
            _check_password(password)
        now = _now()
        with self.engine.begin() as conn:
            if conn.scalar(select(users.c.name).where(users.c.name == name)) is not None:
                raise AccountError(f"user {name!r} already exists")
            conn.execute(
                insert(users).values(
                    name=name,
                    role=role,
                    password_hash=None if password is None else _hasher.hash(password),
                    disabled=False,
                    session_epoch=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        return Account(name, role)

    def listing(self) -> list[dict[str, object]]:
        """Every account (without hashes), by name, with its number of live tokens."""
        with self.engine.connect() as conn:
            rows = [
                dict(r)
                for r in conn.execute(
                    select(
                        users.c.name, users.c.role, users.c.disabled, users.c.created_at
                    ).order_by(users.c.name)
                ).mappings()
            ]
            live: dict[str, int] = dict(
                conn.execute(
                    select(api_tokens.c.user_name, func.count())
                    .where(api_tokens.c.revoked_at.is_(None))
                    .group_by(api_tokens.c.user_name)
                ).all()
            )
        for row in rows:
            row["tokens"] = live.get(row["name"], 0)
        return rows

    def names(self) -> list[str]:
        """The names of enabled accounts, sorted (owners a lead can assign to)."""
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(users.c.name).where(users.c.disabled.is_(False)).order_by(users.c.name)
                )
            )

    def get(self, name: str) -> Account | None:
        """The enabled account of that name, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users.c.name, users.c.role, users.c.session_epoch).where(
                    users.c.name == name, users.c.disabled.is_(False)
                )
            ).first()
        return None if row is None else Account(row.name, row.role, row.session_epoch)

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account if the password is right and the account enabled, else None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    users.c.name, users.c.role, users.c.password_hash, users.c.session_epoch
                ).where(users.c.name == name, users.c.disabled.is_(False))
            ).first()
        stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.password_hash:
            return None
        if _hasher.check_needs_rehash(stored):
            self._store_hash(row.name, password, bump_epoch=False)
        return Account(row.name, row.role, row.session_epoch)

    def set_password(self, name: str, password: str) -> None:
        """Replace the password; sessions signed before stop working."""
        _check_password(password)
        self._store_hash(name, password, bump_epoch=True)

    def _store_hash(self, name: str, password: str, bump_epoch: bool) -> None:
        values: dict[str, object] = {"password_hash": _hasher.hash(password), "updated_at": _now()}
        if bump_epoch:
            values["session_epoch"] = users.c.session_epoch + 1
        self._update(name, values)

    def disable(self, name: str) -> None:
        """Disable the account: no login, no session, no token works any more."""
        self._update(
            name,
            {"disabled": True, "session_epoch": users.c.session_epoch + 1, "updated_at": _now()},
        )

    def _update(self, name: str, values: dict[str, object]) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(update(users).where(users.c.name == name).values(**values))
            if done.rowcount != 1:
                raise AccountError(f"no user {name!r}")

    def issue_token(self, name: str, label: str | None = None) -> str:
        """A new bearer token for the account; only its hash is kept, so show it once."""
        if self.get(name) is None:
            raise AccountError(f"no enabled user {name!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                insert(api_tokens).values(
                    user_name=name, token_sha256=token_digest(token), label=label, created_at=_now()
                )
            )
        return token

    def revoke_tokens(self, name: str) -> int:
        """Revoke every live token of the account; returns how many."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.user_name == name, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        return done.rowcount

    def for_token(self, token: str) -> Account | None:
        """The enabled account a live token belongs to, or None (and records its use)."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = token_digest(token)
        with self.engine.begin() as conn:
            row = conn.execute(
                select(users.c.name, users.c.role, users.c.session_epoch, api_tokens.c.id)
                .join(users, users.c.name == api_tokens.c.user_name)
                .where(
                    api_tokens.c.token_sha256 == digest,
                    api_tokens.c.revoked_at.is_(None),
                    users.c.disabled.is_(False),
                )
            ).first()
            if row is None:
                return None
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == row.id).values(last_used_at=_now())
            )
        return Account(row.name, row.role, row.session_epoch)
