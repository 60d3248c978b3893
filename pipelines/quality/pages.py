"""recon's own data-quality pages: one per night (its sources' checks) and an index.

Rendered with Jinja2, every value escaped, styles inline, no script, no link off the page:
auditors open them on machines without a network. Each page is one file written whole, so
a reader never meets a half-replaced folder. The validation results (`validation.json`,
`summary.json` per source and night) are the evidence and are kept for every night; the
rendered pages are kept for the newest `keep` nights (RECON_QUALITY_PAGES), the index lists
every night.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date

from pipelines.contract import SOURCES
from pipelines.layout import (
    PAGES_INDEX,
    PAGES_NIGHTS,
    PAGES_PREFIX,
    quality_page,
    quality_page_date,
    quality_prefix,
)
from pipelines.storage import Storage
from pipelines.templating import html_environment

ROW_COUNTS = ("manifest_rows", "rows_loaded", "rows_quarantined")

_env = html_environment("pipelines.quality")


def publish_pages(
    warehouse: Storage,
    business_date: date,
    summaries: Sequence[Mapping[str, object]],
    checks: Mapping[str, Sequence[Mapping[str, object]]],
    keep: int,
) -> None:
    """Write the night's page from its sources' summaries and checks, list the night in
    the index, and drop the pages of nights older than the newest `keep`."""
    day = business_date.isoformat()
    sources = [
        {**summary, "checks": checks[str(summary["source"])], "evidence": _evidence(summary)}
        for summary in summaries
    ]
    page = _env.get_template("night.html").render(business_date=day, sources=sources)
    warehouse.write_bytes(f"{PAGES_PREFIX}/{quality_page(business_date)}", page.encode())
    nights = _read_nights(warehouse)
    nights[day] = {str(s["source"]): _entry(s) for s in summaries}
    nights = dict(sorted(nights.items(), reverse=True))
    warehouse.write_bytes(PAGES_NIGHTS, (json.dumps(nights, indent=2) + "\n").encode())
    kept = _prune(warehouse, keep)
    rows = [
        {"day": d, "page": quality_page(date.fromisoformat(d)) if d in kept else None, "sources": s}
        for d, s in nights.items()
    ]
    index = _env.get_template("index.html").render(nights=rows, sources=SOURCES, keep=keep)
    warehouse.write_bytes(PAGES_INDEX, index.encode())


def _evidence(summary: Mapping[str, object]) -> str:
    day = date.fromisoformat(str(summary["business_date"]))
    return f"{quality_prefix(str(summary['source']), day)}/validation.json"


def _entry(summary: Mapping[str, object]) -> dict[str, object]:
    """What the index shows of a source's validation."""
    statistics = summary["statistics"]
    assert isinstance(statistics, dict)
    critical, warnings = summary["critical_failures"], summary["warning_failures"]
    assert isinstance(critical, list) and isinstance(warnings, list)
    return {
        "success": summary["success"],
        "critical": len(critical),
        "warnings": len(warnings),
        **{k: statistics[k] for k in ROW_COUNTS},
    }


def _read_nights(warehouse: Storage) -> dict[str, dict[str, dict]]:
    if not warehouse.exists(PAGES_NIGHTS):
        return {}
    return json.loads(warehouse.read_bytes(PAGES_NIGHTS))


def _prune(warehouse: Storage, keep: int) -> set[str]:
    """Delete the pages of all but the newest `keep` nights; the business dates kept."""
    pages = {
        day: key
        for key in warehouse.list_keys(PAGES_PREFIX)
        if (day := quality_page_date(key)) is not None
    }
    newest = sorted(pages, reverse=True)
    for day in newest[keep:]:
        warehouse.delete_prefix(pages[day].rsplit("/", 1)[0])
    return {d.isoformat() for d in newest[:keep]}
