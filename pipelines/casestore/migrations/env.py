"""Alembic environment for the case store, configured in code by pipelines.casestore.migrate.

The caller hands over an open connection, already in a transaction (and, on PostgreSQL,
holding the migration lock), as `config.attributes["connection"]`; no alembic.ini is read.
"""

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from pipelines.casestore.schema import Money, UtcDateTime, metadata


def render_item(kind: str, obj: object, _context: AutogenContext) -> str | Literal[False]:
    """Drafts spell schema.py's types as the plain types they store, so that a migration
    keeps meaning what it created when schema.py changes."""
    if kind == "type" and isinstance(obj, Money):
        return 'sa.Numeric(18, 2).with_variant(sa.Text(), "sqlite")'
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
context.configure(
    connection=config.attributes["connection"],
    target_metadata=metadata,
    version_table=config.attributes["version_table"],
    render_as_batch=True,  # drafts alter tables in batches, which SQLite needs
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
