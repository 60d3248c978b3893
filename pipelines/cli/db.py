"""`recon db`: upgrade the case store's schema, show its revision."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from pipelines.casestore import migrate
from pipelines.casestore.engine import sqlite_file
from pipelines.redact import reason
from pipelines.settings import ConfigError, case_store_url

T = TypeVar("T")


class DbUsageError(click.ClickException):
    """A usage problem the user can fix: exit code 2."""

    exit_code = 2


def _url_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add --db/--warehouse and hand the command the store's resolved `url` instead."""

    @click.option("--db", "db_url", help="SQLAlchemy URL of the case store [env RECON_DB_URL].")
    @click.option(
        "--warehouse",
        help="Warehouse whose recon.db is the default store [env RECON_WAREHOUSE].",
    )
    @functools.wraps(command)
    def wrapper(db_url: str | None, warehouse: str | None, **kwargs: Any) -> None:
        try:
            url = case_store_url(db_url, warehouse)
        except ConfigError as exc:
            raise DbUsageError(str(exc)) from exc
        command(url=url, **kwargs)

    return wrapper


def _shown(url: str) -> str:
    """The store as messages name it: no password."""
    return make_url(url).render_as_string(hide_password=True)


def _checked(action: Callable[[], T]) -> T:
    """Run `action`; schema and database failures exit 1 with one line, no SQL."""
    try:
        return action()
    except migrate.SchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise click.ClickException(f"case store unreachable or failing: {reason(exc)}") from exc


@click.group("db")
def db() -> None:
    """The case store's schema: upgrade it, show its revision."""


@db.command()
@_url_options
def upgrade(url: str) -> None:
    """Upgrade the case store to this recon's schema (a release 0.1 store in place)."""
    before, after = _checked(lambda: migrate.upgrade(url))
    if before == after:
        click.echo(f"{_shown(url)}: already at {after}")
    else:
        click.echo(f"{_shown(url)}: {before or 'no version'} -> {after}")


@db.command()
@_url_options
def current(url: str) -> None:
    """Print the case store's revision, and whether it is this recon's (head)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise DbUsageError(f"no case store at {path} (give --db or --warehouse)")
    revision = _checked(lambda: migrate.current(url))
    head = migrate.head()
    if revision == head:
        click.echo(f"{revision} (head)")
    elif revision is not None and not migrate.is_known(revision):
        click.echo(f"{revision} (unknown to this recon, whose head is {head}: upgrade recon)")
    elif revision is not None:
        click.echo(f"{revision} (head is {head}: run `recon db upgrade`)")
    elif _checked(lambda: migrate.has_case_tables(url)):
        click.echo("none (a release 0.1 store: run `recon db upgrade`)")
    else:
        click.echo("none (empty database)")
