"""The recon_nightly DAG: its configuration, its shape and parse cost, and real nights run
with `airflow dags test` (SQLite metadata; case store on SQLite and on PostgreSQL;
landing and warehouse on a local disk and on an S3 server)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import polars as pl
import pytest

from pipelines import settings
from pipelines.airflow import config as cfg
from pipelines.contract import SOURCES
from pipelines.generator import generate
from pipelines.night import business_dates, run_night

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
BIN = Path(sys.executable).parent
START, DAYS = date(2024, 1, 1), 75
LAST = START + timedelta(days=DAYS - 1)
DAG_TEST_TIMEOUT = 240


# --- configuration, without Airflow -------------------------------------------------------


def test_sources_are_the_contract_sources():
    assert cfg.SOURCES == SOURCES


def test_dag_settings_defaults_and_environment():
    default = settings.dag_settings({})
    assert default == settings.DagSettings(
        landing="",
        catchup=False,
        start_date=datetime(2024, 1, 1, tzinfo=UTC),
        sensor_timeout=settings.DEFAULT_SENSOR_TIMEOUT,
        poke_interval=settings.DEFAULT_POKE_INTERVAL,
        shards=1,
        end_date=None,
        deadline=clock(6, 0),
        previous_night_wait=settings.DEFAULT_PREVIOUS_NIGHT_WAIT,
        previous_night_poke=settings.DEFAULT_PREVIOUS_NIGHT_POKE,
    )
    env = {
        "RECON_LANDING": "s3://landing/recon",
        "RECON_CATCHUP": "True",
        "RECON_START_DATE": "2024-02-01",
        "RECON_SENSOR_TIMEOUT": "5",
        "RECON_SENSOR_POKE_INTERVAL": "0.5",
        "RECON_SHARDS": " 4 ",
        "RECON_END_DATE": "2024-03-31",
        "RECON_DEADLINE": "07:30",
        "RECON_PREVIOUS_NIGHT_WAIT": "60",
        "RECON_PREVIOUS_NIGHT_POKE_INTERVAL": "2.5",
    }
    parsed = settings.dag_settings(env)
    assert parsed.landing_on_s3 and parsed.catchup
    assert parsed.start_date == datetime(2024, 2, 1, tzinfo=UTC)
    assert (parsed.sensor_timeout, parsed.poke_interval) == (5.0, 0.5)
    assert parsed.shards == 4
    # the run of business date 2024-03-31 has the logical date 2024-03-31 02:00
    assert parsed.end_date == datetime(2024, 3, 31, 2, tzinfo=UTC)
    assert parsed.deadline == clock(7, 30)
    assert parsed.previous_night_wait == 60.0
    assert parsed.previous_night_poke == 2.5
    assert settings.dag_settings({"RECON_DEADLINE": "OFF"}).deadline is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RECON_CATCHUP", "maybe"),
        ("RECON_START_DATE", "2024-13-01"),
        ("RECON_START_DATE", "1/2/2024"),
        ("RECON_SENSOR_TIMEOUT", "soon"),
        ("RECON_SENSOR_POKE_INTERVAL", "0"),
        ("RECON_SHARDS", "0"),
        ("RECON_SHARDS", "two"),
        ("RECON_SHARDS", "-2"),
        ("RECON_SHARDS", str(settings.MAX_SHARDS + 1)),
        ("RECON_END_DATE", "2024-02-30"),
        ("RECON_END_DATE", "2023-12-31"),  # before the start date
        ("RECON_DEADLINE", "6:00"),
        ("RECON_DEADLINE", "24:00"),
        ("RECON_DEADLINE", "never"),
        ("RECON_PREVIOUS_NIGHT_WAIT", "0"),
        ("RECON_PREVIOUS_NIGHT_POKE_INTERVAL", "-1"),
    ],
)
def test_bad_settings_are_named(name, value):
    with pytest.raises(settings.ConfigError, match=name):
        settings.dag_settings({name: value})


def test_business_date_from_param_or_data_interval():
    start = datetime(2024, 3, 14, 2, tzinfo=UTC)
    assert cfg.business_date(None, start) == date(2024, 3, 14)
    assert cfg.business_date("2024-01-31", start) == date(2024, 1, 31)
    assert cfg.business_date("2024-01-31", None) == date(2024, 1, 31)
    with pytest.raises(settings.ConfigError, match="set the param business_date"):
        cfg.business_date(None, None)
    with pytest.raises(settings.ConfigError, match="param business_date"):
        cfg.business_date("2024-02-30", None)


def test_required_env_names_the_variable():
    assert settings.required_env("RECON_WAREHOUSE", {"RECON_WAREHOUSE": "/w"}) == "/w"
    with pytest.raises(settings.ConfigError, match="RECON_LANDING is not set"):
        settings.required_env("RECON_LANDING", {"RECON_LANDING": " "})


def test_manifest_locations(tmp_path):
    day = date(2024, 3, 14)
    assert cfg.manifest_location("s3://b/landing/", "billing_lines", day) == (
        "s3://b/landing/billing_lines/business_date=2024-03-14/_manifest.json"
    )
    local = cfg.manifest_location(f"file://{tmp_path}", "sim_inventory", day)
    assert local == str(tmp_path / "sim_inventory" / "business_date=2024-03-14" / "_manifest.json")


def test_case_store_from_connection_else_environment():
    from airflow.sdk import Connection

    conn = Connection.from_uri(
        "postgresql://recon:p%40ss@db:5432/recon?sslmode=require", conn_id=cfg.DB_CONN_ID
    )
    env = {"RECON_DB_URL": "sqlite:////tmp/recon.db"}
    assert (
        cfg.db_url(conn, env) == "postgresql+psycopg://recon:p%40ss@db:5432/recon?sslmode=require"
    )
    assert cfg.db_url(None, env) == "sqlite:////tmp/recon.db"
    assert cfg.db_url(None, {}) is None
    assert cfg.sqlalchemy_url("mysql://x@h/db") == "mysql://x@h/db"


def test_s3_options_from_the_aws_connection():
    from airflow.sdk import Connection

    conn = Connection.from_uri(
        "aws://AKIA:secret@/?endpoint_url=http%3A%2F%2Fminio%3A9000&region_name=eu-west-1",
        conn_id=cfg.AWS_CONN_ID,
    )
    assert cfg.s3_options(conn) == {
        "aws_access_key_id": "AKIA",
        "aws_secret_access_key": "secret",
        "endpoint_url": "http://minio:9000",
        "region": "eu-west-1",
    }
    nested = SimpleNamespace(
        login=None,
        password=None,
        extra_dejson={"service_config": {"s3": {"endpoint_url": "http://s3.local"}}},
    )
    assert cfg.s3_options(nested) == {"endpoint_url": "http://s3.local"}
    assert cfg.s3_options(None) == {}


# --- the sensors, outside a DAG --------------------------------------------------------


def test_local_sensor_trigger_fires_on_the_manifest_or_at_the_deadline(tmp_path):
    import asyncio

    from pipelines.airflow.sensors import ManifestFileTrigger

    async def first_event(path):
        deadline = (datetime.now(UTC) + timedelta(seconds=0.3)).isoformat()
        return await anext(ManifestFileTrigger(str(path), 0.05, deadline).run())

    manifest = tmp_path / "_manifest.json"
    assert asyncio.run(first_event(manifest)).payload == {"status": "timeout"}
    manifest.write_text("{}")
    assert asyncio.run(first_event(manifest)).payload == {"status": "found"}


@pytest.mark.parametrize("landing", ["/srv/landing", "s3://landing/recon"])
def test_a_timed_out_sensor_names_the_late_source(landing):
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason
    from airflow.sdk.exceptions import AirflowSensorTimeout

    from pipelines.airflow.sensors import manifest_sensor

    parsed = settings.dag_settings({"RECON_LANDING": landing, "RECON_SENSOR_TIMEOUT": "60"})
    location = cfg.manifest_location(landing, "sim_inventory", date(2024, 3, 14))
    sensor = manifest_sensor(
        parsed,
        task_id="wait_for_sim_inventory",
        source="sim_inventory",
        location=location,
        business_date="2024-03-14",
    )
    timeout = {"error": TriggerFailureReason.TRIGGER_TIMEOUT}
    with pytest.raises(AirflowSensorTimeout) as raised:
        sensor.resume_execution(TRIGGER_FAIL_REPR, timeout, {})
    assert str(raised.value) == (
        f"source sim_inventory is late for business date 2024-03-14: {location} did not "
        f"arrive within 60 s"
    )


# --- the DAG as Airflow parses it ---------------------------------------------------------

PARSE_SCRIPT = r"""
import json, sys
import sqlalchemy.engine

touched = []
def forbid(what):
    def call(*args, **kwargs):
        touched.append(what)
        raise RuntimeError(f"{what} at parse time")
    return call

sqlalchemy.engine.Engine.connect = forbid("database")
from airflow.sdk import Connection, Variable
Connection.get = forbid("connection")
Variable.get = forbid("variable")

import pendulum
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import TimeRestriction

bag = DagBag(dag_folder=sys.argv[1])
heavy = ("polars", "great_expectations", "boto3", "botocore", "airflow.providers.amazon.aws.hooks")
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "touched": touched,
       "heavy": sorted(m for m in heavy if m in sys.modules)}
dag = bag.dags.get("recon_nightly")
if dag is not None:
    timetable = coerce_to_core_timetable(dag.timetable)
    restriction = TimeRestriction(earliest=dag.start_date, latest=dag.end_date, catchup=True)
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    manual = timetable.infer_manual_data_interval(
        run_after=pendulum.datetime(2024, 3, 15, 12, tz="UTC"))
    nights, last = [], None
    while len(nights) < 400:
        info = timetable.next_dagrun_info(last_automated_data_interval=last,
                                          restriction=restriction)
        if info is None:
            break
        last = info.data_interval
        nights.append(last.start.isoformat())
    def doc(t):
        return t.doc_md or (t.partial_kwargs.get("doc_md") if t.is_mapped else None)
    def seconds(value):
        return value.total_seconds() if value is not None else None
    out.update(
        owners=sorted({t.owner for t in dag.tasks}), tags=sorted(dag.tags),
        undocumented=sorted(t.task_id for t in dag.tasks if not doc(t)),
        execution_timeout={t.task_id: seconds(t.execution_timeout) for t in dag.tasks},
        retry_delay={t.task_id: seconds(t.retry_delay) for t in dag.tasks},
        max_retry_delay={t.task_id: seconds(t.max_retry_delay) for t in dag.tasks},
        callbacks=sorted({f"{c.__module__}.{c.__name__}" for t in dag.tasks
                          for c in ([t.on_failure_callback] if callable(t.on_failure_callback)
                                    else t.on_failure_callback or [])}),
        without_callback=sorted(t.task_id for t in dag.tasks if not t.on_failure_callback),
        groups={t.task_id: t.task_group.group_id for t in dag.tasks},
        outlets={t.task_id: [a.name for a in t.outlets] for t in dag.tasks if t.outlets},
        dagrun_timeout=seconds(dag.dagrun_timeout),
        deadlines=[{"reference": type(d.reference).__name__, "interval": seconds(d.interval),
                    "callback": d.callback.path, "name": d.name} for d in (dag.deadline or [])],
        nights=[nights[0], nights[-1], len(nights)] if nights else [],
        end_date=dag.end_date.isoformat() if dag.end_date else None,
        modes={t.task_id: getattr(t, "mode", None) for t in dag.tasks},
        pokes={t.task_id: [t.poke_interval, t.exponential_backoff, seconds(t.max_wait)]
               for t in dag.tasks if t.task_id == "wait_for_previous_night"},
        upstream={t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
        operators={t.task_id: type(t).__name__ for t in dag.tasks},
        mapped={t.task_id: [t.op_kwargs_expand_input.value,
                            t.partial_kwargs["op_kwargs"]["shards"]]
                for t in dag.tasks if t.is_mapped},
        retries={t.task_id: t.retries for t in dag.tasks},
        pools={t.task_id: [t.pool, t.pool_slots] for t in dag.tasks if t.pool != "default_pool"},
        timetable=type(dag.timetable).__name__, max_active_runs=dag.max_active_runs,
        catchup=dag.catchup, start_date=dag.start_date.isoformat(),
        first_interval=[first.data_interval.start.isoformat(), first.data_interval.end.isoformat()],
        manual_interval=[manual.start.isoformat(), manual.end.isoformat()],
        params=sorted(dag.params.keys()))
print("PARSED " + json.dumps(out))
"""


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Airflow, AWS or recon settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_", "RECON_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def parse_dags(tmp_path: Path, **extra: str) -> dict:
    """Parse dags/ in a fresh process, with an unreachable metadata DB and no connections."""
    env = clean_env(
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=("postgresql+psycopg://nobody@127.0.0.1:9/unreachable"),
        **extra,
    )
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, str(DAGS)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PARSED "))
    return json.loads(line.removeprefix("PARSED "))


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    return parse_dags(tmp_path_factory.mktemp("parse"), RECON_LANDING="/srv/landing")


def test_dag_folder_imports_cleanly_without_db_or_connections(parsed):
    assert parsed["import_errors"] == {}
    assert parsed["touched"] == []


def test_parsing_imports_no_engine(parsed):
    # the DAG file is parsed every 30 s: polars and GX load inside the tasks only, the S3
    # sensor (boto3) only for an S3 landing zone
    assert parsed["heavy"] == []


def test_tasks_and_dependencies(parsed):
    expected = {
        "business_date": [],
        "wait_for_previous_night": ["business_date"],
        "prepare": ["business_date", "wait_for_previous_night"],
        "validate": ["business_date"],
        "commit": ["business_date", "validate"],
        "clear_detections": ["business_date", "commit"],
        "reconcile": ["business_date", "clear_detections"],
        "update_cases": ["business_date", "reconcile"],
        "publish": ["business_date", "update_cases"],
    }
    for source in SOURCES:
        expected[f"wait_for_{source}"] = ["business_date", "prepare"]
        expected[f"ingest_{source}"] = ["business_date", f"wait_for_{source}"]
        expected["validate"].append(f"ingest_{source}")
    assert parsed["upstream"] == {k: sorted(v) for k, v in expected.items()}
    assert parsed["mapped"] == {"reconcile": [{"shard": [0]}, 1]}
    assert {parsed["operators"][f"wait_for_{s}"] for s in SOURCES} == {"LocalManifestSensor"}
    assert parsed["modes"]["wait_for_previous_night"] == "reschedule"  # no slot while it waits
    # soon at first (a catch-up moves on), then backing off to 10 minutes
    assert parsed["pokes"] == {"wait_for_previous_night": [15.0, True, 600.0]}
    assert parsed["groups"]["wait_for_sim_inventory"] == "sim_inventory"
    assert parsed["groups"]["ingest_sim_inventory"] == "sim_inventory"
    assert parsed["groups"]["commit"] is None


def test_owner_tags_docs_and_alerts_on_every_task(parsed):
    assert parsed["owners"] == ["billing-reconciliation"]
    assert {"recon", "nightly"} <= set(parsed["tags"])
    assert parsed["undocumented"] == []
    assert parsed["without_callback"] == []
    assert parsed["callbacks"] == ["pipelines.airflow.alerts.on_task_failure"]


def test_only_the_validation_runs_in_the_validation_pool(parsed):
    assert parsed["pools"] == {"validate": [settings.VALIDATION_POOL, 1]}


def test_timeouts_retries_and_the_deadline(parsed):
    timeouts = parsed["execution_timeout"]
    assert None not in timeouts.values()
    assert timeouts["business_date"] == timeouts["wait_for_previous_night"] == 120
    assert timeouts["ingest_billing_lines"] == timeouts["clear_detections"] == 600
    assert timeouts["reconcile"] == 1800
    # a task under the warehouse lock: RECON_LOCK_WAIT (600 s) plus 10 minutes of work
    assert timeouts["commit"] == timeouts["publish"] == 1200
    # a deferred sensor's trigger ends at its execution_timeout: beyond RECON_SENSOR_TIMEOUT
    assert timeouts["wait_for_billing_lines"] == settings.DEFAULT_SENSOR_TIMEOUT + 600
    assert parsed["retries"]["business_date"] == 0
    assert parsed["retries"]["ingest_billing_lines"] == parsed["retries"]["publish"] == 2
    assert parsed["retry_delay"]["publish"] == 10 and parsed["max_retry_delay"]["publish"] == 60
    waits = settings.DEFAULT_PREVIOUS_NIGHT_WAIT + settings.DEFAULT_SENSOR_TIMEOUT
    assert parsed["dagrun_timeout"] == waits + 3600
    # D 02:00 (the logical date of business date D) + 28 h: D+1 06:00 UTC
    assert parsed["deadlines"] == [
        {
            "reference": "DagRunLogicalDateDeadline",
            "interval": 28 * 3600,
            "callback": "pipelines.airflow.alerts.on_deadline_missed",
            "name": "published by 06:00 UTC",
        }
    ]


def test_deadline_time_and_off_from_the_environment(tmp_path):
    (tmp_path / "early").mkdir()
    (tmp_path / "off").mkdir()
    early = parse_dags(tmp_path / "early", RECON_LANDING="/srv/l", RECON_DEADLINE="01:15")
    assert early["deadlines"][0]["interval"] == (47 * 60 + 15) * 60  # D+2 01:15
    off = parse_dags(tmp_path / "off", RECON_LANDING="/srv/l", RECON_DEADLINE="off")
    assert off["deadlines"] == []


def test_publish_emits_the_cases_and_letters_to_hold_assets(parsed):
    assert parsed["outlets"] == {"publish": ["recon_cases", "recon_letters_to_hold"]}


def test_one_run_per_business_date_with_a_one_day_interval(parsed):
    assert parsed["timetable"] == "CronDataIntervalTimetable"
    assert parsed["max_active_runs"] == 2  # a failed night reruns while the next one waits
    assert parsed["catchup"] is False
    assert parsed["end_date"] is None
    assert parsed["first_interval"] == ["2024-01-01T02:00:00+00:00", "2024-01-02T02:00:00+00:00"]
    assert parsed["manual_interval"] == ["2024-03-14T02:00:00+00:00", "2024-03-15T02:00:00+00:00"]
    assert parsed["params"] == ["allow_gap", "business_date"]


def test_s3_landing_catchup_start_date_and_shards_from_environment(tmp_path):
    got = parse_dags(
        tmp_path,
        RECON_LANDING="s3://landing/recon",
        RECON_CATCHUP="true",
        RECON_START_DATE="2024-02-01",
        RECON_SHARDS="3",
    )
    assert got["import_errors"] == {} and got["touched"] == []
    assert {got["operators"][f"wait_for_{s}"] for s in SOURCES} == {"S3ManifestSensor"}
    assert got["mapped"] == {"reconcile": [{"shard": [0, 1, 2]}, 3]}
    assert got["catchup"] is True
    assert got["start_date"] == "2024-02-01T00:00:00+00:00"
    assert got["heavy"] == ["airflow.providers.amazon.aws.hooks", "boto3", "botocore"]


def test_catch_up_stops_at_the_end_date(tmp_path):
    got = parse_dags(
        tmp_path,
        RECON_LANDING="/srv/landing",
        RECON_CATCHUP="true",
        RECON_START_DATE="2024-02-01",
        RECON_END_DATE="2024-03-10",
    )
    # 2024-02-01 to 2024-03-10 inclusive, and no run after the end of the data
    assert got["nights"] == ["2024-02-01T02:00:00+00:00", "2024-03-10T02:00:00+00:00", 39]


# --- real nights with `airflow dags test` --------------------------------------------------


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory) -> dict[str, str]:
    """A migrated SQLite metadata DB; returns the Airflow environment for the runs."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__API__HOST": "127.0.0.1",
    }
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    print(f"airflow db migrate: {time.perf_counter() - t0:.1f} s")
    return env


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> SimpleNamespace:
    """A generated landing zone, and a warehouse backfilled with `recon backfill` up to
    two nights before the last (case store: the warehouse's SQLite file)."""
    root = tmp_path_factory.mktemp("world")
    generated = generate(root / "landing", seed=5, customers=60, start=START, days=DAYS)
    truth = json.loads(generated.ground_truth_path.read_text())
    assert truth["business_date"] == LAST.isoformat()
    through = LAST - timedelta(days=2)
    recon(
        root,
        "backfill",
        "--landing",
        root / "landing",
        "--warehouse",
        root / "warehouse",
        "--start",
        START,
        "--end",
        through,
    )
    return SimpleNamespace(
        landing=root / "landing",
        warehouse=root / "warehouse",
        through=through,
        truth={c["case_id"] for c in truth["cases"]},
    )


def recon(cwd: Path, *args: object) -> None:
    """`recon run` or `recon backfill` without the GX suites (the DAG runs them)."""
    proc = subprocess.run(
        [str(BIN / "recon"), *map(str, args), "--no-validate"],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def dags_test(
    airflow_env: dict[str, str], *args: str, dag_id: str = "recon_nightly", **env: str
) -> tuple[int, str]:
    """`airflow dags test DAG_ID ARGS`; returns its exit code and output. The deadline is
    off: `airflow dags test` of Airflow 3.3.2 fails on a DAG with a DeadlineAlert."""
    command = [str(BIN / "airflow"), "dags", "test", dag_id, *args]
    t0 = time.perf_counter()
    proc = subprocess.run(
        command,
        env=clean_env(**airflow_env, **{"RECON_DEADLINE": "off", **env}),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=DAG_TEST_TIMEOUT,
    )
    print(f"airflow dags test {' '.join(args)}: {time.perf_counter() - t0:.1f} s")
    return proc.returncode, proc.stdout + proc.stderr


def run_notes(airflow_env: dict[str, str]) -> set[str]:
    """The notes on the metadata DB's recon_nightly runs."""
    db = airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT n.content FROM dag_run_note n JOIN dag_run r ON r.id = n.dag_run_id"
            " WHERE r.dag_id = 'recon_nightly'"
        ).fetchall()
    return {content for (content,) in rows}


def copy_partitions(landing: Path, to: Path, day: date, sources=SOURCES) -> Path:
    for source in sources:
        name = f"business_date={day.isoformat()}"
        shutil.copytree(landing / source / name, to / source / name)
    return to


def published_ids(frame_bytes: bytes) -> set[str]:
    return set(pl.read_parquet(frame_bytes)["case_id"])


def alert_records(warehouse: Path, day: date) -> dict[str, dict]:
    folder = warehouse / "alerts" / f"business_date={day.isoformat()}"
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def warehouse_through(world: SimpleNamespace, to: Path, last: date, **options: object) -> Path:
    """A copy of the world's warehouse, brought up to the night `last` with `recon run`.

    With another case store (`db`), the first of those nights allows the gap: the new
    store has no run of the nights before it.
    """
    shutil.copytree(world.warehouse, to)
    flags = [a for k, v in options.items() for a in (f"--{k}", v)]
    for i, day in enumerate(business_dates(world.through + timedelta(days=1), last)):
        gap = ["--allow-gap"] if i == 0 and "db" in options else []
        recon(
            to.parent,
            "run",
            "--landing",
            world.landing,
            "--warehouse",
            to,
            "--business-date",
            day,
            *flags,
            *gap,
        )
    return to


def test_last_two_nights_publish_the_ground_truth(airflow_home, world, tmp_path):
    """The night before last as scheduled; the last night as a rerun on three shards, after
    a run on five shards left a part behind, publishes what an unsharded night does."""
    warehouse = warehouse_through(world, tmp_path / "warehouse", LAST - timedelta(days=2))
    env = {"RECON_LANDING": str(world.landing), "RECON_WAREHOUSE": str(warehouse)}
    # As scheduled: the logical date LAST 02:00 (end of the data interval) runs LAST - 1.
    code, out = dags_test(airflow_home, f"{LAST.isoformat()}T02:00:00+00:00", **env)
    assert code == 0, out[-5000:]
    assert (warehouse / "cases" / f"business_date={LAST - timedelta(days=1)}").is_dir()
    assert not (warehouse / "cases" / f"business_date={LAST}").exists()
    assert f"business date {LAST - timedelta(days=1)}: published" in run_notes(airflow_home)
    unsharded = shutil.copytree(warehouse, tmp_path / "unsharded")
    run_night(str(world.landing), str(unsharded), LAST)
    stale = warehouse / f"staging/business_date={LAST}/detections/part-0004-of-0005.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by a run on five shards")
    # As rerun: the param names the night; reconcile is mapped over three shards.
    code, out = dags_test(
        airflow_home, "-c", json.dumps({"business_date": LAST.isoformat()}), RECON_SHARDS="3", **env
    )
    assert code == 0, out[-5000:]
    assert sorted(re.findall(r"end task task_id=reconcile map_index=(\d+)", out)) == ["0", "1", "2"]
    assert not stale.exists()
    assert f"business date {LAST}: published" in run_notes(airflow_home)
    # recon's own log lines, and none of Great Expectations' INFO ones
    assert f"business date {LAST} sim_inventory: rows read " in out
    assert f"business date {LAST} shard 2 of 3: cases found " in out
    assert f"business date {LAST} published: cases {len(world.truth)}, new " in out
    assert "great_expectations" not in out
    cases = f"cases/business_date={LAST}/cases.parquet"
    published = pl.read_parquet(warehouse / cases)
    assert published.equals(pl.read_parquet(unsharded / cases))
    assert set(published["case_id"]) == world.truth


def test_case_store_on_postgres_from_the_recon_db_connection(airflow_home, world, pg_url, tmp_path):
    from pipelines.casestore import open_store

    warehouse = warehouse_through(
        world, tmp_path / "warehouse", LAST - timedelta(days=1), db=pg_url
    )
    conn_uri = pg_url.replace("postgresql+psycopg://", "postgresql://")
    code, out = dags_test(
        airflow_home,
        "-c",
        json.dumps({"business_date": LAST.isoformat()}),
        RECON_LANDING=str(world.landing),
        RECON_WAREHOUSE=str(warehouse),
        AIRFLOW_CONN_RECON_DB=conn_uri,
    )
    assert code == 0, out[-5000:]
    cases = warehouse / "cases" / f"business_date={LAST}" / "cases.parquet"
    assert published_ids(cases.read_bytes()) == world.truth
    with open_store(pg_url) as store:
        assert {c["case_id"] for c in store.list_cases(status="open")} >= world.truth


def test_a_night_on_s3_through_the_aws_default_connection(
    airflow_home, world, tmp_path, s3_server, s3_bucket
):
    import boto3

    warehouse = warehouse_through(world, tmp_path / "warehouse", LAST - timedelta(days=1))
    bucket = s3_bucket.removeprefix("s3://")
    client = boto3.client("s3", endpoint_url=s3_server)
    landing = copy_partitions(world.landing, tmp_path / "landing", LAST)
    uploads = [
        (p, f"landing/{p.relative_to(landing).as_posix()}")
        for p in landing.rglob("*")
        if p.is_file()
    ]
    uploads += [  # the history, and the nights published from it (the predecessor check)
        (p, f"warehouse/{p.relative_to(warehouse).as_posix()}")
        for folder in ("curated", "cases")
        for p in (warehouse / folder).rglob("*")
        if p.is_file()
    ]
    for path, key in uploads:
        client.upload_file(str(path), bucket, key)
    endpoint = quote(s3_server, safe="")
    code, out = dags_test(
        airflow_home,
        "-c",
        json.dumps({"business_date": LAST.isoformat()}),
        RECON_LANDING=f"{s3_bucket}/landing",
        RECON_WAREHOUSE=f"{s3_bucket}/warehouse",
        RECON_DB_URL=f"sqlite:///{warehouse}/recon.db",
        AIRFLOW_CONN_AWS_DEFAULT=(
            f"aws://testing:testing@/?endpoint_url={endpoint}&region_name=us-east-1"
        ),
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    assert code == 0, out[-5000:]
    key = f"warehouse/cases/business_date={LAST}/cases.parquet"
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert published_ids(body) == world.truth


def test_a_bad_night_fails_at_once_alerts_and_publishes_nothing(
    airflow_home, world, tmp_path, webhook
):
    """billing_lines and retention_campaigns are late, store_transactions does not match its
    manifest: three failed tasks, two causes, two notifications; the night's one validate
    task does not run."""
    url, received = webhook
    late = ("billing_lines", "retention_campaigns")
    landing = copy_partitions(
        world.landing, tmp_path / "landing", START, [s for s in SOURCES if s not in late]
    )
    store = next((landing / "store_transactions" / f"business_date={START}").glob("part-*"))
    store.write_bytes(store.read_bytes() + b"\n")
    warehouse = tmp_path / "warehouse"
    code, out = dags_test(
        airflow_home,
        "-c",
        json.dumps({"business_date": START.isoformat()}),
        RECON_LANDING=str(landing),
        RECON_WAREHOUSE=str(warehouse),
        RECON_SENSOR_TIMEOUT="5",
        RECON_SENSOR_POKE_INTERVAL="1",
        RECON_ALERT_HTTP_CONN_ID="recon_alert_http",
        AIRFLOW_CONN_RECON_ALERT_HTTP=json.dumps({"conn_type": "http", "host": url}),
    )
    assert code != 0
    assert "up_for_retry" not in out
    assert not (warehouse / "cases").exists()
    assert not (warehouse / "curated").exists()
    records = {r["task_id"]: r for r in alert_records(warehouse, START).values()}
    assert set(records) == {
        "wait_for_billing_lines",
        "wait_for_retention_campaigns",
        "ingest_store_transactions",
    }
    assert sorted(r["cause"] for r in received) == [
        "ingest-AirflowFailException",
        "wait_for-AirflowSensorTimeout",
    ]
    for alert in received:
        assert alert == records[alert["task_id"]]
    for record in records.values():
        assert record["try_number"] == 1
        assert record["log_url"].startswith("http")
    late = records["wait_for_billing_lines"]
    assert late["error_type"] == "AirflowSensorTimeout"
    message = f"source billing_lines is late for business date {START}"
    assert message in late["error"] and "within 5 s" in late["error"]
    assert message in out
    manifest = landing / "billing_lines" / f"business_date={START}" / "_manifest.json"
    waited = f"waiting for {manifest}: source billing_lines, business date {START}, until "
    assert waited in out and "(5 s), checking every 1 s" in out
    rejected = records["ingest_store_transactions"]
    assert rejected["error_type"] == "AirflowFailException"
    assert store.name in rejected["error"]
    assert not (warehouse / "quality").exists()


def test_a_critical_expectation_stops_the_night_in_its_one_validate_task(
    airflow_home, world, tmp_path
):
    """10 % of the sim_inventory ICCIDs are blank: the four sources are validated at once,
    the night's page shows why, nothing is committed or published."""
    landing = copy_partitions(world.landing, tmp_path / "landing", START)
    folder = landing / "sim_inventory" / f"business_date={START}"
    inventory = next(folder.glob("part-*"))
    lines = inventory.read_text().splitlines(keepends=True)
    for i in range(1, len(lines), 10):
        lines[i] = "," + lines[i].split(",", 1)[1]
    inventory.write_text("".join(lines))
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["files"][0]["sha256"] = hashlib.sha256(inventory.read_bytes()).hexdigest()
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    warehouse = tmp_path / "warehouse"
    code, out = dags_test(
        airflow_home,
        "-c",
        json.dumps({"business_date": START.isoformat()}),
        RECON_LANDING=str(landing),
        RECON_WAREHOUSE=str(warehouse),
    )
    assert code != 0
    assert "up_for_retry" not in out
    assert not (warehouse / "cases").exists() and not (warehouse / "curated").exists()
    (record,) = alert_records(warehouse, START).values()
    assert (record["task_id"], record["error_type"]) == ("validate", "AirflowFailException")
    assert all(w in record["error"] for w in ("sim_inventory", "iccid", "critical"))
    page = (warehouse / f"quality/pages/business_date={START}/index.html").read_text()
    assert "CRITICAL" in page and all(f'id="{s}"' in page for s in SOURCES)


def second_home(airflow_home: dict[str, str], to: Path) -> dict[str, str]:
    """Another Airflow home with a copy of the migrated metadata DB, for a second
    `airflow dags test` running while the first one waits (SQLite takes one writer)."""
    to.mkdir()
    shutil.copy(Path(airflow_home["AIRFLOW_HOME"]) / "airflow.db", to / "airflow.db")
    return {
        **airflow_home,
        "AIRFLOW_HOME": str(to),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{to}/airflow.db",
    }


@pytest.mark.slow
def test_a_night_waits_for_the_failed_one_before_and_proceeds_once_it_is_recovered(
    airflow_home, world, tmp_path
):
    """Night D fails (billing_lines late); night D+1 starts, waits without touching its
    data, and publishes by itself once D is recovered (the late source delivered, D rerun)
    - with the ground truth, which D's credits are part of."""
    night, next_night = LAST - timedelta(days=1), LAST
    warehouse = warehouse_through(world, tmp_path / "warehouse", night - timedelta(days=1))
    landing = copy_partitions(world.landing, tmp_path / "landing", next_night)
    copy_partitions(world.landing, landing, night, [s for s in SOURCES if s != "billing_lines"])
    env = {
        "RECON_LANDING": str(landing),
        "RECON_WAREHOUSE": str(warehouse),
        "RECON_SENSOR_POKE_INTERVAL": "1",
        "RECON_PREVIOUS_NIGHT_POKE_INTERVAL": "1",
    }
    code, out = dags_test(
        airflow_home,
        "-c",
        json.dumps({"business_date": str(night)}),
        RECON_SENSOR_TIMEOUT="3",
        **env,
    )
    assert code != 0 and f"source billing_lines is late for business date {night}" in out
    assert not (warehouse / "cases" / f"business_date={night}").exists()

    log = tmp_path / "next-night.log"
    with log.open("w") as sink:
        waiting = subprocess.Popen(
            [
                str(BIN / "airflow"),
                "dags",
                "test",
                "recon_nightly",
                "-c",
                json.dumps({"business_date": str(next_night)}),
            ],
            env=clean_env(
                **airflow_home, RECON_DEADLINE="off", RECON_PREVIOUS_NIGHT_WAIT="180", **env
            ),
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + DAG_TEST_TIMEOUT
        while f"waiting for the previous night {night}" not in log.read_text():
            assert waiting.poll() is None, log.read_text()[-5000:]
            assert time.monotonic() < deadline, "the next night never waited"
            time.sleep(1)
        time.sleep(3)  # a few more checks: it must still not start its work
        assert "starting task_id=prepare" not in log.read_text()
        assert not list(warehouse.glob(f"*/*/business_date={next_night}"))
        # recovery: the source arrives and night D is rerun (here from another Airflow home)
        copy_partitions(world.landing, landing, night, ["billing_lines"])
        code, out = dags_test(
            second_home(airflow_home, tmp_path / "home2"),
            "-c",
            json.dumps({"business_date": str(night)}),
            **env,
        )
        assert code == 0, out[-5000:]
        recovered = (warehouse / "cases" / f"business_date={night}" / "summary.json").stat()
        assert waiting.wait(timeout=DAG_TEST_TIMEOUT) == 0, log.read_text()[-5000:]
    finally:
        if waiting.poll() is None:
            waiting.kill()
    out = log.read_text()
    assert f"previous night {night}: " in out and "'processed': True" in out
    cases = warehouse / "cases" / f"business_date={next_night}"
    assert (cases / "summary.json").stat().st_mtime > recovered.st_mtime
    assert published_ids((cases / "cases.parquet").read_bytes()) == world.truth


@pytest.mark.slow
def test_a_dag_scheduled_on_the_cases_asset_runs_after_a_night(airflow_home, world, tmp_path):
    """publish emits `recon_cases` with the business date; the scheduler queues the
    consumer DAG on it; the consumer reads the night from the event."""
    import sqlite3

    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "recon_nightly.py").symlink_to(DAGS / "recon_nightly.py")
    (folder / "recon_cases_consumer.py").symlink_to(
        Path(__file__).parent / "dags" / "recon_cases_consumer.py"
    )
    home = {
        **second_home(airflow_home, tmp_path / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
    }
    warehouse = warehouse_through(world, tmp_path / "warehouse", LAST - timedelta(days=1))
    env = {"RECON_LANDING": str(world.landing), "RECON_WAREHOUSE": str(warehouse)}
    for command in (["dags", "reserialize"], ["dags", "unpause", "recon_cases_consumer"]):
        proc = subprocess.run(  # a paused DAG is not queued on its Assets
            [str(BIN / "airflow"), *command],
            env=clean_env(**home, RECON_DEADLINE="off", **env),
            capture_output=True,
            text=True,
            timeout=DAG_TEST_TIMEOUT,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    db_path = Path(home["AIRFLOW_HOME"]) / "airflow.db"
    (before,) = sqlite3.connect(db_path).execute("SELECT max(id) FROM asset_event").fetchone()
    code, out = dags_test(home, "-c", json.dumps({"business_date": str(LAST)}), **env)
    assert code == 0, out[-5000:]
    db = sqlite3.connect(db_path)
    events = db.execute(
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.name = 'recon_cases' AND e.id > ?",
        (before or 0,),
    ).fetchall()
    queued = db.execute("SELECT target_dag_id FROM asset_dag_run_queue").fetchall()
    db.close()
    assert [json.loads(e)["business_date"] for (e,) in events] == [str(LAST)]
    assert json.loads(events[0][0])["cases"] == len(world.truth)
    assert queued == [("recon_cases_consumer",)]
    db = sqlite3.connect(db_path)
    (letters,) = db.execute(
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.name = 'recon_letters_to_hold' AND e.id > ?",
        (before or 0,),
    ).fetchall()
    db.close()
    held = json.loads(letters[0])
    assert held["business_date"] == str(LAST)
    assert held["csv"].endswith(f"business_date={LAST}/letters_to_hold.csv")
    assert Path(held["parquet"].removeprefix("file://")).is_file()
    received = tmp_path / "consumer.json"
    code, out = dags_test(home, dag_id="recon_cases_consumer", RECON_CONSUMER_OUT=str(received))
    assert code == 0, out[-5000:]
    assert json.loads(received.read_text())["business_date"] == str(LAST)
