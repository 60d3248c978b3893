"""The case store: cases, their nightly sightings, their history, and the runs."""

from pipelines.casestore.cli import case_store_url, default_db_url, open_store
from pipelines.casestore.store import CaseNotFound, CaseStore, NightOutcome

__all__ = [
    "CaseNotFound",
    "CaseStore",
    "NightOutcome",
    "case_store_url",
    "default_db_url",
    "open_store",
]
