"""The curated history of a source compacted into at most two segments (a base and the
recent nights), so that a night reads a fixed number of files however long the history.

    versions = partition_versions(warehouse, source)   # one listing: business date -> version
    compacted(warehouse, source, up_to, versions)      # the history up to a night, or None
    compact(warehouse)                                 # after a commit: bring it up to date

The per-night partitions stay the record; the compacted history is derived from them. Its
manifest (`curated/_compacted/<source>/manifest.json`) names the segments, base first, and
for each the partitions it holds with the version each had when it was read (the storage's
`versions`: an S3 ETag, a local file's inode and times). A segment is named by the
partitions and versions it holds, which decide its content: it is never rewritten but
with the same bytes. A reader uses the segments only when the partitions they hold up to
its night are exactly the curated ones, version for version; otherwise (no manifest, a
partition written since by `commit_partition`, a commit cut short) it gets None and reads
the partitions. `compact` re-reads only the partitions that are new or changed, so it also
repairs what a crash, a rerun of an older night or a direct write left behind.

The billing lines' segments are split by SIM bucket (`pipelines.buckets`), one file per
bucket, so that a shard reads only its SIMs' lines (`compacted(..., buckets=[...])`); each
also holds its recurring lines with a number again, split by the number's bucket, for the
rule keyed by number (`by_number=True`). The manifest records the layout; a manifest of
another layout is not used, and the next `compact` rebuilds the segments.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines import layout
from pipelines.buckets import BUCKETS, number_bucket, sim_bucket
from pipelines.contract import SOURCE_SPECS
from pipelines.storage import Storage, parquet_bytes

# The sources whose whole history a night reads (`night.night_inputs`); the history of any
# other source is read from its partitions.
COMPACTED = ("store_transactions", "billing_lines")
# The source whose segments are split by SIM bucket, and hold its recurring lines with a
# number again, split by the number's bucket.
BUCKETED = "billing_lines"
# The layout of the segments' files, recorded in the manifest.
LAYOUT = {"buckets": BUCKETS, "by_number": "recurring"}
# The recent segment is merged into the base once it holds more than 1/RECENT_SHARE of the
# base's rows: a night rewrites the small segment, the base is rewritten now and then.
RECENT_SHARE = 8
DATE = "business_date"


@dataclass(frozen=True)
class Piece:
    """Part of a segment not written yet: the rows of an existing segment (those of the
    dates `keep`, None for all), or a curated partition's."""

    segment: str | None = None
    keep: frozenset[date] | None = None
    day: date | None = None


@dataclass
class Segment:
    """A segment's partitions (business date -> version) and rows; `pieces` is what it is
    made of when it changed and is not written yet (then `name` is None)."""

    name: str | None
    parts: dict[date, str]
    rows: int
    pieces: list[Piece] | None = None

    def made_of(self) -> list[Piece]:
        """Its pieces, or (written) the whole of itself."""
        if self.pieces is not None:
            return self.pieces
        return [Piece(segment=self.name)] if self.parts else []


def partition_versions(warehouse: Storage, source: str) -> dict[date, str]:
    """The business dates of the source's curated partitions, in order, with the version of
    each data file (one listing)."""
    listed = warehouse.versions(layout.curated_source_prefix(source))
    found = {layout.curated_date(source, key): version for key, version in listed.items()}
    return {d: found[d] for d in sorted(d for d in found if d is not None)}


def buckets_of(source: str) -> int:
    """How many files each of the source's segments is split into."""
    return BUCKETS if source == BUCKETED else 1


def compacted(
    warehouse: Storage,
    source: str,
    up_to: date,
    versions: dict[date, str],
    buckets: Collection[int] | None = None,
    by_number: bool = False,
) -> pl.LazyFrame | None:
    """Every curated row of the source with business_date <= up_to, from the segments (of
    the given buckets only; default all), as the partitions would give them (same columns,
    same rows, but bucket by bucket: in date order within a bucket's file only); with
    `by_number`, the recurring lines with a number of those number buckets. None when the
    segments do not hold exactly the partitions `versions` names up to that date."""
    wanted = {d: v for d, v in versions.items() if d <= up_to}
    segments = [s for s in segments_of(warehouse, source) if min(s.parts) <= up_to]
    held = {d: v for s in segments for d, v in s.parts.items() if d <= up_to}
    if not wanted or held != wanted:
        return None
    chosen: list[int] = list(range(buckets_of(source)))
    if buckets is not None and buckets_of(source) > 1:
        chosen = sorted(buckets)
    paths = [
        warehouse.uri(layout.compacted_segment_key(source, str(s.name), b, by_number))
        for s in segments
        for b in chosen
    ]
    if not paths:
        return pl.LazyFrame(schema=_schema(source))
    frame = pl.scan_parquet(
        paths, hive_partitioning=False, storage_options=warehouse.storage_options
    )
    if any(max(s.parts) > up_to for s in segments):
        frame = frame.filter(pl.col(DATE) <= up_to)
    return frame.select(*SOURCE_SPECS[source].column_names, DATE)


def segments_of(warehouse: Storage, source: str) -> list[Segment]:
    """The segments the manifest names, base first; none when there is no manifest."""
    try:
        doc = json.loads(warehouse.read_bytes(layout.compacted_manifest_key(source)))
    except FileNotFoundError:
        return []
    if doc.get("layout") != _layout(source):  # another layout: rebuilt by `compact`
        return []
    return [
        Segment(
            s["segment"],
            {date.fromisoformat(d): v for d, v in s["partitions"].items()},
            s["rows"],
        )
        for s in doc["segments"]
    ]


def compact(warehouse: Storage) -> None:
    """Bring every compacted history up to date with the curated partitions."""
    for source in COMPACTED:
        compact_source(warehouse, source)


def compact_source(warehouse: Storage, source: str) -> None:
    """Drop from the segments the partitions that changed or vanished, add the new and
    changed ones (in date order), merge the recent segment into the base when it has grown;
    write what changed, then the manifest, then delete the segments no longer named."""
    versions = partition_versions(warehouse, source)
    old = segments_of(warehouse, source)
    try:
        kept = [s for s in (_still_valid(warehouse, source, s, versions) for s in old) if s]
    except FileNotFoundError:  # a segment was removed by hand: start afresh
        kept = []
    held = {d for s in kept for d in s.parts}
    new = [d for d in versions if d not in held]
    if not new and [s.name for s in kept] == [s.name for s in old]:
        return
    partitions = {d: _partition(warehouse, source, d) for d in new}
    segments = _place(source, kept, new, versions, partitions)
    if len(segments) == 2 and segments[1].rows * RECENT_SHARE > segments[0].rows:
        base, recent = segments
        pieces = base.made_of() + recent.made_of()
        segments = [Segment(None, base.parts | recent.parts, base.rows + recent.rows, pieces)]
    for segment in segments:
        if segment.pieces is not None:
            segment.name = _name(source, segment)
            for bucket, by_number in _files(source):
                rows = _file_rows(warehouse, source, segment.pieces, partitions, bucket, by_number)
                key = layout.compacted_segment_key(source, segment.name, bucket, by_number)
                warehouse.write_bytes(key, parquet_bytes(rows, statistics=True))
            segment.pieces = None
    manifest = {
        "source": source,
        "layout": _layout(source),
        "segments": [
            {
                "segment": s.name,
                "rows": s.rows,
                "partitions": {d.isoformat(): v for d, v in s.parts.items()},
            }
            for s in segments
        ],
    }
    warehouse.write_bytes(
        layout.compacted_manifest_key(source), (json.dumps(manifest, indent=2) + "\n").encode()
    )
    named = {s.name for s in segments}
    prefix = layout.compacted_prefix(source)
    for key in warehouse.list_keys(prefix):
        name = layout.compacted_segment(source, key)
        if name is not None and name not in named:
            warehouse.delete_prefix(f"{prefix}/{name}")


def _still_valid(
    warehouse: Storage, source: str, segment: Segment, versions: dict[date, str]
) -> Segment | None:
    """The segment without the partitions whose version changed or that vanished (None
    when none is left)."""
    valid = {d: v for d, v in segment.parts.items() if versions.get(d) == v}
    if valid == segment.parts:
        return segment
    if not valid:
        return None
    gone = [d for d in segment.parts if d not in valid]
    keys = [
        layout.compacted_segment_key(source, str(segment.name), b)
        for b in range(buckets_of(source))
    ]
    for key in keys:
        if not warehouse.exists(key):
            raise FileNotFoundError(key)
    dropped = (
        pl.scan_parquet([warehouse.uri(k) for k in keys], storage_options=warehouse.storage_options)
        .filter(pl.col(DATE).is_in(gone))
        .select(pl.len())
        .collect()
        .item()
    )
    piece = Piece(segment=segment.name, keep=frozenset(valid))
    return Segment(None, valid, segment.rows - dropped, [piece])


def _place(
    source: str,
    segments: list[Segment],
    new: list[date],
    versions: dict[date, str],
    partitions: dict[date, pl.DataFrame],
) -> list[Segment]:
    """The segments with the new partitions added: a date up to the base's last one goes
    into the base, a later one into the recent segment (so the base's dates all come
    before the recent segment's)."""

    def extended(segment: Segment, dates: list[date]) -> Segment:
        if not dates:
            return segment
        parts = dict(sorted((segment.parts | {d: versions[d] for d in dates}).items()))
        rows = segment.rows + sum(partitions[d].height for d in dates)
        return Segment(None, parts, rows, segment.made_of() + [Piece(day=d) for d in dates])

    if not segments:
        return [extended(Segment(None, {}, 0), new)] if new else []
    last_base = max(segments[0].parts)
    into_base = [d for d in new if d <= last_base]
    into_recent = [d for d in new if d > last_base]
    placed = [extended(segments[0], into_base)]
    recent = segments[1] if len(segments) > 1 else Segment(None, {}, 0)
    if recent.parts or into_recent:
        placed.append(extended(recent, into_recent))
    return placed


def _layout(source: str) -> dict[str, object]:
    return LAYOUT if source == BUCKETED else {"buckets": 1}


def _name(source: str, segment: Segment) -> str:
    """A segment's name: a digest of its layout, partitions and their versions."""
    held = {
        "layout": _layout(source),
        "parts": {d.isoformat(): v for d, v in segment.parts.items()},
    }
    return hashlib.sha256(json.dumps(held, sort_keys=True).encode()).hexdigest()[:16]


def _files(source: str) -> list[tuple[int, bool]]:
    """A segment's files: (bucket, by number)."""
    if source != BUCKETED:
        return [(0, False)]
    return [(b, by_number) for by_number in (False, True) for b in range(BUCKETS)]


def _file_rows(
    warehouse: Storage,
    source: str,
    pieces: list[Piece],
    partitions: dict[date, pl.DataFrame],
    bucket: int,
    by_number: bool,
) -> pl.DataFrame:
    """One file's rows, gathered from the pieces' same file and the partitions' rows of its
    bucket: one file at a time, so that a segment is rewritten in a fraction of its size.
    In date order (its row groups' statistics let a scan for tonight's lines skip earlier
    ones), a date's rows in their partition's order: each piece holds them so, and a date's
    rows come from one piece, so the bytes follow from the partitions whatever the pieces.
    (Sorting them by key instead made the rules' joins a third slower: the partitions'
    order keeps an account's lines together.)"""
    frames = []
    for piece in pieces:
        if piece.segment is not None:
            key = layout.compacted_segment_key(source, piece.segment, bucket, by_number)
            rows = pl.read_parquet(io.BytesIO(warehouse.read_bytes(key)))
            if piece.keep is not None:
                rows = rows.filter(pl.col(DATE).is_in(list(piece.keep)))
            frames.append(rows)
        elif piece.day is not None:
            frames.append(_in_file(source, partitions[piece.day], bucket, by_number))
    return pl.concat(frames).sort(DATE, maintain_order=True)


def _in_file(source: str, rows: pl.DataFrame, bucket: int, by_number: bool) -> pl.DataFrame:
    """The rows that go into a segment's file (bucket, by number)."""
    if source != BUCKETED:
        return rows
    if by_number:
        numbered = (pl.col("charge_type") == "recurring") & pl.col("msisdn").is_not_null()
        return rows.filter(numbered & (number_bucket(pl.col("msisdn")) == bucket))
    return rows.filter(sim_bucket(pl.col("iccid")) == bucket)


def _schema(source: str) -> pl.Schema:
    """The columns of the source's compacted rows, for a shard that owns no bucket."""
    return pl.Schema({**SOURCE_SPECS[source].schema, DATE: pl.Date()})


def _partition(warehouse: Storage, source: str, business_date: date) -> pl.DataFrame:
    """A curated partition's rows with its business_date, as the partition scan gives them."""
    data = warehouse.read_bytes(layout.curated_key(source, business_date))
    rows = pl.read_parquet(io.BytesIO(data)).select(SOURCE_SPECS[source].column_names)
    return rows.with_columns(pl.lit(business_date, pl.Date()).alias(DATE))
