"""recon_nightly: one run per business date, the night's steps as tasks.

    business_date -> wait_for_previous_night -> prepare
      -> [per source: wait_for_<source> -> ingest_<source>] (x4) -> validate
      -> commit -> clear_detections -> reconcile (x RECON_SHARDS) -> update_cases -> publish

A scheduled run processes the night of its data interval start (interval 02:00 UTC to
02:00 UTC the next day); the param `business_date` (YYYY-MM-DD) overrides it. Nights go
in order: `wait_for_previous_night` holds the night until the one before is published
(the engine's predecessor check, which `commit` repeats as the safety net), so a night
after a failed one starts its work by itself once that night is recovered. Each source
is checked and staged by its ingest task; `validate` validates the four at once and
renders the night's data-quality pages; `commit` judges the night gate on the four
staged sources and commits them together, or fails and commits nothing. `publish` emits
the Asset `recon_cases` (extra: the business date). prepare, validate, commit,
update_cases and publish hold the warehouse's lock, as `recon run` does. Logic lives in
`pipelines`, imported inside the tasks; operation: docs/operations.md.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import (
    Asset,
    CronDataIntervalTimetable,
    Param,
    TaskGroup,
    dag,
    task,
)

from pipelines.airflow.alerts import on_task_failure
from pipelines.airflow.config import SOURCES
from pipelines.airflow.schedule import (
    I_O_RETRIES,
    OWNER,
    deadline_alert,
    night_timeout,
    retry_args,
    task_timeout,
)
from pipelines.airflow.sensors import manifest_sensor
from pipelines.settings import (
    DATE_PATTERN,
    PREVIOUS_NIGHT_BACKOFF,
    VALIDATION_POOL,
    dag_settings,
    lock_wait,
)

# Great Expectations logs some 250 INFO lines per validation; the tasks log recon's own.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
SETTINGS = dag_settings()
LOCK_WAIT = lock_wait()
CASES = Asset("recon_cases")
LETTERS = Asset("recon_letters_to_hold")  # contract section 3.1, for the mailing system


@dag(
    dag_id="recon_nightly",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=SETTINGS.start_date,
    end_date=SETTINGS.end_date,
    catchup=SETTINGS.catchup,
    # Two: a failed night can be rerun while the next one waits for it (deferred).
    max_active_runs=2,
    dagrun_timeout=night_timeout(SETTINGS),
    deadline=deadline_alert(SETTINGS),
    default_args={
        "owner": OWNER,
        "on_failure_callback": on_task_failure,
        "execution_timeout": task_timeout("work"),
        **retry_args(),
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
    tags=["recon", "billing", "nightly"],
    doc_md=__doc__,
)
def recon_nightly():
    @task(multiple_outputs=True, retries=0, execution_timeout=task_timeout("quick"))
    def business_date(params=None, data_interval_start=None) -> dict[str, str]:
        """**The night this run processes** and where each source's manifest will land.

        Reads the param `business_date`, else the run's data interval start; RECON_LANDING
        and RECON_WAREHOUSE must be set. Writes nothing (XCom: the date, the manifests'
        locations). A failure is a bad param or a missing setting: fix it and trigger again.
        """
        import logging

        from pipelines.airflow import config as cfg
        from pipelines.settings import ENV_LANDING, ENV_WAREHOUSE, required_env

        day = cfg.business_date(params.get("business_date"), data_interval_start)
        landing = required_env(ENV_LANDING)
        required_env(ENV_WAREHOUSE)
        locations = {s: cfg.manifest_location(landing, s, day) for s in SOURCES}
        logging.getLogger("recon_nightly").info(
            "business date %s (%s)",
            day,
            "from the param"
            if params.get("business_date")
            else f"from the data interval start {data_interval_start}",
        )
        return {"business_date": day.isoformat(), **locations}

    @task.sensor(
        mode="reschedule",
        poke_interval=SETTINGS.previous_night_poke,
        exponential_backoff=True,
        max_wait=timedelta(seconds=SETTINGS.previous_night_poke * PREVIOUS_NIGHT_BACKOFF),
        timeout=SETTINGS.previous_night_wait,
        retries=I_O_RETRIES,
        execution_timeout=task_timeout("quick"),
    )
    def wait_for_previous_night(day: str, params=None) -> bool:
        """**Nights in order**: waits until the night before is processed and published.

        Reads the previous night's published summary, commit record and case store run.
        Writes nothing. Passes at once for the first night of a warehouse, with the param
        `allow_gap`, or when the night before is published. A failure (after
        RECON_PREVIOUS_NIGHT_WAIT) means the night before was not recovered in time:
        recover it, then clear this run (docs/operations.md, "Nights in order").
        """
        import logging
        from datetime import date

        from pipelines.airflow.config import open_warehouse, task_db_url
        from pipelines.night import judge_predecessor
        from pipelines.settings import case_store_url

        warehouse = open_warehouse()
        night = date.fromisoformat(day)
        db_url = case_store_url(task_db_url(), warehouse.root)
        verdict = judge_predecessor(warehouse, db_url, night, bool(params.get("allow_gap")))
        log = logging.getLogger("recon_nightly")
        if "problem" not in verdict:
            log.info("previous night %s: %s", night - timedelta(days=1), verdict)
            return True
        log.info(
            "waiting for the previous night %s to be published (%s); checking again in "
            "%g s to %g s, for up to %g s from the first check",
            night - timedelta(days=1),
            verdict.get("why"),
            SETTINGS.previous_night_poke,
            SETTINGS.previous_night_poke * PREVIOUS_NIGHT_BACKOFF,
            SETTINGS.previous_night_wait,
        )
        return False

    @task(execution_timeout=task_timeout("locked", LOCK_WAIT))
    def prepare(day: str) -> None:
        """**Clear the way**: finishes any commit a crash cut short; clears what earlier runs
        left in the night's staging area.

        Reads and writes the warehouse's commit journal and `staging/business_date=D/`,
        under the warehouse lock. A failure is I/O or a lock held too long (retried).
        """
        import logging
        from datetime import date

        from pipelines import night
        from pipelines.airflow.config import locked, open_warehouse

        with locked(f"recon_nightly prepare {day}"):
            night.prepare(open_warehouse(), date.fromisoformat(day))
        logging.getLogger("recon_nightly").info("business date %s: staging area cleared", day)

    @task
    def ingest(source: str, day: str) -> dict:
        """**Check and stage one source**: the partition against its manifest and contract.

        Reads `landing/<source>/business_date=D/`. Writes the staged partition and its
        quarantine under `staging/business_date=D/`. A failure without retry is a rejected
        partition (the error names the file and why): redeliver it, then clear this task.
        """
        import logging
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException

        from pipelines import night
        from pipelines.airflow.config import open_landing, open_warehouse
        from pipelines.ingest import RejectedPartition

        try:
            stats = night.ingest_source(
                open_landing(), open_warehouse(), source, date.fromisoformat(day)
            )
        except RejectedPartition as exc:
            raise AirflowFailException(
                f"{source} for business date {day} rejected, nothing published: {exc}"
            ) from exc
        logging.getLogger("recon_nightly").info(
            "business date %s %s: rows read %s, loaded %s, quarantined %s",
            day,
            source,
            stats.get("rows_read"),
            stats.get("rows_loaded"),
            stats.get("rows_quarantined"),
        )
        return stats

    @task(execution_timeout=task_timeout("locked", LOCK_WAIT), pool=VALIDATION_POOL)
    def validate(day: str) -> None:
        """**Data quality**: the four staged sources' suites in one go (GX imported once),
        then the night's data-quality pages. Runs in the pool `recon_validation`, which
        caps the validations (a few hundred MB each) running at once across runs.

        Reads the staged sources; writes `quality/` (results, the night's pages and the
        index of every night), under the warehouse lock. A failure without retry is a
        critical expectation (the error names the source and the expectation): fix the
        data, then clear this task.
        """
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException

        from pipelines import night
        from pipelines.airflow.config import locked, open_landing, open_warehouse

        try:
            with locked(f"recon_nightly validate {day}"):
                night.validate_staged(open_landing(), open_warehouse(), date.fromisoformat(day))
        except night.BadInput as exc:
            raise AirflowFailException(str(exc)) from exc
        logging.getLogger("recon_nightly").info("business date %s: four sources validated", day)

    @task(execution_timeout=task_timeout("locked", LOCK_WAIT))
    def commit(day: str, params=None) -> str:
        """**The night gate**, then the commit of the four staged sources, all or none.

        Reads the staged sources and the previous night's inventory and publication.
        Writes `curated/` and the commit record, under the warehouse lock. A failure
        without retry is the gate refusing the night (quarantine share, inventory, the
        night before not processed): the log says which; fix the data or allow the gap.
        """
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
                commit_id = night.gate_and_commit(
                    warehouse, date.fromisoformat(day), gate, db_url, True, report
                )
        except night.BadInput as exc:
            raise AirflowFailException(str(exc)) from exc
        report("business date %s: inputs committed (commit %s)", day, commit_id)
        return commit_id

    @task
    def clear_detections(day: str) -> None:
        """**Drop stale shards**: deletes the night's staged detections, so a rerun with
        fewer shards merges no part of an earlier run.

        Writes (deletes) `staging/business_date=D/detections/`. A failure is I/O (retried).
        """
        import logging
        from datetime import date

        from pipelines import night
        from pipelines.airflow.config import open_warehouse

        night.clear_detections(open_warehouse(), date.fromisoformat(day))
        logging.getLogger("recon_nightly").info("business date %s: staged detections cleared", day)

    @task(execution_timeout=task_timeout("rules"), map_index_template="{{ night_shard }}")
    def reconcile(day: str, shard: int, shards: int) -> int:
        """**The rules**, for the whole night or one shard of customers.

        Reads the curated history. Writes the shard's detections under
        `staging/business_date=D/detections/`. A failure is I/O (retried) or a bug: the
        log has the traceback.
        """
        import logging
        from datetime import date

        from airflow.sdk import get_current_context

        from pipelines import night
        from pipelines.airflow.config import open_warehouse

        # the mapped instances are listed as "2024-03-14 shard 1 of 3" in the UI
        get_current_context()["night_shard"] = f"{day} shard {shard} of {shards}"  # type: ignore[typeddict-unknown-key]
        found = night.reconcile(
            open_warehouse(), date.fromisoformat(day), shard if shards > 1 else None, shards
        )
        logging.getLogger("recon_nightly").info(
            "business date %s shard %d of %d: cases found %d", day, shard, shards, found
        )
        return found

    @task(execution_timeout=task_timeout("locked", LOCK_WAIT))
    def update_cases(day: str) -> str:
        """**The case store**: opens, keeps and closes cases from the staged detections.

        Reads the staged detections; writes the case store (connection `recon_db`, else
        RECON_DB_URL, else SQLite in the warehouse) and what publish needs, under the lock.
        A failure is the database or I/O (retried).
        """
        import logging
        from datetime import date

        from pipelines import night
        from pipelines.airflow.config import locked, open_warehouse, task_db_url

        with locked(f"recon_nightly update_cases {day}"):
            run_id = night.update_cases(open_warehouse(), date.fromisoformat(day), task_db_url())
        logging.getLogger("recon_nightly").info("business date %s: case store run %s", day, run_id)
        return run_id

    @task(outlets=[CASES, LETTERS], execution_timeout=task_timeout("locked", LOCK_WAIT))
    def publish(day: str) -> dict:
        """**Publish the night**: cases, report, run summary and letters to hold; emits the
        Assets `recon_cases` and `recon_letters_to_hold`, the business date in their extra.

        Reads what update_cases staged; writes `cases/business_date=D/` and clears the
        night's staging area, under the lock. A failure is I/O (retried); nothing
        downstream is told of the night until this task succeeds.
        """
        import logging
        from datetime import date

        from airflow.sdk import get_current_context

        from pipelines import night
        from pipelines.airflow.config import locked, open_warehouse
        from pipelines.layout import letters_to_hold_key

        with locked(f"recon_nightly publish {day}"):
            result = night.publish(open_warehouse(), date.fromisoformat(day))
        cases = result.summary["cases"]
        logging.getLogger("recon_nightly").info(
            "business date %s published: cases %s, new %s, closed %s, withdrawn %s; report %s",
            day,
            cases["published"],
            cases["new"],
            cases["closed"],
            cases["withdrawn"],
            result.report_uri,
        )
        extra = {"business_date": day, "cases": cases["published"], "report": result.report_uri}
        events = get_current_context()["outlet_events"]
        events[CASES].extra = extra
        held = {
            ext: letters_to_hold_key(date.fromisoformat(day), ext) for ext in ("csv", "parquet")
        }
        events[LETTERS].extra = {
            "business_date": day,
            **{ext: open_warehouse().uri(key) for ext, key in held.items()},
        }
        return {**cases, "report": result.report_uri}

    resolved: Any = business_date()  # a mapping of XComArgs (multiple_outputs)
    day = resolved["business_date"]
    prepared = prepare(day)
    wait_for_previous_night(day) >> prepared
    checked = []
    for source in SOURCES:
        with TaskGroup(group_id=source, prefix_group_id=False, tooltip=f"{source}: wait, ingest"):
            waited = manifest_sensor(
                SETTINGS,
                task_id=f"wait_for_{source}",
                source=source,
                location=resolved[source],
                business_date=day,
                execution_timeout=task_timeout("sensor", SETTINGS.sensor_timeout),
                doc_md=f"**Wait for {source}**: its `_manifest.json` for the night, deferred "
                "(no worker slot). Reads the landing zone; writes nothing. A failure is a "
                "late source (after RECON_SENSOR_TIMEOUT): the error names the source and "
                "the date; redeliver, then clear this task.",
            )
            ingested = ingest.override(task_id=f"ingest_{source}")(source, day)
        prepared >> waited >> ingested
        checked.append(ingested)
    # A mapped task keeps no docstring of its own: it is given as doc_md.
    mapped = reconcile.override(doc_md=reconcile.function.__doc__)
    counted = mapped.partial(day=day, shards=SETTINGS.shards).expand(
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
