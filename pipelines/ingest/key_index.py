"""The index of loaded keys: every curated key of a source whose key spans dates, hashed.

    candidate_dates(warehouse, source, day, keys)  # ingest: the other dates to check keys in
    update_indexes(warehouse, day)                 # a night's commit, once its partitions moved
    drop_index(warehouse, source)                  # before a partition is written straight

Two objects per source (`layout.key_index_key`), `base` and `recent`, each an Arrow IPC
file of one column, the 64-bit polars hash of every curated key of the dates it covers,
grouped by date; its schema metadata holds those dates with their row counts (a date
without rows too) and the hash's version. A night's commit rewrites only `recent`, the
nights since `base` was last written, and folds it into `base` once it covers
FOLD_DATES dates or more rows than `base`, or when a date `base` covers changed (a
rerun): so each object holds every date it covers as it is curated, and losing either
only leaves dates uncovered. The check reads the two (two requests) instead of every
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
BASE, RECENT = "base", "recent"
FOLD_DATES = 16
HASH = "key_hash"
EMPTY = pl.Series(HASH, [], pl.UInt64)
META = b"recon_key_index"
# Strings of every length class of the hash: an index is used only if they hash alike.
PROBES = ("", "7", "L1-2024", "T-0000000000000042", "x" * 100, "y" * 300)


@dataclass(frozen=True)
class KeyIndex:
    """One object of a source's index."""

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
    parts = _parts(warehouse, source) if listed else (None, None)
    view = _view(*parts)
    trusted = _trusted(warehouse, view, listed)
    night = keys.drop_nulls().hash(0).implode()
    found = set()
    for part in parts:
        if part is None:
            continue
        hits = part.hashes.is_in(night).arg_true().to_list()
        for day in (d for d in trusted if view[d] is part):
            start, rows = part.spans[day]
            if bisect.bisect_left(hits, start) < bisect.bisect_left(hits, start + rows):
                found.add(day)
    return [d for d in listed if d != business_date and (d in found or d not in trusted)]


def update_indexes(warehouse: Storage, business_date: date) -> None:
    """Bring every index up to date with the curated partitions, `business_date`'s just
    replaced (its commit journal still pending): untrusted dates are (re)read, dates no
    longer curated left out of what is rewritten. Repeatable."""
    for source in INDEXED_SOURCES:
        listed = curated_dates(warehouse, source)
        base, recent = _parts(warehouse, source)
        view = _view(base, recent)
        trusted = _trusted(warehouse, view, listed) - {business_date}
        fresh = _hashed(warehouse, source, [d for d in listed if d not in trusted])
        kept = {d: view[d].of(d) for d in trusted if view[d] is base}
        newer = {d: view[d].of(d) for d in trusted if view[d] is not base}
        newer |= {d: fresh.get(d, EMPTY) for d in listed if d not in trusted}
        changed = base is not None and bool(base.spans.keys() & (set(listed) - trusted))
        if changed or len(newer) >= FOLD_DATES or _rows(newer) > _rows(kept):
            # `base` first: a crash before `recent` is emptied leaves both current (but for
            # the night, whose journal is still pending)
            _write(warehouse, source, BASE, kept | newer)
            _write(warehouse, source, RECENT, {})
        else:
            _write(warehouse, source, RECENT, newer)


def drop_index(warehouse: Storage, source: str) -> None:
    warehouse.delete_prefix(layout.key_index_prefix(source))


def read_index(warehouse: Storage, source: str) -> dict[date, KeyIndex]:
    """The object of the source's index that holds each date it covers (none when it is
    missing, unreadable or of another hash)."""
    return _view(*_parts(warehouse, source))


def _parts(warehouse: Storage, source: str) -> tuple[KeyIndex | None, KeyIndex | None]:
    return _read(warehouse, source, BASE), _read(warehouse, source, RECENT)


def _view(base: KeyIndex | None, recent: KeyIndex | None) -> dict[date, KeyIndex]:
    """The object that holds each covered date, `recent` where both do."""
    return {d: p for p in (base, recent) if p is not None for d in p.spans}


def _read(warehouse: Storage, source: str, part: str) -> KeyIndex | None:
    try:
        data = warehouse.read_bytes(layout.key_index_key(source, part))
        reader = pa.ipc.open_file(pa.py_buffer(data))
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


def _trusted(warehouse: Storage, view: dict[date, KeyIndex], listed: list[date]) -> set[date]:
    """The curated dates whose rows the index holds as they are now."""
    if not view:
        return set()
    pending = (layout.commit_journal_date(k) for k in warehouse.list_keys("staging"))
    return (view.keys() & set(listed)) - set(pending)


def _hashed(warehouse: Storage, source: str, dates: Collection[date]) -> dict[date, pl.Series]:
    """The hashed keys of the given dates' curated rows, by date (dates without rows left out)."""
    key = SOURCE_SPECS[source].key
    rows = scan_curated(warehouse, source, dates)
    hashed = rows.select(pl.col(key).hash(0).alias(HASH), "business_date").collect()
    return {
        d: part[HASH] for (d,), part in hashed.partition_by("business_date", as_dict=True).items()
    }


def _rows(parts: dict[date, pl.Series]) -> int:
    return sum(map(len, parts.values()))


def _write(warehouse: Storage, source: str, part: str, parts: dict[date, pl.Series]) -> None:
    """Write one object of the index: `parts`, each date's hashes, in date order."""
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
    warehouse.write_bytes(layout.key_index_key(source, part), sink.getvalue().to_pybytes())


@functools.cache
def _hash_version() -> str:
    probes = pl.Series(PROBES).hash(0).to_list()
    return f"polars {pl.__version__} hash(0) " + " ".join(map(str, probes))
