"""`recon letters hold-list`: the letters the dispatch system must hold (contract 3.1)."""

from __future__ import annotations

from datetime import datetime

import click

from pipelines.night import rewrite_hold_list


@click.group("letters")
def letters() -> None:
    """Retention letters recon flags as wrong."""


@letters.command("hold-list")
@click.option(
    "--business-date",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="The published night whose letters to hold are written again.",
)
@click.option("--warehouse", required=True, help="Warehouse root: folder or s3:// prefix.")
@click.option("--db", "db_url", help="SQLAlchemy URL of the case store [env RECON_DB_URL].")
def hold_list(business_date: datetime, warehouse: str, db_url: str | None) -> None:
    """Write letters_to_hold.csv and .parquet of a night again from current statuses, so a
    letter whose case was marked false positive is released."""
    day = business_date.date()
    try:
        rows = rewrite_hold_list(warehouse, day, db_url)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{day}: {len(rows)} letter{'s' if len(rows) != 1 else ''} to hold; "
        f"{warehouse}/cases/business_date={day}/letters_to_hold.csv"
    )
