"""The index of loaded keys: every curated key of a source whose key spans dates, hashed.

    candidate_dates(warehouse, source, day, keys)  # ingest: the other dates to check keys in
    update_indexes(warehouse, day)                 # a night's commit, once its partitions moved
    drop_index(warehouse, source)                  # before a partition is written straight

One object per source (`layout.key_index_key`): an Arrow IPC file of one column, the
64-bit polars hash of every curated key, grouped by business date; its schema metadata
holds the dates in order with their row counts (a date without rows too) and the hash's
version. A night's cross-date duplicate check reads it (one request) instead of every
other partition, then reads only the partitions of the dates where one of the night's
hashes is found: its verdicts are exactly those of a scan of them all, and a hash
collision costs one more partition read, never a verdict.

A covered date is trusted while it is still curated and no commit journal of it is
pending; every other curated date (new, written straight, or mid-commit) is read whole,
as without an index. The hash is stable only within one polars version: an index of
another version is ignored, like a missing or unreadable one. Each night's commit brings
the index up to date (rebuilding what it cannot trust); writing a partition straight
drops it first.
"""

from __future__ import annotations

import bisect
import functools
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import polars as pl
import pyarrow as pa

from pipelines import layout
from pipelines.contract import SOURCE_SPECS, SOURCES
from pipelines.ingest.warehouse import curated_dates, scan_curated
from pipelines.storage import Storage

# Sources whose key is unique only within one business date (a full snapshot each night).
SNAPSHOT_SOURCES = frozenset({"sim_inventory"})
INDEXED_SOURCES = tuple(s for s in SOURCES if s not in SNAPSHOT_SOURCES)
HASH = "key_hash"
EMPTY = pl.Series(HASH, [], pl.UInt64)
META = b"recon_key_index"
# Strings of every length class of the hash: an index is used only if they hash alike.
PROBES = ("", "7", "L1-2024", "T-0000000000000042", "x" * 100, "y" * 300)


@dataclass(frozen=True)
class KeyIndex:
    hashes: pl.Series  # UInt64, grouped by date
    spans: dict[date, tuple[int, int]]  # each date's first row and row count in `hashes`

    def of(self, day: date) -> pl.Series:
        start, rows = self.spans[day]
        return self.hashes.slice(start, rows)


def candidate_dates(
    warehouse: Storage, source: str, business_date: date, keys: pl.Series
) -> list[date]:
    """The curated dates other than `business_date` that may hold one of `keys`: those
    where the index finds one of their hashes, and every date it cannot vouch for."""
    listed = curated_dates(warehouse, source)
    index = read_index(warehouse, source) if listed else None
    trusted = _trusted(warehouse, index, listed)
    found: set[date] = set()
    if index is not None and trusted:
        hits = index.hashes.is_in(keys.drop_nulls().hash(0).implode()).arg_true().to_list()
        for day in trusted:
            start, rows = index.spans[day]
            if bisect.bisect_left(hits, start) < bisect.bisect_left(hits, start + rows):
                found.add(day)
    return [d for d in listed if d != business_date and (d in found or d not in trusted)]


def update_indexes(warehouse: Storage, business_date: date) -> None:
    """Bring every index up to date with the curated partitions, `business_date`'s just
    replaced: dates no longer curated are dropped, untrusted ones (re)read. Repeatable."""
    for source in INDEXED_SOURCES:
        listed = curated_dates(warehouse, source)
        index = read_index(warehouse, source)
        trusted = _trusted(warehouse, index, listed) - {business_date}
        fresh = _hashed(warehouse, source, [d for d in listed if d not in trusted])
        kept = {d: index.of(d) for d in trusted} if index else {}
        _write(warehouse, source, {d: kept.get(d, fresh.get(d, EMPTY)) for d in listed})


def drop_index(warehouse: Storage, source: str) -> None:
    warehouse.delete_prefix(layout.key_index_prefix(source))


def read_index(warehouse: Storage, source: str) -> KeyIndex | None:
    """The source's index, or None when it is missing, unreadable or of another hash."""
    try:
        reader = pa.ipc.open_file(pa.py_buffer(warehouse.read_bytes(layout.key_index_key(source))))
        meta = json.loads(reader.schema.metadata[META])
        if meta["source"] != source or meta["hash"] != _hash_version():
            return None
        hashes = pl.Series(HASH, reader.read_all()[HASH])
    except (FileNotFoundError, ValueError, KeyError, TypeError):  # ArrowInvalid: a ValueError
        return None
    spans, start = {}, 0
    for day, rows in meta["dates"]:
        spans[date.fromisoformat(day)] = (start, rows)
        start += rows
    return KeyIndex(hashes, spans) if start == len(hashes) else None


def _trusted(warehouse: Storage, index: KeyIndex | None, listed: list[date]) -> set[date]:
    """The curated dates whose rows the index holds as they are now."""
    if index is None:
        return set()
    pending = (layout.commit_journal_date(k) for k in warehouse.list_keys("staging"))
    return (index.spans.keys() & set(listed)) - set(pending)


def _hashed(warehouse: Storage, source: str, dates: Collection[date]) -> dict[date, pl.Series]:
    """The hashed keys of the given dates' curated rows, by date (dates without rows left out)."""
    key = SOURCE_SPECS[source].key
    rows = scan_curated(warehouse, source, dates)
    hashed = rows.select(pl.col(key).hash(0).alias(HASH), "business_date").collect()
    return {
        d: part[HASH] for (d,), part in hashed.partition_by("business_date", as_dict=True).items()
    }


def _write(warehouse: Storage, source: str, parts: dict[date, pl.Series]) -> None:
    """Write the index of `parts`, each date's hashes, in date order."""
    meta = {
        "source": source,
        "hash": _hash_version(),
        "dates": [[d.isoformat(), len(parts[d])] for d in sorted(parts)],
    }
    hashes = pl.concat([EMPTY, *(parts[d] for d in sorted(parts))], rechunk=True)
    table = pa.table({HASH: hashes.to_arrow()}).replace_schema_metadata({META: json.dumps(meta)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    warehouse.write_bytes(layout.key_index_key(source), sink.getvalue().to_pybytes())


@functools.cache
def _hash_version() -> str:
    probes = pl.Series(PROBES).hash(0).to_list()
    return f"polars {pl.__version__} hash(0) " + " ".join(map(str, probes))
