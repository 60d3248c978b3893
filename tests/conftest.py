"""Shared fixtures: a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_HOST = "127.0.0.1:5432"
PG_ROLES = ("postgres", "root")


def _admin_url() -> tuple[str, str]:
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


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh database `recon_test_<random>` on 127.0.0.1:5432, dropped afterwards.

    Skips when the server is unreachable, unless CI is set: then it fails.
    """
    admin_url, why = _admin_url()
    if not admin_url:
        message = f"PostgreSQL unreachable at {PG_HOST} ({why})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"recon_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
