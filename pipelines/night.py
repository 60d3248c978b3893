"""One night of reconciliation in steps that keep their state in the warehouse.

    prepare -> load (x4) -> gate -> validate (the four at once) -> commit -> reconcile (per shard)
            -> update_cases -> publish

`run_night` chains them in one process under the warehouse's lock (`recon run`); the
Airflow DAG runs them as tasks. Nothing of a night reaches the curated history, the case
store or the published files before the gate and the validation have passed it; its four
sources are committed together. Between steps, state lives under
`<warehouse>/staging/business_date=D/`.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from pipelines import layout
from pipelines.buckets import shard_buckets
from pipelines.casestore import open_store
from pipelines.casestore.lock import advisory_lock, is_postgres
from pipelines.casestore.migrate import ensure_current
from pipelines.casestore.trends import read_trends
from pipelines.catalogue import CATALOGUE_VERSION, RULE_SPECS
from pipelines.contract import CONTRACT_VERSION, SOURCES
from pipelines.ingest import (
    LoadedPartition,
    RejectedPartition,
    history,
    ingest_stats,
    load_partition,
    snapshot,
)
from pipelines.ingest.commit import (
    commit_night,
    commit_record,
    roll_forward,
    stage_partition,
    staged_quarantine,
    staged_rows,
    staged_stats,
)
from pipelines.ingest.gate import (
    INVENTORY,
    InventoryCheck,
    SourceVerdict,
    check_inventory,
    judge_sources,
    with_problems,
)
from pipelines.ingest.warehouse import curated_dates, scan_curated
from pipelines.kpis import kpis_document, recovery_by_month
from pipelines.publish import money_by_kind, not_priced, publish_night, published_summary
from pipelines.publish.charts import DRAWN, draw_trends, plain_rows
from pipelines.publish.holds import LETTER_RULES, hold_files, hold_rows
from pipelines.quality import (
    Checked,
    CriticalExpectationFailed,
    ValidationOutcome,
    import_in_background,
    validate_night,
)
from pipelines.rules import NightInputs, evaluate
from pipelines.rules.clearing import clearing_evidence
from pipelines.rules.shards import shard_inputs
from pipelines.settings import GateSettings, case_store_url, lock_wait
from pipelines.storage import Storage, open_storage, parquet_bytes

log = logging.getLogger(__name__)
Report = Callable[[str], None]


class BadInput(Exception):
    """A night's input cannot be used: nothing was published for it (exit code 2)."""

    def __init__(self, business_date: date, problems: Sequence[Exception | str]):
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


@dataclass(frozen=True)
class GateVerdict:
    """What the night gate found: per source, the inventory, the predecessor."""

    business_date: date
    settings: GateSettings
    sources: Mapping[str, SourceVerdict]
    inventory: InventoryCheck
    predecessor: Mapping[str, object]

    @property
    def problems(self) -> list[str]:
        found = [f"{s}: {p}" for s, v in self.sources.items() for p in v.problems]
        if self.predecessor.get("problem"):
            found.append(str(self.predecessor["problem"]))
        return found

    def lines(self) -> list[str]:
        return [v.line(self.business_date) for v in self.sources.values()]

    def summary(self) -> dict[str, object]:
        """The run summary's "gate" section: settings, verdicts, what was compared."""
        return {
            **self.settings.summary(),
            "sources": {s: v.summary() for s, v in self.sources.items()},
            "inventory": self.inventory.summary(),
            "predecessor": dict(self.predecessor),
        }


# -- the warehouse's lock and what a crashed run left -----------------------------------


def warehouse_lock(
    warehouse: Storage, db_url: str, purpose: str, wait: float | None = None
) -> AbstractContextManager[None]:
    """One run at a time per warehouse: an advisory lock when the case store is
    PostgreSQL, else the warehouse's lock file (local) or lock object (S3)."""
    seconds = lock_wait(seconds=wait)
    if is_postgres(db_url):
        return advisory_lock(db_url, warehouse.root, purpose, seconds)
    return warehouse.lock(layout.LOCK_KEY, purpose, seconds)


def prepare(warehouse: Storage, business_date: date) -> None:
    """Finish any commit a crash cut short, then clear what earlier runs of the night left
    in its staging area (run under the lock, before the night's first step)."""
    for day in roll_forward(warehouse):
        log.warning("business date %s: finished its commit, cut short by a crash", day)
    warehouse.delete_prefix(layout.staging_prefix(business_date))


# -- the inputs: load, judge, validate, commit --------------------------------------------


def load_night(
    landing: Storage, warehouse: Storage, business_date: date
) -> dict[str, LoadedPartition]:
    """Read and check every source's partition (nothing is written); BadInput when one is
    unusable whole."""
    loaded, problems = {}, []
    for source in SOURCES:
        try:
            loaded[source] = load_partition(landing, source, business_date, warehouse)
        except RejectedPartition as exc:
            problems.append(exc)
    if problems:
        raise BadInput(business_date, problems)
    return loaded


def night_processed(warehouse: Storage, db_url: str, business_date: date) -> str | None:
    """None when the night is processed in this warehouse: committed, recorded in the case
    store, and published from that record of those inputs; else why not."""
    summary = published_summary(warehouse, business_date)
    if summary is None:
        return "it is not published"
    with open_store(db_url, warehouse.root) as store:
        last = store.last_run(business_date)
    if last is None:
        return "the case store has no run of it"
    if summary.get("run_id") != last:
        return f"its published files are not those of its last run {last}"
    record = commit_record(warehouse, business_date)
    commit_id = summary.get("inputs", {}).get("commit_id")
    if record is None or record.get("commit_id") != commit_id:
        return "its published cases were not judged on its committed inputs"
    return None


def judge_predecessor(
    warehouse: Storage, db_url: str, business_date: date, allow_gap: bool
) -> dict[str, object]:
    """Whether the night before was processed; a problem when it was not, unless the
    warehouse holds no night before this one or the gap is allowed."""
    previous = business_date - timedelta(days=1)
    with open_store(db_url, warehouse.root) as store:
        earlier_run = store.has_runs_before(business_date)
    earlier = earlier_run or any(
        d < business_date for s in SOURCES for d in curated_dates(warehouse, s)
    )
    if not earlier:
        return {"previous_night": previous.isoformat(), "first_night": True}
    why = night_processed(warehouse, db_url, previous)
    verdict: dict[str, object] = {
        "previous_night": previous.isoformat(),
        "processed": why is None,
        "gap_allowed": why is not None and allow_gap,
    }
    if why is not None:
        verdict["why"] = why
        if not allow_gap:
            verdict["problem"] = (
                f"the previous night {previous} is not processed in this warehouse ({why}): "
                "run it first, or allow the gap (--allow-gap)"
            )
    return verdict


def judge_night(
    warehouse: Storage,
    business_date: date,
    stats: Mapping[str, Mapping[str, object]],
    inventory: pl.DataFrame,
    settings: GateSettings,
    db_url: str,
) -> GateVerdict:
    """The night gate (contract section 1.0) on the night's checked, uncommitted inputs."""
    sources = judge_sources(stats, settings)
    before = [d for d in curated_dates(warehouse, INVENTORY) if d < business_date]
    previous = scan_curated(warehouse, INVENTORY, before[-1:]) if before else None
    check, problems = check_inventory(inventory, previous, before[-1] if before else None, settings)
    sources = {**sources, INVENTORY: with_problems(sources[INVENTORY], problems)}
    predecessor = judge_predecessor(warehouse, db_url, business_date, settings.allow_gap)
    return GateVerdict(business_date, settings, sources, check, predecessor)


def pass_gate(verdict: GateVerdict, report: Report | None) -> None:
    """Report every source's line; BadInput when the gate refuses the night."""
    for line in verdict.lines():
        (report or log.info)(line)
    if verdict.problems:
        raise BadInput(verdict.business_date, ["night gate: " + p for p in verdict.problems])


def validate_inputs(
    landing: Storage, warehouse: Storage, business_date: date, checked: Mapping[str, Checked]
) -> None:
    """Data-quality validation of the night's four checked sources in one call (GX imported
    once), then the night's pages; keeps each source's summary for this run's publish. A
    critical failure is BadInput."""
    try:
        night = validate_night(landing, warehouse, business_date, checked)
    except CriticalExpectationFailed as exc:
        raise BadInput(business_date, [exc]) from exc
    for outcome in night.outcomes.values():
        stage_quality(warehouse, outcome)


def stage_quality(warehouse: Storage, outcome: ValidationOutcome) -> None:
    key = layout.staged_quality_key(outcome.source, outcome.business_date)
    warehouse.write_bytes(key, _json(outcome.summary()))


def commit_inputs(
    warehouse: Storage,
    business_date: date,
    parts: Mapping[str, LoadedPartition] | None,
    verdict: GateVerdict,
    validated: bool,
) -> str:
    """Commit the night's four partitions together (staging `parts` first, when given);
    keeps the gate's verdict and the commit id for the run summary."""
    for part in (parts or {}).values():
        stage_partition(warehouse, part)
    commit_id = commit_night(warehouse, business_date)
    meta = {"gate": verdict.summary(), "commit_id": commit_id, "validated": validated}
    warehouse.write_bytes(layout.night_meta_key(business_date), _json(meta))
    return commit_id


# -- the steps the DAG runs as tasks ------------------------------------------------------


def ingest_source(
    landing: Storage, warehouse: Storage, source: str, business_date: date
) -> dict[str, object]:
    """Check one source's partition and stage it for the night's commit; its stats."""
    loaded = load_partition(landing, source, business_date, warehouse)
    stage_partition(warehouse, loaded)
    return loaded.stats()


def validate_staged(landing: Storage, warehouse: Storage, business_date: date) -> None:
    """Validate the night's four staged sources (the DAG's one `validate` task); BadInput
    on a critical failure."""
    checked = {
        s: Checked.of(
            int(str(staged_stats(warehouse, s, business_date)["rows_loaded"])),
            staged_quarantine(warehouse, s, business_date),
        )
        for s in SOURCES
    }
    validate_inputs(landing, warehouse, business_date, checked)


def gate_and_commit(
    warehouse: Storage,
    business_date: date,
    settings: GateSettings,
    db_url: str,
    validated: bool,
    report: Report | None = None,
) -> str:
    """Judge the night's staged sources and commit them (BadInput when refused)."""
    stats = {s: staged_stats(warehouse, s, business_date) for s in SOURCES}
    inventory = staged_rows(warehouse, INVENTORY, business_date)
    verdict = judge_night(warehouse, business_date, stats, inventory, settings, db_url)
    pass_gate(verdict, report)
    return commit_inputs(warehouse, business_date, None, verdict, validated)


# -- rules, cases, publication ------------------------------------------------------------


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
    buckets = shard_buckets(shard, shards)
    sim_billing = history(warehouse, "billing_lines", business_date, buckets)
    number_billing = history(warehouse, "billing_lines", business_date, buckets, by_number=True)
    return shard_inputs(night, shard, shards, sim_billing, number_billing)


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
    inputs = night_inputs(warehouse, business_date)
    with open_store(db_url, warehouse.root) as store:
        outcome = store.record_night(
            business_date, detections, run_id, lambda rows: clearing_evidence(inputs, rows)
        )
        stats = {s: ingest_stats(warehouse, s, business_date) for s in SOURCES}
        day = business_date
        kpis = kpis_document(store.engine, day, day, day, stats)
        trends = read_trends(store.engine, as_of=business_date)
        recovery = recovery_by_month(store.engine, trends.nights)
    warehouse.write_bytes(layout.staged_kpis_key(business_date), _json(kpis))
    meta = {
        "run_id": run_id,
        "started_at": started.isoformat(),
        "counts": outcome.counts,
        "trends": {
            name: plain_rows(recovery if name == "recovery" else getattr(trends, name))
            for name, _, _ in DRAWN
        },
    }
    warehouse.write_bytes(layout.published_key(business_date), parquet_bytes(outcome.published))
    warehouse.write_bytes(layout.outcome_key(business_date), json.dumps(meta, indent=2).encode())
    return run_id


def publish(warehouse: Storage, business_date: date) -> NightResult:
    """Publish the night from what this run staged, then clear the staging area."""
    cases = pl.read_parquet(io.BytesIO(warehouse.read_bytes(layout.published_key(business_date))))
    meta = json.loads(warehouse.read_bytes(layout.outcome_key(business_date)))
    night = json.loads(warehouse.read_bytes(layout.night_meta_key(business_date)))
    stats = {s: ingest_stats(warehouse, s, business_date) for s in SOURCES}
    summary = night_summary(business_date, meta, stats, cases)
    summary["gate"] = night["gate"]
    summary["inputs"] = {"commit_id": night["commit_id"]}
    summary["quality"] = _quality(warehouse, business_date, night["validated"])
    kpis = json.loads(warehouse.read_bytes(layout.staged_kpis_key(business_date)))
    charts = draw_trends(meta.get("trends", {}))
    report = publish_night(warehouse, business_date, cases, summary, kpis, charts)
    warehouse.delete_prefix(layout.staging_prefix(business_date))
    log.info("business date %s: %d cases published, report %s", business_date, cases.height, report)
    return NightResult(business_date, summary, report)


def _quality(warehouse: Storage, business_date: date, validated: bool) -> dict[str, object]:
    """The run summary's "quality" section: this run's validations, or that there was none."""
    if not validated:
        return {"validated": False, "why": "run with --no-validate"}
    sources = {
        s: json.loads(warehouse.read_bytes(layout.staged_quality_key(s, business_date)))
        for s in SOURCES
    }
    return {
        "validated": True,
        "success": all(s["success"] for s in sources.values()),
        "pages": warehouse.uri(layout.PAGES_INDEX),
        "sources": sources,
    }


# -- a night, and nights in order ---------------------------------------------------------


def run_night(
    landing_uri: str,
    warehouse_uri: str,
    business_date: date,
    db_url: str | None = None,
    shards: int = 1,
    validate: bool = True,
    gate: GateSettings | None = None,
    lock_wait: float | None = None,
    report: Report | None = None,
) -> NightResult:
    """Process one night (contract section 4, `recon run`) under the warehouse's lock.

    The gate judges the checked inputs and, with `validate`, the data-quality suites run
    on them; a refusal or a critical failure stops the night (BadInput) before anything of
    it is committed, recorded or published. `report` gets the line of each source.
    """
    url = case_store_url(db_url, warehouse_uri)  # fail before writing anything,
    ensure_current(url)  # also when the case store must be upgraded first
    landing, warehouse = open_storage(landing_uri), open_storage(warehouse_uri)
    with warehouse_lock(warehouse, url, f"recon run {business_date}", lock_wait):
        return _night(landing, warehouse, business_date, url, shards, validate, gate, report)


def _night(
    landing: Storage,
    warehouse: Storage,
    business_date: date,
    db_url: str,
    shards: int,
    validate: bool,
    gate: GateSettings | None,
    report: Report | None,
) -> NightResult:
    started = datetime.now(UTC)
    prepare(warehouse, business_date)
    if validate:
        import_in_background()  # overlaps ingest and the gate
    try:
        parts = load_night(landing, warehouse, business_date)
        stats = {s: p.stats() for s, p in parts.items()}
        inventory = parts[INVENTORY].valid
        settings = gate or GateSettings()
        verdict = judge_night(warehouse, business_date, stats, inventory, settings, db_url)
        pass_gate(verdict, report)
        if validate:
            checked = {s: Checked.of(p.rows_loaded, p.quarantined) for s, p in parts.items()}
            validate_inputs(landing, warehouse, business_date, checked)
    except BadInput:
        warehouse.delete_prefix(layout.staging_prefix(business_date))
        raise
    commit_inputs(warehouse, business_date, parts, verdict, validate)
    del parts, inventory  # the rest reads the committed history: free the night's rows
    if shards == 1:
        reconcile(warehouse, business_date)
    else:
        clear_detections(warehouse, business_date)
        for shard in range(shards):
            reconcile(warehouse, business_date, shard, shards)
    update_cases(warehouse, business_date, db_url, started)
    return publish(warehouse, business_date)


def night_summary(business_date: date, meta: dict, stats: dict, cases: pl.DataFrame) -> dict:
    """The run summary: rows per source, cases per rule, money per rule, kind and currency
    (`amount_by_kind`, contract section 3) and the cases without an amount (`not_priced`)."""
    rules = {}
    for rule_id in RULE_SPECS:
        found = cases.filter(pl.col("rule_id") == rule_id)
        counts = meta["counts"].get(rule_id, {})
        rules[rule_id] = {
            "found": found.height,
            "new": counts.get("new", 0),
            "still_open": counts.get("still_open", 0),
            "closed": counts.get("closed", 0),
            "withdrawn": counts.get("withdrawn", 0),
            "amount_by_kind": money_by_kind(found),
            "not_priced": not_priced(found),
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
            "withdrawn": sum(r["withdrawn"] for r in rules.values()),
            "amount_by_kind": money_by_kind(cases),
            "not_priced": not_priced(cases),
        },
    }


def rewrite_hold_list(
    warehouse_uri: str, business_date: date, db_url: str | None = None
) -> list[dict]:
    """Write the night's letters_to_hold files again from the case store's current
    statuses (contract section 3.1, `recon letters hold-list`); returns their rows.

    Raises LookupError when the night is not published."""
    warehouse = open_storage(warehouse_uri)
    if not warehouse.exists(layout.cases_summary_key(business_date)):
        raise LookupError(f"business date {business_date} is not published in {warehouse_uri}")
    with open_store(db_url, warehouse.root) as store:
        rows = hold_rows(store.night_cases(business_date, LETTER_RULES))
    for name, data in hold_files(rows).items():
        warehouse.write_bytes(f"{layout.cases_prefix(business_date)}/{name}", data)
    return rows


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
    validate: bool = True,
    gate: GateSettings | None = None,
    lock_wait: float | None = None,
    report: Report | None = None,
) -> list[NightResult]:
    """Run the nights from start to end in order, holding the warehouse's lock throughout;
    stops at the first failing night."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    url = case_store_url(db_url, warehouse_uri)
    ensure_current(url)
    landing, warehouse = open_storage(landing_uri), open_storage(warehouse_uri)
    days = list(business_dates(start, end))
    results = []
    with warehouse_lock(warehouse, url, f"recon backfill {start}..{end}", lock_wait):
        for i, day in enumerate(days, 1):
            t0 = time.perf_counter()
            results.append(_night(landing, warehouse, day, url, shards, validate, gate, report))
            if progress:
                progress(i, len(days), results[-1], time.perf_counter() - t0)
    return results


def _json(doc: object) -> bytes:
    return (json.dumps(doc, indent=2) + "\n").encode()
