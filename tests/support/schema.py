"""How a case store's schema differs from the schema recon declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect

from pipelines.casestore import migrate


def schema_differences(url: str, target: MetaData) -> list[object]:
    """What autogenerate finds between the database and `target`, plus CHECK constraints
    (which autogenerate ignores) compared with those `target.create_all` makes there."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": migrate.VERSION_TABLE, "compare_type": True}
            )
            differences: list[object] = list(compare_metadata(context, target))
            conn.exec_driver_sql(
                "ATTACH DATABASE ':memory:' AS reference"
                if engine.dialect.name == "sqlite"
                else "CREATE SCHEMA reference"
            )
            target.create_all(conn.execution_options(schema_translate_map={None: "reference"}))
            found = inspect(conn)
            for table in target.tables:
                checks = [
                    sorted((c["name"], c["sqltext"]) for c in found.get_check_constraints(table, s))
                    for s in (None, "reference")
                ]
                if checks[0] != checks[1]:
                    differences.append(("checks", table, *checks))
            conn.rollback()
        return differences
    finally:
        engine.dispose()
