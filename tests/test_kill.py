"""`recon backfill` killed (SIGKILL) at seeded random moments, then run again: the
published nights and the case store are those of a run that was never killed, on SQLite
and on PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, text

from pipelines.casestore import migrate
from pipelines.casestore.schema import metadata
from pipelines.settings import default_db_url
from tests.support.nights import GeneratedWorld, copy, published, store_state
from tests.support.postgres import admin_url as find_admin_url

BIN = Path(sys.executable).parent
NIGHTS = 3  # the backfill killed: the bill-run night and the two after it
KILLS = 3  # moments per store
SEED = 8


def backfill(world: GeneratedWorld, warehouse: Path, env: dict[str, str]) -> subprocess.Popen:
    last = world.night + timedelta(days=NIGHTS - 1)
    args = ["backfill", "--landing", world.landing, "--warehouse", warehouse, "--no-validate"]
    args += ["--start", world.night, "--end", last]
    return subprocess.Popen(
        [str(BIN / "recon"), *map(str, args)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen) -> float:
    t0 = time.monotonic()
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return time.monotonic() - t0


def nights(world: GeneratedWorld) -> list[date]:
    return [world.night + timedelta(days=i) for i in range(NIGHTS)]


def check_kills(world: GeneratedWorld, tmp: Path, store: str, trial_env) -> None:
    """A clean backfill (timed), then KILLS backfills killed within that time and run again."""
    clean = copy(world.base, tmp / "clean")
    env = trial_env("clean")
    t0 = time.monotonic()
    finish(backfill(world, clean, env))
    took = time.monotonic() - t0
    want_store = store_state(clean, env.get("RECON_DB_URL"))
    want = {day: published(clean, day) for day in nights(world)}
    rng = random.Random(f"{SEED}-{store}")
    for i in range(KILLS):
        warehouse = copy(world.base, tmp / f"killed-{i}")
        env = trial_env(f"k{i}")
        proc = backfill(world, warehouse, env)
        time.sleep(rng.uniform(0.1, took))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        finish(backfill(world, warehouse, env))
        for day in nights(world):
            assert published(warehouse, day) == want[day], (i, day)
        assert store_state(warehouse, env.get("RECON_DB_URL")) == want_store, i
        assert not [p for p in warehouse.rglob(".*") if p.name != ".recon.lock"], i
        assert not (warehouse / "staging").exists() or not any((warehouse / "staging").iterdir())


@pytest.mark.slow
def test_killed_backfills_on_sqlite_end_as_clean_ones(generated_world, tmp_path) -> None:
    check_kills(generated_world, tmp_path, "sqlite", lambda _name: {})


@pytest.mark.slow
@pytest.mark.postgres
def test_killed_backfills_on_postgres_end_as_clean_ones(generated_world, tmp_path, pg_url) -> None:
    """The base's SQLite store copied into PostgreSQL once; each run gets a copy of it."""
    copy_store(default_db_url(str(generated_world.base)), pg_url)
    admin_url, _ = find_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    template = pg_url.rsplit("/", 1)[1]
    made = []

    def trial_env(name: str) -> dict[str, str]:
        db = f"{template}_{name}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db}" TEMPLATE "{template}"'))
        made.append(db)
        return {"RECON_DB_URL": pg_url.rsplit("/", 1)[0] + f"/{db}"}

    try:
        check_kills(generated_world, tmp_path, "postgres", trial_env)
    finally:
        with admin.connect() as conn:
            for db in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def copy_store(source_url: str, target_url: str) -> None:
    """Every row of a case store into an empty database brought to the current schema by
    its migrations, tables in dependency order."""
    migrate.upgrade(target_url)
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        with source.connect() as src, target.begin() as dst:
            for table in metadata.sorted_tables:
                rows = [dict(r) for r in src.execute(select(table)).mappings()]
                if rows:
                    dst.execute(insert(table), rows)
            dst.execute(  # ids were copied: the next history row takes the next one
                text(
                    "SELECT setval(pg_get_serial_sequence('case_history', 'id'), max(id)) "
                    "FROM case_history"
                )
            )
    finally:
        source.dispose()
        target.dispose()
