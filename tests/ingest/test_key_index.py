"""The index of loaded keys: the cross-date duplicate verdicts are those of a scan of every
other curated date, through reruns, crashes, partitions written straight and S3."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines import layout
from pipelines.contract import SOURCE_SPECS, SOURCES
from pipelines.ingest import commit, key_index, load_partition, partition
from pipelines.ingest.commit import commit_night, roll_forward, stage_partition
from pipelines.ingest.key_index import INDEXED_SOURCES, candidate_dates, read_index
from pipelines.ingest.warehouse import curated_dates, scan_curated
from pipelines.storage import LocalStorage, Storage
from pipelines.storage.s3 import S3Storage
from tests.support.landing import (
    billing_row,
    csv_bytes,
    inventory_row,
    land,
    letter_row,
    store_row,
)

DAYS = [date(2024, 4, d) for d in range(1, 6)]
PREFIXES = {"billing_lines": "L", "store_transactions": "T", "retention_campaigns": "M"}

Verdicts = dict[str, list[tuple[str, str]]]


def land_night(root: Path, day: date, *keys: str) -> None:
    """The night's four sources, replacing any landed before: a billing line, a store
    transaction and a letter for each of `keys` (L<key>, T<key>, M<key>)."""
    rows = {
        "billing_lines": [billing_row(line_id=f"L{k}") for k in keys],
        "store_transactions": [
            store_row(transaction_id=f"T{k}", transaction_ts=f"{day}T10:00:00Z") for k in keys
        ],
        "retention_campaigns": [
            letter_row(letter_id=f"M{k}", scheduled_send_date=str(day + timedelta(days=3)))
            for k in keys
        ],
        "sim_inventory": [inventory_row()],
    }
    for source, source_rows in rows.items():
        shutil.rmtree(root / "landing" / source / layout.partition(day), ignore_errors=True)
        columns = SOURCE_SPECS[source].column_names
        land(root, source, {"part-0000.csv": csv_bytes(source_rows, columns)}, day)


def verdicts(root: Path, warehouse: Storage, day: date, commit_it: bool = False) -> Verdicts:
    """The night's quarantined keys and reasons by source (committing it when asked)."""
    landing = LocalStorage(root / "landing")
    loaded = {s: load_partition(landing, s, day, warehouse) for s in SOURCES}
    if commit_it:
        for part in loaded.values():
            stage_partition(warehouse, part)
        commit_night(warehouse, day)
    return {
        s: loaded[s].quarantined.select(SOURCE_SPECS[s].key, "_reason").rows()
        for s in INDEXED_SOURCES
    }


def scan_verdicts(root: Path, warehouse: Storage, day: date) -> Verdicts:
    """The verdicts of the check before the index: the keys of every other curated date."""
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(
            partition,
            "candidate_dates",
            lambda w, source, d, _keys: [x for x in curated_dates(w, source) if x != d],
        )
        return verdicts(root, warehouse, day)


def checked(root: Path, warehouse: Storage, day: date) -> Verdicts:
    """The night's verdicts, after checking that they are the old scan's."""
    got = verdicts(root, warehouse, day)
    assert got == scan_verdicts(root, warehouse, day)
    return got


def already(*pairs: tuple[str, date]) -> Verdicts:
    """The same keys quarantined in the three sources, each already loaded for its date."""
    return {
        s: [
            (f"{PREFIXES[s]}{k}", f"{SOURCE_SPECS[s].key}: already loaded for business date {d}")
            for k, d in pairs
        ]
        for s in INDEXED_SOURCES
    }


def assert_consistent(warehouse: Storage) -> None:
    """Each index holds exactly the hashed keys of every curated partition."""
    for source in INDEXED_SOURCES:
        view = read_index(warehouse, source)
        dates = curated_dates(warehouse, source)
        assert view.keys() >= set(dates), source
        key = SOURCE_SPECS[source].key
        want = scan_curated(warehouse, source, dates).select(pl.col(key).hash(0), "business_date")
        got = [(h, d) for d in dates for h in view[d].of(d)]
        assert sorted(got) == sorted(want.collect().rows())


class Counting:
    """A storage that counts the calls of each of its methods."""

    def __init__(self, inner: Storage):
        self.inner, self.calls = inner, Counter[str]()

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def counted(*args: object) -> object:
            self.calls[name] += 1
            return attr(*args)

        return counted


def history(root: Path, warehouse: Storage, nights: int = 4) -> None:
    """Nights committed as runs commit them: keys 1-4 on DAYS[0], 5-8 on DAYS[1]..."""
    for i, day in enumerate(DAYS[:nights]):
        land_night(root, day, *(str(4 * i + k) for k in range(1, 5)))
        assert verdicts(root, warehouse, day, commit_it=True) == already()
    assert_consistent(warehouse)


@pytest.fixture
def warehouse(tmp_path: Path) -> LocalStorage:
    storage = LocalStorage(tmp_path / "warehouse")
    history(tmp_path, storage)
    return storage


def test_a_new_night_with_keys_of_earlier_nights(tmp_path, warehouse):
    land_night(tmp_path, DAYS[4], "1", "16", "new")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("1", DAYS[0]), ("16", DAYS[3]))


def test_only_the_dates_where_a_key_is_found_are_read(tmp_path, warehouse):
    keys = pl.Series(["L2", "L11", "L99", None])
    assert candidate_dates(warehouse, "billing_lines", DAYS[4], keys) == [DAYS[0], DAYS[2]]
    assert candidate_dates(warehouse, "billing_lines", DAYS[4], pl.Series(["L99"])) == []


def test_the_check_makes_as_many_requests_on_a_longer_history(tmp_path, warehouse):
    short = LocalStorage(tmp_path / "short")
    history(tmp_path, short, nights=2)
    land_night(tmp_path, DAYS[4], "1", "new")
    calls = {}
    for name, storage in (("short", short), ("long", warehouse)):
        counting = Counting(storage)
        landing = LocalStorage(tmp_path / "landing")
        loaded = load_partition(landing, "billing_lines", DAYS[4], counting)
        assert loaded.quarantined["_reason"].to_list() == [
            "line_id: already loaded for business date 2024-04-01"
        ]
        calls[name] = counting.calls
    assert calls["short"] == calls["long"]
    assert calls["long"]["uri"] == 1  # the one partition read: that of the key found


def test_a_rerun_of_the_latest_night_does_not_count_its_own_keys(tmp_path, warehouse):
    land_night(tmp_path, DAYS[3], "13", "14", "15", "16", "5")
    assert checked(tmp_path, warehouse, DAYS[3]) == already(("5", DAYS[1]))


def test_a_rerun_of_an_older_night_counts_the_keys_of_later_ones(tmp_path, warehouse):
    land_night(tmp_path, DAYS[1], "5", "6", "7", "8", "1", "12")
    assert checked(tmp_path, warehouse, DAYS[1]) == already(("1", DAYS[0]), ("12", DAYS[2]))


def test_a_rerun_whose_keys_changed_moves_them_in_the_index(tmp_path, warehouse):
    land_night(tmp_path, DAYS[1], "5", "6", "7", "changed")  # 8 withdrawn, "changed" added
    assert verdicts(tmp_path, warehouse, DAYS[1], commit_it=True) == already()
    assert_consistent(warehouse)
    land_night(tmp_path, DAYS[4], "8", "new")
    assert checked(tmp_path, warehouse, DAYS[4]) == already()
    land_night(tmp_path, DAYS[4], "changed")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("changed", DAYS[1]))


def test_a_hash_found_on_a_date_without_the_key_costs_a_read_not_a_verdict(tmp_path, warehouse):
    view = read_index(warehouse, "billing_lines")
    parts = {d: view[d].of(d) for d in view}
    parts[DAYS[2]] = pl.concat([parts[DAYS[2]], pl.Series(["Lnew"]).hash(0)])
    key_index._write(warehouse, "billing_lines", key_index.BASE, parts)
    key_index._write(warehouse, "billing_lines", key_index.RECENT, {})
    assert candidate_dates(warehouse, "billing_lines", DAYS[4], pl.Series(["Lnew"])) == [DAYS[2]]
    land_night(tmp_path, DAYS[4], "new", "3")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("3", DAYS[0]))


def test_a_warehouse_written_straight_has_no_index_and_the_next_commit_builds_it(tmp_path):
    warehouse = LocalStorage(tmp_path / "warehouse")
    landing = LocalStorage(tmp_path / "landing")
    for i, day in enumerate(DAYS[:3]):
        land_night(tmp_path, day, str(i), "both" if i else "first")
        for source in SOURCES:
            partition.commit_partition(warehouse, load_partition(landing, source, day, warehouse))
    assert all(read_index(warehouse, s) == {} for s in INDEXED_SOURCES)
    land_night(tmp_path, DAYS[3], "first", "2", "new")
    assert checked(tmp_path, warehouse, DAYS[3]) == already(("first", DAYS[0]), ("2", DAYS[2]))
    verdicts(tmp_path, warehouse, DAYS[3], commit_it=True)
    assert_consistent(warehouse)
    land_night(tmp_path, DAYS[4], "both", "new")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("both", DAYS[1]), ("new", DAYS[3]))


def test_a_partition_written_straight_drops_the_index(tmp_path, warehouse):
    land_night(tmp_path, DAYS[0], "1", "2", "3", "4", "straight")
    landing = LocalStorage(tmp_path / "landing")
    for source in SOURCES:
        loaded = load_partition(landing, source, DAYS[0], warehouse)
        partition.commit_partition(warehouse, loaded)
    assert all(read_index(warehouse, s) == {} for s in INDEXED_SOURCES)
    land_night(tmp_path, DAYS[4], "straight", "new")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("straight", DAYS[0]))


def test_a_partition_removed_from_the_history_no_longer_counts(tmp_path, warehouse):
    for source in INDEXED_SOURCES:
        warehouse.delete_prefix(layout.curated_prefix(source, DAYS[2]))
    land_night(tmp_path, DAYS[4], "9", "13")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("13", DAYS[3]))
    verdicts(tmp_path, warehouse, DAYS[4], commit_it=True)
    assert_consistent(warehouse)


@pytest.mark.parametrize("spoil", ["another polars", "not arrow"])
def test_an_index_of_another_hash_or_unreadable_is_ignored_then_rebuilt(
    tmp_path, warehouse, monkeypatch, spoil
):
    if spoil == "another polars":
        with monkeypatch.context() as patched:
            patched.setattr(key_index, "_hash_version", lambda: "polars 0.1 hash(0) 1 2 3")
            verdicts(tmp_path, warehouse, DAYS[3], commit_it=True)  # the rerun of a night
    else:
        for source in INDEXED_SOURCES:
            for part in (key_index.BASE, key_index.RECENT):
                warehouse.write_bytes(layout.key_index_key(source, part), b"not arrow")
    assert all(read_index(warehouse, s) == {} for s in INDEXED_SOURCES)
    land_night(tmp_path, DAYS[4], "4", "new")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("4", DAYS[0]))
    verdicts(tmp_path, warehouse, DAYS[4], commit_it=True)
    assert_consistent(warehouse)


def parts_held(warehouse: Storage) -> dict[str, list[date]]:
    """The dates each object of the billing lines' index covers."""
    return {
        part: sorted(key_index._read(warehouse, "billing_lines", part).spans)  # type: ignore[union-attr]
        for part in (key_index.BASE, key_index.RECENT)
    }


def test_a_commit_rewrites_the_recent_part_and_folds_it_when_a_base_date_changes(
    tmp_path, warehouse
):
    assert parts_held(warehouse) == {"base": DAYS[:3], "recent": DAYS[3:4]}
    base = warehouse.read_bytes(layout.key_index_key("billing_lines", key_index.BASE))
    land_night(tmp_path, DAYS[4], "17", "3")
    assert verdicts(tmp_path, warehouse, DAYS[4], commit_it=True) == already(("3", DAYS[0]))
    assert parts_held(warehouse) == {"base": DAYS[:3], "recent": DAYS[3:]}
    assert warehouse.read_bytes(layout.key_index_key("billing_lines", key_index.BASE)) == base
    assert_consistent(warehouse)
    land_night(tmp_path, DAYS[1], "5", "6", "changed")  # a rerun of a night `base` holds
    assert verdicts(tmp_path, warehouse, DAYS[1], commit_it=True) == already()
    assert parts_held(warehouse) == {"base": DAYS, "recent": []}
    assert_consistent(warehouse)


def test_losing_the_recent_part_only_leaves_its_dates_to_be_read(tmp_path, warehouse):
    def lose_recent() -> None:
        for source in INDEXED_SOURCES:
            warehouse.write_bytes(layout.key_index_key(source, key_index.RECENT), b"lost")

    lose_recent()  # it held DAYS[3]
    land_night(tmp_path, DAYS[4], "1", "14")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("1", DAYS[0]), ("14", DAYS[3]))
    land_night(tmp_path, DAYS[1], "5", "6", "7", "changed")  # a rerun of a night `base` holds
    verdicts(tmp_path, warehouse, DAYS[1], commit_it=True)
    lose_recent()
    land_night(tmp_path, DAYS[4], "changed", "new")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("changed", DAYS[1]))


def test_a_crash_in_the_middle_of_a_fold(tmp_path, warehouse, monkeypatch):
    """A rerun of a night `base` holds dies once `base` is written, before `recent` is."""
    write = key_index._write

    def crash_after_base(w: Storage, source: str, part: str, parts: dict) -> None:
        if part == key_index.RECENT and not parts:
            raise OSError(28, "No space left on device")
        write(w, source, part, parts)

    land_night(tmp_path, DAYS[0], "1", "2", "3", "changed")
    with monkeypatch.context() as patched:
        patched.setattr(key_index, "_write", crash_after_base)
        with pytest.raises(OSError, match="No space"):
            verdicts(tmp_path, warehouse, DAYS[0], commit_it=True)
    land_night(tmp_path, DAYS[4], "4", "changed", "16")
    want = already(("changed", DAYS[0]), ("16", DAYS[3]))
    assert checked(tmp_path, warehouse, DAYS[4]) == want
    assert roll_forward(warehouse) == [DAYS[0]]
    assert_consistent(warehouse)
    assert checked(tmp_path, warehouse, DAYS[4]) == want


def test_a_crash_between_the_partition_move_and_the_index_write(tmp_path, warehouse, monkeypatch):
    """A rerun of an older night with changed keys dies once its partitions are in place."""

    def crash(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    land_night(tmp_path, DAYS[1], "5", "6", "7", "changed")
    with monkeypatch.context() as patched:
        patched.setattr(commit, "update_indexes", crash)
        with pytest.raises(OSError, match="No space"):
            verdicts(tmp_path, warehouse, DAYS[1], commit_it=True)
    assert warehouse.exists(layout.commit_journal_key(DAYS[1]))
    land_night(tmp_path, DAYS[4], "changed", "new")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("changed", DAYS[1]))
    assert roll_forward(warehouse) == [DAYS[1]]
    assert_consistent(warehouse)
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("changed", DAYS[1]))


def test_the_index_on_s3(tmp_path, s3_bucket):
    warehouse = S3Storage(f"{s3_bucket}/warehouse")
    history(tmp_path, warehouse)
    land_night(tmp_path, DAYS[4], "2", "15", "new")
    assert checked(tmp_path, warehouse, DAYS[4]) == already(("2", DAYS[0]), ("15", DAYS[3]))
    assert candidate_dates(warehouse, "billing_lines", DAYS[4], pl.Series(["L2"])) == [DAYS[0]]
    partition.commit_partition(
        warehouse,
        load_partition(LocalStorage(tmp_path / "landing"), "billing_lines", DAYS[4], warehouse),
    )
    assert read_index(warehouse, "billing_lines") == {}
