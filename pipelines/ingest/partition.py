"""Load one landing partition (validate, parse, check rows) and commit it to the warehouse."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.contract import SOURCE_SPECS, Source
from pipelines.csv_safe import neutralised_frame
from pipelines.ingest.key_index import SNAPSHOT_SOURCES, candidate_dates, drop_index
from pipelines.ingest.landing import LandingPartition
from pipelines.ingest.manifest import verified_files
from pipelines.ingest.parse import split_rows
from pipelines.ingest.read import read_part, text_schema
from pipelines.ingest.warehouse import scan_curated
from pipelines.layout import (
    CURATED_FILE,
    QUARANTINE_FILE,
    STATS_FILE,
    curated_prefix,
    quarantine_prefix,
)
from pipelines.storage import Storage, parquet_bytes


@dataclass(frozen=True, eq=False)
class LoadedPartition:
    """A partition read and checked, not yet written.

    `valid` holds exactly the contract columns in curated dtypes; `quarantined` the
    rejected rows as text with `_file`, `_row` and `_reason`.
    """

    source: str
    business_date: date
    valid: pl.DataFrame
    quarantined: pl.DataFrame
    rows_read: int
    files: list[str]
    # The manifest entries read, as verified: name, rows and sha256 of every file.
    manifest: tuple[dict[str, object], ...] = ()

    @property
    def rows_loaded(self) -> int:
        return self.valid.height

    @property
    def rows_quarantined(self) -> int:
        return self.quarantined.height

    def stats(self) -> dict[str, object]:
        """What an auditor checks: files, rows read = rows loaded + rows quarantined."""
        return {
            "source": self.source,
            "business_date": self.business_date.isoformat(),
            "files": self.files,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "manifest": list(self.manifest),
        }


def load_partition(
    landing: Storage, source: str, business_date: date, warehouse: Storage
) -> LoadedPartition:
    """Read, verify and check one partition; raises RejectedPartition if it is unusable whole."""
    spec = SOURCE_SPECS[source]
    part = LandingPartition(source, business_date)
    files = verified_files(landing, part)
    texts = [read_part(landing, part, f, spec) for f in files]
    text = pl.concat(texts) if texts else pl.DataFrame(schema=text_schema(spec))
    loaded = _loaded(warehouse, spec, business_date, text[spec.key])
    valid, quarantined = split_rows(text.lazy(), spec, business_date, loaded)
    return LoadedPartition(
        source=source,
        business_date=business_date,
        valid=valid,
        quarantined=quarantined,
        rows_read=text.height,
        files=[f.name for f in files],
        manifest=tuple({"name": f.name, "rows": f.rows, "sha256": f.sha256.lower()} for f in files),
    )


def partition_files(loaded: LoadedPartition) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The files of a partition's curated folder and of its quarantine folder (none when
    no row was quarantined)."""
    curated = {
        CURATED_FILE: parquet_bytes(loaded.valid),
        STATS_FILE: (json.dumps(loaded.stats(), indent=2) + "\n").encode(),
    }
    if not loaded.rows_quarantined:
        return curated, {}
    return curated, {
        QUARANTINE_FILE: parquet_bytes(loaded.quarantined),
        "quarantine.csv": quarantine_csv(loaded),
    }


def quarantine_csv(loaded: LoadedPartition) -> bytes:
    """The quarantined rows as CSV, their original text neutralised (contract section 3);
    a money column's text that is a plain number is written as it is."""
    money = [c.name for c in SOURCE_SPECS[loaded.source].columns if c.kind == "money"]
    return neutralised_frame(loaded.quarantined, money).write_csv().encode()


def commit_partition(warehouse: Storage, loaded: LoadedPartition) -> None:
    """Write one partition's curated rows and quarantine straight into the history (a
    night's run commits its four together: see `ingest.commit`); drops the source's key
    index, which the next night's commit rebuilds."""
    curated, quarantine = partition_files(loaded)
    drop_index(warehouse, loaded.source)
    warehouse.replace_prefix(curated_prefix(loaded.source, loaded.business_date), curated)
    prefix = quarantine_prefix(loaded.source, loaded.business_date)
    if quarantine:
        warehouse.replace_prefix(prefix, quarantine)
    else:
        warehouse.delete_prefix(prefix)


def _loaded(
    warehouse: Storage, spec: Source, business_date: date, keys: pl.Series
) -> pl.LazyFrame | None:
    """Key and business date of the rows curated for other dates, if keys span dates: of
    every date that may hold one of `keys` (see `key_index`)."""
    if spec.name in SNAPSHOT_SOURCES:
        return None
    dates = candidate_dates(warehouse, spec.name, business_date, keys)
    return scan_curated(warehouse, spec.name, dates).select(spec.key, "business_date")
