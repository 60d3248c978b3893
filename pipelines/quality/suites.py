"""The expectation suites: readable GX 1.x JSON in the repository's `expectations/` folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

SUITES_DIR = Path(__file__).resolve().parents[2] / "expectations"


def suite_document(source: str) -> dict:
    """The suite of a source as stored in the repository."""
    return json.loads((SUITES_DIR / f"{source}.json").read_text(encoding="utf-8"))


def gx_suite(source: str) -> ExpectationSuite:
    """The source's suite as a GX object; raises ValueError if GX drops an expectation."""
    import great_expectations as gx

    doc = suite_document(source)
    suite = gx.ExpectationSuite(
        name=doc["name"], expectations=doc["expectations"], meta=doc["meta"], notes=doc["notes"]
    )
    if len(suite.expectations) != len(doc["expectations"]):  # GX only logs invalid ones
        raise ValueError(
            f"{SUITES_DIR / source}.json: {len(doc['expectations']) - len(suite.expectations)} "
            "expectation(s) rejected by Great Expectations (see the log)"
        )
    return suite
