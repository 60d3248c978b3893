"""Where validation results and Data Docs live in the warehouse.

quality/<source>/business_date=D/validation.json   GX's validation result, as GX writes it
quality/<source>/business_date=D/summary.json      pass/fail, failed expectations, row counts
quality/data_docs/index.html                       every night and source validated so far
quality/data_docs/nights.json                      what that index lists
quality/data_docs/business_date=D/<source>/        GX's Data Docs site of one validation
"""

from __future__ import annotations

from datetime import date

VALIDATION_FILE = "validation.json"
SUMMARY_FILE = "summary.json"
DOCS_PREFIX = "quality/data_docs"
DOCS_INDEX = f"{DOCS_PREFIX}/index.html"
DOCS_NIGHTS = f"{DOCS_PREFIX}/nights.json"


def quality_prefix(source: str, business_date: date) -> str:
    return f"quality/{source}/business_date={business_date.isoformat()}"


def summary_key(source: str, business_date: date) -> str:
    return f"{quality_prefix(source, business_date)}/{SUMMARY_FILE}"


def docs_night(business_date: date) -> str:
    """The folder of a night's Data Docs sites, relative to DOCS_PREFIX."""
    return f"business_date={business_date.isoformat()}"


def docs_site(source: str, business_date: date) -> str:
    """The folder of a validation's Data Docs site, relative to DOCS_PREFIX."""
    return f"{docs_night(business_date)}/{source}"
