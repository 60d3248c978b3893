"""recon_nightly: one run per business date, the night's steps as tasks.

    business_date -> prepare -> wait_for_<source> -> ingest_<source> (x4) -> validate
                  -> commit -> clear_detections -> reconcile (x RECON_SHARDS)
                  -> update_cases -> publish

A scheduled run processes the night of its data interval start (interval 02:00 UTC to
02:00 UTC the next day); the param `business_date` (YYYY-MM-DD) overrides it. Each source
is checked and staged by its ingest task; `validate` validates the four at once and renders
the night's data-quality pages; `commit` judges the night gate on
the four staged sources (RECON_QUARANTINE_MAX..., the param `allow_gap`) and commits them
together, or fails and commits nothing. `reconcile` is mapped over the night's
RECON_SHARDS shards of customers (one task, the whole night, by default); update_cases
merges them. prepare, commit, update_cases and publish hold the warehouse's lock, as
`recon run` does. Logic lives in `pipelines` and is imported inside the
tasks; configuration and operation are described in docs/operations.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from pipelines.airflow.alerts import on_task_failure
from pipelines.airflow.config import SOURCES
from pipelines.airflow.sensors import manifest_sensor
from pipelines.settings import DATE_PATTERN, dag_settings

SETTINGS = dag_settings()


@dag(
    dag_id="recon_nightly",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=SETTINGS.start_date,
    catchup=SETTINGS.catchup,
    max_active_runs=1,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": on_task_failure,
    },
    params={
        "business_date": Param(
            None,
            type=["null", "string"],
            pattern=DATE_PATTERN,
            description="Night to (re)run, YYYY-MM-DD; empty: the run's data interval start. "
            "Required for a manual run without a logical date.",
        ),
        "allow_gap": Param(
            False,
            type="boolean",
            description="Run the night although the previous one was not processed "
            "(the run summary says so).",
        ),
    },
    tags=["recon"],
    doc_md=__doc__,
)
def recon_nightly():
    @task(multiple_outputs=True, retries=0)
    def business_date(params=None, data_interval_start=None) -> dict[str, str]:
        """The night this run processes, and where each source's manifest will land."""
        from pipelines.airflow import config as cfg
        from pipelines.settings import ENV_LANDING, ENV_WAREHOUSE, required_env

        day = cfg.business_date(params.get("business_date"), data_interval_start)
        landing = required_env(ENV_LANDING)
        required_env(ENV_WAREHOUSE)
        locations = {s: cfg.manifest_location(landing, s, day) for s in SOURCES}
        return {"business_date": day.isoformat(), **locations}

    @task
    def prepare(day: str) -> None:
        """Finish any commit a crash cut short; clear what earlier runs left of the night."""
        from datetime import date

        from pipelines import night
        from pipelines.airflow.config import locked, open_warehouse

        with locked(f"recon_nightly prepare {day}"):
            night.prepare(open_warehouse(), date.fromisoformat(day))

    @task
    def ingest(source: str, day: str) -> dict:
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException

        from pipelines import night
        from pipelines.airflow.config import open_landing, open_warehouse
        from pipelines.ingest import RejectedPartition

        try:
            return night.ingest_source(
                open_landing(), open_warehouse(), source, date.fromisoformat(day)
            )
        except RejectedPartition as exc:
            raise AirflowFailException(
                f"{source} for business date {day} rejected, nothing published: {exc}"
            ) from exc

    @task
    def validate(day: str) -> None:
        """The four staged sources' suites in one go (GX imported once), then the night's
        data-quality pages (under the lock: the index lists every night); a critical
        failure stops the night, nothing published."""
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException

        from pipelines import night
        from pipelines.airflow.config import locked, open_landing, open_warehouse

        try:
            with locked(f"recon_nightly validate {day}"):
                night.validate_staged(open_landing(), open_warehouse(), date.fromisoformat(day))
        except night.BadInput as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def commit(day: str, params=None) -> str:
        """The night gate on the four staged sources, then their commit, all or none."""
        import logging
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException

        from pipelines import night
        from pipelines.airflow.config import locked, open_warehouse, task_db_url
        from pipelines.settings import case_store_url, gate_settings

        warehouse = open_warehouse()
        gate = gate_settings(allow_gap=bool(params.get("allow_gap")))
        db_url = case_store_url(task_db_url(), warehouse.root)
        report = logging.getLogger("recon_nightly").info
        try:
            with locked(f"recon_nightly commit {day}"):
                return night.gate_and_commit(
                    warehouse, date.fromisoformat(day), gate, db_url, True, report
                )
        except night.BadInput as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def clear_detections(day: str) -> None:
        """Drop the night's staged shards, so a rerun with fewer shards merges no stale part."""
        from datetime import date

        from pipelines import night
        from pipelines.airflow.config import open_warehouse

        night.clear_detections(open_warehouse(), date.fromisoformat(day))

    @task
    def reconcile(day: str, shard: int, shards: int) -> int:
        from datetime import date

        from pipelines import night
        from pipelines.airflow.config import open_warehouse

        return night.reconcile(
            open_warehouse(), date.fromisoformat(day), shard if shards > 1 else None, shards
        )

    @task
    def update_cases(day: str) -> str:
        from datetime import date

        from pipelines import night
        from pipelines.airflow.config import locked, open_warehouse, task_db_url

        with locked(f"recon_nightly update_cases {day}"):
            return night.update_cases(open_warehouse(), date.fromisoformat(day), task_db_url())

    @task
    def publish(day: str) -> dict:
        from datetime import date

        from pipelines import night
        from pipelines.airflow.config import locked, open_warehouse

        with locked(f"recon_nightly publish {day}"):
            result = night.publish(open_warehouse(), date.fromisoformat(day))
        return {**result.summary["cases"], "report": result.report_uri}

    resolved: Any = business_date()  # a mapping of XComArgs (multiple_outputs)
    day = resolved["business_date"]
    prepared = prepare(day)
    checked = []
    for source in SOURCES:
        waited = manifest_sensor(
            SETTINGS,
            task_id=f"wait_for_{source}",
            source=source,
            location=resolved[source],
            business_date=day,
        )
        ingested = ingest.override(task_id=f"ingest_{source}")(source, day)
        prepared >> waited >> ingested
        checked.append(ingested)
    counted = reconcile.partial(day=day, shards=SETTINGS.shards).expand(
        shard=list(range(SETTINGS.shards))
    )
    committed = commit(day)
    (
        checked
        >> validate(day)
        >> committed
        >> clear_detections(day)
        >> counted
        >> update_cases(day)
        >> publish(day)
    )


recon_nightly()
