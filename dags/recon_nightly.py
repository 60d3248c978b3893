"""recon_nightly: one run per business date, the night's steps as tasks.

    business_date -> wait_for_<source> -> ingest_<source> -> validate_<source>  (x4)
                  -> clear_detections -> reconcile (x RECON_SHARDS) -> update_cases -> publish

A scheduled run processes the night of its data interval start (interval 02:00 UTC to
02:00 UTC the next day); the param `business_date` (YYYY-MM-DD) overrides it. `reconcile`
is mapped over the night's RECON_SHARDS shards of customers (one task, the whole night, by
default); update_cases merges them. Logic lives in `pipelines` and is imported inside the
tasks; configuration is described in the README, "Running nightly with Airflow".
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
    def validate(source: str, day: str) -> dict:
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException

        from pipelines.airflow.config import open_landing, open_warehouse
        from pipelines.quality import CriticalExpectationFailed, validate_source

        try:
            outcome = validate_source(
                open_landing(), open_warehouse(), source, date.fromisoformat(day)
            )
        except CriticalExpectationFailed as exc:
            raise AirflowFailException(
                f"{source} for business date {day} failed data quality, nothing published: {exc}"
            ) from exc
        return outcome.summary()

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
        from pipelines.airflow.config import open_warehouse, task_db_url

        return night.update_cases(open_warehouse(), date.fromisoformat(day), task_db_url())

    @task
    def publish(day: str) -> dict:
        from datetime import date

        from pipelines import night
        from pipelines.airflow.config import open_warehouse

        result = night.publish(open_warehouse(), date.fromisoformat(day))
        return {**result.summary["cases"], "report": result.report_uri}

    resolved: Any = business_date()  # a mapping of XComArgs (multiple_outputs)
    day = resolved["business_date"]
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
        validated = validate.override(task_id=f"validate_{source}")(source, day)
        waited >> ingested >> validated
        checked.append(validated)
    counted = reconcile.partial(day=day, shards=SETTINGS.shards).expand(
        shard=list(range(SETTINGS.shards))
    )
    checked >> clear_detections(day) >> counted >> update_cases(day) >> publish(day)


recon_nightly()
