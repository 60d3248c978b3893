"""Hostile landing partitions: links are refused without being followed, Parquet types must
fit the contract, and no rejection message carries row content."""

from __future__ import annotations

import hashlib
import json
import os
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipelines.ingest import RejectedPartition, load_partition
from pipelines.storage import LocalStorage, parquet_bytes
from tests.support.landing import BD, PREFIX, billing_row, csv_bytes, inventory_row, land

SECRET = "root:x:0:0:secret-first-line"


def outside(tmp_path: Path) -> Path:
    """A file outside the landing zone, readable, whose content must never be echoed."""
    target = tmp_path / "elsewhere" / "passwd"
    target.parent.mkdir()
    target.write_text(SECRET + "\n")
    return target


def rejected(tmp_path: Path, source: str = "billing_lines") -> RejectedPartition:
    with pytest.raises(RejectedPartition) as info:
        load_partition(
            LocalStorage(tmp_path / "landing"), source, BD, LocalStorage(tmp_path / "warehouse")
        )
    assert SECRET not in str(info.value) and "secret" not in str(info.value)
    return info.value


def manifest_for(folder: Path, name: str, data: bytes, rows: int) -> None:
    doc = json.loads((folder / "_manifest.json").read_text())
    digest = hashlib.sha256(data).hexdigest()
    doc["files"] = [{"name": name, "rows": rows, "sha256": digest}]
    (folder / "_manifest.json").write_text(json.dumps(doc))


def test_a_part_that_links_outside_the_partition_is_refused_unread(tmp_path):
    """The manifest even names the target's true checksum: the link is still refused."""
    target = outside(tmp_path)
    folder = land(tmp_path, "billing_lines", {"part-0000.csv": csv_bytes([billing_row()])})
    (folder / "part-0000.csv").unlink()
    (folder / "part-0000.csv").symlink_to(target)
    manifest_for(folder, "part-0000.csv", target.read_bytes(), 0)
    exc = rejected(tmp_path)
    assert exc.file == f"{PREFIX}/part-0000.csv"
    assert str(exc) == (
        f"{PREFIX}/part-0000.csv: a symbolic link, refused: part files are regular files "
        "inside their partition folder"
    )


def test_a_partition_folder_that_is_a_link_is_refused(tmp_path):
    real = land(tmp_path / "other", "billing_lines", {"part-0000.csv": csv_bytes([billing_row()])})
    link = tmp_path / "landing" / "billing_lines" / f"business_date={BD}"
    link.parent.mkdir(parents=True)
    link.symlink_to(real, target_is_directory=True)
    exc = rejected(tmp_path)
    assert exc.file == PREFIX
    assert "a symbolic link, refused" in str(exc)


def test_a_source_folder_that_is_a_link_is_refused(tmp_path):
    real = land(tmp_path / "other", "billing_lines", {"part-0000.csv": csv_bytes([billing_row()])})
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "billing_lines").symlink_to(real.parent, target_is_directory=True)
    assert rejected(tmp_path).file == "billing_lines"


def test_a_manifest_that_is_a_link_is_refused(tmp_path):
    folder = land(tmp_path, "billing_lines", {"part-0000.csv": csv_bytes([billing_row()])})
    target = tmp_path / "manifest.json"
    (folder / "_manifest.json").rename(target)
    (folder / "_manifest.json").symlink_to(target)
    assert rejected(tmp_path).file == f"{PREFIX}/_manifest.json"


def test_a_fifo_part_is_refused_without_blocking(tmp_path):
    folder = land(tmp_path, "billing_lines", {"part-0000.csv": csv_bytes([billing_row()])})
    (folder / "part-0000.csv").unlink()
    os.mkfifo(folder / "part-0000.csv")
    exc = rejected(tmp_path)
    assert str(exc).startswith(f"{PREFIX}/part-0000.csv: not a regular file, refused")


def test_an_unreadable_csv_names_the_file_not_its_content(tmp_path):
    """pyarrow quotes the offending row; the rejection keeps only the reason."""
    part = csv_bytes([billing_row()]) + (SECRET + "\n").encode()
    land(tmp_path, "billing_lines", {"part-0000.csv": part}, manifest=None)
    exc = rejected(tmp_path)
    assert str(exc).startswith(f"{PREFIX}/part-0000.csv: not a readable CSV file (")
    assert "Expected 14 columns, got 1" in str(exc)


def native_billing(**casts: pl.Expr) -> pl.DataFrame:
    frame = pl.DataFrame([billing_row()]).with_columns(
        pl.col("period_start", "period_end").str.to_date(),
        pl.col("amount").cast(pl.Decimal(12, 2)),
    )
    return frame.with_columns(**casts)


@pytest.mark.parametrize(
    ("column", "cast", "found", "expected"),
    [
        ("amount", pl.col("amount").cast(pl.Float64), "Float64", "a decimal or a decimal string"),
        ("iccid", pl.col("iccid").cast(pl.Int64), "Int64", "a string"),
        ("customer_id", pl.lit(1).cast(pl.Int32), "Int32", "a string"),
        ("period_start", pl.col("period_start").cast(pl.String), "String", "a date"),
    ],
)
def test_a_parquet_column_of_another_type_is_a_schema_error(
    tmp_path, column, cast, found, expected
):
    land(
        tmp_path,
        "billing_lines",
        {"part-0000.parquet": parquet_bytes(native_billing(**{column: cast}))},
    )
    exc = rejected(tmp_path)
    assert str(exc) == (
        f"{PREFIX}/part-0000.parquet: column '{column}' is {found} but the contract needs "
        f"{expected}"
    )
    assert not (tmp_path / "warehouse").exists()


def test_parquet_near_misses_that_fit_the_contract_load(tmp_path):
    """Money as a decimal string or a wider decimal, ints of any width, an all-null column."""
    frame = native_billing(
        amount=pl.lit("20.00"), msisdn=pl.lit(None, dtype=pl.Null), description=pl.lit(None)
    )
    land(tmp_path, "billing_lines", {"part-0000.parquet": parquet_bytes(frame)})
    loaded = load_partition(
        LocalStorage(tmp_path / "landing"),
        "billing_lines",
        BD,
        LocalStorage(tmp_path / "warehouse"),
    )
    assert loaded.rows_loaded == 1
    assert loaded.valid["amount"].to_list() == [Decimal("20.00")]


def test_parquet_timestamps_must_be_timestamps(tmp_path):
    frame = pl.DataFrame([inventory_row()]).with_columns(
        pl.col("activated_at").str.to_datetime(time_zone="UTC"),
        pl.lit(1_711_965_600).alias("status_changed_at"),
    )
    land(tmp_path, "sim_inventory", {"part-0000.parquet": parquet_bytes(frame)})
    exc = rejected(tmp_path, "sim_inventory")
    assert "column 'status_changed_at' is Int32 but the contract needs a timestamp" in str(exc)
