"""The triage desk's speed: queue, case and customer pages, timed in the server process.

    .venv/bin/python -m benchmarks.desk                       # 100,000 cases, 100k warehouse
    .venv/bin/python -m benchmarks.desk --cases 100000 --profile 1m --db postgresql+psycopg://...

Targets (issue 10): the queue page under 300 ms p95 with 100,000 cases in the store, a case
page under 200 ms, a customer page under 1 s on the 1M-customer benchmark warehouse. The
store is filled straight through SQL (cases of every rule, severity, status and owner, a
history row each); the warehouse is the benchmark world of benchmarks.datagen (reused while
it matches). Times are measured around each request inside the ASGI app (TestClient, no
network), `--repeat` requests per page after one warm-up; the JSON records the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from benchmarks.datagen import NIGHT, PROFILES
from benchmarks.datagen import generate as generate_world
from pipelines.casestore.accounts import Accounts
from pipelines.casestore.schema import case_history, cases
from pipelines.casestore.store import CaseStore
from pipelines.catalogue import RULE_SPECS, case_id
from pipelines.ingest.warehouse import curated_dates, snapshot
from pipelines.night import run_night
from pipelines.settings import GateSettings
from pipelines.storage.local import LocalStorage
from pipelines.web.app import create_app
from pipelines.web.config import DeskConfig

DATA = Path(__file__).with_name("data")
PASSWORD = "benchmark password"
PEOPLE = [f"agent{i:02d}" for i in range(10)]
CHUNK = 5000


def fill_store(url: str, n: int, customers: list[str], seed: int = 7) -> None:
    """n cases over every rule, severity, status and owner, with a 'created' history row."""
    rng = random.Random(seed)
    rules = list(RULE_SPECS)
    now = datetime.now(UTC)
    with CaseStore(url) as store:
        accounts = Accounts(store.engine)
        for name in ["lead", *PEOPLE]:
            accounts.add(name, "lead" if name == "lead" else "agent", PASSWORD)
        rows, history = [], []
        for i in range(n):
            rule = rules[i % len(rules)]
            first = NIGHT - timedelta(days=rng.randint(0, 90))
            amount = None if rng.random() < 0.1 else Decimal(rng.randint(-5000, 20000)) / 100
            status = rng.choices(
                ["open", "acknowledged", "resolved", "false_positive"], [60, 15, 20, 5]
            )[0]
            letter = RULE_SPECS[rule].key == ("letter_id",)
            send = first + timedelta(days=rng.randint(1, 10))
            cid = case_id(rule, [f"bench-{i}"])
            rows.append(
                {
                    "case_id": cid,
                    "rule_id": rule,
                    "severity": RULE_SPECS[rule].severity,
                    "customer_id": rng.choice(customers),
                    "account_id": f"A{i % 50000:07d}",
                    "msisdn": f"4477{i:08d}",
                    "iccid": f"8944{i:016d}",
                    "letter_id": f"L{i}" if letter else None,
                    "amount_at_risk": amount,
                    "currency": "GBP",
                    "summary": f"{rule} found for case {i}",
                    "evidence": json.dumps(
                        {"letter": {"letter_id": f"L{i}", "scheduled_send_date": str(send)}}
                        if letter
                        else {"lines": [{"line_id": f"BL{i}", "amount": str(amount)}]}
                    ),
                    "status": status,
                    "resolution": "manual" if status == "resolved" else None,
                    "owner": rng.choice([None, None, *PEOPLE]),
                    "first_seen": first,
                    "last_seen": min(NIGHT, first + timedelta(days=rng.randint(0, 30))),
                    "times_seen": 1,
                    "updated_at": now,
                    "decided_on": None if status in ("open", "acknowledged") else NIGHT,
                    "letter_send_date": send if letter else None,
                }
            )
            history.append(
                {
                    "case_id": cid,
                    "at": now,
                    "actor": "recon",
                    "action": "created",
                    "new_status": "open",
                    "note": "benchmark",
                }
            )
            if len(rows) == CHUNK:
                _flush(store, rows, history)
        _flush(store, rows, history)


def _flush(store: CaseStore, rows: list[dict], history: list[dict]) -> None:
    if rows:
        with store.engine.begin() as conn:
            conn.execute(insert(cases), rows)
            conn.execute(insert(case_history), history)
    rows.clear()
    history.clear()


def timed(client: TestClient, path: str, repeat: int) -> dict[str, float]:
    """p50/p95 wall and CPU milliseconds of `repeat` requests (after one warm-up).

    CPU time (the whole process: the app runs in the TestClient's thread) is the steadier
    figure on a loaded machine."""
    client.get(path)  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(path)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])

    def p95(values: list[float]) -> float:
        return round(sorted(values)[min(len(values) - 1, round(0.95 * (len(values) - 1)))], 1)

    return {
        "p50_ms": round(statistics.median(wall), 1),
        "p95_ms": p95(wall),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "cpu_p95_ms": p95(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="100k")
    parser.add_argument("--db", help="case store URL (default: a fresh SQLite file)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    world = DATA / args.profile
    if not (world / "_bench.json").exists():
        generate_world(world, PROFILES[args.profile])
    warehouse = LocalStorage(world / "warehouse")
    if NIGHT not in curated_dates(warehouse, "sim_inventory"):  # the night is only landed
        with tempfile.TemporaryDirectory(prefix="recon-desk-night-") as tmp:
            run_night(  # the history was written, not run: no predecessor to wait for
                str(world / "landing"),
                str(world / "warehouse"),
                NIGHT,
                db_url=f"sqlite:///{tmp}/recon.db",
                validate=False,
                gate=GateSettings(allow_gap=True),
            )
    day = NIGHT
    customers = (
        snapshot(warehouse, "sim_inventory", day)
        .select("customer_id")
        .drop_nulls()
        .unique()
        .sort("customer_id")
        .head(20_000)
        .collect()["customer_id"]
        .to_list()
    )
    with tempfile.TemporaryDirectory(prefix="recon-desk-bench-") as tmp:
        url = args.db or f"sqlite:///{tmp}/cases.db"
        t0 = time.perf_counter()
        fill_store(url, args.cases, customers)
        fill_s = time.perf_counter() - t0
        print(f"store filled with {args.cases} cases in {fill_s:.1f}s", file=sys.stderr)
        app = create_app(
            DeskConfig(
                db_url=url,
                warehouse=str(world / "warehouse"),
                secret_key="bench",
                today=NIGHT + timedelta(days=1),
            )
        )
        client = TestClient(app, base_url="http://127.0.0.1")
        token = client.get("/login").text.split('name="csrf-token" content="')[1].split('"')[0]
        client.post(
            "/login", data={"username": "agent03", "password": PASSWORD, "csrf_token": token}
        )
        listing = client.get("/api/cases?owner=anyone&per_page=1").json()
        one = listing["cases"][0]
        pages = {
            "queue (default view)": "/",
            "queue (anyone, high, min amount 50)": "/?owner=anyone&severity=high&min_amount=50",
            "queue (overdue, page 20)": "/?owner=anyone&due=overdue&page=20",
            "queue counts (default view)": "/queue/counts",
            "case page": f"/cases/{one['case_id']}",
            "customer page": f"/customers/{one['customer_id']}",
        }
        results = {}
        for name, path in pages.items():
            results[name] = timed(client, path, args.repeat)
            print(f"{name}: {results[name]}", file=sys.stderr)
    report = {
        "cases": args.cases,
        "profile": args.profile,
        "store": "postgresql" if args.db and args.db.startswith("postgres") else "sqlite",
        "fill_seconds": round(fill_s, 1),
        "load_average": os.getloadavg(),
        "repeat": args.repeat,
        "at": date.today().isoformat(),
        "pages": results,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
