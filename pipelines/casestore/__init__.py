"""The case store: cases, their nightly sightings, their history, and the runs."""

from pipelines.casestore.store import CaseNotFound, CaseStore, NightOutcome, open_store

__all__ = ["CaseNotFound", "CaseStore", "NightOutcome", "open_store"]
