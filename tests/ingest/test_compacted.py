"""The compacted history gives exactly what the partitions give, or is not used: after a
backfill, a rerun of an older night, a commit cut short, partitions written straight into
place or taken away, and without any compacted history at all."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines import layout
from pipelines.buckets import BUCKETS, number_bucket, sim_bucket
from pipelines.ingest import commit as commit_module
from pipelines.ingest import commit_partition, history, load_partition
from pipelines.ingest.commit import commit_night, roll_forward, stage_partition
from pipelines.ingest.compacted import (
    COMPACTED,
    RECENT_SHARE,
    compact,
    compacted,
    partition_versions,
    segments_of,
)
from pipelines.ingest.warehouse import scan_curated
from pipelines.night import load_night
from pipelines.storage import LocalStorage, Storage
from tests.support.landing import BD, land_night
from tests.support.nights import GeneratedWorld, copy, edit, run


def from_partitions(warehouse: Storage, source: str, up_to: date) -> pl.DataFrame:
    """The history as one scan of the partitions gives it (the reference)."""
    dates = [d for d in partition_versions(warehouse, source) if d <= up_to]
    return scan_curated(warehouse, source, dates).collect()


def assert_exact(warehouse: Storage, up_to: date, stale: tuple[str, ...] = ()) -> None:
    """history() holds the rows of the partition scan, in some order, for every compacted
    source; it came from the segments, but for the `stale` sources, from the partitions."""
    for source in COMPACTED:
        versions = partition_versions(warehouse, source)
        found = compacted(warehouse, source, up_to, versions)
        assert (found is None) == (source in stale), source
        want = from_partitions(warehouse, source, up_to)
        got = history(warehouse, source, up_to).collect()
        assert_frame_equal(canonical(got), canonical(want), check_exact=True)
        if found is not None:
            assert_frame_equal(canonical(found.collect()), canonical(want), check_exact=True)


def canonical(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows in one order (a segment's buckets are read one after the other)."""
    return rows.sort(rows.columns)


def billed(warehouse: Storage, before: date) -> date:
    """The latest night before `before` with more than 10 billing lines."""
    rows = from_partitions(warehouse, "billing_lines", before - timedelta(days=1))
    counts = rows.group_by("business_date").len().filter(pl.col("len") > 10)
    return counts["business_date"].max()  # type: ignore[return-value]


def dearer(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Every billing line one cent dearer, the last line dropped."""
    return [{**r, "amount": str(Decimal(r["amount"]) + Decimal("0.01"))} for r in rows[:-1]]


@pytest.fixture
def world(generated_world: GeneratedWorld, tmp_path: Path) -> tuple[Path, Path, date]:
    """A landing zone and a warehouse of the test's own, brought through the bill-run
    night (the copy's files are new, so that night's commit compacts it afresh)."""
    landing = copy(generated_world.landing, tmp_path / "landing")
    base = copy(generated_world.base, tmp_path / "warehouse")
    assert run(landing, base, generated_world.night).exit_code == 0
    return landing, base, generated_world.night


def test_after_a_backfill_the_compacted_history_is_the_partitions(world) -> None:
    _, base, night = world
    warehouse = LocalStorage(base)
    first = min(partition_versions(warehouse, "billing_lines"))
    for up_to in (first, first + timedelta(days=30), night - timedelta(days=1), night):
        assert_exact(warehouse, up_to)
    assert all(from_partitions(warehouse, s, night).height > 100 for s in COMPACTED)
    for source in COMPACTED:
        segments = segments_of(warehouse, source)
        assert 1 <= len(segments) <= 2
        dates = [d for s in segments for d in s.parts]
        assert dates == sorted(dates) == list(partition_versions(warehouse, source))


def test_a_rerun_of_an_older_night_is_seen_by_it_and_by_the_later_ones(world) -> None:
    landing, base, night = world
    warehouse = LocalStorage(base)
    older = billed(warehouse, night - timedelta(days=10))
    before = from_partitions(warehouse, "billing_lines", night)
    edit(landing, "billing_lines", older, dearer)
    assert run(landing, base, older).exit_code == 0
    assert_exact(warehouse, older)
    assert_exact(warehouse, night)
    after = history(warehouse, "billing_lines", night).collect()
    assert after.height == before.height - 1
    assert not after.filter(pl.col("business_date") == older).equals(
        before.filter(pl.col("business_date") == older)
    )


def test_a_rerun_of_the_latest_night_replaces_its_rows(world) -> None:
    landing, base, night = world
    edit(landing, "billing_lines", night, dearer)
    assert run(landing, base, night).exit_code == 0
    assert_exact(LocalStorage(base), night)


def test_a_commit_cut_short_is_not_read_from_the_segments_until_rolled_forward(
    world, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing, base, night = world
    warehouse, landing_storage = LocalStorage(base), LocalStorage(landing)
    day = night + timedelta(days=1)
    for part in load_night(landing_storage, warehouse, day).values():
        stage_partition(warehouse, part)

    def crash(_: Storage) -> None:
        raise OSError("killed after the partitions moved, before compacting")

    monkeypatch.setattr(commit_module, "compact", crash)
    with pytest.raises(OSError, match="killed"):
        commit_night(warehouse, day)
    assert_exact(warehouse, day, stale=COMPACTED)
    assert_exact(warehouse, night)  # the nights before are still read from the segments
    monkeypatch.undo()
    assert roll_forward(warehouse) == [day]
    assert_exact(warehouse, day)


def test_a_partition_written_straight_into_place_is_read_from_itself_until_compacted(
    world,
) -> None:
    landing, base, night = world
    warehouse = LocalStorage(base)
    older = billed(warehouse, night)
    edit(landing, "billing_lines", older, dearer)
    commit_partition(
        warehouse, load_partition(LocalStorage(landing), "billing_lines", older, warehouse)
    )
    assert_exact(warehouse, night, stale=("billing_lines",))
    compact(warehouse)
    assert_exact(warehouse, night)


def test_a_partition_taken_away_is_left_out(world) -> None:
    _, base, night = world
    warehouse = LocalStorage(base)
    gone = night - timedelta(days=3)
    for source in COMPACTED:
        shutil.rmtree(base / layout.curated_prefix(source, gone))
    assert_exact(warehouse, night, stale=COMPACTED)
    compact(warehouse)
    assert_exact(warehouse, night)
    assert all(gone not in s.parts for src in COMPACTED for s in segments_of(warehouse, src))


def test_without_a_compacted_history_the_partitions_are_read_and_the_next_commit_builds_it(
    world,
) -> None:
    landing, base, night = world
    warehouse = LocalStorage(base)
    shutil.rmtree(base / "curated" / "_compacted")
    assert_exact(warehouse, night, stale=COMPACTED)
    assert run(landing, base, night + timedelta(days=1)).exit_code == 0
    assert_exact(warehouse, night + timedelta(days=1))
    assert_exact(warehouse, night)


def test_a_manifest_naming_other_versions_is_not_used(world) -> None:
    _, base, night = world
    warehouse = LocalStorage(base)
    for source in COMPACTED:
        key = base / layout.compacted_manifest_key(source)
        doc = json.loads(key.read_text())
        last = doc["segments"][-1]["partitions"]
        last[max(last)] = "another version"
        key.write_text(json.dumps(doc))
    assert_exact(warehouse, night, stale=COMPACTED)
    assert_exact(warehouse, night - timedelta(days=1))  # that partition is not in its history
    compact(warehouse)
    assert_exact(warehouse, night)


def test_the_recent_segment_joins_the_base_once_it_has_grown(world) -> None:
    landing, base, night = world
    warehouse = LocalStorage(base)
    seen = set()
    for i in range(1, 3):
        assert run(landing, base, night + timedelta(days=i)).exit_code == 0
        for source in COMPACTED:
            segments = segments_of(warehouse, source)
            seen.add(len(segments))
            if len(segments) == 2:
                assert segments[1].rows * RECENT_SHARE <= segments[0].rows
                assert max(segments[0].parts) < min(segments[1].parts)
    assert seen <= {1, 2}


def test_a_history_whose_partitions_all_went_has_no_segments(tmp_path: Path) -> None:
    warehouse = LocalStorage(tmp_path / "warehouse")
    days = [BD, BD + timedelta(days=1)]
    for day in days:
        land_night(tmp_path, day)
        for source in COMPACTED:
            loaded = load_partition(LocalStorage(tmp_path / "landing"), source, day, warehouse)
            commit_partition(warehouse, loaded)
    compact(warehouse)
    assert_exact(warehouse, days[-1])
    assert [len(segments_of(warehouse, s)) for s in COMPACTED] == [1, 1]
    shutil.rmtree(tmp_path / "warehouse" / "curated" / "billing_lines")
    compact(warehouse)
    assert segments_of(warehouse, "billing_lines") == []
    assert history(warehouse, "billing_lines", days[-1]).collect().height == 0
    assert [k for k in warehouse.list_keys("curated/_compacted") if "billing" in k] == [
        layout.compacted_manifest_key("billing_lines")
    ]


@pytest.mark.parametrize("by_number", [False, True], ids=["by SIM", "by number"])
def test_a_shard_reads_its_buckets_files_alone_and_the_buckets_hold_every_line(
    world, by_number: bool
) -> None:
    _, base, night = world
    warehouse = LocalStorage(base)
    source = "billing_lines"
    versions = partition_versions(warehouse, source)
    want = from_partitions(warehouse, source, night)
    if by_number:
        want = want.filter((pl.col("charge_type") == "recurring") & pl.col("msisdn").is_not_null())
    column, bucket_of = ("msisdn", number_bucket) if by_number else ("iccid", sim_bucket)
    names = [s.name for s in segments_of(warehouse, source)]
    parts = []
    for bucket in range(BUCKETS):
        hidden = [  # every other file moved away: this bucket's read needs none of them
            path
            for n in names
            for path in (base / layout.compacted_segment_key(source, str(n))).parent.iterdir()
            if path.name
            != layout.compacted_segment_key(source, str(n), bucket, by_number).split("/")[-1]
        ]
        for path in hidden:
            path.rename(path.with_suffix(".away"))
        found = compacted(warehouse, source, night, versions, [bucket], by_number)
        assert found is not None
        rows = found.collect()
        for path in hidden:
            path.with_suffix(".away").rename(path)
        assert set(rows.select(bucket_of(pl.col(column)))[column]) <= {bucket}
        parts.append(rows)
    assert all(p.height for p in parts), "the world's lines fill every bucket"
    assert_frame_equal(canonical(pl.concat(parts)), canonical(want), check_exact=True)
    none = compacted(warehouse, source, night, versions, [], by_number)  # a shard of 9 or more
    assert none is not None
    assert_frame_equal(none.collect(), want.clear())


def test_a_manifest_of_another_bucket_layout_is_rebuilt(world) -> None:
    _, base, night = world
    warehouse = LocalStorage(base)
    key = base / layout.compacted_manifest_key("billing_lines")
    doc = json.loads(key.read_text())
    key.write_text(json.dumps({**doc, "layout": {"buckets": 1}}))
    assert_exact(warehouse, night, stale=("billing_lines",))
    compact(warehouse)
    assert json.loads(key.read_text())["layout"]["buckets"] == BUCKETS
    assert_exact(warehouse, night)
