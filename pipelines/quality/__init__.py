"""Data quality: Great Expectations suites (repository folder `expectations/`) run on every
landing partition, results kept in the warehouse, rendered as recon's own pages for auditors.

    validate_night(landing, warehouse, business_date, checked)  # checked inputs, before commit

great_expectations is imported only when a validation runs (it takes seconds to import),
once for the night's four sources; `import_in_background` starts that import early.
"""

from pipelines.quality.rows import Checked
from pipelines.quality.validate import (
    Check,
    CriticalExpectationFailed,
    NightValidation,
    ValidationOutcome,
    check_night,
    import_in_background,
    validate_night,
)

__all__ = [
    "Check",
    "Checked",
    "CriticalExpectationFailed",
    "NightValidation",
    "ValidationOutcome",
    "check_night",
    "import_in_background",
    "validate_night",
]
