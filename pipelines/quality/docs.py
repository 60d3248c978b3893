"""GX Data Docs in the warehouse: a static site per validation, and an index of all of them.

GX 1.x cannot write a site to S3, so each is built in its throwaway context's folder and
every file is uploaded through Storage (layout in pipelines.layout). The index is
generated here from nights.json, checked against the sites present, so that validations
running side by side (the DAG validates the four sources in parallel) all get listed.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.contract import SOURCES
from pipelines.layout import (
    DOCS_INDEX,
    DOCS_NIGHTS,
    DOCS_PREFIX,
    docs_night,
    docs_result_page,
    docs_site,
    quality_summary_key,
)
from pipelines.storage import Storage

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext

STATIC_REF = re.compile(rb"""(?:\.{1,2}/)*static/[^"'()\s?#]+""")
ROW_COUNTS = ("manifest_rows", "rows_loaded", "rows_quarantined")
INDEX_ATTEMPTS = 5


def publish_data_docs(
    context: AbstractDataContext, warehouse: Storage, source: str, business_date: date
) -> None:
    """Build the site of the context's validation result, replace the validation's site in
    the warehouse with it and refresh the index."""
    context.build_data_docs()
    site = Path(str(context.root_directory), "uncommitted", "data_docs", "local_site")
    prefix = f"{DOCS_PREFIX}/{docs_site(source, business_date)}"
    warehouse.replace_prefix(prefix, _site_files(site))
    _refresh_index(warehouse, business_date)


def _site_files(site: Path) -> dict[str, bytes]:
    """The site's pages and the static files they use (GX ships 4 MB of mostly unused ones)."""
    pages = {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*.html")}
    used = {
        posixpath.normpath(posixpath.join(posixpath.dirname(key), ref.decode()))
        for key, page in pages.items()
        for ref in STATIC_REF.findall(page)
    }
    return pages | {key: (site / key).read_bytes() for key in used if (site / key).is_file()}


def _refresh_index(warehouse: Storage, business_date: date) -> None:
    """Rewrite nights.json and index.html with the night's validations whose site is present.

    Only the night's sites are listed (without nights.json, deleted to rebuild the index,
    every site is). An entry is re-read from the validation's summary.json when nights.json
    lacks it or names another result page (a rerun); the listing is repeated until no site
    appeared meanwhile, so the last of several concurrent refreshes lists them all.
    """
    scope = DOCS_PREFIX + "/"
    if warehouse.exists(DOCS_NIGHTS):
        scope += docs_night(business_date) + "/"
    pages = _result_pages(warehouse, scope)
    for _ in range(INDEX_ATTEMPTS):
        nights = _read_nights(warehouse)
        for day in {day for day, _ in pages}:
            known = nights.get(day, {})
            nights[day] = {
                source: known[source]
                if source in known and known[source]["page"] == pages[day, source]
                else _entry(warehouse, source, day, pages[day, source])
                for source in SOURCES
                if (day, source) in pages
            }
        nights = dict(sorted(nights.items(), reverse=True))
        warehouse.write_bytes(DOCS_NIGHTS, (json.dumps(nights, indent=2) + "\n").encode())
        warehouse.write_bytes(DOCS_INDEX, _index_html(nights).encode("utf-8"))
        again = _result_pages(warehouse, scope)
        if again == pages:
            return
        pages = again


def _result_pages(warehouse: Storage, prefix: str) -> dict[tuple[str, str], str]:
    """(business date, source) -> the result page of its site, relative to DOCS_PREFIX."""
    found = (docs_result_page(key) for key in warehouse.list_keys(prefix))
    return {(day.isoformat(), source): page for page, day, source in filter(None, found)}


def _read_nights(warehouse: Storage) -> dict[str, dict[str, dict]]:
    if not warehouse.exists(DOCS_NIGHTS):
        return {}
    return json.loads(warehouse.read_bytes(DOCS_NIGHTS))


def _entry(warehouse: Storage, source: str, day: str, page: str) -> dict:
    """What the index shows of a validation."""
    summary = json.loads(warehouse.read_bytes(quality_summary_key(source, date.fromisoformat(day))))
    return {
        "success": summary["success"],
        "critical": len(summary["critical_failures"]),
        "warnings": len(summary["warning_failures"]),
        "page": page,
        **{k: summary["statistics"][k] for k in ROW_COUNTS},
    }


def _index_html(nights: dict[str, dict[str, dict]]) -> str:
    header = "".join(f"<th>{s}</th>" for s in SOURCES)
    rows = "\n".join(
        f"<tr><td>{day}</td>{''.join(_cell(sources.get(s)) for s in SOURCES)}</tr>"
        for day, sources in nights.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>recon data quality</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }}
.passed {{ background: #e6f4e6; }} .warning {{ background: #fff4d6; }}
.critical {{ background: #f9d6d6; }} small {{ color: #555; }}
</style></head><body>
<h1>recon data quality: Great Expectations validations per night</h1>
<p>Every landing partition is validated on its raw rows (every row its manifest promised,
before quarantine) against its source's suite. A failed <b>critical</b> expectation (schema,
row counts, or more than 1% bad rows) stops the night: no cases are published. A failed
<b>warning</b> (any bad row) is reported; ingest quarantines such rows and the night goes on.
Nothing is dropped: manifest rows = rows loaded + rows quarantined, or the night fails.
Each cell links to the validation result; its site also shows the suite, with the severity
and the reason of every expectation.</p>
<table><tr><th>business date</th>{header}</tr>
{rows}
</table></body></html>
"""


def _cell(entry: dict | None) -> str:
    if entry is None:
        return "<td>not validated</td>"
    if entry["critical"]:
        css, status = "critical", f"CRITICAL: {entry['critical']} failed"
    elif entry["warnings"]:
        css, status = "warning", f"{entry['warnings']} warning(s)"
    else:
        css, status = "passed", "passed"
    rows = (
        f"{entry['manifest_rows']} rows: {entry['rows_loaded']} loaded, "
        f"{entry['rows_quarantined']} quarantined"
    )
    return (
        f'<td class="{css}"><a href="{html.escape(entry["page"])}">{status}</a>'
        f"<br><small>{rows}</small></td>"
    )
