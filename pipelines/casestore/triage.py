"""Triage by an authenticated account: role checks, then the case store's change and history.

Every change is recorded in case_history under the account's name, never a typed one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update

from pipelines.casestore.access import (
    Forbidden,
    check_assign,
    check_case_change,
    check_lead,
)
from pipelines.casestore.accounts import Account, Accounts
from pipelines.casestore.schema import cases
from pipelines.casestore.store import (
    CaseNotFound,
    CaseStore,
    Recovery,
    _add_history,
    _case_for_update,
)
from pipelines.catalogue import NOTE_REQUIRED_STATUSES, PERSON_STATUSES

CONTACT_CHANNELS = ("phone", "email", "sms", "letter", "store", "social", "chat")
MAX_NOTE = 2000
MAX_BULK = 500


class TriageError(ValueError):
    """A change that cannot be made as asked (missing note, unknown owner, ...): HTTP 400."""


def _note(note: str | None, required: bool, what: str) -> str | None:
    text = (note or "").strip()
    if required and not text:
        raise TriageError(f"a note is required to {what}")
    if len(text) > MAX_NOTE:
        raise TriageError(f"a note has at most {MAX_NOTE} characters")
    return text or None


def recovery_of(amount: str | None, how: str | None) -> Recovery | None:
    """A person's recovery from form or command-line text: none without `how`."""
    how, amount = (how or "").strip(), (amount or "").strip()
    if not how:
        if amount:
            raise TriageError("say how the amount was recovered")
        return None
    try:
        value = Decimal(amount) if amount else None
    except InvalidOperation as exc:
        raise TriageError(f"recovered: not an amount: {amount[:40]!r}") from exc
    try:
        return Recovery(value, how)
    except ValueError as exc:
        raise TriageError(str(exc)) from exc


class Triage:
    """The changes people make to cases, each checked against the account's role."""

    def __init__(self, store: CaseStore, accounts: Accounts):
        self.store = store
        self.accounts = accounts

    def _owner(self, case_id: str) -> str | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(cases.c.owner).where(cases.c.case_id == case_id)).first()
        if row is None:
            raise CaseNotFound(case_id)
        return row.owner

    def set_status(
        self,
        account: Account,
        case_id: str,
        status: str,
        note: str | None,
        recovery: Recovery | None = None,
    ) -> bool:
        """Change the status (note required to resolve or mark false positive); resolving
        may record what was recovered and how."""
        if status not in PERSON_STATUSES:
            raise TriageError(f"a person sets one of {', '.join(PERSON_STATUSES)}, not {status!r}")
        if recovery is not None and status != "resolved":
            raise TriageError("an amount recovered is recorded when the case is resolved")
        check_case_change(account, self._owner(case_id))
        text = _note(note, status in NOTE_REQUIRED_STATUSES, f"set {status.replace('_', ' ')}")
        return self.store.set_status(case_id, status, account.name, text, recovery)

    def assign(
        self, account: Account, case_id: str, owner: str | None, note: str | None = None
    ) -> bool:
        """Give the case to `owner` (an enabled account) or to nobody."""
        owner = (owner or "").strip() or None
        check_assign(account, self._owner(case_id), owner)
        if owner is not None and self.accounts.get(owner) is None:
            raise TriageError(f"no enabled account {owner!r} to assign to")
        return self.store.assign(case_id, owner, account.name, _note(note, False, "assign"))

    def take(self, account: Account, case_id: str) -> bool:
        """The account takes the case for themselves."""
        return self.assign(account, case_id, account.name)

    def contact(
        self,
        account: Account,
        case_id: str,
        channel: str,
        promise: str | None,
        next_update_by: date | None,
    ) -> None:
        """Record that the customer was contacted: how, what was promised and by when."""
        if channel not in CONTACT_CHANNELS:
            raise TriageError(f"channel is one of {', '.join(CONTACT_CHANNELS)}")
        text = _note(promise, False, "log a contact")
        with self.store.engine.begin() as conn:
            old = _case_for_update(conn, case_id)
            check_case_change(account, old["owner"])
            conn.execute(
                update(cases)
                .where(cases.c.case_id == case_id)
                .values(next_update_by=next_update_by, updated_at=datetime.now(UTC))
            )
            changes: dict[str, list[object]] = {
                "channel": [None, channel],
                "next_update_by": [
                    _iso(old["next_update_by"]),
                    _iso(next_update_by),
                ],
            }
            _add_history(
                conn,
                case_id,
                account.name,
                "contacted",
                old["status"],
                old["status"],
                text,
                changes,
            )

    def bulk(
        self,
        account: Account,
        case_ids: list[str],
        status: str | None,
        owner: str | None,
        assign: bool,
        note: str | None,
    ) -> dict[str, Any]:
        """A lead's change to many cases: a status, an owner, or both, with one note."""
        check_lead(account)
        ids = list(dict.fromkeys(i for i in case_ids if i))
        if not ids:
            raise TriageError("select at least one case")
        if len(ids) > MAX_BULK:
            raise TriageError(f"at most {MAX_BULK} cases at once")
        if status is None and not assign:
            raise TriageError("choose a status or an owner")
        text = _note(note, True, "act in bulk")
        changed = 0
        for case_id in ids:
            if assign and self.assign(account, case_id, owner, text):
                changed += 1
            if status is not None and self.set_status(account, case_id, status, text):
                changed += 1
        return {"cases": len(ids), "changes": changed}


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


__all__ = ["CONTACT_CHANNELS", "Forbidden", "Triage", "TriageError"]
