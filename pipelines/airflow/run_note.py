"""The business date on every recon_nightly run in the Airflow UI, as the run's note.

An Airflow listener (registered by `pipelines.airflow.plugin`): the scheduler calls it as a
run starts and ends, with the run bound to its session, so the note is saved with the
run's state (`airflow dags test` hands over a detached run: the note then goes through a
session of its own). A task cannot set its run's note in Airflow 3.3. A note a person
wrote is kept.
"""

from __future__ import annotations

from typing import Any

from airflow.listeners import hookimpl
from sqlalchemy.orm import object_session

from pipelines.airflow.config import business_date
from pipelines.settings import ConfigError

DAG_ID = "recon_nightly"
PREFIX = "business date"  # the notes this listener writes, and may replace
STATES = {"running": "running", "success": "published", "failed": "failed"}


def note_text(conf: dict[str, Any] | None, data_interval_start: Any, state: str) -> str:
    """`business date 2024-03-02: published`, or why the run names no night."""
    try:
        day = business_date((conf or {}).get("business_date"), data_interval_start).isoformat()
    except ConfigError:
        day = "not set (give the param business_date)"
    return f"{PREFIX} {day}: {STATES[state]}"


def _write(dag_run: Any, state: str) -> None:
    if dag_run.dag_id != DAG_ID:
        return
    session = object_session(dag_run)
    if session is not None:
        _set(dag_run, state)
        return
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as own:
        run = own.get(DagRun, dag_run.id)
        if run is not None:
            _set(run, state)


def _set(dag_run: Any, state: str) -> None:
    if dag_run.note and not str(dag_run.note).startswith(PREFIX):
        return  # a person's note
    dag_run.note = note_text(dag_run.conf, dag_run.data_interval_start, state)


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    _write(dag_run, "running")


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _write(dag_run, "success")


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _write(dag_run, "failed")
