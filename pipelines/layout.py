"""Every key recon reads or writes in a landing zone or a warehouse, built and parsed here.

Landing zone (contract section 1):

    <source>/business_date=D/part-*.csv|parquet, _manifest.json

Warehouse:

    curated/<source>/business_date=D/data.parquet, _ingest.json     the curated history
    quarantine/<source>/business_date=D/...                         rows kept out, with why
    curated/_commits/business_date=D.json                           the night's last commit
    curated/_compacted/<source>/manifest.json, <segment>/bucket-K.parquet
                                                                    the history compacted into
                                                                    at most two segments, each
                                                                    naming its partitions'
                                                                    versions; billing lines in
                                                                    a file per SIM bucket
    curated/_compacted/billing_lines/<segment>/number-bucket-K.parquet
                                                                    its recurring lines with a
                                                                    number, per number bucket
    curated/_key_index/<source>/base.arrow, recent.arrow            loaded keys (hashed) by date
    staging/business_date=D/sources/<source>/curated|quarantine/... partitions checked, not curated
    staging/business_date=D/commit/journal.json                     the commit journal
    staging/business_date=D/night.json, quality/<source>.json       the gate's and GX's verdicts
    staging/business_date=D/detections/part-*.parquet               between a night's steps
    staging/business_date=D/published.parquet, outcome.json
    cases/business_date=D/cases.parquet, cases.csv, summary.json, report.html
    quality/<source>/business_date=D/validation.json, summary.json  data-quality results
    quality/pages/index.html, nights.json, business_date=D/index.html
    alerts/business_date=D/<run>-<task>.json
    recon.db                                                        the embedded case store
    _recon.lock                                                     one run at a time

Keys are '/'-separated and relative to the storage root. This module imports nothing heavy.
"""

from __future__ import annotations

import re
from datetime import date

MANIFEST_NAME = "_manifest.json"
CURATED_FILE = "data.parquet"
STATS_FILE = "_ingest.json"
QUARANTINE_FILE = "quarantine.parquet"
VALIDATION_FILE = "validation.json"
SUMMARY_FILE = "summary.json"
PAGES_PREFIX = "quality/pages"
PAGES_INDEX = f"{PAGES_PREFIX}/index.html"
PAGES_NIGHTS = f"{PAGES_PREFIX}/nights.json"
PUBLISHED_FILE = "published.parquet"
OUTCOME_FILE = "outcome.json"
LOCK_KEY = "_recon.lock"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


def partition(business_date: date) -> str:
    """The hive-style partition folder name of a business date."""
    return f"business_date={business_date.isoformat()}"


# -- landing zone --------------------------------------------------------------------------


def landing_prefix(source: str, business_date: date) -> str:
    return f"{source}/{partition(business_date)}"


def manifest_key(source: str, business_date: date) -> str:
    return f"{landing_prefix(source, business_date)}/{MANIFEST_NAME}"


# -- curated history and quarantine ----------------------------------------------------------


def curated_prefix(source: str, business_date: date) -> str:
    return f"curated/{source}/{partition(business_date)}"


def curated_source_prefix(source: str) -> str:
    return f"curated/{source}/"


def curated_key(source: str, business_date: date) -> str:
    return f"{curated_prefix(source, business_date)}/{CURATED_FILE}"


def stats_key(source: str, business_date: date) -> str:
    return f"{curated_prefix(source, business_date)}/{STATS_FILE}"


def curated_date(source: str, key: str) -> date | None:
    """The business date of a curated data file's key, or None for any other key."""
    pattern = rf"curated/{re.escape(source)}/business_date=({_DATE})/{re.escape(CURATED_FILE)}"
    match = re.fullmatch(pattern, key)
    return date.fromisoformat(match.group(1)) if match else None


def compacted_prefix(source: str) -> str:
    """The compacted history of a source: derived from its curated partitions."""
    return f"curated/_compacted/{source}"


def compacted_manifest_key(source: str) -> str:
    return f"{compacted_prefix(source)}/manifest.json"


def compacted_segment_key(
    source: str, segment: str, bucket: int = 0, by_number: bool = False
) -> str:
    """One bucket's file of a segment (a source not split by bucket has bucket 0 only);
    `by_number`: the file of the lines split by number."""
    name = "number-bucket" if by_number else "bucket"
    return f"{compacted_prefix(source)}/{segment}/{name}-{bucket}.parquet"


def compacted_segment(source: str, key: str) -> str | None:
    """The segment name of a key below the source's compacted history, or None."""
    match = re.fullmatch(rf"{re.escape(compacted_prefix(source))}/([0-9a-f]+)/.+", key)
    return match.group(1) if match else None


def key_index_prefix(source: str) -> str:
    return f"curated/_key_index/{source}"


def key_index_key(source: str, part: str) -> str:
    """A part (`base`, `recent`) of the index of a source's curated keys (`ingest.key_index`)."""
    return f"{key_index_prefix(source)}/{part}.arrow"


def quarantine_prefix(source: str, business_date: date) -> str:
    return f"quarantine/{source}/{partition(business_date)}"


# -- the steps of a night ----------------------------------------------------------------------


def staging_prefix(business_date: date) -> str:
    return f"staging/{partition(business_date)}"


def detections_prefix(business_date: date) -> str:
    return f"{staging_prefix(business_date)}/detections"


def detections_key(business_date: date, shard: int | None = None, shards: int = 1) -> str:
    """A staged detections part: the whole night, or one shard of `shards`."""
    name = "part-whole" if shard is None else f"part-{shard:04d}-of-{shards:04d}"
    return f"{detections_prefix(business_date)}/{name}.parquet"


def published_key(business_date: date) -> str:
    return f"{staging_prefix(business_date)}/{PUBLISHED_FILE}"


def outcome_key(business_date: date) -> str:
    return f"{staging_prefix(business_date)}/{OUTCOME_FILE}"


def staged_kpis_key(business_date: date) -> str:
    """The night's KPIs as update_cases computed them, for publish."""
    return f"{staging_prefix(business_date)}/kpis.json"


def staged_source_prefix(source: str, business_date: date) -> str:
    """A source's partition checked and staged, not yet in the curated history."""
    return f"{staging_prefix(business_date)}/sources/{source}"


def commit_journal_prefix(business_date: date) -> str:
    return f"{staging_prefix(business_date)}/commit"


def commit_journal_key(business_date: date) -> str:
    return f"{commit_journal_prefix(business_date)}/journal.json"


def commit_journal_date(key: str) -> date | None:
    """The business date of a commit journal's key, or None for any other key."""
    match = re.fullmatch(rf"staging/business_date=({_DATE})/commit/journal\.json", key)
    return date.fromisoformat(match.group(1)) if match else None


def commit_record_key(business_date: date) -> str:
    return f"curated/_commits/{partition(business_date)}.json"


def night_meta_key(business_date: date) -> str:
    """The gate's verdict and the commit of a night, for its run summary."""
    return f"{staging_prefix(business_date)}/night.json"


def staged_quality_key(source: str, business_date: date) -> str:
    """A source's validation summary from this run of the night (publish reads only these)."""
    return f"{staging_prefix(business_date)}/quality/{source}.json"


# -- published nights ------------------------------------------------------------------------


def cases_prefix(business_date: date) -> str:
    return f"cases/{partition(business_date)}"


def cases_summary_key(business_date: date) -> str:
    return f"{cases_prefix(business_date)}/{SUMMARY_FILE}"


def letters_to_hold_key(business_date: date, extension: str) -> str:
    """`letters_to_hold.csv` or `.parquet` of a published night (contract section 3.1)."""
    return f"{cases_prefix(business_date)}/letters_to_hold.{extension}"


def kpis_key(business_date: date) -> str:
    """The night's KPIs, beside its summary (docs/kpis.md)."""
    return f"{cases_prefix(business_date)}/kpis.json"


# -- data quality ----------------------------------------------------------------------------


def quality_prefix(source: str, business_date: date) -> str:
    return f"quality/{source}/{partition(business_date)}"


def quality_summary_key(source: str, business_date: date) -> str:
    return f"{quality_prefix(source, business_date)}/{SUMMARY_FILE}"


def quality_page(business_date: date) -> str:
    """The data-quality page of a night (its four sources), relative to PAGES_PREFIX."""
    return f"{partition(business_date)}/index.html"


def quality_page_date(key: str) -> date | None:
    """The business date of a night's data-quality page key, or None for another key."""
    match = re.fullmatch(rf"{PAGES_PREFIX}/business_date=({_DATE})/index\.html", key)
    return date.fromisoformat(match.group(1)) if match else None


# -- alerts ----------------------------------------------------------------------------------


def alert_key(business_date: str | None, run_id: str, task_id: str) -> str:
    """An alert record's key; run and task ids are reduced to safe characters."""

    def safe(name: str) -> str:
        return re.sub(r"[^\w.:+-]", "_", name)

    return f"alerts/business_date={business_date or 'unknown'}/{safe(run_id)}-{safe(task_id)}.json"
