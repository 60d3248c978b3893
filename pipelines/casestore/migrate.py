"""The case store's schema versions (Alembic): upgrade, current revision, the check before use.

The embedded SQLite store is upgraded on first use. Any other database is changed only by
`recon db upgrade` (an empty one excepted: it gets the whole schema), so that production
schema changes happen when an operator says so. Alembic is configured here, in code, from
the migrations shipped inside the package; no alembic.ini is read.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import URL

from pipelines.casestore.engine import SQLITE_WRITE_LOCK, make_engine

MIGRATIONS = Path(__file__).with_name("migrations")
# Not `alembic_version`: the store may share a database with Airflow's, which has one.
VERSION_TABLE = "casestore_alembic_version"
BASE_REVISION = "0001_initial"  # release 0.1's schema: stamped on the stores 0.1 created
PG_LOCK_KEY = 0x7265636F6E  # advisory lock held while a PostgreSQL store is upgraded
UPGRADE_HINT = "run `recon db upgrade --db URL` first"

Database = str | URL | Engine


class SchemaError(RuntimeError):
    """The case store's schema is not one this code can use as it is."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s")
    config.attributes.update(connection=connection, version_table=VERSION_TABLE)
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The revision this code's schema is at."""
    revision = _script().get_current_head()
    assert revision is not None, "no migrations shipped"
    return revision


@contextmanager
def _engine(db: Database) -> Iterator[Engine]:
    if isinstance(db, Engine):
        yield db
        return
    engine = make_engine(db)
    try:
        yield engine
    finally:
        engine.dispose()


def _revision(conn: Connection) -> str | None:
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def current(db: Database) -> str | None:
    """The store's revision; None for an empty database or a store of release 0.1."""
    with _engine(db) as engine, engine.connect() as conn:
        return _revision(conn)


def has_case_tables(db: Database) -> bool:
    """Whether any case-store table exists (so a store without a version is release 0.1's)."""
    with _engine(db) as engine, engine.connect() as conn:
        return bool(_case_tables(conn))


def _case_tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) & set(_base_shape())


def _shape(conn: Connection, tables: Iterable[str]) -> dict[str, dict[str, object]]:
    """Per table, what a dialect reflects alike: columns, keys, indexes, check names."""
    found = inspect(conn)
    return {
        table: {
            "columns": [(c["name"], c["nullable"]) for c in found.get_columns(table)],
            "primary key": found.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (str(fk["name"]), *fk["constrained_columns"], fk["referred_table"])
                for fk in found.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (str(i["name"]), *map(str, i["column_names"])) for i in found.get_indexes(table)
            ),
            "checks": sorted(str(c["name"]) for c in found.get_check_constraints(table)),
        }
        for table in tables
    }


@functools.cache
def _base_shape() -> dict[str, dict[str, object]]:
    """The shape of BASE_REVISION, built in a scratch in-memory SQLite database."""
    engine = make_engine("sqlite://")
    try:
        with engine.connect() as conn, conn.begin():
            command.upgrade(_config(conn), BASE_REVISION)
            return _shape(conn, sorted(set(inspect(conn).get_table_names()) - {VERSION_TABLE}))
    finally:
        engine.dispose()


def is_known(revision: str) -> bool:
    """Whether `revision` is one of this code's migrations (not a newer recon's)."""
    return revision in {s.revision for s in _script().walk_revisions()}


def _check_known(revision: str | None) -> None:
    if revision is not None and not is_known(revision):
        raise SchemaError(
            f"the case store is at revision {revision}, which this recon does not know "
            "(a newer recon upgraded it): upgrade recon"
        )


def _verify_release_0_1(conn: Connection) -> None:
    expected = _base_shape()
    found = _shape(conn, _case_tables(conn))
    differing = sorted(t for t in expected if found.get(t) != expected[t])
    if differing:
        raise SchemaError(
            "the case store has no schema version and its tables are not release 0.1's "
            f"({', '.join(differing)} differ): not upgrading it"
        )


@contextmanager
def _migration_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction that holds the store's write lock (SQLite) or migration lock (PG).

    On SQLite, foreign keys are off while it runs (they can only be switched outside a
    transaction), so that a migration may rebuild a table others refer to (batch mode: drop,
    recreate, copy back); they are checked before the commit.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            conn.execution_options(**{SQLITE_WRITE_LOCK: True})
            _sqlite_foreign_keys(conn, on=False)
        try:
            with conn.begin():
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
                yield conn
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise SchemaError("a migration left rows whose foreign keys point nowhere")
        finally:
            if sqlite:
                _sqlite_foreign_keys(conn, on=True)


def _sqlite_foreign_keys(conn: Connection, on: bool) -> None:
    """PRAGMA foreign_keys on the driver's connection: SQLAlchemy would open a transaction."""
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def upgrade(db: Database) -> tuple[str | None, str]:
    """Bring the store to head in one transaction; returns (revision before, revision after).

    A store of release 0.1 (its tables, no version) is verified and stamped BASE_REVISION
    first; an empty database gets every migration. Concurrent upgrades wait for each other.
    """
    with _engine(db) as engine, _migration_transaction(engine) as conn:
        before = _revision(conn)
        _check_known(before)
        if before is None and _case_tables(conn):
            _verify_release_0_1(conn)
            command.stamp(_config(conn), BASE_REVISION)
        command.upgrade(_config(conn), "head")
        return before, head()


def ensure_current(db: Database) -> None:
    """The check before every use of the store: SQLite and empty databases are upgraded,
    any other store that is behind raises SchemaError naming `recon db upgrade`."""
    with _engine(db) as engine:
        with engine.connect() as conn:
            revision = _revision(conn)
            if revision == head():
                return
            _check_known(revision)
            empty = revision is None and not _case_tables(conn)
        if empty or engine.dialect.name == "sqlite":
            upgrade(engine)
            return
        found = f"is at revision {revision}" if revision else "has no schema version (release 0.1)"
        raise SchemaError(
            f"the case store {found} and this recon needs revision {head()}: {UPGRADE_HINT}"
        )


def draft_revision(rev_id: str, message: str) -> Path:
    """Write versions/<rev_id>.py with what autogenerate finds between head and schema.py.

    A draft to review: autogenerate sees no CHECK constraint changes and compares on a
    scratch SQLite store.
    """
    engine = make_engine("sqlite://")
    try:
        with engine.connect() as conn, conn.begin():
            config = _config(conn)
            command.upgrade(config, "head")
            script = command.revision(config, message, autogenerate=True, rev_id=rev_id)
    finally:
        engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "revision":
        sys.exit("usage: python -m pipelines.casestore.migrate revision REV_ID MESSAGE")
    print(draft_revision(sys.argv[2], sys.argv[3]))
