"""The local PostgreSQL server the tests use, and a role that can administer it."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_HOST = "127.0.0.1:5432"
PG_ROLES = ("postgres", "root")


def admin_url() -> tuple[str, str]:
    """The first role that can log in to the server's `postgres` database, and why not."""
    errors = []
    for role in PG_ROLES:
        url = f"postgresql+psycopg://{role}@{PG_HOST}/postgres"
        engine = create_engine(
            url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url, ""
        except OperationalError as exc:
            errors.append(f"{role}: {str(exc.orig).strip().splitlines()[0]}")
        finally:
            engine.dispose()
    return "", "; ".join(errors)
