"""Run the sources' suites on a night's landing partitions, keep the results in the
warehouse, render the night's page, judge them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from pipelines.contract import SOURCES
from pipelines.layout import (
    PAGES_INDEX,
    PAGES_PREFIX,
    SUMMARY_FILE,
    VALIDATION_FILE,
    quality_page,
    quality_prefix,
)
from pipelines.quality.pages import publish_pages
from pipelines.quality.rows import Checked, ingested, partition_rows
from pipelines.quality.suites import gx_suite
from pipelines.redact import scrub
from pipelines.settings import quality_pages
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
    observed: str  # counts and shares only: messages quote no row content
    why: str
    examples: tuple[str, ...] = ()  # a few unexpected values, for the (escaped) pages only

    def to_dict(self) -> dict[str, object]:
        return {
            "expectation": self.expectation,
            "target": self.target,
            "severity": self.severity,
            "mostly": self.mostly,
            "success": self.success,
            "observed": self.observed,
            "examples": list(self.examples),
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
    def page_key(self) -> str:
        return f"{PAGES_PREFIX}/{quality_page(self.business_date)}#{self.source}"

    def summary(self) -> dict[str, object]:
        """The compact summary kept beside validation.json and put into the run summary
        (the failed checks); the night's page shows every check."""
        return {
            "source": self.source,
            "business_date": self.business_date.isoformat(),
            "success": self.success,
            "validated_at": self.validated_at,
            "statistics": self.statistics,
            "critical_failures": [c.to_dict() for c in self.critical_failures],
            "warning_failures": [c.to_dict() for c in self.warning_failures],
            "validation": self.validation_key,
            "page": self.page_key,
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
    """The four sources' validations of a night and where their pages are."""

    business_date: date
    outcomes: dict[str, ValidationOutcome]
    pages: str  # URI of the data-quality index of all nights

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes.values())

    def summary(self) -> dict[str, object]:
        """The run summary's "quality" section."""
        return {
            "success": self.success,
            "pages": self.pages,
            "sources": {s: o.summary() for s, o in self.outcomes.items()},
        }


def check_night(
    landing: Storage,
    warehouse: Storage,
    business_date: date,
    checked: Mapping[str, Checked] | None = None,
    sources: Sequence[str] = SOURCES,
) -> NightValidation:
    """Validate the night's partitions in one Great Expectations context (imported once),
    keep each source's results, then render the night's page and the index; raises
    nothing for failed expectations (see NightValidation.success).

    `checked` is what ingest made of partitions not committed yet; without it, the
    committed ones are read. `sources` narrows the validation (the page then shows those).
    """
    with _gx_context() as context:
        outcomes = {
            s: _validate(
                context,
                landing,
                warehouse,
                s,
                business_date,
                _checked(warehouse, s, business_date, checked),
            )
            for s in sources
        }
    publish_pages(
        warehouse,
        business_date,
        [o.summary() for o in outcomes.values()],
        _checks(outcomes),
        quality_pages(),
    )
    return NightValidation(business_date, outcomes, warehouse.uri(PAGES_INDEX))


def validate_night(
    landing: Storage,
    warehouse: Storage,
    business_date: date,
    checked: Mapping[str, Checked] | None = None,
) -> NightValidation:
    """check_night, raising CriticalExpectationFailed on a critical failure (once the
    results and the pages are kept: the evidence of why)."""
    night = check_night(landing, warehouse, business_date, checked)
    if not night.success:
        raise CriticalExpectationFailed(list(night.outcomes.values()))
    return night


def _checked(
    warehouse: Storage, source: str, business_date: date, checked: Mapping[str, Checked] | None
) -> Checked:
    return checked[source] if checked is not None else ingested(warehouse, source, business_date)


def _checks(outcomes: Mapping[str, ValidationOutcome]) -> dict[str, list[dict[str, object]]]:
    return {s: [c.to_dict() for c in o.checks] for s, o in outcomes.items()}


def import_in_background() -> None:
    """Start importing Great Expectations (about 2 s of Python) on a daemon thread, so that
    it overlaps the night's ingest and gate (mostly polars, which leaves the interpreter
    free); the validation's own import then finds it done or waits for it."""
    threading.Thread(target=_import_gx, name="recon-gx-import", daemon=True).start()


def _import_gx() -> None:
    import great_expectations  # noqa: F401


@contextmanager
def _gx_context() -> Iterator[AbstractDataContext]:
    """A throwaway in-memory GX context: no files, no progress bars, no analytics, no INFO
    logging (recon keeps the results itself, see `_validate`). GX keeps the last context it
    built as its current project, and with it every batch's pandas frame: dropped on exit,
    so the night's memory is not held through the rules (1.2 GiB at 1M customers)."""
    import logging

    import great_expectations as gx
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in list(logging.root.manager.loggerDict):  # some of GX's set INFO themselves
        if name.partition(".")[0] == "great_expectations":
            logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.analytics_enabled = False
    try:
        yield context
    finally:
        project_manager.set_project(None)


def _validate(
    context: AbstractDataContext,
    landing: Storage,
    warehouse: Storage,
    source: str,
    business_date: date,
    checked: Checked,
) -> ValidationOutcome:
    """Run the source's suite; keeps validation.json and summary.json in its own folder."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    rows = partition_rows(landing, source, business_date, checked)
    loaded, quarantined = checked.rows_loaded, checked.rows_quarantined
    batch = context.data_sources.add_pandas(f"{DATASOURCE}_{source}").add_dataframe_asset(source)
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
        examples=tuple(str(v) for v in result["result"].get("partial_unexpected_list", [])[:3]),
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
        text += f" ({result.get('unexpected_percent', 0):.2f}% of non-null)"
    return text


def _error(info: dict) -> str | None:
    """The first exception GX caught while computing the expectation's metrics, if any."""
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception", True):
            message = entry.get("exception_message") or "metric computation failed"
            return scrub(str(message)) or "metric computation failed"
    return None
