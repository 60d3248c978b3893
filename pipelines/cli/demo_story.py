"""What `recon demo` tells after its backfill: every part of the product, where to see it,
and the guard that keeps a second demo from wiping a warehouse people have worked in."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import polars as pl

from pipelines.casestore import open_store
from pipelines.casestore.accounts import Accounts
from pipelines.casestore.schema import NO_LONGER_DETECTED
from pipelines.ingest.warehouse import history
from pipelines.night import NightResult
from pipelines.storage import open_storage

LETTER_RULES = ("WRONG_DISCONNECT_LETTER", "LETTER_TO_DEPARTED_CUSTOMER")
EXAMPLES = 3


def people_work(warehouse: Path) -> list[str]:
    """What people made in the warehouse's default case store (none without one): changes
    to cases (statuses, owners, contacts) and desk accounts, as phrases."""
    if not (warehouse / "recon.db").exists():
        return []
    with open_store(None, str(warehouse)) as store:
        changes = store.people_changes()
        accounts = len(Accounts(store.engine).names())
    return [
        f"{n} {noun if n == 1 else noun + 's'}{what}"
        for n, noun, what in (
            (changes, "change", " to its cases (statuses, owners, contacts)"),
            (accounts, "desk account", ""),
        )
        if n
    ]


def story(warehouse: Path, results: list[NightResult]) -> list[str]:
    """The demo's closing lines: quality, quarantine, recovery, customers, letters."""
    return [
        *_quality(results),
        *_quarantined(results),
        *_cases(warehouse, results[-1]),
    ]


def _quality(results: list[NightResult]) -> list[str]:
    checked = [r.summary["quality"] for r in results if r.summary["quality"].get("validated")]
    if not checked:
        return ["data quality:  not validated (--no-validate)"]
    passed = sum(1 for q in checked if q["success"])
    return [
        f"data quality:  {len(checked)} of {len(results)} nights validated, {passed} passed "
        f"every suite; pages: {checked[-1]['pages']}"
    ]


def _quarantined(results: list[NightResult]) -> list[str]:
    lines = []
    for result in results:
        gate = result.summary["gate"]["quarantine_max"]
        for source, rows in result.summary["sources"].items():
            if rows["rows_quarantined"]:
                share = Decimal(rows["rows_quarantined"]) / Decimal(rows["rows_read"])
                lines.append(
                    f"quarantined:   {result.business_date} {source}: "
                    f"{rows['rows_quarantined']} of {rows['rows_read']} rows "
                    f"({share:.2%}, under the gate's {Decimal(gate[source]):.0%}: the night "
                    f"passed); its report: {result.report_uri}"
                )
    return lines or ["quarantined:   no row on any night"]


def _cases(warehouse: Path, last: NightResult) -> list[str]:
    with open_store(None, str(warehouse)) as store:
        every = store.list_cases()
    lines = []
    recovered = [c for c in every if c["resolution"] == NO_LONGER_DETECTED]
    lines.append(
        f"recovered:     {_n(len(recovered), 'case')} closed as {NO_LONGER_DETECTED} when a later "
        f"bill cleared {'it' if len(recovered) == 1 else 'them'} (a credit, a charge gone)"
        + "".join(
            f"\n                 {c['case_id']} {c['rule_id']}, closed on {c['closed_on']}"
            for c in recovered[:EXAMPLES]
        )
    )
    rules_of: dict[str, set[str]] = defaultdict(set)
    for case in every:
        if case["customer_id"]:
            rules_of[case["customer_id"]].add(case["rule_id"])
    several = sorted(c for c, rules in rules_of.items() if len(rules) > 1)
    channels = _channels(warehouse, several, last)
    lines.append(
        f"customers:     {_n(len(several), 'customer')} with cases of several rules"
        + "".join(
            f"\n                 {c}: {', '.join(sorted(rules_of[c]))}; transactions "
            f"{', '.join(channels.get(c, [])) or 'none'} "
            f"(recon cases list --customer {c} --warehouse {warehouse})"
            for c in several[:EXAMPLES]
        )
    )
    held = [
        c
        for c in every
        if c["rule_id"] in LETTER_RULES
        and c["last_seen"] == last.business_date
        and c["status"] != "false_positive"
    ]
    per_rule = ", ".join(
        f"{rule} {sum(1 for c in held if c['rule_id'] == rule)}" for rule in LETTER_RULES
    )
    hold_file = Path(last.report_uri).parent / "letters_to_hold.csv"
    where = f"; {hold_file}" if hold_file.exists() else ""
    lines.append(
        f"letters held:  {len(held)} letters of tonight's letter cases ({per_rule}){where}"
    )
    return lines


def _channels(warehouse: Path, customers: list[str], last: NightResult) -> dict[str, list[str]]:
    """The channels each customer's store transactions came through."""
    if not customers:
        return {}
    frame = (
        history(open_storage(str(warehouse)), "store_transactions", last.business_date)
        .filter(pl.col("customer_id").is_in(customers))
        .group_by("customer_id")
        .agg(pl.col("channel").unique().sort())
        .collect()
    )
    return {r["customer_id"]: r["channel"] for r in frame.iter_rows(named=True)}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
