"""Part files (CSV or Parquet) read into text frames: the contract columns as strings."""

from __future__ import annotations

import io

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.contract import Column, Source
from pipelines.ingest.landing import LandingPartition
from pipelines.ingest.manifest import ManifestFile
from pipelines.redact import scrub
from pipelines.storage import NotARegularFile, Storage

# RFC 4180: quoted fields may hold separators and newlines.
CSV_PARSE = pacsv.ParseOptions(newlines_in_values=True)


def read_part(
    landing: Storage, part: LandingPartition, entry: ManifestFile, spec: Source
) -> pl.DataFrame:
    """One part file as text: the contract columns (String), `_file` and `_row` (1-based).

    Raises RejectedPartition when the file is unreadable, lacks a contract column or holds
    another number of rows than the manifest says.
    """
    key = part.key(entry.name)
    try:
        data = landing.read_bytes(key)
    except NotARegularFile as exc:
        raise part.refuse(exc) from None
    if entry.name.endswith(".csv"):
        frame = _csv_text(data, part, key, spec)
    else:
        frame = _parquet_text(data, part, key, spec)
    if frame.height != entry.rows:
        raise part.reject(key, f"{frame.height} data rows but the manifest says {entry.rows}")
    return frame.with_columns(
        pl.lit(entry.name).alias("_file"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row"),
    )


def text_schema(spec: Source) -> dict[str, pl.DataType]:
    """The schema of a text frame (see read_part)."""
    text: dict[str, pl.DataType] = dict.fromkeys(spec.column_names, pl.String())
    return {**text, "_file": pl.String(), "_row": pl.Int64()}


def _csv_text(data: bytes, part: LandingPartition, key: str, spec: Source) -> pl.DataFrame:
    """Parsed with pyarrow, which (unlike polars) rejects short rows instead of padding them."""
    if not data.endswith(b"\n"):
        data += b"\n"  # a header-only file without a final newline is still a CSV file
    try:
        names = pacsv.open_csv(io.BytesIO(data), parse_options=CSV_PARSE).schema.names
    except pa.ArrowException as exc:
        raise part.reject(key, f"not a readable CSV file ({_first_line(exc)})") from exc
    _require_columns(part, key, spec, names)
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    try:
        table = pacsv.read_csv(io.BytesIO(data), parse_options=CSV_PARSE, convert_options=convert)
    except pa.ArrowException as exc:
        raise part.reject(key, f"not a readable CSV file ({_first_line(exc)})") from exc
    frame = pl.from_arrow(table.select(spec.column_names))
    assert isinstance(frame, pl.DataFrame)  # a table, never a single column
    return frame


def _parquet_text(data: bytes, part: LandingPartition, key: str, spec: Source) -> pl.DataFrame:
    """Native Parquet values rendered as the text the CSV rules expect, once every contract
    column's type fits the contract (section 1)."""
    try:
        scan = pl.scan_parquet(io.BytesIO(data))
        schema = scan.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise part.reject(key, f"not a readable Parquet file ({_first_line(exc)})") from exc
    _require_columns(part, key, spec, schema.names())
    for column in spec.columns:
        if not _fits(column, schema[column.name]):
            raise part.reject(
                key,
                f"column '{column.name}' is {schema[column.name]} but the contract needs "
                f"{EXPECTED.get(column.kind, TEXT)}",
            )
    try:
        return scan.select(_as_text(name, schema[name]) for name in spec.column_names).collect()
    except pl.exceptions.PolarsError as exc:
        raise part.reject(key, f"not a readable Parquet file ({_first_line(exc)})") from exc


# What a Parquet column of each contract kind may be: exact, and identifiers as text.
EXPECTED = {
    "timestamp": "a timestamp",
    "date": "a date",
    "money": "a decimal or a decimal string",
    "int": "an integer",
}
TEXT = "a string"


def _fits(column: Column, dtype: pl.DataType) -> bool:
    """Whether a Parquet column's type fits its contract column (all nulls always fit)."""
    if isinstance(dtype, pl.Null):
        return True
    if column.kind == "timestamp":
        return isinstance(dtype, pl.Datetime)
    if column.kind == "date":
        return isinstance(dtype, pl.Date)
    if column.kind == "money":
        return isinstance(dtype, pl.Decimal | pl.String)
    if column.kind == "int":
        return dtype.is_integer()
    return isinstance(dtype, pl.String | pl.Categorical | pl.Enum)


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """Timestamps as ISO 8601 UTC, dates as YYYY-MM-DD, decimals without zeros past the cents."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        utc = col.dt.convert_time_zone("UTC") if dtype.time_zone else col  # naive = UTC
        text = utc.dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ")
    elif isinstance(dtype, pl.Date):
        text = col.dt.strftime("%Y-%m-%d")
    elif isinstance(dtype, pl.Decimal):
        text = col.cast(pl.String).str.replace(r"^(-?[0-9]+\.[0-9]{2}[0-9]*?)0+$", "${1}")
    else:
        text = col.cast(pl.String)
    return text.alias(name)


def _require_columns(part: LandingPartition, key: str, spec: Source, names: list[str]) -> None:
    duplicated = ", ".join(repr(n) for n in sorted({n for n in names if names.count(n) > 1}))
    if duplicated:
        raise part.reject(key, f"duplicate column(s) {duplicated} in the header")
    missing = ", ".join(repr(n) for n in spec.column_names if n not in names)
    if missing:
        raise part.reject(key, f"missing contract column(s) {missing}")


def _first_line(exc: Exception) -> str:
    """The library's reason, without the row or values it quotes."""
    return scrub(str(exc)) or type(exc).__name__
