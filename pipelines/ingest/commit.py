"""A night's four partitions enter the curated history together or not at all.

    stage_partition(warehouse, loaded)   # each source, checked; nothing curated changes
    commit_night(warehouse, day)         # the journal is the commit point, then it is applied
    roll_forward(warehouse)              # a run first finishes any commit a crash cut short

The journal (`staging/business_date=D/commit/journal.json`) is written only when all four sources
are staged; applying it moves each staged source into place and is repeatable, so a
commit cut short by a crash is completed by the next run, never left half done. The
commit record (`curated/_commits/business_date=D.json`) names the committed files by
digest: the night's summary carries its commit id, so the published night and the
curated history can be checked against each other.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, date, datetime

import polars as pl

from pipelines import layout
from pipelines.contract import SOURCES
from pipelines.ingest.compacted import compact
from pipelines.ingest.key_index import update_indexes
from pipelines.ingest.partition import LoadedPartition, partition_files
from pipelines.storage import Storage

CURATED, QUARANTINE = "curated", "quarantine"


def stage_partition(warehouse: Storage, loaded: LoadedPartition) -> None:
    """Keep a checked partition in the night's staging area until the night commits."""
    curated, quarantine = partition_files(loaded)
    files = {f"{CURATED}/{n}": d for n, d in curated.items()}
    files |= {f"{QUARANTINE}/{n}": d for n, d in quarantine.items()}
    warehouse.replace_prefix(
        layout.staged_source_prefix(loaded.source, loaded.business_date), files
    )


def staged_stats(warehouse: Storage, source: str, business_date: date) -> dict[str, object]:
    """The stats of a staged partition (rows read, loaded, quarantined)."""
    key = f"{layout.staged_source_prefix(source, business_date)}/{CURATED}/{layout.STATS_FILE}"
    return json.loads(warehouse.read_bytes(key))


def staged_rows(warehouse: Storage, source: str, business_date: date) -> pl.DataFrame:
    """The curated rows of a staged partition."""
    key = f"{layout.staged_source_prefix(source, business_date)}/{CURATED}/{layout.CURATED_FILE}"
    return pl.read_parquet(io.BytesIO(warehouse.read_bytes(key)))


def staged_quarantine(warehouse: Storage, source: str, business_date: date) -> pl.DataFrame | None:
    """The quarantined rows of a staged partition, None when none was quarantined."""
    prefix = layout.staged_source_prefix(source, business_date)
    key = f"{prefix}/{QUARANTINE}/{layout.QUARANTINE_FILE}"
    return pl.read_parquet(io.BytesIO(warehouse.read_bytes(key))) if warehouse.exists(key) else None


def commit_night(warehouse: Storage, business_date: date) -> str:
    """Commit the night's four staged partitions; returns the commit id (a digest of the
    files committed, so the same inputs give the same id)."""
    digests: dict[str, dict[str, str]] = {}
    for source in SOURCES:
        prefix = layout.staged_source_prefix(source, business_date)
        keys = warehouse.list_keys(prefix)
        if not keys:
            raise FileNotFoundError(f"{source} of {business_date} is not staged: ingest it first")
        digests[source] = {k[len(prefix) + 1 :]: warehouse.sha256(k) for k in keys}
    text = json.dumps(digests, sort_keys=True)
    commit_id = hashlib.sha256(text.encode()).hexdigest()[:16]
    journal = {"commit_id": commit_id, "business_date": business_date.isoformat()}
    warehouse.write_bytes(layout.commit_journal_key(business_date), _json(journal))
    _apply(warehouse, business_date)
    return commit_id


def roll_forward(warehouse: Storage) -> list[date]:
    """Finish every commit a crash cut short; returns their business dates."""
    keys = warehouse.list_keys("staging")
    days = sorted(d for d in (layout.commit_journal_date(k) for k in keys) if d is not None)
    for day in days:
        _apply(warehouse, day)
    return days


def commit_record(warehouse: Storage, business_date: date) -> dict | None:
    """The record of the night's last commit, or None when it was never committed."""
    key = layout.commit_record_key(business_date)
    return json.loads(warehouse.read_bytes(key)) if warehouse.exists(key) else None


def _apply(warehouse: Storage, business_date: date) -> None:
    """Move each staged source into place (a source already moved has no staged files
    left), bring the key index and the compacted history up to date (both repeatable),
    record the commit, drop the journal."""
    journal = json.loads(warehouse.read_bytes(layout.commit_journal_key(business_date)))
    for source in SOURCES:
        prefix = layout.staged_source_prefix(source, business_date)
        keys = warehouse.list_keys(prefix)
        if not keys:
            continue
        staged = {k[len(prefix) + 1 :]: warehouse.read_bytes(k) for k in keys}
        curated = _below(staged, CURATED)
        quarantine = _below(staged, QUARANTINE)
        warehouse.replace_prefix(layout.curated_prefix(source, business_date), curated)
        if quarantine:
            warehouse.replace_prefix(layout.quarantine_prefix(source, business_date), quarantine)
        else:
            warehouse.delete_prefix(layout.quarantine_prefix(source, business_date))
        warehouse.delete_prefix(prefix)
    update_indexes(warehouse, business_date)
    compact(warehouse)
    record = {
        **journal,
        "committed_at": datetime.now(UTC).isoformat(),
        "sources": {
            s: json.loads(warehouse.read_bytes(layout.stats_key(s, business_date))) for s in SOURCES
        },
    }
    warehouse.write_bytes(layout.commit_record_key(business_date), _json(record))
    warehouse.delete_prefix(layout.commit_journal_prefix(business_date))


def _below(files: dict[str, bytes], folder: str) -> dict[str, bytes]:
    return {n[len(folder) + 1 :]: d for n, d in files.items() if n.startswith(f"{folder}/")}


def _json(doc: object) -> bytes:
    return (json.dumps(doc, indent=2) + "\n").encode()
