"""`recon users` (accounts of the desk) and `recon serve` (the desk itself)."""

from __future__ import annotations

import logging
import sys

import click

from pipelines.casestore import case_store_url
from pipelines.casestore.accounts import AccountError, Accounts
from pipelines.casestore.schema import ROLES
from pipelines.casestore.store import CaseStore

log = logging.getLogger(__name__)
db_option = click.option(
    "--db", "db_url", envvar="RECON_DB_URL", help="Case store SQLAlchemy URL [env RECON_DB_URL]."
)
warehouse_option = click.option(
    "--warehouse", envvar="RECON_WAREHOUSE", help="Warehouse root [env RECON_WAREHOUSE]."
)


def _accounts(db_url: str | None, warehouse: str | None) -> Accounts:
    try:
        return Accounts(CaseStore(case_store_url(db_url, warehouse)).engine)
    except ValueError as exc:
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
def add(name: str, role: str, password_stdin: bool, no_password: bool, db_url, warehouse) -> None:  # type: ignore[no-untyped-def]
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
def list_users(db_url, warehouse) -> None:  # type: ignore[no-untyped-def]
    """List the accounts."""
    rows = _accounts(db_url, warehouse).list()
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
def disable(name: str, db_url, warehouse) -> None:  # type: ignore[no-untyped-def]
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
def set_password(name: str, password_stdin: bool, db_url, warehouse) -> None:  # type: ignore[no-untyped-def]
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
def token(name: str, label: str | None, revoke: bool, db_url, warehouse) -> None:  # type: ignore[no-untyped-def]
    """Print a new bearer token for NAME (shown once; only its hash is kept)."""
    accounts = _accounts(db_url, warehouse)
    try:
        if revoke:
            click.echo(f"{accounts.revoke_tokens(name)} tokens of {name} revoked")
            return
        click.echo(accounts.issue_token(name, label))
    except AccountError as exc:
        raise click.UsageError(str(exc)) from exc


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@db_option
@warehouse_option
def serve(host: str, port: int, db_url: str | None, warehouse: str | None) -> None:
    """Serve the triage desk (needs RECON_SECRET_KEY to bind anything but 127.0.0.1)."""
    import uvicorn

    from pipelines.web.app import create_app
    from pipelines.web.config import LOCAL_HOST, from_environment

    try:
        config = from_environment(case_store_url(db_url, warehouse), warehouse)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if config.ephemeral_key:
        if host != LOCAL_HOST:
            raise click.UsageError(
                f"RECON_SECRET_KEY is not set: the desk binds only {LOCAL_HOST} without it"
            )
        click.echo(
            "warning: RECON_SECRET_KEY is not set; sessions are signed with a key that "
            "lives only as long as this server",
            err=True,
        )
    app = create_app(config)
    click.echo(f"recon desk on http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, proxy_headers=False, log_level="info")
