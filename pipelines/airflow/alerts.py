"""Alerts for a failed task of the nightly DAG.

An alert is logged, written as JSON into the warehouse at
`alerts/business_date=D/<dag_run_id>-<task_id>.json`, and POSTed to RECON_ALERT_WEBHOOK
when that is set. Raising an alert never raises: it must not hide the failure it reports.
Needs no Airflow: the task context is read as a mapping.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from pipelines import layout, redact
from pipelines.settings import alert_webhook

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5
# Airflow's wrappers of recon's messages (the DAG raises them with a recon error's text).
OWN_ERRORS = {"AirflowFailException", "AirflowException"}


def alert_record(
    context: Mapping[str, Any], business_date: date | None, now: datetime | None = None
) -> dict[str, Any]:
    """What failed, when, with which error, and where its log is."""
    ti = context["ti"]
    error = context.get("exception")
    reason = _reason(error)
    day = business_date.isoformat() if business_date else None
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
        "error_type": type(error).__name__ if error is not None else None,
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


def post_webhook(
    url: str, record: Mapping[str, Any], timeout: float = WEBHOOK_TIMEOUT_SECONDS
) -> None:
    """POST the record as JSON (its `text` field suits Slack-style incoming webhooks)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(record).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def raise_alert(record: Mapping[str, Any], warehouse: Any | None, webhook_url: str | None) -> None:
    """Log the alert, write it into the warehouse, POST it to the webhook; never raises."""
    log.error("ALERT %s (log: %s)", record["text"], record["log_url"])
    if warehouse is not None:
        key = alert_key(record)
        try:
            warehouse.write_bytes(key, json.dumps(record, indent=2).encode())
            log.info("alert record written to %s", warehouse.uri(key))
        except Exception:
            log.exception("could not write the alert record %s", key)
    if webhook_url:
        try:
            post_webhook(webhook_url, record)
        except Exception as exc:
            log.warning("could not POST the alert to the webhook: %s", exc)


def on_task_failure(
    context: Mapping[str, Any],
    open_warehouse: Callable[[], Any] | None = None,
    env: Mapping[str, str] = os.environ,
) -> None:
    """The DAG's on_failure_callback: alert on the failed task of a night."""
    from pipelines.airflow import config

    try:
        day = config.business_date(
            (context.get("params") or {}).get("business_date"),
            context.get("data_interval_start"),
        )
    except ValueError:
        day = None
    record = alert_record(context, day)
    try:
        warehouse = (open_warehouse or config.open_warehouse)()
    except Exception:
        log.exception("could not open the warehouse for the alert record")
        warehouse = None
    raise_alert(record, warehouse, alert_webhook(env))
