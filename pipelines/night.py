"""One night of reconciliation end to end: ingest, rules, case store, publish."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pipelines.casestore import open_store
from pipelines.catalogue import CATALOGUE_VERSION, RULE_SPECS
from pipelines.contract import CONTRACT_VERSION, SOURCES
from pipelines.ingest import (
    LoadedPartition,
    RejectedPartition,
    commit_partition,
    history,
    load_partition,
    snapshot,
)
from pipelines.publish import money_by_currency, publish_night
from pipelines.rules import NightInputs, evaluate
from pipelines.storage import Storage, open_storage

log = logging.getLogger(__name__)


class BadInput(Exception):
    """A night's input cannot be used: nothing was published for it (exit code 2)."""

    def __init__(self, business_date: date, problems: list[RejectedPartition]):
        self.business_date = business_date
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"business date {business_date}: input rejected, nothing published:\n"
                         f"{lines}")


@dataclass(frozen=True)
class NightResult:
    business_date: date
    summary: dict
    report_uri: str


def ingest_night(landing: Storage, warehouse: Storage,
                 business_date: date) -> dict[str, LoadedPartition]:
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


def night_inputs(warehouse: Storage, business_date: date) -> NightInputs:
    """The curated history the rules judge a night on."""
    return NightInputs(
        business_date=business_date,
        transactions=history(warehouse, "store_transactions", business_date),
        inventory=snapshot(warehouse, "sim_inventory", business_date),
        billing=history(warehouse, "billing_lines", business_date),
        letters=snapshot(warehouse, "retention_campaigns", business_date),
    )


def run_night(landing_uri: str, warehouse_uri: str, business_date: date,
              db_url: str | None = None) -> NightResult:
    """Process one night (contract section 4, `recon run`)."""
    started = datetime.now(UTC)
    landing, warehouse = open_storage(landing_uri), open_storage(warehouse_uri)
    loaded = ingest_night(landing, warehouse, business_date)
    detections = evaluate(night_inputs(warehouse, business_date))
    run_id = f"{business_date.isoformat()}T{started:%Y%m%dT%H%M%S%fZ}"
    with open_store(db_url, warehouse_uri) as store:
        outcome = store.record_night(business_date, detections, run_id)
    summary = night_summary(business_date, run_id, started, loaded, outcome)
    report = publish_night(warehouse, business_date, outcome.published, summary)
    log.info("business date %s: %d cases published, report %s",
             business_date, outcome.published.height, report)
    return NightResult(business_date, summary, report)


def night_summary(business_date, run_id, started, loaded, outcome) -> dict:
    """The run summary: rows per source, cases per rule, money at risk per rule."""
    cases = outcome.published
    rules = {}
    for rule_id in RULE_SPECS:
        found = cases.filter(cases["rule_id"] == rule_id)
        counts = outcome.counts.get(rule_id, {})
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
        "run_id": run_id,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "sources": {
            name: {
                "files": part.files,
                "rows_read": part.rows_read,
                "rows_loaded": part.rows_loaded,
                "rows_quarantined": part.rows_quarantined,
            }
            for name, part in loaded.items()
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


def backfill(landing_uri: str, warehouse_uri: str, start: date, end: date,
             db_url: str | None = None,
             progress: Callable[[int, int, NightResult, float], None] | None = None,
             ) -> list[NightResult]:
    """Run the nights from start to end in order; stops at the first failing night."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    days = list(business_dates(start, end))
    results = []
    for i, day in enumerate(days, 1):
        t0 = time.perf_counter()
        results.append(run_night(landing_uri, warehouse_uri, day, db_url))
        if progress:
            progress(i, len(days), results[-1], time.perf_counter() - t0)
    return results
