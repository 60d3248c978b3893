"""Alembic environment for the case store, configured in code by pipelines.casestore.migrate.

The caller hands over an open connection, already in a transaction (and, on PostgreSQL,
holding the migration lock), as `config.attributes["connection"]`; no alembic.ini is read.
"""

from alembic import context

from pipelines.casestore.schema import metadata

config = context.config
context.configure(
    connection=config.attributes["connection"],
    target_metadata=metadata,
    version_table=config.attributes["version_table"],
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
