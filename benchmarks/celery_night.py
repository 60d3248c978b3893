"""A real night on a real Airflow stack: recon_nightly on the CeleryExecutor with two Celery
workers, or on the LocalExecutor, side by side with `recon run` of the same night.

    .venv/bin/python -m benchmarks.celery_night --profile 100k --shards 4
    .venv/bin/python -m benchmarks.celery_night --executor local --shards 1 --repeat 3
    .venv/bin/python -m benchmarks.celery_night --profile 100k --shards 4 --s3

In a temporary AIRFLOW_HOME: the metadata DB and the Celery result backend in a fresh
PostgreSQL database (127.0.0.1:5432, AIRFLOW_DB), the broker in Redis db REDIS_DB
(127.0.0.1:6379, must be empty), the case store in another fresh database. Writes the
profile's world (benchmarks/datagen.py: curated history plus the bill-run night as a landing
zone), runs `airflow db migrate`, starts the scheduler, dag-processor, triggerer, api-server
(127.0.0.1) and, for Celery, two workers, each in its own session, triggers the night and
waits for it. Prints the wall time, the run's note and, from the metadata DB, each task's
duration and worker (each worker's `hostname_callable` names it); then runs the same night
unsharded with `recon run` (validation on) on a copy of the history. With `--repeat N` it
does both N times, alternately, and prints the medians and their ratio. With `--s3` the
landing zone and the warehouse are in a bucket of moto's S3 server, served on 127.0.0.1 by
this process (every Airflow process reads and writes them there; `recon run` stays local),
and the S3 requests each task made are counted. Then it stops the stack, compares the
published cases, drops the databases, flushes the Redis db and deletes the folder. Exit
code 1 when the night fails or the cases differ.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG = "postgres@127.0.0.1:5432"
AIRFLOW_DB, CASES_DB, REFERENCE_DB = "recon_airflow_bench", "recon_cases_bench", "recon_cases_ref"
REDIS_DB = 11
DAG_ID = "recon_nightly"
WORKERS = ("worker1", "worker2")


def worker_hostname() -> str:
    """`[core] hostname_callable` of the benchmark's workers: the task instances' hostname."""
    return os.environ["RECON_BENCH_WORKER"]


def pg(database: str, query: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(f"postgresql://{PG}/{database}", autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def drop(database: str) -> None:
    pg("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check, timeout: float, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def api_up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/version", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


class Stack:
    """Airflow's processes, each started in its own session and stopped as a group."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs, self.procs = env, logs, {}

    def airflow(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run(
            [str(BIN / "airflow"), *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
        return proc.stdout

    def start(self, name: str, *args: str, **env: str) -> None:
        with (self.logs / f"{name}.log").open("wb") as out:
            self.procs[name] = subprocess.Popen(
                [str(BIN / "airflow"), *args],
                env={**self.env, **env},
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"stopped early (exit codes) {dead}; logs in {self.logs}")

    def stop(self, grace: float = 60) -> None:
        """SIGTERM every process group, SIGKILL what is left after `grace` seconds."""
        for proc in self.procs.values():
            with_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            while group_alive(proc.pid) and time.monotonic() < deadline:
                proc.poll()
                time.sleep(0.5)
            with_group(proc.pid, signal.SIGKILL)
            proc.wait()
        self.procs.clear()


def with_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def airflow_env(
    home: Path, data: Path | str, shards: int, api_port: int, executor: str
) -> dict[str, str]:
    """Airflow's and recon's settings; `data` is a folder or an s3:// prefix."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECON_"))}
    metadata = f"{PG}/{AIRFLOW_DB}"
    return {
        **env,
        "PYTHONPATH": str(REPO),  # the workers import worker_hostname from this module
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if executor == "celery" else "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{metadata}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{metadata}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "RECON_LANDING": f"{data}/landing",
        "RECON_WAREHOUSE": f"{data}/warehouse",
        "RECON_SHARDS": str(shards),
        # No scheduled run of its own while the benchmark runs: the first interval starts today.
        "RECON_START_DATE": datetime.now(UTC).date().isoformat(),
        "RECON_SENSOR_POKE_INTERVAL": "5",
        "RECON_SENSOR_TIMEOUT": "900",
        "AIRFLOW_CONN_RECON_DB": f"postgresql://{PG}/{CASES_DB}",
    }


class S3World:
    """moto's S3 server on 127.0.0.1 (in this process, counting requests) and the bucket the
    night's landing zone and warehouse live in."""

    BUCKET = "recon-bench"

    def __init__(self) -> None:
        from tests.support.s3_requests import CountingS3Server

        self.server = CountingS3Server()
        self.prefix = f"s3://{self.BUCKET}"
        self.env = {
            "AWS_ENDPOINT_URL": self.server.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    def start(self) -> S3World:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
        self.server.start()
        self.client().create_bucket(Bucket=self.BUCKET)
        return self

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.server.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def upload(self, data: Path) -> int:
        """The landing zone and the warehouse under `data`, key for path; files uploaded."""
        client, sent = self.client(), 0
        for folder in ("landing", "warehouse"):
            for path in sorted((data / folder).rglob("*")):
                if path.is_file():
                    client.upload_file(str(path), self.BUCKET, path.relative_to(data).as_posix())
                    sent += 1
        return sent

    def download(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.client().download_file(self.BUCKET, key, str(path))


def task_instances(run_id: str) -> list[dict]:
    rows = pg(
        AIRFLOW_DB,
        """
        SELECT task_id, map_index, state, hostname, try_number, queued_dttm, start_date,
               end_date
        FROM task_instance WHERE dag_id = %s AND run_id = %s
        ORDER BY start_date NULLS LAST, task_id, map_index""",
        (DAG_ID, run_id),
    )
    keys = ("task_id", "map_index", "state", "hostname", "try_number", "queued", "start", "end")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def seconds(a: datetime | None, b: datetime | None) -> float | None:
    return (b - a).total_seconds() if a and b else None


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(tis: list[dict], origin: datetime) -> dict[str, list[int]]:
    """Prints each task (worker, start after the trigger, seconds queued and running) and
    each worker's share; returns the shards each worker ran."""
    print(f"\n{'task':34} {'worker':10} {'start':>7} {'queued':>7} {'ran s':>7}  state")
    for ti in tis:
        name = ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
        print(
            f"{name:34} {ti['hostname'] or '-':10} {fmt(seconds(origin, ti['start'])):>7} "
            f"{fmt(seconds(ti['queued'], ti['start'])):>7} "
            f"{fmt(seconds(ti['start'], ti['end'])):>7}  {ti['state']}"
            + (f" (try {ti['try_number']})" if ti["try_number"] > 1 else "")
        )
    shards: dict[str, list[int]] = {}
    print()
    for worker in sorted({ti["hostname"] for ti in tis if ti["hostname"]}):
        mine = [ti for ti in tis if ti["hostname"] == worker]
        busy = sum(seconds(ti["start"], ti["end"]) or 0 for ti in mine)
        shards[worker] = sorted(ti["map_index"] for ti in mine if ti["task_id"] == "reconcile")
        print(f"{worker}: {len(mine)} tasks, {busy:.1f} s busy, reconcile shards {shards[worker]}")
    fan = [ti for ti in tis if ti["task_id"] == "reconcile" and ti["start"] and ti["end"]]
    if fan:
        span = seconds(min(t["start"] for t in fan), max(t["end"] for t in fan))
        total = sum(seconds(t["start"], t["end"]) for t in fan)
        print(f"reconcile: {len(fan)} mapped task(s) in {span:.1f} s ({total:.1f} s summed)")
    return shards


def compare(airflow_cases: Path, reference_cases: Path, plants: dict) -> bool:
    import polars as pl

    got, want = pl.read_parquet(airflow_cases), pl.read_parquet(reference_cases)
    same = got.equals(want)
    same_bytes = airflow_cases.read_bytes() == reference_cases.read_bytes()
    print(
        f"published cases: {got.height} (Airflow) vs {want.height} (recon run, unsharded): "
        f"{'identical' if same else 'DIFFERENT'} content, "
        f"{'byte-identical files' if same_bytes else 'the files differ in bytes'}"
    )
    per_rule = dict(got.group_by("rule_id").len().iter_rows())
    off = {
        r: (per_rule.get(r, 0), p["planted"])
        for r, p in plants.items()
        if per_rule.get(r, 0) != p["planted"]
    }
    print("cases per rule = planted: " + ("yes" if not off else f"NO {off}"))
    return same and not off


def recon_run(data: Path, warehouse: Path, day: str) -> float:
    """`recon run --validate` of the night on `warehouse`; returns its wall seconds."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            str(BIN / "recon"),
            "run",
            "--landing",
            str(data / "landing"),
            "--warehouse",
            str(warehouse),
            "--business-date",
            day,
            "--db",
            f"postgresql+psycopg://{PG}/{REFERENCE_DB}",
            "--allow-gap",  # the history was written straight, no night of it was processed
        ],
        cwd=warehouse.parent,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode:
        raise RuntimeError(f"recon run failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    from benchmarks import datagen

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(datagen.PROFILES), default="100k")
    parser.add_argument("--executor", choices=("celery", "local"), default="celery")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2, help="slots per Celery worker")
    parser.add_argument(
        "--repeat", type=int, default=1, help="nights under Airflow and `recon run`, alternately"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the run")
    parser.add_argument("--keep", action="store_true", help="keep the folder (data, logs)")
    parser.add_argument("--s3", action="store_true", help="landing zone and warehouse on S3")
    args = parser.parse_args(argv)
    celery = args.executor == "celery"
    workers = WORKERS if celery else ()

    import redis

    broker = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    if celery and broker.dbsize():
        print(f"Redis db {REDIS_DB} is not empty: someone else uses it", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix=f"recon-{args.executor}-night-"))
    logs, data = root / "logs", root / "data"
    logs.mkdir()
    day = datagen.NIGHT.isoformat()
    s3 = S3World().start() if args.s3 else None
    where = s3.prefix if s3 else data
    env = airflow_env(root / "airflow", where, args.shards, free_port(), args.executor)
    if s3:
        env.update(s3.env)
    stack = Stack(env, logs)
    try:
        print(
            f"{args.profile} night {day}, RECON_SHARDS={args.shards}, "
            + (f"{len(WORKERS)} Celery workers x {args.concurrency}" if celery else "LocalExecutor")
            + f", {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; folder {root}"
        )
        t0 = time.perf_counter()
        meta = datagen.generate(data, datagen.PROFILES[args.profile])
        shutil.copytree(data / "warehouse", root / "reference")
        if s3:
            print(f"uploaded to {s3.prefix}: {s3.upload(data)} files")
        print(f"data: {time.perf_counter() - t0:.1f} s")
        for database in (AIRFLOW_DB, CASES_DB, REFERENCE_DB):
            drop(database)
            pg("postgres", f'CREATE DATABASE "{database}"')
        t0 = time.perf_counter()
        stack.airflow("db", "migrate", timeout=600)
        stack.airflow("pools", "set", "recon_validation", "1", "recon: concurrent validations")
        print(f"airflow db migrate: {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        port = stack.env["AIRFLOW__API__PORT"]
        stack.start(
            "api-server", "api-server", "--host", "127.0.0.1", "--port", port, "--workers", "1"
        )
        stack.start("scheduler", "scheduler")
        stack.start("dag-processor", "dag-processor")
        stack.start("triggerer", "triggerer", "--skip-serve-logs")
        for name in workers:
            stack.start(
                name,
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@%h",
                "--concurrency",
                str(args.concurrency),
                "--skip-serve-logs",
                AIRFLOW__CORE__HOSTNAME_CALLABLE="benchmarks.celery_night.worker_hostname",
                RECON_BENCH_WORKER=name,
            )

        def ready() -> bool:
            stack.check_alive()
            return (
                api_up(int(port))
                and all(" ready." in stack.log(w) for w in workers)
                and bool(
                    pg(AIRFLOW_DB, "SELECT 1 FROM serialized_dag WHERE dag_id = %s", (DAG_ID,))
                )
            )

        wait_for("the stack and the parsed DAG", ready, 300)
        print(
            f"stack up (api-server, scheduler, dag-processor, triggerer, {len(workers)} "
            f"workers), DAG parsed: {time.perf_counter() - t0:.1f} s"
        )
        stack.airflow("dags", "unpause", DAG_ID)
        under_airflow: list[float] = []
        under_recon: list[float] = []
        for attempt in range(args.repeat):
            run_id = f"{args.executor}_night_{attempt}_{datetime.now(UTC):%Y%m%dT%H%M%S}"
            served = len(s3.server.requests) if s3 else 0
            state, took = airflow_night(stack, run_id, day, args.timeout)
            if s3:
                print(f"S3 requests during the night: {len(s3.server.requests) - served}")
            if state != "success":
                print(
                    f"the night did not succeed; logs in {root / 'airflow' / 'logs'} (kept "
                    f"with --keep)",
                    file=sys.stderr,
                )
                return 1
            under_airflow.append(took)
            load = os.getloadavg()[0]
            under_recon.append(recon_run(data, root / "reference", day))
            print(
                f"`recon run --validate` of the same night (unsharded): {under_recon[-1]:.1f} s "
                f"(load before {load:.2f})"
            )
        stack.stop()
        airflow_median = statistics.median(under_airflow)
        recon_median = statistics.median(under_recon)
        print(
            f"\nmedian of {args.repeat}: under Airflow ({args.executor}) {airflow_median:.1f} s, "
            f"`recon run --validate` {recon_median:.1f} s: "
            f"{airflow_median / recon_median:.2f}x (load now {os.getloadavg()[0]:.2f})"
        )
        cases = f"cases/business_date={day}/cases.parquet"
        if s3:
            s3.download(f"warehouse/{cases}", data / "warehouse" / cases)
        same = compare(data / "warehouse" / cases, root / "reference" / cases, meta["plants"])
        return 0 if same else 1
    finally:
        stack.stop()
        if s3:
            s3.server.stop()
        for database in (AIRFLOW_DB, CASES_DB, REFERENCE_DB):
            drop(database)
        if celery:
            broker.flushdb()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def airflow_night(stack: Stack, run_id: str, day: str, timeout: float) -> tuple[str, float]:
    """Trigger the night, wait for it, print its tasks; returns its state and the seconds
    from the run's start to its end (the metadata DB's clock)."""
    load = os.getloadavg()[0]
    stack.airflow(
        "dags",
        "trigger",
        DAG_ID,
        "--run-id",
        run_id,
        "--conf",
        # the history was written straight: no night before this one was processed
        json.dumps({"business_date": day, "allow_gap": True}),
    )

    def finished() -> str | None:
        stack.check_alive()
        rows = pg(AIRFLOW_DB, "SELECT state FROM dag_run WHERE run_id = %s", (run_id,))
        return rows[0][0] if rows and rows[0][0] in ("success", "failed") else None

    try:
        state = wait_for(f"run {run_id}", finished, timeout, every=0.5)
    except TimeoutError as exc:
        state = str(exc)
    ((queued, start, end),) = pg(
        AIRFLOW_DB,
        "SELECT queued_at, start_date, end_date FROM dag_run WHERE run_id = %s",
        (run_id,),
    )
    note = pg(
        AIRFLOW_DB,
        "SELECT n.content FROM dag_run_note n JOIN dag_run r ON r.id = n.dag_run_id "
        "WHERE r.run_id = %s",
        (run_id,),
    )
    took = seconds(start, end) or float("nan")
    print(
        f"\nrun {run_id}: {state}; triggered to end {fmt(seconds(queued, end))} s, "
        f"run start to end {fmt(took)} s (load before {load:.2f}, after "
        f"{os.getloadavg()[0]:.2f}); note: {note[0][0] if note else '-'}"
    )
    shards = report(task_instances(run_id), queued)
    if len(shards) > 1:
        print(f"reconcile shards on {sum(1 for s in shards.values() if s)} workers")
    return state, took


if __name__ == "__main__":
    sys.exit(main())
