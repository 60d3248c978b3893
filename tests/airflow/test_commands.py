"""The Airflow commands docs/operations.md gives, as written: each parses with Airflow's
own CLI parser, and the backfill, clear, trigger and pool commands run against a real
metadata DB (SQLite, no scheduler) and do what the docs say."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.settings import VALIDATION_POOL

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OPERATIONS = REPO / "docs" / "operations.md"


def documented_commands() -> list[str]:
    """The `airflow ...` commands of the code blocks (indented 4) in operations.md."""
    return [
        line.strip()
        for line in OPERATIONS.read_text().splitlines()
        if re.match(r"^ {4,}airflow ", line)
    ]


def documented(prefix: str) -> list[str]:
    """The documented command that starts with `prefix`, as argv."""
    found = [c for c in documented_commands() if c.startswith(prefix)]
    assert len(found) == 1, f"{prefix!r}: {found}"
    return shlex.split(found[0])


@pytest.fixture(scope="module")
def metadata(tmp_path_factory) -> dict[str, str]:
    """A migrated SQLite metadata DB with the DAG serialized; the environment to use it."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECON_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "RECON_LANDING": str(home / "landing"),
        "RECON_WAREHOUSE": str(home / "warehouse"),
    }
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        proc = subprocess.run(
            [str(BIN / "airflow"), *command], env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    return env


def airflow(env: dict[str, str], argv: list[str], stdin: str | None = None) -> str:
    assert argv[0] == "airflow"
    proc = subprocess.run(
        [str(BIN / "airflow"), *argv[1:]],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def query(env: dict[str, str], sql: str, *args: object) -> list[tuple]:
    db = sqlite3.connect(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    try:
        with db:
            return db.execute(sql, args).fetchall()
    finally:
        db.close()


def test_every_documented_command_parses():
    from airflow.cli.cli_parser import get_parser

    commands = documented_commands()
    assert len(commands) >= 5
    for command in commands:
        argv = shlex.split(command)[1:]
        parsed = get_parser().parse_args(argv)
        assert callable(parsed.func), command


@pytest.mark.slow
def test_backfill_covers_the_dates_and_reprocesses_only_as_told(metadata):
    argv = documented("airflow backfill create")
    airflow(metadata, argv)
    nights = query(
        metadata, "SELECT logical_date FROM dag_run WHERE backfill_id IS NOT NULL ORDER BY 1"
    )
    assert [d[:16] for (d,) in nights] == [f"2024-03-0{i} 02:00" for i in (1, 2, 3)]
    # the nights ran: the 2nd failed; a backfill again over them...
    query(metadata, "UPDATE dag_run SET state = 'success'")
    query(metadata, "UPDATE dag_run SET state = 'failed' WHERE logical_date LIKE '2024-03-02%'")
    query(metadata, "UPDATE backfill SET completed_at = '2024-03-05 00:00:00'")

    def attempted(behavior: str) -> list[str]:
        i = argv.index("--reprocess-behavior")
        dry = [*argv[: i + 1], behavior, *argv[i + 2 :], "--dry-run"]
        return re.findall(r"\| (2024-03-0\d) 02:00:00\+00:00 \|", airflow(metadata, dry))

    assert attempted("none") == []  # Airflow's default: a silent no-op
    assert attempted("failed") == ["2024-03-02"]
    assert attempted("completed") == ["2024-03-01", "2024-03-02", "2024-03-03"]


@pytest.mark.slow
def test_clear_reruns_the_failed_nights_and_task_regex_is_a_search(metadata):
    airflow(
        metadata,
        [
            "airflow",
            "backfill",
            "create",
            "--dag-id",
            "recon_nightly",
            "--from-date",
            "2024-03-14",
            "--to-date",
            "2024-03-16T02:00:00+00:00",
        ],
    )
    in_range = "logical_date >= '2024-03-14' AND logical_date < '2024-03-17'"
    query(metadata, f"UPDATE dag_run SET state = 'success' WHERE {in_range}")
    query(
        metadata,
        "UPDATE task_instance SET state = 'success' WHERE run_id IN "
        f"(SELECT run_id FROM dag_run WHERE {in_range})",
    )
    failed_run = query(
        metadata, "SELECT run_id FROM dag_run WHERE logical_date LIKE '2024-03-15%'"
    )[0][0]
    query(metadata, "UPDATE dag_run SET state = 'failed' WHERE run_id = ?", failed_run)
    query(
        metadata,
        "UPDATE task_instance SET state = 'failed' WHERE run_id = ? AND task_id = ?",
        failed_run,
        "wait_for_billing_lines",
    )
    query(
        metadata,
        "UPDATE task_instance SET state = 'upstream_failed' WHERE run_id = ? AND task_id IN "
        "('ingest_billing_lines', 'commit', 'publish')",
        failed_run,
    )
    # -t is searched in the task ids: `wait_for` names five tasks (answer no: nothing cleared)
    listed = airflow(
        metadata,
        [
            "airflow",
            "tasks",
            "clear",
            "recon_nightly",
            "-t",
            "wait_for",
            "--start-date",
            "2024-03-15",
            "--end-date",
            "2024-03-15T02:00:00+00:00",
        ],
        stdin="n\n",
    )
    assert sorted(set(re.findall(r"recon_nightly\.(\w+) ", listed))) == [
        "wait_for_billing_lines",
        "wait_for_previous_night",
        "wait_for_retention_campaigns",
        "wait_for_sim_inventory",
        "wait_for_store_transactions",
    ]
    airflow(metadata, documented("airflow tasks clear"))
    states = dict(
        query(metadata, "SELECT task_id, state FROM task_instance WHERE run_id = ?", failed_run)
    )
    for task in ("wait_for_billing_lines", "ingest_billing_lines", "commit", "publish"):
        assert states[task] is None, task  # cleared: they run again
    assert states["wait_for_sim_inventory"] == "success"
    runs = dict(query(metadata, f"SELECT run_id, state FROM dag_run WHERE {in_range}"))
    assert runs.pop(failed_run) == "queued"
    assert set(runs.values()) == {"success"}


@pytest.mark.slow
def test_trigger_names_the_night_and_the_pool_is_set(metadata):
    argv = documented("airflow dags trigger")
    airflow(metadata, argv)
    run_id = argv[argv.index("--run-id") + 1]
    (conf,) = query(metadata, "SELECT conf FROM dag_run WHERE run_id = ?", run_id)[0]
    assert json.loads(conf) == {"business_date": "2024-03-14"}
    argv = documented("airflow pools set")
    assert argv[3] == VALIDATION_POOL
    airflow(metadata, argv)
    assert query(metadata, "SELECT slots FROM slot_pool WHERE pool = ?", VALIDATION_POOL) == [(1,)]
