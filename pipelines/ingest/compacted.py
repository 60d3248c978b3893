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
from collections.abc import Collection, Iterator
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


@dataclass
class Segment:
    """A segment's partitions (business date -> version) and rows; `frame` is its content
    when it changed and is not written yet (then `name` is None)."""

    name: str | None
    parts: dict[date, str]
    rows: int
    frame: pl.DataFrame | None = None


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
    segments = _place(warehouse, source, kept, new, versions)
    if len(segments) == 2 and segments[1].rows * RECENT_SHARE > segments[0].rows:
        segments = [_merged(warehouse, source, segments)]
    for segment in segments:
        if segment.frame is not None:
            segment.name = _name(source, segment)
            for bucket, by_number, rows in _bucket_files(source, segment.frame):
                key = layout.compacted_segment_key(source, segment.name, bucket, by_number)
                warehouse.write_bytes(key, parquet_bytes(rows, statistics=True))
            segment.frame = None
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
    frame = _content(warehouse, source, segment).filter(pl.col(DATE).is_in(list(valid)))
    return Segment(None, valid, frame.height, frame)


def _place(
    warehouse: Storage,
    source: str,
    segments: list[Segment],
    new: list[date],
    versions: dict[date, str],
) -> list[Segment]:
    """The segments with the new partitions added: a date up to the base's last one goes
    into the base, a later one into the recent segment (so the base's dates all come
    before the recent segment's, and each segment holds its rows in date order)."""
    if not segments:
        return [_extended(warehouse, source, Segment(None, {}, 0), new, versions)] if new else []
    last_base = max(segments[0].parts)
    into_base = [d for d in new if d <= last_base]
    into_recent = [d for d in new if d > last_base]
    placed = [_extended(warehouse, source, segments[0], into_base, versions)]
    recent = segments[1] if len(segments) > 1 else Segment(None, {}, 0)
    if recent.parts or into_recent:
        placed.append(_extended(warehouse, source, recent, into_recent, versions))
    return placed


def _extended(
    warehouse: Storage, source: str, segment: Segment, dates: list[date], versions: dict[date, str]
) -> Segment:
    if not dates:
        return segment
    frames = [_content(warehouse, source, segment)] if segment.parts else []
    frames += [_partition(warehouse, source, d) for d in dates]
    frame = pl.concat(frames, rechunk=False)  # each file is sorted as it is written
    parts = dict(sorted((segment.parts | {d: versions[d] for d in dates}).items()))
    return Segment(None, parts, frame.height, frame)


def _merged(warehouse: Storage, source: str, segments: list[Segment]) -> Segment:
    base, recent = segments
    content = [_content(warehouse, source, base), _content(warehouse, source, recent)]
    frame = pl.concat(content, rechunk=False)
    return Segment(None, base.parts | recent.parts, frame.height, frame)


def _layout(source: str) -> dict[str, object]:
    return LAYOUT if source == BUCKETED else {"buckets": 1}


def _name(source: str, segment: Segment) -> str:
    """A segment's name: a digest of its layout, partitions and their versions."""
    held = {
        "layout": _layout(source),
        "parts": {d.isoformat(): v for d, v in segment.parts.items()},
    }
    return hashlib.sha256(json.dumps(held, sort_keys=True).encode()).hexdigest()[:16]


def _bucket_files(source: str, frame: pl.DataFrame) -> Iterator[tuple[int, bool, pl.DataFrame]]:
    """A segment's files, (bucket, by number, rows), each sorted by date and key (so its
    bytes follow from the rows whatever order they came in, and its row groups' statistics
    let a scan for tonight's lines skip the earlier ones); one file's rows at a time, so
    that splitting costs a fraction of the segment's memory."""
    order = [DATE, SOURCE_SPECS[source].key]
    if source != BUCKETED:
        yield 0, False, frame.sort(order)
        return
    numbered = (pl.col("charge_type") == "recurring") & pl.col("msisdn").is_not_null()
    for by_number, bucket in (
        (False, sim_bucket(pl.col("iccid"))),
        (True, pl.when(numbered).then(number_bucket(pl.col("msisdn")))),
    ):
        for b in range(BUCKETS):  # lazily: a filter over the frame's chunks copies no more
            yield b, by_number, frame.lazy().filter(bucket == b).sort(order).collect()


def _content(warehouse: Storage, source: str, segment: Segment) -> pl.DataFrame:
    if segment.frame is not None:
        return segment.frame
    keys = [
        layout.compacted_segment_key(source, str(segment.name), b)
        for b in range(buckets_of(source))
    ]
    frames = [pl.read_parquet(io.BytesIO(warehouse.read_bytes(k))) for k in keys]
    return pl.concat(frames, rechunk=False)


def _schema(source: str) -> pl.Schema:
    """The columns of the source's compacted rows, for a shard that owns no bucket."""
    return pl.Schema({**SOURCE_SPECS[source].schema, DATE: pl.Date()})


def _partition(warehouse: Storage, source: str, business_date: date) -> pl.DataFrame:
    """A curated partition's rows with its business_date, as the partition scan gives them."""
    data = warehouse.read_bytes(layout.curated_key(source, business_date))
    rows = pl.read_parquet(io.BytesIO(data)).select(SOURCE_SPECS[source].column_names)
    return rows.with_columns(pl.lit(business_date, pl.Date()).alias(DATE))
