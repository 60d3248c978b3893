"""The landing zone on disk (contract section 1): CSV part files, then the manifest."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import shutil
from datetime import date
from pathlib import Path

from pipelines.contract import CONTRACT_VERSION, SOURCE_SPECS, SOURCES

PART_ROWS = 50_000  # rows per part file at most


def csv_bytes(header: list[str], rows: list[tuple[str | None, ...]]) -> bytes:
    """UTF-8 CSV with a header row, RFC 4180 quoting, None as an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


class Landing:
    """Writes partitions under `root`, replacing the sources' folders it held before."""

    def __init__(self, root: Path):
        self.root = root
        self.rows = dict.fromkeys(SOURCES, 0)
        for source in SOURCES:
            shutil.rmtree(root / source, ignore_errors=True)

    def write(
        self,
        source: str,
        day: date,
        rows: list[tuple[str | None, ...]],
        parts: int = 1,
    ) -> None:
        """One partition: `parts` part files at least (more past PART_ROWS), manifest last."""
        folder = self.root / source / f"business_date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        header = SOURCE_SPECS[source].column_names
        parts = max(1, min(max(parts, math.ceil(len(rows) / PART_ROWS)), len(rows)))
        size = math.ceil(len(rows) / parts)
        files = []
        for index in range(parts):
            chunk = rows[index * size : (index + 1) * size]
            data = csv_bytes(header, chunk)
            name = f"part-{index:04d}.csv"
            (folder / name).write_bytes(data)
            files.append(
                {"name": name, "rows": len(chunk), "sha256": hashlib.sha256(data).hexdigest()}
            )
        manifest = {
            "source": source,
            "business_date": day.isoformat(),
            "contract_version": CONTRACT_VERSION,
            "files": files,
        }
        (folder / "_manifest.json").write_text(
            json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
        )
        self.rows[source] += len(rows)
