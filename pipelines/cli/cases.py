"""`recon cases`: list, show and triage the cases in the case store."""

from __future__ import annotations

import functools
import getpass
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from pipelines.casestore.access import Forbidden
from pipelines.casestore.accounts import Account, Accounts
from pipelines.casestore.engine import sqlite_file
from pipelines.casestore.migrate import SchemaError
from pipelines.casestore.schema import PERSON_RECOVERY_METHODS
from pipelines.casestore.schema import cases as cases_table
from pipelines.casestore.store import CaseNotFound, CaseStore
from pipelines.casestore.triage import Triage, recovery_of
from pipelines.catalogue import (
    AMOUNT_KINDS,
    PERSON_STATUSES,
    RULE_SPECS,
    SEVERITY_ORDER,
    STATUSES,
)
from pipelines.cli.tables import aligned
from pipelines.csv_safe import csv_text
from pipelines.redact import reason
from pipelines.settings import ConfigError, api_token, case_store_url

LIST_COLUMNS = (*cases_table.columns.keys(), "age_days")
TABLE_COLUMNS = (
    "case_id",
    "rule_id",
    "severity",
    "status",
    "customer_id",
    "amount",
    "amount_kind",
    "first_seen",
    "last_seen",
    "age_days",
    "owner",
    "summary",
)
SUMMARY_WIDTH = 60


class CasesUsageError(click.ClickException):
    """A usage problem the user can fix: exit code 2."""

    exit_code = 2


def _store_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add --db/--warehouse and hand the command an open `store` instead."""

    @click.option(
        "--db",
        "db_url",
        help="SQLAlchemy URL of the case store [env RECON_DB_URL].",
    )
    @click.option(
        "--warehouse",
        help="Warehouse whose recon.db is the default store [env RECON_WAREHOUSE].",
    )
    @functools.wraps(command)
    def wrapper(db_url: str | None, warehouse: str | None, **kwargs: Any) -> None:
        try:
            url = case_store_url(db_url, warehouse)
        except ConfigError as exc:
            raise CasesUsageError(str(exc)) from exc
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise CasesUsageError(f"--db is not a SQLAlchemy URL: {exc}") from exc
        path = sqlite_file(url)
        if path is not None and not parsed.query.get("uri") and not path.exists():
            raise CasesUsageError(f"no case store at {path} (give --db or --warehouse)")
        try:
            with CaseStore(url) as store:
                command(store=store, **kwargs)
        except CaseNotFound as exc:
            raise CasesUsageError(f"unknown case id: {exc.args[0]}") from exc
        except SchemaError as exc:
            raise click.ClickException(str(exc)) from exc
        except SQLAlchemyError as exc:
            raise click.ClickException(_store_failure(parsed, exc)) from None

    return wrapper


def _store_failure(url: URL, exc: SQLAlchemyError) -> str:
    """One line on a failed case store: where and the driver's reason, never the SQL
    statement or its parameters (customer ids, evidence) that SQLAlchemy's message holds."""
    where = url.render_as_string(hide_password=True)
    return f"case store {where}: {reason(exc)}"


def _text(value: object) -> str:
    """A value as table and CSV cells show it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _json_default(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _decimal(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise click.BadParameter(f"not a decimal amount: {value}") from exc
    if not amount.is_finite():
        raise click.BadParameter(f"not a finite amount: {value}")
    return amount


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """Rows as an aligned text table (amounts right-aligned)."""
    cells = [list(columns), *([_cell(r, c) for c in columns] for r in rows)]
    right = {i for i, c in enumerate(columns) if c in ("amount", "age_days")}
    return "\n".join(aligned(cells, right))


def _cell(row: dict[str, Any], column: str) -> str:
    if column == "amount":
        amount = row["amount_at_risk"]
        return "not priced" if amount is None else f"{amount} {row['currency'] or ''}".rstrip()
    text = _text(row.get(column))
    if column == "summary" and len(text) > SUMMARY_WIDTH:
        return text[: SUMMARY_WIDTH - 1] + "…"
    return text


@click.group("cases")
def cases() -> None:
    """Triage the case store: list, show, set status, assign."""


@cases.command("list")
@click.option(
    "--rule", type=click.Choice(sorted(RULE_SPECS)), metavar="RULE_ID", help="Only this rule."
)
@click.option("--severity", type=click.Choice(list(SEVERITY_ORDER)), help="Only this severity.")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@click.option("--customer", help="Only this customer_id.")
@click.option("--kind", type=click.Choice(AMOUNT_KINDS), help="Only this amount_kind.")
@click.option(
    "--min-amount", callback=_decimal, metavar="AMOUNT", help="Only amount_at_risk at least AMOUNT."
)
@click.option(
    "--min-age",
    "min_age",
    type=click.IntRange(min=0),
    metavar="DAYS",
    help="First seen at least DAYS before --as-of.",
)
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Date ages count to [default: latest business date recorded].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@_store_options
def list_cases(
    store: CaseStore,
    rule: str | None,
    severity: str | None,
    status: str | None,
    customer: str | None,
    kind: str | None,
    min_amount: Decimal | None,
    min_age: int | None,
    as_of: datetime | None,
    fmt: str,
) -> None:
    """List cases, most severe and largest amount first."""
    rows = store.list_cases(
        rule=rule,
        severity=severity,
        status=status,
        customer=customer,
        kind=kind,
        min_amount=min_amount,
        min_age_days=min_age,
        as_of=as_of.date() if as_of else None,
    )
    if fmt == "json":
        click.echo(json.dumps(rows, default=_json_default, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(csv_text(LIST_COLUMNS, rows), nl=False)
    elif rows:
        click.echo(_table(rows, TABLE_COLUMNS))
        click.echo(f"{len(rows)} case{'s' if len(rows) != 1 else ''}")
    else:
        click.echo("no cases match")


@cases.command("show")
@click.argument("case_id")
@_store_options
def show(store: CaseStore, case_id: str) -> None:
    """Show a case, its evidence, its history and the customer's other cases."""
    case = store.get_case(case_id)
    if case is None:
        raise CaseNotFound(case_id)
    skip = {"evidence", "history", "other_cases"}
    width = max(len(k) for k in case if k not in skip)
    for key, value in case.items():
        if key not in skip:
            click.echo(f"{key.ljust(width)}  {_text(value) or '-'}")
    click.echo("\nevidence:")
    try:
        evidence = json.dumps(json.loads(case["evidence"]), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        evidence = case["evidence"] or "-"
    click.echo("\n".join(f"  {line}" for line in evidence.splitlines()))
    click.echo("\nhistory:")
    for h in case["history"]:
        move = (
            ""
            if h["old_status"] == h["new_status"]
            else (f"  {h['old_status'] or '-'} -> {h['new_status']}")
        )
        night = f" night {h['business_date']}" if h["business_date"] else ""
        click.echo(
            f"  {_text(h['at'])}{night}  {h['actor']}  {h['action']}{move}"
            f"  {h['note'] or ''}".rstrip()
        )
        if h["changes"]:
            for field, (old, new) in h["changes"].items():
                click.echo(f"      {field}: {_text(old) or '-'} -> {_text(new) or '-'}")
    others = case["other_cases"]
    customer = case["customer_id"] or "-"
    click.echo(f"\nother cases of customer {customer}: {len(others)}")
    if others:
        click.echo(_table(others, tuple(c for c in TABLE_COLUMNS if c != "age_days")))


def _acting(store: CaseStore) -> tuple[str, Triage | None, Account | None]:
    """Who the change is recorded for: RECON_TOKEN's account (its role applies), else the
    OS user as 'os:NAME'."""
    token = api_token()
    if token:
        accounts = Accounts(store.engine)
        account = accounts.for_token(token)
        if account is None:
            raise CasesUsageError("RECON_TOKEN is not a live token of an enabled account")
        return account.name, Triage(store, accounts), account
    return f"os:{getpass.getuser()}", None, None


def _by_removed(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        raise click.BadParameter(
            "--by is gone: changes are recorded as the OS user, or RECON_TOKEN's account"
        )


by_option = click.option("--by", hidden=True, expose_value=False, callback=_by_removed)


@cases.command("set-status")
@click.argument("case_id")
@click.argument("status", type=click.Choice(PERSON_STATUSES))
@click.option("--note", required=True, help="Why.")
@click.option("--recovered", metavar="AMOUNT", help="Resolving: the amount recovered.")
@click.option(
    "--how",
    "recovered_how",
    type=click.Choice(PERSON_RECOVERY_METHODS),
    help="Resolving: how it was recovered.",
)
@by_option
@_store_options
def set_status(
    store: CaseStore,
    case_id: str,
    status: str,
    note: str,
    recovered: str | None,
    recovered_how: str | None,
) -> None:
    """Set a case's status ('resolved' records resolution 'manual'; with --how, and
    --recovered AMOUNT in the case's currency, what was recovered).

    The change is recorded as the OS user (os:NAME), or as the account of the bearer token
    in RECON_TOKEN, whose role then applies.
    """
    before = store.get_case(case_id)
    if before is None:
        raise CaseNotFound(case_id)
    actor, triage, account = _acting(store)
    try:
        recovery = recovery_of(recovered, recovered_how)
        if recovery is not None and status != "resolved":
            raise CasesUsageError("--recovered and --how go with status resolved")
        if triage is not None and account is not None:
            changed = triage.set_status(account, case_id, status, note, recovery)
        else:
            changed = store.set_status(case_id, status, actor, note, recovery)
    except (ValueError, Forbidden) as exc:
        raise CasesUsageError(str(exc)) from exc
    if changed:
        got = f"; recovered {recovery.text(before['currency'])}" if recovery else ""
        click.echo(f"case {case_id}: {before['status']} -> {status} (by {actor}){got}")
    else:
        click.echo(f"case {case_id} is already {status}; nothing changed")


@cases.command("assign")
@click.argument("case_id")
@click.argument("owner")
@click.option("--note", help="Why.")
@by_option
@_store_options
def assign(store: CaseStore, case_id: str, owner: str, note: str | None) -> None:
    """Give a case to OWNER (recorded as the OS user, or RECON_TOKEN's account)."""
    actor, triage, account = _acting(store)
    try:
        if triage is not None and account is not None:
            changed = triage.assign(account, case_id, owner, note)
        else:
            changed = store.assign(case_id, owner, actor, note)
    except (ValueError, Forbidden) as exc:
        raise CasesUsageError(str(exc)) from exc
    if changed:
        click.echo(f"case {case_id} assigned to {owner} (by {actor})")
    else:
        click.echo(f"case {case_id} is already assigned to {owner}; nothing changed")
