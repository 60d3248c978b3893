"""Generated worlds run night by night, their landing edited, and what a run left compared
with a clean run: the published files and the case store."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import create_engine, select

from pipelines.casestore.schema import case_history, case_sightings, cases
from pipelines.cli import main
from pipelines.generator import generate
from pipelines.night import backfill

Rows = list[dict[str, str]]
SEED, CUSTOMERS, DAYS, START = 5, 60, 75, date(2024, 1, 1)
# What differs between two runs of the same inputs: when they ran, and their ids.
VOLATILE = ("run_id", "started_at", "finished_at", "validated_at")


def recon(landing: Path, warehouse: Path, *args: object, validate: bool = False) -> Result:
    """`recon ARGS --landing --warehouse` in process, without GX unless asked."""
    where = ["--landing", str(landing), "--warehouse", str(warehouse)]
    flags = [] if validate else ["--no-validate"]
    return CliRunner().invoke(main, [*map(str, args), *where, *flags])


def run(landing: Path, warehouse: Path, day: date, *args: object, **kw: bool) -> Result:
    return recon(landing, warehouse, "run", "--business-date", day, *args, **kw)


def copy(src: Path, dst: Path) -> Path:
    return Path(shutil.copytree(src, dst))


def partition(landing: Path, source: str, day: date) -> Path:
    return landing / source / f"business_date={day.isoformat()}"


def edit(landing: Path, source: str, day: date, change: Callable[[Rows], Rows]) -> None:
    """Rewrite a partition's CSV parts through `change` (all its rows at once) and its
    manifest to match, as the source system would deliver the edited extract."""
    folder = partition(landing, source, day)
    manifest = json.loads((folder / "_manifest.json").read_text())
    parts = [folder / f["name"] for f in manifest["files"]]
    header: list[str] = []
    rows: Rows = []
    for part in parts:
        reader = csv.DictReader(io.StringIO(part.read_text()))
        header = list(reader.fieldnames or header)
        rows += list(reader)
        part.unlink()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, header, lineterminator="\n")
    writer.writeheader()
    changed = change(rows)
    writer.writerows(changed)
    data = buf.getvalue().encode()
    (folder / "part-0000.csv").write_bytes(data)
    manifest["files"] = [
        {"name": "part-0000.csv", "rows": len(changed), "sha256": hashlib.sha256(data).hexdigest()}
    ]
    (folder / "_manifest.json").write_text(json.dumps(manifest))


def published(warehouse: Path, day: date) -> dict[str, object]:
    """The night's published files, with what differs between runs left out: summary.json
    without run ids and times, report.html with its run id blanked."""
    folder = warehouse / "cases" / f"business_date={day.isoformat()}"
    if not folder.is_dir():
        return {}
    files: dict[str, object] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    summary = json.loads(files["summary.json"])  # type: ignore[arg-type]
    files["summary.json"] = _stable(summary)
    html = str(files["report.html"], "utf-8").replace(summary["run_id"], "RUN")  # type: ignore[arg-type]
    files["report.html"] = html
    return files


def _stable(doc: object) -> object:
    if isinstance(doc, dict):
        return {k: _stable(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [_stable(v) for v in doc]
    return doc


def store_state(warehouse: Path, db_url: str | None = None) -> dict[str, object]:
    """The case store as a clean run would also leave it: the cases that are not
    withdrawn (update times aside), the sightings (run ids aside), and the pipeline's
    history (ids, times and runs aside)."""
    engine = create_engine(db_url or f"sqlite:///{warehouse / 'recon.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(cases).where(cases.c.status != "withdrawn")).mappings()
            found = {r["case_id"]: {k: v for k, v in r.items() if k != "updated_at"} for r in rows}
            sightings = sorted(
                tuple(v for k, v in r.items() if k != "run_id")
                for r in conn.execute(select(case_sightings)).mappings()
            )
            history = [
                tuple(v for k, v in r.items() if k not in ("id", "at", "run_id"))
                for r in conn.execute(select(case_history).order_by(case_history.c.id)).mappings()
            ]
    finally:
        engine.dispose()
    return {"cases": found, "sightings": sightings, "history": history}


def curated(warehouse: Path, day: date) -> dict[str, bytes]:
    """Every curated and quarantine file of the night, by path."""
    name = f"business_date={day.isoformat()}"
    return {
        str(p.relative_to(warehouse)): p.read_bytes()
        for top in ("curated", "quarantine")
        for p in sorted((warehouse / top).glob(f"*/{name}/*"))
    }


@dataclass(frozen=True)
class GeneratedWorld:
    """A generated landing zone and a warehouse processed through the night before
    `night`, a bill-run night with two nights after it."""

    landing: Path
    base: Path
    night: date


def generated_world(root: Path) -> GeneratedWorld:
    landing = root / "landing"
    dates = generate(landing, SEED, CUSTOMERS, START, DAYS).business_dates
    night = max(d for d in dates[:-2] if _rows(partition(landing, "billing_lines", d)) > 20)
    base = root / "base"
    backfill(str(landing), str(base), dates[0], night - timedelta(days=1), validate=False)
    return GeneratedWorld(landing, base, night)


def _rows(folder: Path) -> int:
    return sum(f["rows"] for f in json.loads((folder / "_manifest.json").read_text())["files"])
