"""What the pipeline published about each night, read from the warehouse for auditors.

cases/business_date=D/summary.json, report.html, cases.* ...   the published night
curated/<source>/business_date=D/_ingest.json                  rows read/loaded/quarantined
                                                               and the manifest read
quarantine/<source>/business_date=D/quarantine.parquet         rejected rows and reasons
quality/<source>/business_date=D/summary.json                  data-quality verdicts
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from typing import Any

import polars as pl

from pipelines.contract import SOURCES
from pipelines.layout import (
    QUARANTINE_FILE,
    cases_prefix,
    quality_summary_key,
    quarantine_prefix,
    stats_key,
)
from pipelines.storage import Storage

NIGHT_KEY = re.compile(r"cases/business_date=([0-9]{4}-[0-9]{2}-[0-9]{2})/summary\.json")
FILE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
QUARANTINE_ROWS = 200
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".parquet": "application/vnd.apache.parquet",
}


def _json(warehouse: Storage, key: str) -> dict[str, Any] | None:
    if not warehouse.exists(key):
        return None
    return json.loads(warehouse.read_bytes(key))


def night_dates(warehouse: Storage) -> list[date]:
    """Business dates with a published summary, newest first."""
    found = (NIGHT_KEY.fullmatch(k) for k in warehouse.list_keys("cases/"))
    return sorted((date.fromisoformat(m.group(1)) for m in found if m), reverse=True)


def night_summaries(warehouse: Storage) -> list[dict[str, Any]]:
    """Every published night's summary, newest first."""
    out = []
    for day in night_dates(warehouse):
        summary = _json(warehouse, f"{cases_prefix(day)}/summary.json") or {}
        out.append({"business_date": day, "summary": summary})
    return out


def night_files(warehouse: Storage, day: date) -> list[str]:
    """Names of the files published for the night."""
    prefix = cases_prefix(day) + "/"
    return [k[len(prefix) :] for k in warehouse.list_keys(prefix) if "/" not in k[len(prefix) :]]


def night_detail(warehouse: Storage, day: date) -> dict[str, Any] | None:
    """The night's summary, per-source ingest stats, manifests, quality and quarantine."""
    summary = _json(warehouse, f"{cases_prefix(day)}/summary.json")
    if summary is None:
        return None
    sources = {}
    for source in SOURCES:
        stats = _json(warehouse, stats_key(source, day)) or {}
        sources[source] = {
            "stats": stats,
            "quality": _json(warehouse, quality_summary_key(source, day)),
            "quarantine": _quarantine(warehouse, source, day),
        }
    return {"summary": summary, "sources": sources, "files": night_files(warehouse, day)}


def _quarantine(warehouse: Storage, source: str, day: date) -> dict[str, Any]:
    key = f"{quarantine_prefix(source, day)}/{QUARANTINE_FILE}"
    if not warehouse.exists(key):
        return {"rows": [], "columns": [], "total": 0}
    frame = pl.read_parquet(io.BytesIO(warehouse.read_bytes(key)))
    first = ["_file", "_row", "_reason"]
    columns = [c for c in first if c in frame.columns] + [
        c for c in frame.columns if c not in first
    ]
    return {
        "columns": columns,
        "rows": frame.select(columns).head(QUARANTINE_ROWS).rows(),
        "total": frame.height,
    }


def night_file(warehouse: Storage, day: date, name: str) -> tuple[bytes, str] | None:
    """A published file of the night and its content type; None if there is no such file."""
    if (
        not FILE_NAME.fullmatch(name)
        or name.startswith(".")
        or name not in night_files(warehouse, day)
    ):
        return None
    suffix = name[name.rfind(".") :]
    return warehouse.read_bytes(f"{cases_prefix(day)}/{name}"), CONTENT_TYPES.get(
        suffix, "application/octet-stream"
    )
