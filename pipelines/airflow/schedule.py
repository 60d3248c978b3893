"""The nightly DAG's time budget: owner, retries, task and run timeouts, the deadline.

Sized from measured nights (docs/operations.md, "Speed"): under the LocalExecutor on a
loaded 2-core machine a task of a small night runs 0.1-1.7 s, a validation 16-18 s; the
budgets below leave room for nights a hundred times larger and for the warehouse lock,
which a task may wait RECON_LOCK_WAIT for. Imports nothing heavy (parsed every 30 s).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pipelines.settings import DagSettings

OWNER = "billing-reconciliation"
# S3, database and network hiccups: retried within a minute. Bad data fails at once
# (AirflowFailException, sensor timeouts): retrying cannot fix it.
I_O_RETRIES = 2
RETRY_DELAY = timedelta(seconds=10)
MAX_RETRY_DELAY = timedelta(minutes=1)
BUDGETS = {
    "quick": timedelta(minutes=2),  # the date, one check of the previous night
    "work": timedelta(minutes=10),  # ingest, clear (measured: 0.1-1.3 s)
    "rules": timedelta(minutes=30),  # reconcile (measured: 0.3-0.8 s; grows with customers)
}
# Beyond a task's own wait (the lock, a sensor's timeout): its work.
MARGIN = timedelta(minutes=10)
SCHEDULE_HOUR = 2  # the cron "0 2 * * *": the run of D has the logical date D 02:00


def retry_args() -> dict[str, Any]:
    """Every task's retries: 2, after 10 s then 20 s (capped at a minute)."""
    return {
        "retries": I_O_RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": MAX_RETRY_DELAY,
    }


def task_timeout(kind: str, wait: float = 0.0) -> timedelta:
    """execution_timeout of a task: its budget, or its wait (seconds) plus the margin."""
    if kind in BUDGETS:
        return BUDGETS[kind]
    if kind in ("locked", "sensor"):
        return timedelta(seconds=wait) + MARGIN
    raise ValueError(f"unknown task budget {kind!r}")


def night_timeout(settings: DagSettings) -> timedelta:
    """dagrun_timeout: the waits (previous night, sources) plus an hour of work."""
    return timedelta(seconds=settings.previous_night_wait + settings.sensor_timeout) + (
        timedelta(hours=1)
    )


def deadline_interval(settings: DagSettings) -> timedelta | None:
    """From the logical date (D 02:00) to the deadline: the first RECON_DEADLINE after the
    run is due (D+1 02:00); 06:00 gives 28 hours."""
    if settings.deadline is None:
        return None
    clock = timedelta(hours=settings.deadline.hour, minutes=settings.deadline.minute)
    after_start = clock - timedelta(hours=SCHEDULE_HOUR)
    if after_start <= timedelta(0):
        after_start += timedelta(days=1)
    return timedelta(days=1) + after_start


def deadline_alert(settings: DagSettings) -> Any | None:
    """The DeadlineAlert "published by RECON_DEADLINE UTC", None with RECON_DEADLINE=off
    (`airflow dags test` of Airflow 3.3.2 fails on a DAG with a deadline)."""
    interval = deadline_interval(settings)
    if interval is None:
        return None
    from airflow.sdk.definitions.callback import SyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=interval,
        callback=SyncCallback("pipelines.airflow.alerts.on_deadline_missed"),
        name=f"published by {settings.deadline:%H:%M} UTC",
    )
