"""Letters to hold (contract section 3.1): the queued letters of a night's letter cases
that are not false positives, for the dispatch system to suppress."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import polars as pl

from pipelines.catalogue import RULE_SPECS, WITHDRAWN
from pipelines.csv_safe import csv_bytes
from pipelines.storage import parquet_bytes

LETTER_RULES = tuple(r for r, spec in RULE_SPECS.items() if spec.key == ("letter_id",))
RELEASED = ("false_positive", WITHDRAWN)  # a letter of such a case goes out
HOLD_SCHEMA: dict[str, pl.DataType] = {
    "letter_id": pl.String(),
    "campaign_id": pl.String(),
    "customer_id": pl.String(),
    "account_id": pl.String(),
    "letter_type": pl.String(),
    "channel": pl.String(),
    "scheduled_send_date": pl.Date(),
    "rule_id": pl.String(),
    "case_id": pl.String(),
    "reason": pl.String(),
}
HOLD_COLUMNS = tuple(HOLD_SCHEMA)


def hold_rows(cases: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per letter of the letter cases among `cases` (rule_id, status, case_id,
    customer_id, account_id, letter_id, summary, evidence) that are not released, by
    send date then letter id."""
    rows = []
    for case in cases:
        if case["rule_id"] not in LETTER_RULES or case["status"] in RELEASED:
            continue
        letter = _letter(case["evidence"])
        sent = letter.get("scheduled_send_date")
        rows.append(
            {
                "letter_id": case["letter_id"] or letter.get("letter_id"),
                "campaign_id": letter.get("campaign_id"),
                "customer_id": case["customer_id"],
                "account_id": case["account_id"],
                "letter_type": letter.get("letter_type"),
                "channel": letter.get("channel"),
                "scheduled_send_date": date.fromisoformat(sent) if isinstance(sent, str) else sent,
                "rule_id": case["rule_id"],
                "case_id": case["case_id"],
                "reason": case["summary"],
            }
        )
    return sorted(rows, key=lambda r: (str(r["scheduled_send_date"]), str(r["letter_id"])))


def _letter(evidence: str | None) -> dict[str, Any]:
    try:
        letter = json.loads(evidence or "{}").get("letter")
    except (ValueError, AttributeError):
        return {}
    return letter if isinstance(letter, dict) else {}


def hold_files(rows: list[dict[str, Any]]) -> dict[str, bytes]:
    """`letters_to_hold.csv` (neutralised) and `.parquet` of `hold_rows`."""
    frame = pl.DataFrame(rows, schema=HOLD_SCHEMA)
    return {
        "letters_to_hold.csv": csv_bytes(HOLD_COLUMNS, rows),
        "letters_to_hold.parquet": parquet_bytes(frame),
    }
