"""Fixtures of the desk's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.desk import build_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A demo-like case store (tests.support.desk.build_store) on SQLite and PostgreSQL."""
    url = (
        f"sqlite:///{tmp_path / 'cases.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    build_store(url)
    return url
