"""`recon serve`: the triage desk on uvicorn (the one command that starts the web edge)."""

from __future__ import annotations

import click

from pipelines.casestore.migrate import SchemaError
from pipelines.settings import ConfigError, case_store_url, desk_settings

LOCAL_HOST = "127.0.0.1"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--db", "db_url", envvar="RECON_DB_URL", help="Case store URL [env RECON_DB_URL].")
@click.option("--warehouse", envvar="RECON_WAREHOUSE", help="Warehouse root [env RECON_WAREHOUSE].")
def serve(host: str, port: int, db_url: str | None, warehouse: str | None) -> None:
    """Serve the triage desk (needs RECON_SECRET_KEY to bind anything but 127.0.0.1)."""
    import uvicorn

    from pipelines.web.app import create_app
    from pipelines.web.config import DeskConfig

    try:
        config = DeskConfig(
            db_url=case_store_url(db_url, warehouse), warehouse=warehouse, **desk_settings()
        )
    except (ConfigError, ValueError) as exc:
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
    try:
        app = create_app(config)  # checks the case store's schema (recon db upgrade)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"recon desk on http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, proxy_headers=False, log_level="info")
