"""Run a source's suite on its landing partition, keep the result in the warehouse, judge it."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from pipelines.contract import SOURCES
from pipelines.layout import (
    DOCS_INDEX,
    DOCS_PREFIX,
    SUMMARY_FILE,
    VALIDATION_FILE,
    docs_site,
    quality_prefix,
)
from pipelines.quality.docs import publish_data_docs
from pipelines.quality.rows import ingested_rows, partition_rows
from pipelines.quality.suites import gx_suite
from pipelines.storage import Storage

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext

CRITICAL = "critical"
WARNING = "warning"
DATASOURCE = "landing"


@dataclass(frozen=True)
class Check:
    """One expectation's result, in words an auditor reads."""

    expectation: str  # the GX expectation type
    target: str  # the column(s), or "table"
    severity: str  # critical | warning
    mostly: float | None
    success: bool
    observed: str
    why: str

    def to_dict(self) -> dict[str, object]:
        return {
            "expectation": self.expectation,
            "target": self.target,
            "severity": self.severity,
            "mostly": self.mostly,
            "observed": self.observed,
            "why": self.why,
        }

    def __str__(self) -> str:
        mostly = f", mostly {self.mostly}" if self.mostly is not None else ""
        return f"{self.expectation} on {self.target} ({self.severity}{mostly}): {self.observed}"


@dataclass(frozen=True)
class ValidationOutcome:
    """A source's validation on one business date."""

    source: str
    business_date: date
    checks: tuple[Check, ...]
    statistics: dict[str, int]
    validated_at: str

    @property
    def critical_failures(self) -> list[Check]:
        return [c for c in self.checks if not c.success and c.severity == CRITICAL]

    @property
    def warning_failures(self) -> list[Check]:
        return [c for c in self.checks if not c.success and c.severity == WARNING]

    @property
    def success(self) -> bool:
        """No critical expectation failed (warnings let the night go on)."""
        return not self.critical_failures

    @property
    def validation_key(self) -> str:
        return f"{quality_prefix(self.source, self.business_date)}/{VALIDATION_FILE}"

    @property
    def data_docs_key(self) -> str:
        return f"{DOCS_PREFIX}/{docs_site(self.source, self.business_date)}/index.html"

    def summary(self) -> dict[str, object]:
        """The compact summary kept beside validation.json and put into the run summary."""
        return {
            "source": self.source,
            "business_date": self.business_date.isoformat(),
            "success": self.success,
            "validated_at": self.validated_at,
            "statistics": self.statistics,
            "critical_failures": [c.to_dict() for c in self.critical_failures],
            "warning_failures": [c.to_dict() for c in self.warning_failures],
            "validation": self.validation_key,
            "data_docs": self.data_docs_key,
        }


class CriticalExpectationFailed(Exception):
    """A critical expectation failed: the extract is broken and the night must stop."""

    def __init__(self, outcomes: Sequence[ValidationOutcome]):
        self.outcomes = [o for o in outcomes if not o.success]
        lines = [
            f"  {o.source} {o.business_date}: {check}"
            for o in self.outcomes
            for check in o.critical_failures
        ]
        super().__init__("critical data-quality expectations failed:\n" + "\n".join(lines))


@dataclass(frozen=True)
class NightValidation:
    """The four sources' validations of a night and where their Data Docs are."""

    business_date: date
    outcomes: dict[str, ValidationOutcome]
    data_docs: str  # URI of the Data Docs index of all nights

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes.values())

    def summary(self) -> dict[str, object]:
        """The run summary's "quality" section."""
        return {
            "success": self.success,
            "data_docs": self.data_docs,
            "sources": {s: o.summary() for s, o in self.outcomes.items()},
        }


def validate_source(
    landing: Storage,
    warehouse: Storage,
    source: str,
    business_date: date,
    rows: tuple[int, int] | None = None,
) -> ValidationOutcome:
    """Validate one partition, keep the result and its Data Docs in the warehouse; raises
    CriticalExpectationFailed when a critical expectation failed.

    `rows` (loaded, quarantined) are the counts of a partition checked but not committed
    yet; without them, the curated partition's are used.
    """
    outcome = _validate(landing, warehouse, source, business_date, rows)
    if not outcome.success:
        raise CriticalExpectationFailed([outcome])
    return outcome


def check_night(
    landing: Storage,
    warehouse: Storage,
    business_date: date,
    rows: Mapping[str, tuple[int, int]] | None = None,
) -> NightValidation:
    """validate_source for the night's four partitions, but raising nothing for failed
    expectations (see NightValidation.success)."""
    outcomes = {
        s: _validate(landing, warehouse, s, business_date, rows[s] if rows else None)
        for s in SOURCES
    }
    return NightValidation(business_date, outcomes, warehouse.uri(DOCS_INDEX))


def validate_night(
    landing: Storage,
    warehouse: Storage,
    business_date: date,
    rows: Mapping[str, tuple[int, int]] | None = None,
) -> NightValidation:
    """check_night, raising CriticalExpectationFailed on a critical failure."""
    night = check_night(landing, warehouse, business_date, rows)
    if not night.success:
        raise CriticalExpectationFailed(list(night.outcomes.values()))
    return night


@contextmanager
def _gx_context() -> Iterator[AbstractDataContext]:
    """A throwaway GX file context: no progress bars, no analytics."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    with tempfile.TemporaryDirectory(prefix="recon-gx-") as root:
        context = gx.get_context(mode="file", project_root_dir=root)
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.analytics_enabled = False
        context.variables.save()
        yield context


def _validate(
    landing: Storage,
    warehouse: Storage,
    source: str,
    business_date: date,
    checked: tuple[int, int] | None,
) -> ValidationOutcome:
    """Run the source's suite; keeps validation.json, summary.json and the Data Docs site."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    rows = partition_rows(landing, source, business_date)
    loaded, quarantined = checked or ingested_rows(warehouse, source, business_date)
    with _gx_context() as context:
        batch = context.data_sources.add_pandas(DATASOURCE).add_dataframe_asset(source)
        suite = context.suites.add(gx_suite(source))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(
                name=source,
                data=batch.add_batch_definition_whole_dataframe("partition"),
                suite=suite,
            )
        )
        started = datetime.now(UTC)
        result = definition.run(
            batch_parameters={"dataframe": rows.frame.to_pandas()},
            expectation_parameters={
                "manifest_rows": rows.manifest_rows,
                "rows_loaded_plus_quarantined": loaded + quarantined,
            },
            result_format="BASIC",
            run_id=RunIdentifier(run_name=f"business_date={business_date}", run_time=started),
        ).to_json_dict()
        counts = {
            "manifest_rows": rows.manifest_rows,
            "rows_loaded": loaded,
            "rows_quarantined": quarantined,
        }
        parameters = {  # results show a parameter's value only: keep its name for the reader
            str(e.id): value["$PARAMETER"]
            for e in suite.expectations
            for value in e.configuration.kwargs.values()
            if isinstance(value, dict) and "$PARAMETER" in value
        }
        outcome = _outcome(source, business_date, result, counts, parameters, started)
        warehouse.replace_prefix(
            quality_prefix(source, business_date),
            {VALIDATION_FILE: _json(result), SUMMARY_FILE: _json(outcome.summary())},
        )
        publish_data_docs(context, warehouse, source, business_date)
    return outcome


def _outcome(
    source: str,
    business_date: date,
    result: dict,
    rows: dict[str, int],
    parameters: dict[str, str],
    started: datetime,
) -> ValidationOutcome:
    stats = result["statistics"]
    return ValidationOutcome(
        source=source,
        business_date=business_date,
        checks=tuple(_check(r, parameters) for r in result["results"]),
        statistics={
            "expectations": stats["evaluated_expectations"],
            "passed": stats["successful_expectations"],
            "failed": stats["unsuccessful_expectations"],
            **rows,
        },
        validated_at=started.isoformat(),
    )


def _json(doc: object) -> bytes:
    return (json.dumps(doc, indent=2) + "\n").encode()


def _check(result: dict, parameters: dict[str, str]) -> Check:
    config = result["expectation_config"]
    kwargs = config["kwargs"]
    error = _error(result.get("exception_info") or {})
    parameter = parameters.get(config["id"])
    return Check(
        expectation=config["type"],
        target=f"table vs {parameter}" if parameter else _target(kwargs),
        severity=config["meta"]["severity"],
        mostly=kwargs.get("mostly"),
        success=bool(result["success"]) and error is None,
        observed=f"error: {error}" if error else _observed(result["result"]),
        why=config["meta"]["why"],
    )


def _target(kwargs: dict) -> str:
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    return kwargs.get("column", "table")


def _observed(result: dict) -> str:
    """The observed value (table expectations) or the unexpected rows (row expectations)."""
    if "observed_value" in result:
        observed = result["observed_value"]
        if isinstance(observed, list):  # the columns found
            missing = result.get("details", {}).get("mismatched", {}).get("missing", [])
            return "missing: " + ", ".join(missing) if missing else "all present"
        return str(observed)
    bad, rows = result.get("unexpected_count", 0), result.get("element_count", 0)
    text = f"{bad} of {rows} rows unexpected"
    if bad:
        examples = ", ".join(repr(v) for v in result.get("partial_unexpected_list", [])[:3])
        text += f" ({result.get('unexpected_percent', 0):.2f}% of non-null), e.g. {examples}"
    return text


def _error(info: dict) -> str | None:
    """The first exception GX caught while computing the expectation's metrics, if any."""
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception", True):
            message = entry.get("exception_message") or "metric computation failed"
            return str(message).splitlines()[0]
    return None
