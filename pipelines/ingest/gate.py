"""The night gate's judgement of a night's inputs (contract section 1.0), before commit.

A source fails when its quarantined rows exceed its threshold share of the rows read;
the inventory fails when it is empty or holds fewer than the minimum share of the ICCIDs
of the previous snapshot. (Whether the previous night was processed is the night's to
judge: see `pipelines.night`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from pipelines.settings import GateSettings

INVENTORY = "sim_inventory"


@dataclass(frozen=True)
class SourceVerdict:
    """One source's rows and what the gate made of them."""

    source: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    quarantine_max: Decimal
    problems: tuple[str, ...] = ()

    @property
    def share(self) -> Decimal:
        """The quarantined share of the rows read (0 when none was read)."""
        return Decimal(self.rows_quarantined) / self.rows_read if self.rows_read else Decimal(0)

    @property
    def passed(self) -> bool:
        return not self.problems

    def line(self, business_date: date) -> str:
        """The console line of every night: read, loaded, quarantined (share), verdict."""
        verdict = "passed" if self.passed else "REFUSED: " + "; ".join(self.problems)
        return (
            f"{business_date} {self.source:<19} read {self.rows_read:>8}  loaded "
            f"{self.rows_loaded:>8}  quarantined {self.rows_quarantined:>7} "
            f"({_percent(self.share)}, max {_percent(self.quarantine_max)})  {verdict}"
        )

    def summary(self) -> dict[str, object]:
        return {
            "quarantined_share": f"{self.share:.4f}",
            "quarantine_max": str(self.quarantine_max),
            "verdict": "passed" if self.passed else "refused",
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class InventoryCheck:
    """Tonight's snapshot against the previous one."""

    iccids: int
    previous_night: date | None
    previous_iccids: int | None
    kept: int | None  # previous ICCIDs still in tonight's snapshot

    def summary(self) -> dict[str, object]:
        return {
            "iccids": self.iccids,
            "previous_night": self.previous_night.isoformat() if self.previous_night else None,
            "previous_iccids": self.previous_iccids,
            "previous_iccids_kept": self.kept,
        }


def judge_sources(
    stats: Mapping[str, Mapping[str, object]], settings: GateSettings
) -> dict[str, SourceVerdict]:
    """Each source's quarantine share against its threshold."""
    verdicts = {}
    for source, s in stats.items():
        read, loaded, quarantined = (
            int(str(s[k])) for k in ("rows_read", "rows_loaded", "rows_quarantined")
        )
        limit = settings.quarantine_max[source]
        problems: tuple[str, ...] = ()
        if quarantined > limit * read:
            problems = (f"{_percent(Decimal(quarantined) / read)} of the rows quarantined",)
        verdicts[source] = SourceVerdict(source, read, loaded, quarantined, limit, problems)
    return verdicts


def check_inventory(
    tonight: pl.DataFrame,
    previous: pl.LazyFrame | None,
    previous_night: date | None,
    settings: GateSettings,
) -> tuple[InventoryCheck, list[str]]:
    """Tonight's curated snapshot (its `iccid` column) against the previous night's.

    ICCIDs are unique within a curated snapshot (ingest quarantines duplicates)."""
    iccids = tonight.select("iccid")
    if previous is None or previous_night is None:
        check = InventoryCheck(iccids.height, None, None, None)
    else:
        before = previous.select("iccid").collect()
        kept = before.join(iccids, on="iccid", how="semi").height
        check = InventoryCheck(iccids.height, previous_night, before.height, kept)
    problems = []
    if iccids.is_empty():
        problems.append("the snapshot is empty" + _previous(check))
    elif (
        check.previous_iccids
        and check.kept is not None
        and check.kept < settings.inventory_min_share * check.previous_iccids
    ):
        share = _percent(Decimal(check.kept) / check.previous_iccids)
        problems.append(
            f"it holds {check.kept} of the {check.previous_iccids} ICCIDs of the "
            f"{check.previous_night} snapshot ({share}, at least "
            f"{_percent(settings.inventory_min_share)} needed)"
        )
    return check, problems


def with_problems(verdict: SourceVerdict, problems: list[str]) -> SourceVerdict:
    return SourceVerdict(
        verdict.source,
        verdict.rows_read,
        verdict.rows_loaded,
        verdict.rows_quarantined,
        verdict.quarantine_max,
        (*verdict.problems, *problems),
    )


def _previous(check: InventoryCheck) -> str:
    if check.previous_iccids is None:
        return ""
    return f" (the {check.previous_night} snapshot held {check.previous_iccids} ICCIDs)"


def _percent(share: Decimal) -> str:
    return f"{share * 100:.2f}%"
