"""What cleared a case that closes as no longer detected: the credit lines that now net
its charge, the charge lines it named that are gone, and its SIM in tonight's inventory."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import polars as pl

from pipelines.rules.inputs import NightInputs

LINE_FIELDS = ("line_id", "invoice_id", "charge_type", "period_start", "period_end", "amount")
SIM_FIELDS = ("iccid", "status", "account_id", "deactivated_at")


def _line_ids(value: object) -> Iterator[str]:
    """Every `line_id` named anywhere in a case's evidence."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "line_id" and isinstance(item, str):
                yield item
            else:
                yield from _line_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _line_ids(item)


def _plain(row: Mapping[str, Any], fields: Sequence[str]) -> dict[str, str | None]:
    return {f: None if row.get(f) is None else str(row[f]) for f in fields}


def clearing_evidence(night: NightInputs, closing: list[dict[str, Any]]) -> dict[str, Any]:
    """Per case_id of `closing` (case rows), JSON-able evidence of what cleared it tonight:
    `credit_lines` of its SIM (or MSISDN) overlapping its period (or in its invoice),
    `charges_gone` (lines its evidence named that the billing history no longer holds) and
    `sim` (its SIM in tonight's inventory, when it names one)."""
    iccids = sorted({c["iccid"] for c in closing if c["iccid"]})
    msisdns = sorted({c["msisdn"] for c in closing if c["msisdn"]})
    lines = (
        night.billing.filter(pl.col("iccid").is_in(iccids) | pl.col("msisdn").is_in(msisdns))
        .select("iccid", "msisdn", "currency", *LINE_FIELDS)
        .collect()
        .to_dicts()
    )
    sims = {
        r["iccid"]: r
        for r in night.inventory.filter(pl.col("iccid").is_in(iccids))
        .select(*SIM_FIELDS)
        .collect()
        .to_dicts()
    }
    out: dict[str, Any] = {}
    for case in closing:
        mine = [
            line
            for line in lines
            if (case["iccid"] and line["iccid"] == case["iccid"])
            or (not case["iccid"] and case["msisdn"] and line["msisdn"] == case["msisdn"])
        ]
        start, end = case["period_start"], case["period_end"]
        credits = [
            {**_plain(line, LINE_FIELDS), "currency": line["currency"]}
            for line in mine
            if line["charge_type"] == "credit"
            and (case["invoice_id"] is None or line["invoice_id"] == case["invoice_id"])
            and (start is None or line["period_end"] >= start)
            and (end is None or line["period_start"] <= end)
        ]
        try:
            named = set(_line_ids(json.loads(case["evidence"] or "{}")))
        except ValueError:
            named = set()
        present = {line["line_id"] for line in mine}
        evidence: dict[str, Any] = {
            "credit_lines": credits,
            "charges_gone": sorted(named - present),
        }
        if case["iccid"] in sims:
            evidence["sim"] = _plain(sims[case["iccid"]], SIM_FIELDS)
        out[case["case_id"]] = evidence
    return out
