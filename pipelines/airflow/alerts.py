"""Alerts for the nightly DAG: a failed task, or a night not published by its deadline.

Every alert is logged and written as JSON into the warehouse at
`alerts/business_date=D/<dag_run_id>-<task_id>.json` (the auditors' record). It is sent
through the Airflow notifiers of `pipelines.airflow.notifiers` once per night and cause:
the cause is the step that failed (the task id without its source) and the error type, so
four late sources make one alert, not four (the first claims it in `alerts/business_date=D/
_notified/`). Raising an alert never raises: it must not
hide the failure it reports. Needs no Airflow but to send: the context is read as a mapping.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from pipelines import layout, redact
from pipelines.settings import SOURCES, AlertSettings, alert_settings

log = logging.getLogger(__name__)

CLAIM_WAIT_SECONDS = 30.0
# Airflow's wrappers of recon's messages (the DAG raises them with a recon error's text).
OWN_ERRORS = {"AirflowFailException", "AirflowException"}
Send = Callable[[Mapping[str, Any], AlertSettings, Mapping[str, Any]], None]


def cause(task_id: str, error_type: str | None) -> str:
    """The step that failed and how: `wait_for-AirflowSensorTimeout` for any late source."""
    step = task_id
    for source in SOURCES:
        step = step.replace(source, "")
    step = re.sub(r"_+", "_", step).strip("_.") or task_id
    return f"{step}-{error_type or 'unknown'}"


def alert_record(
    context: Mapping[str, Any], business_date: date | None, now: datetime | None = None
) -> dict[str, Any]:
    """What failed, when, with which error, and where its log is."""
    ti = context["ti"]
    error = context.get("exception")
    reason = _reason(error)
    day = business_date.isoformat() if business_date else None
    error_type = type(error).__name__ if error is not None else None
    return {
        "text": (
            f"recon: task {ti.task_id} failed for business date {day or 'unknown'} "
            f"(run {ti.run_id}): {reason}"
        ),
        "dag_id": ti.dag_id,
        "dag_run_id": ti.run_id,
        "task_id": ti.task_id,
        "try_number": ti.try_number,
        "business_date": day,
        "failed_at": (now or datetime.now(UTC)).isoformat(),
        "cause": cause(ti.task_id, error_type),
        "error_type": error_type,
        "error": reason,
        "log_url": ti.log_url,
    }


def _reason(error: BaseException | None) -> str | None:
    """recon's own errors as they are (they name file, row, column, reason); a library's
    without the values, SQL or parameters it quotes."""
    if error is None:
        return None
    return str(error) if type(error).__name__ in OWN_ERRORS else redact.reason(error)


def alert_key(record: Mapping[str, Any]) -> str:
    """The record's key in the warehouse."""
    return layout.alert_key(record["business_date"], record["dag_run_id"], record["task_id"])


def first_of_its_cause(record: Mapping[str, Any], warehouse: Any) -> bool:
    """Claim the night's notification for the record's cause; False when another task of
    the same run already sent it. Claimed under a lock of the night's alerts folder, so
    sensors timing out together send one alert."""
    folder, _, name = layout.alert_key(
        record["business_date"], record["dag_run_id"], record["cause"]
    ).rpartition("/")
    key, lock = f"{folder}/_notified/{name}", f"{folder}/_notified/_lock"
    with warehouse.lock(lock, f"alert {record['cause']}", CLAIM_WAIT_SECONDS):
        if warehouse.exists(key):
            return False
        warehouse.write_bytes(key, json.dumps(record, indent=2).encode())
    return True


def raise_alert(
    record: Mapping[str, Any],
    warehouse: Any | None,
    targets: AlertSettings,
    send: Send,
    context: Mapping[str, Any],
) -> None:
    """Log the alert, write it into the warehouse, notify once per night and cause; never
    raises. Without a warehouse (or its lock) it notifies: a duplicate beats silence."""
    log.error("ALERT %s (log: %s)", record["text"], record.get("log_url"))
    first = True
    if warehouse is not None:
        key = alert_key(record)
        try:
            warehouse.write_bytes(key, json.dumps(record, indent=2).encode())
            log.info("alert record written to %s", warehouse.uri(key))
            first = first_of_its_cause(record, warehouse)
        except Exception:
            log.exception("could not write the alert record %s", key)
    if not first:
        log.info("alert of cause %s already sent for this run: not sent again", record["cause"])
        return
    try:
        send(record, targets, context)
    except Exception as exc:
        log.warning("could not send the alert: %s", exc)


def night_of(context: Mapping[str, Any]) -> date | None:
    """The business date of a task's run, None when it cannot be told."""
    from pipelines.airflow import config

    try:
        return config.business_date(
            (context.get("params") or {}).get("business_date"),
            context.get("data_interval_start"),
        )
    except ValueError:
        return None


def _warehouse(open_warehouse: Callable[[], Any] | None) -> Any | None:
    from pipelines.airflow import config

    try:
        return (open_warehouse or config.open_warehouse)()
    except Exception:
        log.exception("could not open the warehouse for the alert record")
        return None


def _send(record: Mapping[str, Any], targets: AlertSettings, context: Mapping[str, Any]) -> None:
    from pipelines.airflow.notifiers import send

    send(record, targets, context)


def on_task_failure(
    context: Mapping[str, Any],
    open_warehouse: Callable[[], Any] | None = None,
    env: Mapping[str, str] = os.environ,
    send: Send = _send,
) -> None:
    """Every task's on_failure_callback: alert on the failed task of a night."""
    record = alert_record(context, night_of(context))
    raise_alert(record, _warehouse(open_warehouse), alert_settings(env), send, context)


def deadline_record(context: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A night not published by its deadline (the context of a deadline callback)."""
    from pipelines.airflow import config

    run = context.get("dag_run") or {}
    deadline = (context.get("deadline") or {}).get("deadline_time")
    start = run.get("data_interval_start")
    try:
        day: date | None = config.business_date(
            (run.get("conf") or {}).get("business_date"),
            datetime.fromisoformat(start) if isinstance(start, str) else start,
        )
    except ValueError:
        day = None
    night = day.isoformat() if day else None
    return {
        "text": (
            f"recon: business date {night or 'unknown'} is not published by its deadline "
            f"{deadline} (run {run.get('dag_run_id')}, state {run.get('state')})"
        ),
        "dag_id": run.get("dag_id"),
        "dag_run_id": run.get("dag_run_id") or "unknown",
        "task_id": "deadline",
        "try_number": None,
        "business_date": night,
        "failed_at": (now or datetime.now(UTC)).isoformat(),
        "cause": "deadline",
        "error_type": "DeadlineMissed",
        "error": f"not published by {deadline}",
        "log_url": None,
    }


def _instant(value: object) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if isinstance(value, datetime) else None


def late_from_the_start(context: Mapping[str, Any]) -> bool:
    """Whether the run was queued after its deadline: a catch-up or a backfill of past
    nights, which is no morning's surprise."""
    queued = _instant((context.get("dag_run") or {}).get("queued_at"))
    deadline = _instant((context.get("deadline") or {}).get("deadline_time"))
    return queued is not None and deadline is not None and queued >= deadline


def on_deadline_missed(
    context: Mapping[str, Any],
    open_warehouse: Callable[[], Any] | None = None,
    env: Mapping[str, str] = os.environ,
    send: Send = _send,
) -> None:
    """The DeadlineAlert's callback: the night is not published by the morning (not
    raised for a run queued after its deadline)."""
    if late_from_the_start(context):
        log.info("deadline passed before the run was queued (catch-up, backfill): no alert")
        return
    record = deadline_record(context)
    raise_alert(record, _warehouse(open_warehouse), alert_settings(env), send, context)
