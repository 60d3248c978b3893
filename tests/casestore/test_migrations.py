"""Case store migrations: 0.1 stores upgrade in place, the head schema is schema.py's,
stores behind are upgraded (SQLite) or refused (PostgreSQL), `recon db upgrade|current`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import CheckConstraint, Column, MetaData, Text, create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from pipelines.casestore import migrate, open_store
from pipelines.casestore.accounts import Accounts
from pipelines.casestore.schema import metadata
from pipelines.casestore.store import CaseStore
from pipelines.casestore.triage import Triage
from pipelines.cli import main
from tests.support.desk import LETTER, fast_hashing
from tests.support.schema import schema_differences

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
# What release 0.1 wrote (tests/fixtures/README.md): 69 nights, then four triage changes.
V0_1_COUNTS = {"runs": 69, "cases": 16, "case_sightings": 407, "case_history": 23}
LAST_NIGHT = date(2024, 3, 9)
HEAD = migrate.head()


def load_v0_1_postgres(url: str) -> None:
    """Build the 0.1 store on PostgreSQL: 0.1's DDL, then its rows as pg_dump wrote them."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql((FIXTURES / "case_store_v0_1.sql").read_text(encoding="utf-8"))
            rows = (FIXTURES / "case_store_v0_1_rows.sql").read_text(encoding="utf-8")
            conn.exec_driver_sql(rows)
    finally:
        engine.dispose()  # the dump empties search_path for its session


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'recon.db'}"
    return request.getfixturevalue("pg_url")


def write_v0_1(url: str) -> None:
    """Make the empty database at `url` the case store release 0.1 wrote."""
    if url.startswith("sqlite:///"):
        shutil.copyfile(FIXTURES / "casestore_v0_1.sqlite", url.removeprefix("sqlite:///"))
    else:
        load_v0_1_postgres(url)


@pytest.fixture
def v0_1_url(empty_url: str) -> str:
    """A case store written by release 0.1."""
    write_v0_1(empty_url)
    return empty_url


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world the 0.1 fixture was backfilled from; its last night was not run."""
    from pipelines.generator import generate

    out = tmp_path_factory.mktemp("world") / "landing"
    generate(out, 7, 50, date(2024, 1, 1), 70)
    return out


def copied() -> MetaData:
    """A copy of schema.py's metadata, to change in a test."""
    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def recon(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def snapshot(
    url: str, columns: dict[str, list[str]] | None = None
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in key order, as schema.py's types read them: of the
    tables and columns the database has (or those given, as an earlier snapshot found)."""
    engine = create_engine(url)
    try:
        if columns is None:
            found = inspect(engine)
            columns = {
                t: [c["name"] for c in found.get_columns(t)]
                for t in found.get_table_names()
                if t in metadata.tables
            }
        with engine.connect() as conn:
            return {
                t.name: [
                    tuple(r)
                    for r in conn.execute(
                        select(*(t.c[c] for c in columns[t.name])).order_by(*t.primary_key)
                    )
                ]
                for t in metadata.sorted_tables
                if t.name in columns
            }
    finally:
        engine.dispose()


def columns_of(shot: dict[str, list[tuple[object, ...]]], url: str) -> dict[str, list[str]]:
    engine = create_engine(url)
    try:
        found = inspect(engine)
        return {t: [c["name"] for c in found.get_columns(t)] for t in shot}
    finally:
        engine.dispose()


def version_table_exists(url: str) -> bool:
    engine = create_engine(url)
    try:
        return inspect(engine).has_table(migrate.VERSION_TABLE)
    finally:
        engine.dispose()


def test_a_0_1_store_upgrades_in_place_and_runs_a_further_night(
    v0_1_url: str, landing: Path, tmp_path: Path
) -> None:
    before = snapshot(v0_1_url)
    release_0_1 = columns_of(before, v0_1_url)
    assert {t: len(rows) for t, rows in before.items()} == V0_1_COUNTS
    assert migrate.current(v0_1_url) is None and not version_table_exists(v0_1_url)

    result = recon("db", "upgrade", "--db", v0_1_url)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f": no version -> {HEAD}\n")
    assert migrate.current(v0_1_url) == HEAD
    assert snapshot(v0_1_url, release_0_1) == before  # every row, every value
    assert schema_differences(v0_1_url, metadata) == []
    with CaseStore(v0_1_url) as store:
        triaged = store.get_case("7ae2bb90317a20ef")
        assert triaged is not None
        assert (triaged["status"], triaged["owner"]) == ("acknowledged", "bob")
        assert triaged["amount_at_risk"] == Decimal("27.50")
        assert store.get_case("133a36e301935b87")["owner"] == "Zoë O'Brien"  # type: ignore[index]
        assert store.latest_business_date() == LAST_NIGHT

    result = recon(
        "run",
        "--landing",
        str(landing),
        "--warehouse",
        str(tmp_path / "warehouse"),
        "--business-date",
        "2024-03-10",
        "--db",
        v0_1_url,
        "--allow-gap",  # a fresh warehouse: the store's nights were published elsewhere
        "--no-validate",
    )
    assert result.exit_code == 0, result.output
    after = snapshot(v0_1_url, release_0_1)
    assert len(after["runs"]) == V0_1_COUNTS["runs"] + 1
    assert after["runs"][: V0_1_COUNTS["runs"]] == before["runs"]
    old_history = after["case_history"][: V0_1_COUNTS["case_history"]]
    assert old_history == before["case_history"]  # history only grows, ids continue
    assert len(after["case_history"]) > len(before["case_history"])
    with CaseStore(v0_1_url) as store:
        assert store.latest_business_date() == date(2024, 3, 10)
        assert store.get_case("5e1b3e57fe764f96")["status"] == "false_positive"  # type: ignore[index]


def test_an_empty_database_gets_the_head_schema_which_is_schema_py(empty_url: str) -> None:
    assert migrate.current(empty_url) is None
    assert migrate.upgrade(empty_url) == (None, HEAD)
    assert migrate.current(empty_url) == HEAD
    assert schema_differences(empty_url, metadata) == []
    assert migrate.upgrade(empty_url) == (HEAD, HEAD)  # a second upgrade changes nothing


def test_the_schema_comparison_sees_a_change_without_a_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    migrate.upgrade(url)
    assert schema_differences(url, copied()) == []
    extra_column = copied()
    extra_column.tables["cases"].append_column(Column("sla_due", Text))
    assert [d[0] for d in schema_differences(url, extra_column)] == ["add_column"]
    new_status = copied()
    cases = new_status.tables["cases"]
    [status] = [
        c
        for c in cases.constraints
        if isinstance(c, CheckConstraint) and str(c.sqltext).startswith("status IN")
    ]
    cases.constraints.remove(status)
    cases.append_constraint(CheckConstraint("status IN ('open', 'withdrawn')", name="status"))
    [(kind, table, *_)] = schema_differences(url, new_status)
    assert (kind, table) == ("checks", "cases")


@pytest.mark.postgres
def test_the_ddl_file_builds_a_store_at_head(pg_url: str) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql((ROOT / "sql" / "case_store.sql").read_text(encoding="utf-8"))
    engine.dispose()
    assert migrate.current(pg_url) == HEAD
    assert schema_differences(pg_url, metadata) == []


@pytest.mark.postgres
def test_a_postgres_store_behind_is_refused_with_the_command_to_run(
    pg_url: str, landing: Path, tmp_path: Path
) -> None:
    load_v0_1_postgres(pg_url)
    # trust authentication ignores the password; messages must not show it
    url = make_url(pg_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    warehouse = tmp_path / "warehouse"
    night = ["--landing", str(landing), "--warehouse", str(warehouse), "--db", url]
    for args in (
        ["run", *night, "--business-date", "2024-03-10"],
        ["backfill", *night, "--start", "2024-03-10", "--end", "2024-03-10"],
        ["cases", "list", "--db", url],
        ["cases", "show", "7ae2bb90317a20ef", "--db", url],
        ["cases", "assign", "7ae2bb90317a20ef", "carol", "--db", url],
    ):
        result = recon(*args)
        assert result.exit_code == 1, (args, result.output)
        [line] = result.output.strip().splitlines()
        assert "recon db upgrade --db URL" in line and "no schema version" in line
        assert "s3cret" not in result.output
    assert not warehouse.exists()  # refused before anything was ingested or published
    with pytest.raises(migrate.SchemaError, match="recon db upgrade"):
        open_store(url)  # the DAG's update_cases opens the store this way
    assert migrate.current(url) is None and not version_table_exists(url)
    assert recon("db", "upgrade", "--db", url).exit_code == 0
    assert recon("cases", "list", "--db", url).exit_code == 0


def test_a_sqlite_store_behind_is_upgraded_on_first_use(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURES / "casestore_v0_1.sqlite", tmp_path / "recon.db")
    result = recon("cases", "list", "--warehouse", str(tmp_path), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 1 + V0_1_COUNTS["cases"]
    assert migrate.current(f"sqlite:///{tmp_path / 'recon.db'}") == HEAD


def test_a_store_with_other_tables_and_no_version_is_not_touched(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    shutil.copyfile(FIXTURES / "casestore_v0_1.sqlite", tmp_path / "recon.db")
    engine = create_engine(url)
    with engine.begin() as conn:  # a near miss: 0.1's tables, one index dropped
        conn.execute(text("DROP INDEX ix_cases_customer_id"))
    engine.dispose()
    with pytest.raises(migrate.SchemaError, match=r"not release 0\.1's \(cases differ\)"):
        migrate.upgrade(url)
    assert not version_table_exists(url)
    result = recon("db", "upgrade", "--db", url)
    assert result.exit_code == 1 and "cases differ" in result.output


def test_a_store_from_a_newer_recon_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '0099_future'"))
    engine.dispose()
    with pytest.raises(migrate.SchemaError, match="0099_future, which this recon does not know"):
        CaseStore(url)
    result = recon("db", "current", "--db", url)
    assert (
        result.output
        == f"0099_future (unknown to this recon, whose head is {HEAD}: upgrade recon)\n"
    )


def test_db_current_prints_the_revision(empty_url: str, tmp_path: Path) -> None:
    missing = recon("db", "current", "--warehouse", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "no case store at" in missing.output
    if empty_url.startswith("sqlite:///"):
        Path(empty_url.removeprefix("sqlite:///")).touch()
    assert recon("db", "current", "--db", empty_url).output == "none (empty database)\n"
    write_v0_1(empty_url)
    assert recon("db", "current", "--db", empty_url).output == (
        "none (a release 0.1 store: run `recon db upgrade`)\n"
    )
    assert recon("db", "upgrade", "--db", empty_url).exit_code == 0
    result = recon("db", "current", "--db", empty_url)
    assert (result.exit_code, result.output) == (0, f"{HEAD} (head)\n")


def test_db_commands_resolve_the_store_like_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECON_DB_URL", raising=False)
    bad = recon("db", "current", "--warehouse", "s3://bucket/warehouse")
    assert bad.exit_code == 2 and "RECON_DB_URL" in bad.output
    monkeypatch.setenv("RECON_WAREHOUSE", str(tmp_path / "env"))
    assert recon("db", "upgrade").exit_code == 0
    assert (tmp_path / "env" / "recon.db").exists()
    assert recon("db", "upgrade", "--warehouse", str(tmp_path / "flag")).exit_code == 0
    assert (tmp_path / "flag" / "recon.db").exists()
    monkeypatch.setenv("RECON_DB_URL", f"sqlite:///{tmp_path / 'url.db'}")
    assert recon("db", "upgrade", "--warehouse", str(tmp_path / "ignored")).exit_code == 0
    assert (tmp_path / "url.db").exists() and not (tmp_path / "ignored").exists()


@pytest.mark.postgres
def test_concurrent_upgrades_of_one_postgres_store_wait_for_each_other(pg_url: str) -> None:
    holder = create_engine(pg_url)
    with holder.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": migrate.PG_LOCK_KEY})
        code = f"from pipelines.casestore import migrate; print(migrate.upgrade({pg_url!r}))"
        workers = [
            subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            waiting = conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
        assert waiting == 2, "both upgrades should be waiting for the lock"
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": migrate.PG_LOCK_KEY})
        conn.commit()
        outputs = sorted(w.communicate(timeout=60)[0].strip() for w in workers)
    holder.dispose()
    assert [w.returncode for w in workers] == [0, 0]
    assert outputs == sorted([f"(None, '{HEAD}')", f"('{HEAD}', '{HEAD}')"])
    assert schema_differences(pg_url, metadata) == []


def test_the_migrations_ship_as_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["pipelines"]
    package = ROOT / "pipelines"
    shipped = {p for g in globs for p in package.glob(g)}
    needed = {
        p for p in migrate.MIGRATIONS.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    assert needed and needed <= shipped


def test_the_desk_migration_keeps_the_letters_send_date_and_allows_contacts(
    empty_url: str,
) -> None:
    engine = create_engine(empty_url)
    try:
        with engine.begin() as conn:
            command.upgrade(migrate._config(conn), migrate.BASE_REVISION)
            conn.execute(
                text(
                    "INSERT INTO cases (case_id, rule_id, severity, evidence, status, first_seen,"
                    " last_seen, times_seen, updated_at) VALUES (:id, 'WRONG_DISCONNECT_LETTER',"
                    " 'critical', :evidence, 'open', '2024-04-01', '2024-04-01', 1, :at)"
                ),
                {"id": LETTER["case_id"], "evidence": LETTER["evidence"], "at": "2024-04-01"},
            )
    finally:
        engine.dispose()
    assert migrate.upgrade(empty_url) == (migrate.BASE_REVISION, HEAD)
    assert schema_differences(empty_url, metadata) == []
    fast_hashing()
    with CaseStore(empty_url) as store:
        with store.engine.connect() as conn:
            sent = conn.execute(text("SELECT letter_send_date FROM cases")).scalar_one()
        assert str(sent) == "2024-04-04"
        accounts = Accounts(store.engine)
        alice = accounts.add("alice", "agent", None)
        Triage(store, accounts).contact(alice, LETTER["case_id"], "phone", "call back", None)
        assert store.get_case(LETTER["case_id"])["history"][-1]["action"] == "contacted"  # type: ignore[index]
