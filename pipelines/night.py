"""One night of reconciliation in steps that keep their state in the warehouse.

    ingest_source (x4) -> reconcile (per shard) -> update_cases -> publish

`run_night` chains them in one process (`recon run`); the Airflow DAG runs each step as
its own task. Between steps, state lives under `<warehouse>/staging/business_date=D/`.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import polars as pl

from pipelines import layout
from pipelines.casestore import open_store
from pipelines.catalogue import CATALOGUE_VERSION, RULE_SPECS
from pipelines.contract import CONTRACT_VERSION, SOURCES
from pipelines.ingest import (
    LoadedPartition,
    RejectedPartition,
    commit_partition,
    history,
    ingest_stats,
    load_partition,
    snapshot,
)
from pipelines.publish import money_by_currency, publish_night
from pipelines.quality import CriticalExpectationFailed, night_quality, validate_night
from pipelines.rules import NightInputs, evaluate
from pipelines.rules.shards import shard_customers
from pipelines.settings import case_store_url
from pipelines.storage import Storage, open_storage, parquet_bytes

log = logging.getLogger(__name__)


class BadInput(Exception):
    """A night's input cannot be used: nothing was published for it (exit code 2)."""

    def __init__(self, business_date: date, problems: Sequence[Exception]):
        self.business_date = business_date
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"business date {business_date}: input rejected, nothing published:\n{lines}"
        )


@dataclass(frozen=True)
class NightResult:
    business_date: date
    summary: dict
    report_uri: str


def ingest_source(
    landing: Storage, warehouse: Storage, source: str, business_date: date
) -> dict[str, object]:
    """Check one source's partition and add it to the curated history; returns its stats."""
    loaded = load_partition(landing, source, business_date, warehouse)
    commit_partition(warehouse, loaded)
    return loaded.stats()


def ingest_night(
    landing: Storage, warehouse: Storage, business_date: date
) -> dict[str, LoadedPartition]:
    """Check every source's partition first, then add them all to the curated history."""
    loaded, problems = {}, []
    for source in SOURCES:
        try:
            loaded[source] = load_partition(landing, source, business_date, warehouse)
        except RejectedPartition as exc:
            problems.append(exc)
    if problems:
        raise BadInput(business_date, problems)
    for part in loaded.values():
        commit_partition(warehouse, part)
    return loaded


def validate_quality(landing: Storage, warehouse: Storage, business_date: date) -> dict:
    """Data-quality validation of the night's ingested partitions (after ingest, before
    reconcile); returns the run summary's "quality" section. A critical failure is BadInput."""
    try:
        return validate_night(landing, warehouse, business_date)
    except CriticalExpectationFailed as exc:
        raise BadInput(business_date, [exc]) from exc


def night_inputs(
    warehouse: Storage, business_date: date, shard: int | None = None, shards: int = 1
) -> NightInputs:
    """The curated history the rules judge a night on, for one shard or the whole night."""
    night = NightInputs(
        business_date=business_date,
        transactions=history(warehouse, "store_transactions", business_date),
        inventory=snapshot(warehouse, "sim_inventory", business_date),
        billing=history(warehouse, "billing_lines", business_date),
        letters=snapshot(warehouse, "retention_campaigns", business_date),
    )
    if shard is None:
        return night
    customers = shard_customers([night.billing, night.transactions, night.letters], shard, shards)
    return replace(night, customers=customers)


def reconcile(
    warehouse: Storage, business_date: date, shard: int | None = None, shards: int = 1
) -> int:
    """Evaluate every rule for the night (or one shard of it) and stage the detections.

    Returns the number of detections staged. Shards are staged side by side and merged by
    update_cases; a whole-night reconcile replaces any staged shards.
    """
    detections = evaluate(night_inputs(warehouse, business_date, shard, shards))
    if shard is None:
        key = layout.detections_key(business_date)
        warehouse.replace_prefix(
            layout.detections_prefix(business_date),
            {key.rsplit("/", 1)[1]: parquet_bytes(detections)},
        )
    else:
        warehouse.write_bytes(
            layout.detections_key(business_date, shard, shards), parquet_bytes(detections)
        )
    return detections.height


def staged_detections(warehouse: Storage, business_date: date) -> pl.DataFrame:
    """The night's staged detections, shards merged (a case found by two shards once)."""
    prefix = layout.detections_prefix(business_date)
    parts = [
        pl.read_parquet(io.BytesIO(warehouse.read_bytes(k)))
        for k in warehouse.list_keys(prefix)
        if k.endswith(".parquet")
    ]
    if not parts:
        raise FileNotFoundError(f"no staged detections for {business_date}: run reconcile first")
    merged = pl.concat(parts).unique(maintain_order=True).sort("rule_id", "case_id")
    if not merged["case_id"].is_unique().all():
        raise RuntimeError(f"shards of {business_date} disagree on a case: rerun reconcile")
    return merged


def clear_detections(warehouse: Storage, business_date: date) -> None:
    """Drop the night's staged shards, so a rerun with fewer shards merges no stale part."""
    warehouse.delete_prefix(layout.detections_prefix(business_date))


def update_cases(
    warehouse: Storage,
    business_date: date,
    db_url: str | None = None,
    started: datetime | None = None,
) -> str:
    """Apply the staged detections to the case store; stages what publish needs.

    The store is `db_url`, else RECON_DB_URL, else SQLite in the (local) warehouse.
    """
    started = started or datetime.now(UTC)
    run_id = f"{business_date.isoformat()}T{started:%Y%m%dT%H%M%S%fZ}"
    detections = staged_detections(warehouse, business_date)
    with open_store(db_url, warehouse.root) as store:
        outcome = store.record_night(business_date, detections, run_id)
    meta = {"run_id": run_id, "started_at": started.isoformat(), "counts": outcome.counts}
    warehouse.write_bytes(layout.published_key(business_date), parquet_bytes(outcome.published))
    warehouse.write_bytes(layout.outcome_key(business_date), json.dumps(meta, indent=2).encode())
    return run_id


def publish(warehouse: Storage, business_date: date) -> NightResult:
    """Publish the night from what update_cases staged, then clear the staging area."""
    cases = pl.read_parquet(io.BytesIO(warehouse.read_bytes(layout.published_key(business_date))))
    meta = json.loads(warehouse.read_bytes(layout.outcome_key(business_date)))
    stats = {s: ingest_stats(warehouse, s, business_date) for s in SOURCES}
    summary = night_summary(business_date, meta, stats, cases)
    quality = night_quality(warehouse, business_date)
    if quality:
        summary["quality"] = quality
    report = publish_night(warehouse, business_date, cases, summary)
    warehouse.delete_prefix(layout.staging_prefix(business_date))
    log.info("business date %s: %d cases published, report %s", business_date, cases.height, report)
    return NightResult(business_date, summary, report)


def run_night(
    landing_uri: str,
    warehouse_uri: str,
    business_date: date,
    db_url: str | None = None,
    shards: int = 1,
    validate: bool = False,
) -> NightResult:
    """Process one night (contract section 4, `recon run`); shards run one after another.

    With `validate`, the data-quality suites run after ingest; a critical failure stops the
    night (BadInput) before anything is published.
    """
    started = datetime.now(UTC)
    db_url = case_store_url(db_url, warehouse_uri)  # fail before writing anything
    landing, warehouse = open_storage(landing_uri), open_storage(warehouse_uri)
    ingest_night(landing, warehouse, business_date)
    if validate:
        validate_quality(landing, warehouse, business_date)
    if shards == 1:
        reconcile(warehouse, business_date)
    else:
        clear_detections(warehouse, business_date)
        for shard in range(shards):
            reconcile(warehouse, business_date, shard, shards)
    update_cases(warehouse, business_date, db_url, started)
    return publish(warehouse, business_date)


def night_summary(business_date: date, meta: dict, stats: dict, cases: pl.DataFrame) -> dict:
    """The run summary: rows per source, cases per rule, money at risk per rule."""
    rules = {}
    for rule_id in RULE_SPECS:
        found = cases.filter(pl.col("rule_id") == rule_id)
        counts = meta["counts"].get(rule_id, {})
        rules[rule_id] = {
            "found": found.height,
            "new": counts.get("new", 0),
            "still_open": counts.get("still_open", 0),
            "closed": counts.get("closed", 0),
            "amount_at_risk": money_by_currency(found),
        }
    return {
        "contract_version": CONTRACT_VERSION,
        "catalogue_version": CATALOGUE_VERSION,
        "business_date": business_date.isoformat(),
        "run_id": meta["run_id"],
        "started_at": meta["started_at"],
        "finished_at": datetime.now(UTC).isoformat(),
        "sources": {
            name: {k: s[k] for k in ("files", "rows_read", "rows_loaded", "rows_quarantined")}
            for name, s in stats.items()
        },
        "rules": rules,
        "cases": {
            "published": cases.height,
            "new": sum(r["new"] for r in rules.values()),
            "closed": sum(r["closed"] for r in rules.values()),
            "amount_at_risk": money_by_currency(cases),
        },
    }


def business_dates(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def backfill(
    landing_uri: str,
    warehouse_uri: str,
    start: date,
    end: date,
    db_url: str | None = None,
    progress: Callable[[int, int, NightResult, float], None] | None = None,
    shards: int = 1,
    validate: bool = False,
) -> list[NightResult]:
    """Run the nights from start to end in order; stops at the first failing night."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    days = list(business_dates(start, end))
    results = []
    for i, day in enumerate(days, 1):
        t0 = time.perf_counter()
        results.append(run_night(landing_uri, warehouse_uri, day, db_url, shards, validate))
        if progress:
            progress(i, len(days), results[-1], time.perf_counter() - t0)
    return results
