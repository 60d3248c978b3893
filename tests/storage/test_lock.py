"""One run at a time per warehouse: a local lock file, an S3 lock object (moto's server),
a PostgreSQL advisory lock; a second taker waits, then fails naming the holder."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest

from pipelines.casestore.lock import advisory_lock
from pipelines.storage import LocalStorage
from pipelines.storage.lock import LockBusy
from pipelines.storage.s3 import S3Storage

KEY = "_recon.lock"


def test_a_held_lock_file_makes_the_next_taker_wait_then_fail(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with storage.lock(KEY, "recon run 2024-04-01", 0):
        holder = json.loads((tmp_path / KEY).read_text())
        assert holder["purpose"] == "recon run 2024-04-01" and holder["pid"]
        t0 = time.monotonic()
        busy = r"locked by another recon run \(recon run 2024-04-01"
        with pytest.raises(LockBusy, match=busy), LocalStorage(tmp_path).lock(KEY, "2nd", 0.5):
            pass
        assert time.monotonic() - t0 >= 0.5
    with storage.lock(KEY, "third", 0):  # released: free at once
        pass


def test_a_lock_file_is_free_once_its_holder_died(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pipelines.storage import LocalStorage\n"
        "with LocalStorage(sys.argv[1]).lock('_recon.lock', 'doomed', 0):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    with pytest.raises(LockBusy, match="doomed"), LocalStorage(tmp_path).lock(KEY, "next", 0):
        pass
    proc.kill()
    proc.wait()
    with LocalStorage(tmp_path).lock(KEY, "next", 5):  # no stale lock left behind
        pass


def test_a_waiting_taker_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    order = []
    with storage.lock(KEY, "first", 0):

        def second() -> None:
            with LocalStorage(tmp_path).lock(KEY, "second", 30):
                order.append("second")

        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.5)
        order.append("first done")
    waiter.join(30)
    assert order == ["first done", "second"]


def test_s3_lock_is_a_conditional_write(s3_bucket: str) -> None:
    storage = S3Storage(f"{s3_bucket}/warehouse")
    with storage.lock(KEY, "recon run 2024-04-01", 0):
        second = S3Storage(f"{s3_bucket}/warehouse")
        busy = r"recon run 2024-04-01 by .* pid \d+"
        with pytest.raises(LockBusy, match=busy), second.lock(KEY, "second", 0.5):
            pass
        assert storage.exists(KEY)
    assert not storage.exists(KEY)  # given back
    with S3Storage(f"{s3_bucket}/warehouse").lock(KEY, "second", 0):
        pass


def test_s3_lock_of_a_dead_holder_is_broken_once_its_lease_ran_out(s3_bucket: str) -> None:
    storage = S3Storage(f"{s3_bucket}/warehouse")
    bucket = s3_bucket.removeprefix("s3://")
    dead = {"purpose": "killed", "pid": 1, "expires": "2000-01-01T00:00:00+00:00"}
    boto3.client("s3").put_object(Bucket=bucket, Key=f"warehouse/{KEY}", Body=json.dumps(dead))
    with storage.lock(KEY, "next", 0):
        body = json.loads(storage.read_bytes(KEY))
        assert body["purpose"] == "next"


def test_s3_lock_lease_is_renewed_while_held(s3_bucket: str) -> None:
    storage = S3Storage(f"{s3_bucket}/warehouse")
    with storage.lock(KEY, "long run", 0, lease=0.6):
        first = json.loads(storage.read_bytes(KEY))["expires"]
        time.sleep(1.0)
        renewed = json.loads(storage.read_bytes(KEY))["expires"]
        assert renewed > first
        second = S3Storage(f"{s3_bucket}/warehouse")
        with pytest.raises(LockBusy), second.lock(KEY, "second", 0.3):  # renewed: not broken
            pass


@pytest.mark.postgres
def test_postgres_advisory_lock_per_warehouse(pg_url: str) -> None:
    with advisory_lock(pg_url, "s3://bucket/warehouse", "recon run 2024-04-01", 0):
        busy = "recon recon run 2024-04-01 pid"
        second = advisory_lock(pg_url, "s3://bucket/warehouse", "second", 0.5)
        with pytest.raises(LockBusy, match=busy), second:
            pass
        with advisory_lock(pg_url, "s3://bucket/other", "another warehouse", 0):
            pass
    with advisory_lock(pg_url, "s3://bucket/warehouse", "second", 0):
        pass
