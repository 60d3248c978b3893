"""Ingest's cross-date duplicate-key check on a growing history: the scan of every other
curated date (before the key index) beside the index, on night ~20 and night ~200.

    .venv/bin/python -m benchmarks.ingest_index [--lines 20000] [--nights 20,200] [--repeat 5]

Writes billing_lines history partitions of --lines lines each into a temporary warehouse,
straight as `benchmarks/datagen.py` does, then builds the key index as a night's commit
would. Before each measured night it lands a CSV partition of --lines new lines, 5 of
them keys of earlier nights. Per night and mode, median of --repeat: the duplicate check
alone (the other dates' keys joined to the night's), the whole `load_partition` of the
source, and the partitions the check reads; then the index's update at the night's
commit (its partition placed: `recent` rewritten) and at a rerun of the night before
(`base` rewritten: a fold), and the index's size. Both modes must quarantine the same
rows. Prints the load average (`os.getloadavg()`) before and after each night.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from pipelines.contract import CONTRACT_VERSION, SOURCE_SPECS
from pipelines.ingest import load_partition, partition
from pipelines.ingest.key_index import BASE, RECENT, candidate_dates, update_indexes
from pipelines.ingest.partition import LoadedPartition, commit_partition, partition_files
from pipelines.ingest.warehouse import curated_dates, scan_curated
from pipelines.layout import curated_prefix, key_index_key, landing_prefix
from pipelines.storage import LocalStorage, Storage

SOURCE = "billing_lines"
PARTS = (BASE, RECENT)
SPEC = SOURCE_SPECS[SOURCE]
FIRST = date(2024, 1, 1)


def lines(night: int, n: int) -> pl.DataFrame:
    """`n` valid billing lines of night number `night`, in curated dtypes."""
    start = FIRST + timedelta(days=night)
    frame = pl.select(pl.int_range(n).alias("n")).select(
        line_id=pl.format("BL{}-{}", pl.lit(f"{night:04d}"), pl.col("n").cast(pl.String)),
        bill_run_id=pl.lit(f"BR{night}"),
        invoice_id=pl.format("INV{}-{}", pl.lit(night), pl.col("n") // 4),
        customer_id=pl.format("C{}", pl.col("n") // 4),
        account_id=pl.format("A{}", pl.col("n") // 4),
        msisdn=pl.format("4477{}", (pl.col("n") + 10_000_000).cast(pl.String)),
        iccid=pl.lit(None, pl.String),
        charge_type=pl.lit("recurring"),
        tariff_code=pl.lit("T20"),
        description=pl.lit("Monthly plan"),
        period_start=pl.lit(start),
        period_end=pl.lit(start + timedelta(days=29)),
        amount=pl.lit("20.00"),
        currency=pl.lit("GBP"),
    )
    return frame.select(pl.col(c).cast(d) for c, d in SPEC.schema.items())


def curate(warehouse: Storage, night: int, n: int) -> None:
    frame = lines(night, n)
    day = FIRST + timedelta(days=night)
    files = ["part-0000.csv"]
    commit_partition(warehouse, LoadedPartition(SOURCE, day, frame, pl.DataFrame(), n, files))


def land(landing: Path, night: int, n: int, planted: list[str]) -> None:
    """The night's landing partition: new lines, the first of them with `planted` keys."""
    frame = lines(night, n).with_row_index()
    frame = frame.with_columns(
        line_id=pl.when(pl.col("index") < len(planted))
        .then(pl.col("index").replace_strict(range(len(planted)), planted, default=None))
        .otherwise(pl.col("line_id"))
    ).drop("index")
    day = FIRST + timedelta(days=night)
    folder = landing / landing_prefix(SOURCE, day)
    folder.mkdir(parents=True, exist_ok=True)
    data = frame.write_csv().encode()
    (folder / "part-0000.csv").write_bytes(data)
    manifest = {
        "source": SOURCE,
        "business_date": day.isoformat(),
        "contract_version": CONTRACT_VERSION,
        "files": [{"name": "part-0000.csv", "rows": n, "sha256": hashlib.sha256(data).hexdigest()}],
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest))


def scanned_dates(warehouse: Storage, source: str, day: date, _keys: pl.Series) -> list[date]:
    """The dates the check read before the index: every other curated date."""
    return [d for d in curated_dates(warehouse, source) if d != day]


def first_loaded(warehouse: Storage, dates: list[date], keys: pl.Series) -> pl.DataFrame:
    """The check proper, as `parse.split_rows` joins it: each key's first other date."""
    loaded = scan_curated(warehouse, SOURCE, dates).select(SPEC.key, "business_date")
    return (
        loaded.join(keys.to_frame().lazy(), on=SPEC.key, how="semi")
        .group_by(SPEC.key)
        .agg(pl.col("business_date").min())
        .sort(SPEC.key)
        .collect()
    )


def median_time(action: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(root: Path, warehouse: Storage, night: int, n: int, repeat: int) -> None:
    day = FIRST + timedelta(days=night)
    planted = [f"BL{k:04d}-{k + 1}" for k in (0, 1, night // 2, night - 2, night - 1)]
    land(root / "landing", night, n, planted)
    landing = LocalStorage(root / "landing")
    keys = pl.read_csv(
        root / "landing" / landing_prefix(SOURCE, day) / "part-0000.csv", infer_schema=False
    )[SPEC.key]
    print(f"\nnight {night} ({night} curated nights, {night * n:,} keys), load {load()}")
    print(f"  {'median of ' + str(repeat):<14} {'check s':>9} {'ingest s':>9} {'read':>6}")
    found = {}
    for mode, dates_of in (("scan (before)", scanned_dates), ("key index", candidate_dates)):
        check, _ = median_time(
            lambda d=dates_of: first_loaded(warehouse, d(warehouse, SOURCE, day, keys), keys),
            repeat,
        )
        with checking_with(dates_of):
            ingest, loaded = median_time(
                lambda: load_partition(landing, SOURCE, day, warehouse), repeat
            )
        assert isinstance(loaded, LoadedPartition)
        found[mode] = loaded.quarantined
        read = len(dates_of(warehouse, SOURCE, day, keys))
        print(f"  {mode:<14} {check:9.3f} {ingest:9.3f} {read:6}", flush=True)
    assert found["scan (before)"].equals(found["key index"])
    assert found["key index"].height == len(planted)
    saved = {k: warehouse.read_bytes(k) for k in (key_index_key(SOURCE, p) for p in PARTS)}
    curated, _ = partition_files(loaded)
    updates: dict[date, list[float]] = {day: [], day - timedelta(days=1): []}
    for committed, times in updates.items():  # the night's commit, and a rerun's fold
        for _ in range(repeat):
            for key, data in saved.items():
                warehouse.write_bytes(key, data)
            warehouse.replace_prefix(curated_prefix(SOURCE, day), curated)
            t0 = time.perf_counter()
            update_indexes(warehouse, committed)
            times.append(time.perf_counter() - t0)
    new, fold = (statistics.median(t) for t in updates.values())
    size = sum(map(len, saved.values()))
    print(f"  index update at the night's commit {new:.3f} s, at a fold {fold:.3f} s;")
    print(f"  index {size / 1e6:.1f} MB; load {load()}")


@contextmanager
def checking_with(dates_of: Callable[..., list[date]]) -> Iterator[None]:
    """`load_partition` with the given choice of dates to check (the scan or the index)."""
    partition.candidate_dates = dates_of  # type: ignore[assignment]
    try:
        yield
    finally:
        partition.candidate_dates = candidate_dates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000, help="billing lines a night")
    parser.add_argument("--nights", default="20,200", help="history lengths measured")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    nights = sorted(int(x) for x in args.nights.split(","))
    print(f"{SOURCE}, {args.lines:,} lines a night; load before {load()}")
    with tempfile.TemporaryDirectory(prefix="recon-bench-index-") as tmp:
        root = Path(tmp)
        warehouse = LocalStorage(root / "warehouse")
        written = 0
        for night in nights:
            t0 = time.perf_counter()
            for k in range(written, night):
                curate(warehouse, k, args.lines)
            written = night
            wrote = time.perf_counter() - t0
            t0 = time.perf_counter()
            update_indexes(warehouse, FIRST + timedelta(days=night - 1))  # a rebuild
            rebuilt = time.perf_counter() - t0
            print(
                f"\nhistory to {night} nights written in {wrote:.1f} s; index built {rebuilt:.2f} s"
            )
            measure(root, warehouse, night, args.lines, args.repeat)
    print(f"\nload after {load()}")


if __name__ == "__main__":
    main()
