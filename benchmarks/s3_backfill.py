"""A backfill into an S3 warehouse against the same backfill into a local one, side by
side in one run: wall seconds, seconds and S3 requests per night, early and late.

    .venv/bin/python -m benchmarks.s3_backfill [--customers 200] [--nights 95] [--compare DIR]

Generates a world (`recon generate`, seed 11) into a temporary folder and serves moto's S3
on 127.0.0.1 from this process, counting every request where it arrives (boto3's and
polars'). Each backfill (`--no-validate`, landing zone local, case store SQLite) runs in a
subprocess of its own: into a local warehouse, then into an S3 one; `--compare DIR` runs
both once more with the `pipelines` of another checkout (say main before a change). After
every night the subprocess marks it at the server, so the requests are counted per night.
Prints the figures and the load average (`os.getloadavg()`) before and after each backfill.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import boto3

from pipelines.generator import generate
from tests.support.s3_requests import MARK, CountingS3Server, Request, between_marks

ROOT = Path(__file__).resolve().parents[1]
START = date(2024, 1, 1)
EDGE = 5  # nights averaged at the start and at the end
DATE = re.compile(r"business_date=(\d{4}-\d{2}-\d{2})")

WORKER = r"""
import json, sys, time, urllib.request
from datetime import date
from pipelines.night import backfill

landing, warehouse, db, start, end, mark = sys.argv[1:7]
nights = {}
def progress(i, n, result, seconds):
    nights[result.business_date.isoformat()] = seconds
    if mark:
        urllib.request.urlopen(mark + result.business_date.isoformat()).read()
t0 = time.perf_counter()
backfill(landing, warehouse, date.fromisoformat(start), date.fromisoformat(end), db_url=db,
         validate=False, progress=progress)
print("RESULT " + json.dumps({"wall": time.perf_counter() - t0, "nights": nights}))
"""


def backfill(
    code: Path, landing: Path, warehouse: str, db: Path, end: date, env: dict[str, str], mark=""
) -> dict:
    """`night.backfill` from START to `end` in a subprocess running the pipelines of `code`."""
    args = [str(landing), warehouse, f"sqlite:///{db}", START.isoformat(), end.isoformat(), mark]
    load_before = os.getloadavg()
    done = subprocess.run(
        [sys.executable, "-c", WORKER, *args],
        cwd=code,
        env={**env, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return {**json.loads(line.removeprefix("RESULT ")), "load": [load_before, os.getloadavg()]}


def _all(requests: list[Request], _: date) -> int:
    return len(requests)


def _earlier(requests: list[Request], night: date) -> int:
    """The requests for keys of a night before the one before (a history read per night)."""
    before = night - timedelta(days=1)
    return sum(
        1 for _, path in requests if any(date.fromisoformat(d) < before for d in DATE.findall(path))
    )


def per_night(result: dict, requests: dict[str, list[Request]] | None = None) -> str:
    seconds = list(result["nights"].values())
    text = (
        f"{result['wall']:7.1f} s wall; per night {statistics.mean(seconds[1 : 1 + EDGE]):.2f} s "
        f"(nights 2-{1 + EDGE}), {statistics.mean(seconds[-EDGE:]):.2f} s (last {EDGE})"
    )
    if requests:
        for what, counted in (("requests", _all), ("naming an earlier night", _earlier)):
            counts = [counted(requests[d], date.fromisoformat(d)) for d in result["nights"]]
            text += (
                f"; {what} per night {statistics.mean(counts[1 : 1 + EDGE]):.0f} (nights "
                f"2-{1 + EDGE}), {statistics.mean(counts[-EDGE:]):.0f} (last {EDGE})"
            )
    load = ", ".join(" ".join(f"{x:.2f}" for x in pair) for pair in result["load"])
    return f"{text}; load before, after: {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--nights", type=int, default=95)
    parser.add_argument("--compare", type=Path, help="a checkout whose pipelines run on S3 too")
    options = parser.parse_args()
    end = START + timedelta(days=options.nights - 1)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = CountingS3Server().start()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    mark = f"{server.endpoint}{MARK}"
    codes = [ROOT, options.compare.resolve()] if options.compare else [ROOT]
    runs = [(where, code) for code in codes for where in ("local", "S3")]
    with tempfile.TemporaryDirectory(prefix="recon-bench-s3-") as tmp:
        landing = Path(tmp) / "landing"
        generate(landing, seed=11, customers=options.customers, start=START, days=options.nights)
        print(f"{options.customers} customers, {options.nights} nights, landing zone local")
        for i, (where, code) in enumerate(runs):
            db = Path(tmp) / f"recon-{i}.db"
            if where == "local":
                result = backfill(code, landing, f"{tmp}/warehouse-{i}", db, end, env)
                print(f"{where:>5} ({code}): {per_night(result)}", flush=True)
                continue
            bucket = f"recon-bench-{i}"
            client.create_bucket(Bucket=bucket)
            start = len(server.requests)
            result = backfill(code, landing, f"s3://{bucket}/warehouse", db, end, env, mark)
            requests = between_marks(server.requests[start:])
            print(f"{where:>5} ({code}): {per_night(result, requests)}", flush=True)
    server.stop()


if __name__ == "__main__":
    main()
