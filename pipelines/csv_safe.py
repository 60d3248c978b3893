"""CSV cells a spreadsheet does not run as formulas (contract section 3), for every CSV recon
writes: the published cases.csv and letters_to_hold.csv, quarantine.csv, `recon cases list
--format csv`, `recon kpis` and the desk's downloads.

A text value that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
apostrophe. Numbers are written as they are: amounts (Decimal), counts, and in the quarantine,
whose cells are the original text, a money column's value that is a plain decimal number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_START = r"^[=+\-@\t\r]"
NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


def neutralise(text: str) -> str:
    """A text cell, behind an apostrophe when it begins like a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: object) -> str | Decimal | int | float:
    """A CSV cell: numbers as they are, dates ISO 8601, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))


def csv_lines(columns: Sequence[str], rows: Iterable[dict[str, object]]) -> Iterator[str]:
    """The header and one line per row, neutralised, for a streaming response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([cell(row.get(c)) for c in columns])
        yield buffer.getvalue()


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """A whole CSV document (lines end with \\n), neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell(row.get(c)) for c in columns] for row in rows)
    return buffer.getvalue()


def csv_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    """csv_text as UTF-8 bytes, for a published file."""
    return csv_text(columns, rows).encode("utf-8")


def neutralised_frame(frame: pl.DataFrame, numbers: Iterable[str] = ()) -> pl.DataFrame:
    """`frame` with every text column neutralised, for writing as CSV; in the columns
    `numbers` (text that holds amounts) a plain decimal number stays as it is."""
    numeric = set(numbers)

    def safe(name: str) -> pl.Expr:
        text = pl.col(name)
        formula = text.str.contains(FORMULA_START)
        if name in numeric:
            formula = formula & ~text.str.contains(NUMBER)
        return pl.when(formula).then(pl.lit("'") + text).otherwise(text).alias(name)

    return frame.with_columns(
        safe(name) for name, dtype in frame.schema.items() if dtype == pl.String
    )
