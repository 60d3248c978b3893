"""Data quality: Great Expectations suites (repository folder `expectations/`) run on every
landing partition, results and Data Docs kept in the warehouse for auditors.

    validate_night(landing, warehouse, business_date, rows)  # checked inputs, before commit

great_expectations is imported only when a validation runs (it takes seconds to import).
"""

from pipelines.quality.validate import (
    Check,
    CriticalExpectationFailed,
    NightValidation,
    ValidationOutcome,
    check_night,
    validate_night,
    validate_source,
)

__all__ = [
    "Check",
    "CriticalExpectationFailed",
    "NightValidation",
    "ValidationOutcome",
    "check_night",
    "validate_night",
    "validate_source",
]
