"""Who may change what: the roles of issue 10, shared by the desk, its API and the CLI.

auditor  reads everything, changes nothing
agent    works unassigned cases and their own; takes a case, or gives back their own
lead     everything an agent does, on any case; assigns to anyone; acts in bulk
admin    everything a lead does, and manages the accounts
"""

from __future__ import annotations

from pipelines.casestore.accounts import Account

CASE_WORKERS = ("agent", "lead", "admin")
LEADS = ("lead", "admin")


class Forbidden(PermissionError):
    """The account's role does not allow the change (HTTP 403)."""


def check_works_cases(account: Account) -> None:
    if account.role not in CASE_WORKERS:
        raise Forbidden(f"{account.name} is an {account.role}: an auditor changes nothing")


def check_case_change(account: Account, owner: str | None) -> None:
    """May the account change the status of (or log a contact on) a case owned by `owner`?"""
    check_works_cases(account)
    if account.role not in LEADS and owner not in (None, account.name):
        raise Forbidden(f"case belongs to {owner}: an agent works unassigned cases and their own")


def check_assign(account: Account, owner: str | None, new_owner: str | None) -> None:
    """May the account give a case owned by `owner` to `new_owner` (None: nobody)?"""
    check_case_change(account, owner)
    if account.role not in LEADS and new_owner not in (account.name, None):
        raise Forbidden("an agent takes cases for themselves; a lead assigns them to others")


def check_lead(account: Account) -> None:
    """Bulk actions and assigning to others are a lead's."""
    check_works_cases(account)
    if account.role not in LEADS:
        raise Forbidden(f"{account.name} is an {account.role}: bulk actions are a lead's")


def check_admin(account: Account) -> None:
    if account.role != "admin":
        raise Forbidden("managing accounts is an admin's")
