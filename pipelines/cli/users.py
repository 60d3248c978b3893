"""`recon users`: the accounts of the triage desk."""

from __future__ import annotations

import sys

import click

from pipelines.casestore.accounts import AccountError, Accounts
from pipelines.casestore.schema import ROLES
from pipelines.casestore.store import CaseStore
from pipelines.settings import ConfigError, case_store_url

db_option = click.option(
    "--db", "db_url", envvar="RECON_DB_URL", help="Case store SQLAlchemy URL [env RECON_DB_URL]."
)
warehouse_option = click.option(
    "--warehouse", envvar="RECON_WAREHOUSE", help="Warehouse root [env RECON_WAREHOUSE]."
)


def _accounts(db_url: str | None, warehouse: str | None) -> Accounts:
    try:
        return Accounts(CaseStore(case_store_url(db_url, warehouse)).engine)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


def _password(stdin: bool) -> str:
    if stdin:
        text = sys.stdin.readline().rstrip("\r\n")
        if not text:
            raise click.UsageError("--password-stdin: no password on standard input")
        return text
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("users")
def users() -> None:
    """Accounts of the triage desk: add, list, disable, set a password, issue a token."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--no-password", is_flag=True, help="Token or single-sign-on only.")
@db_option
@warehouse_option
def add(
    name: str,
    role: str,
    password_stdin: bool,
    no_password: bool,
    db_url: str | None,
    warehouse: str | None,
) -> None:
    """Add an account NAME with a role."""
    accounts = _accounts(db_url, warehouse)
    password = None if no_password else _password(password_stdin)
    try:
        accounts.add(name, role, password)
    except AccountError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"user {name} added ({role})")


@users.command("list")
@db_option
@warehouse_option
def list_users(db_url: str | None, warehouse: str | None) -> None:
    """List the accounts."""
    rows = _accounts(db_url, warehouse).listing()
    if not rows:
        click.echo("no users")
        return
    width = max(len(str(r["name"])) for r in rows)
    for r in rows:
        state = "disabled" if r["disabled"] else "enabled"
        click.echo(
            f"{str(r['name']).ljust(width)}  {r['role']:<7}  {state:<8}  tokens {r['tokens']}"
        )


@users.command("disable")
@click.argument("name")
@db_option
@warehouse_option
def disable(name: str, db_url: str | None, warehouse: str | None) -> None:
    """Disable NAME: its sessions and tokens stop working at once."""
    try:
        _accounts(db_url, warehouse).disable(name)
    except AccountError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"user {name} disabled")


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@db_option
@warehouse_option
def set_password(
    name: str, password_stdin: bool, db_url: str | None, warehouse: str | None
) -> None:
    """Set NAME's password; their open sessions end."""
    accounts = _accounts(db_url, warehouse)
    try:
        accounts.set_password(name, _password(password_stdin))
    except AccountError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"password of {name} changed")


@users.command("token")
@click.argument("name")
@click.option("--label", help="What the token is for.")
@click.option("--revoke", is_flag=True, help="Revoke every token of NAME instead.")
@db_option
@warehouse_option
def token(
    name: str, label: str | None, revoke: bool, db_url: str | None, warehouse: str | None
) -> None:
    """Print a new bearer token for NAME (shown once; only its hash is kept)."""
    accounts = _accounts(db_url, warehouse)
    try:
        if revoke:
            click.echo(f"{accounts.revoke_tokens(name)} tokens of {name} revoked")
            return
        click.echo(accounts.issue_token(name, label))
    except AccountError as exc:
        raise click.UsageError(str(exc)) from exc
