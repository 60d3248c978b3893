"""What one night's detections do to the cases, in memory first, then written as a diff.

A night is applied to each case's state *before* it: the case as stored, or, when the
latest night is run again, the case as it was before that night's earlier runs (their
pipeline changes undone from the history, last_seen and times_seen recounted from the
other nights' sightings). So a rerun of the latest night leaves every case as one run on
the corrected inputs would have; what differs from the stored case is written, with one
history row per change, recorded with the run that made it (contract section 3).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from pipelines.casestore.schema import (
    PIPELINE_ACTOR,
    PIPELINE_RECOVERY,
    WITHDRAWN_RESOLUTION,
    case_history,
    case_sightings,
    cases,
    recoveries,
)
from pipelines.catalogue import (
    DETECTION_COLUMNS,
    NO_LONGER_DETECTED,
    OPEN_STATUSES,
    RULE_SPECS,
    WITHDRAWN,
)

# Detection fields a later sighting may refresh (case_id and rule_id make the identity).
DETAIL_FIELDS = tuple(c for c in DETECTION_COLUMNS if c not in ("case_id", "rule_id"))
CLOSE_FIELDS = ("resolution", "closed_on")
DATE_FIELDS = frozenset({"period_start", "period_end", "closed_on"})
HISTORY_RULES = tuple(r for r, spec in RULE_SPECS.items() if spec.rejudges_history)
CHUNK = 500
Row = dict[str, Any]
# What cleared each case closing tonight (case_id -> JSON-able evidence), from the night.
Clearing = Callable[[list[Row]], dict[str, Any]]


def _now() -> datetime:
    return datetime.now(UTC)


def chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def jsonable(value: object) -> object:
    """A value as it goes into a history row's JSON `changes`."""
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def _typed(field: str, value: object) -> object:
    """A `changes` value back as the column's Python value."""
    if value is None:
        return None
    if field in DATE_FIELDS:
        return date.fromisoformat(str(value))
    if field == "amount_at_risk":
        return Decimal(str(value))
    return value


def letter_send_date(rule_id: str, evidence: str | None) -> date | None:
    """The scheduled send date of a letter case's letter (from its evidence), else None."""
    if RULE_SPECS[rule_id].key != ("letter_id",) or not evidence:
        return None
    try:
        sent = json.loads(evidence).get("letter", {}).get("scheduled_send_date")
        return date.fromisoformat(sent) if isinstance(sent, str) else None
    except (ValueError, AttributeError):
        return None


class NightWriter:
    """The writes of one record_night, on its transaction's connection.

    `replaces`: the night is the latest and has earlier runs, whose work this run replaces.
    """

    def __init__(
        self,
        conn: Connection,
        night: date,
        run_id: str,
        is_latest: bool,
        replaces: bool,
        clearing: Clearing | None = None,
    ):
        self.conn, self.night, self.run_id, self.clearing = conn, night, run_id, clearing
        self.is_latest, self.replaces = is_latest, replaces
        self.stored: dict[str, Row] = {}  # case_id -> the case as stored before this run
        self.sighted: dict[str, Row] = {}  # case_id -> its sighting of tonight, if any
        self.before: dict[str, Row | None] = {}  # rerun: the case before tonight's earlier runs
        self.final: dict[str, Row] = {}  # case_id -> the case after this run
        self.published_state: dict[str, Row] = {}  # case_id -> state published for tonight
        self.history: list[Row] = []

    # -- reading ------------------------------------------------------------------------

    def _load(self, ids: Iterable[str]) -> None:
        """Stored rows and tonight's sightings of `ids` not loaded yet."""
        todo = [i for i in dict.fromkeys(ids) if i not in self.stored]
        for chunk in chunks(todo):
            query = select(cases).where(cases.c.case_id.in_(chunk))
            self.stored.update((r["case_id"], dict(r)) for r in self.conn.execute(query).mappings())
            sightings = select(
                case_sightings.c.case_id,
                case_sightings.c.amount_at_risk,
                case_sightings.c.currency,
                case_sightings.c.status,
                case_sightings.c.first_seen,
            ).where(
                case_sightings.c.business_date == self.night, case_sightings.c.case_id.in_(chunk)
            )
            self.sighted.update(
                (r["case_id"], dict(r)) for r in self.conn.execute(sightings).mappings()
            )

    def _undo_earlier_runs(self) -> None:
        """`before`: each case that tonight's earlier runs touched, as it was before them."""
        touched = [
            cid
            for (cid,) in self.conn.execute(
                select(case_sightings.c.case_id)
                .where(case_sightings.c.business_date == self.night)
                .union(
                    select(case_history.c.case_id).where(
                        case_history.c.business_date == self.night,
                        case_history.c.actor == PIPELINE_ACTOR,
                    )
                )
            )
        ]
        self._load(touched)
        entries: dict[str, list[Row]] = {cid: [] for cid in touched}
        others: dict[str, list[date]] = {cid: [] for cid in touched}
        for chunk in chunks(touched):
            for h in self.conn.execute(
                select(case_history)
                .where(
                    case_history.c.case_id.in_(chunk),
                    case_history.c.business_date == self.night,
                    case_history.c.actor == PIPELINE_ACTOR,
                )
                .order_by(case_history.c.id)
            ).mappings():
                entries[h["case_id"]].append(dict(h))
            for cid, night in self.conn.execute(
                select(case_sightings.c.case_id, case_sightings.c.business_date).where(
                    case_sightings.c.case_id.in_(chunk),
                    case_sightings.c.business_date != self.night,
                )
            ):
                others[cid].append(night)
        for cid in touched:
            self.before[cid] = _undone(self.stored[cid], entries[cid], others[cid])

    # -- tonight ------------------------------------------------------------------------

    def apply(self, detections: list[Row]) -> NightWriter:
        """Work out every case's state after tonight, then write what changed."""
        self._load(d["case_id"] for d in detections)
        if self.replaces:
            self._undo_earlier_runs()
        for det in detections:
            cid = det["case_id"]
            base = self.before[cid] if cid in self.before else self.stored.get(cid)
            if base is None or base["status"] == WITHDRAWN:
                row = self._fresh(det, self.stored.get(cid))
            else:
                seen_before = cid in self.sighted and cid not in self.before
                row = self._seen_again(base, det, seen_before)
            self.final[cid] = row
            before = self.sighted.get(cid)
            state = (
                {"status": row["status"], "first_seen": row["first_seen"]}
                if self.is_latest or before is None
                else {"status": before["status"], "first_seen": before["first_seen"]}
            )
            self.published_state[cid] = {**state, "last_seen": self.night}
        if self.is_latest:
            self._judge_missing()
        self._write(detections)
        return self

    def _fresh(self, det: Row, stored: Row | None) -> Row:
        """A case first found tonight (or found again after its withdrawal).

        A person's triage of a case that tonight's earlier run raised stands.
        """
        triaged = stored if stored is not None and stored["status"] != WITHDRAWN else None
        return {
            **det,
            "status": triaged["status"] if triaged else "open",
            "resolution": triaged["resolution"] if triaged else None,
            "owner": stored["owner"] if stored is not None else None,
            "first_seen": self.night,
            "last_seen": self.night,
            "closed_on": None,
            "times_seen": 1,
        }

    def _seen_again(self, old: Row, det: Row, seen_before: bool) -> Row:
        """A known case found tonight: moves its dates, refreshes its details when tonight
        is its latest sighting, reopens it when the pipeline had closed it by tonight."""
        night = self.night
        row = dict(old)
        row["first_seen"] = min(old["first_seen"], night)
        row["last_seen"] = max(old["last_seen"], night)
        row["times_seen"] = old["times_seen"] + (0 if seen_before else 1)
        if night >= old["last_seen"]:
            row.update({f: det[f] for f in DETAIL_FIELDS})
        if (
            old["resolution"] == NO_LONGER_DETECTED
            and old["closed_on"] is not None
            and night >= old["closed_on"]
        ):
            row.update(status="open", resolution=None, closed_on=None)
        return row

    def _judge_missing(self) -> None:
        """Cases not found tonight: withdraw what only tonight's earlier runs raised; close
        open or acknowledged cases of history-rejudging rules last seen before tonight."""
        for cid, base in self.before.items():
            if cid in self.final:
                continue
            if base is None:
                self.final[cid] = {
                    **self.stored[cid],
                    "status": WITHDRAWN,
                    "resolution": WITHDRAWN_RESOLUTION,
                    "closed_on": None,
                }
            else:
                self.final[cid] = self._closed(base) if self._closes(base) else base
        query = select(cases).where(
            cases.c.rule_id.in_(HISTORY_RULES),
            cases.c.status.in_(OPEN_STATUSES),
            cases.c.last_seen < self.night,
        )
        for row in self.conn.execute(query).mappings():
            cid = row["case_id"]
            if cid not in self.final and cid not in self.before:
                self.stored[cid] = dict(row)
                self.final[cid] = self._closed(dict(row))

    def _closes(self, row: Row) -> bool:
        return (
            row["rule_id"] in HISTORY_RULES
            and row["status"] in OPEN_STATUSES
            and row["last_seen"] < self.night
        )

    def _closed(self, row: Row) -> Row:
        return {
            **row,
            "status": "resolved",
            "resolution": NO_LONGER_DETECTED,
            "closed_on": self.night,
        }

    # -- writing ------------------------------------------------------------------------

    def _write(self, detections: list[Row]) -> None:
        new_cases, changed_cases = [], []
        for cid, row in self.final.items():
            row["letter_send_date"] = letter_send_date(row["rule_id"], row["evidence"])
            old = self.stored.get(cid)
            if old is None:
                new_cases.append({**row, "updated_at": _now()})
                self._history(
                    cid, "created", None, row["status"], f"first detected on {self.night}"
                )
                continue
            if all(old[k] == row[k] for k in row if k != "updated_at"):
                continue
            changed_cases.append({**row, "updated_at": _now(), "b_case_id": cid})
            self._changes(old, row)
        if new_cases:
            self.conn.execute(insert(cases), new_cases)
        if changed_cases:
            self.conn.execute(
                update(cases).where(cases.c.case_id == bindparam("b_case_id")),
                [{k: v for k, v in r.items() if k != "case_id"} for r in changed_cases],
            )
        self._write_sightings(detections)
        self._write_recoveries()
        if self.history:
            self.conn.execute(insert(case_history), self.history)

    def _write_recoveries(self) -> None:
        """Keep one pipeline recovery per case closed as no longer detected, for its current
        closure: a closure gets one (the amount last at risk, what cleared it), a reopening
        or a rerun that undoes the closure takes it away."""
        ids = list(self.final)
        have: dict[str, date] = {}
        for chunk in chunks(ids):
            query = select(recoveries.c.case_id, recoveries.c.recovered_on).where(
                recoveries.c.case_id.in_(chunk), recoveries.c.method == PIPELINE_RECOVERY
            )
            have.update((cid, on) for cid, on in self.conn.execute(query))
        want = {
            cid: row["closed_on"]
            for cid, row in self.final.items()
            if row["resolution"] == NO_LONGER_DETECTED and row["closed_on"] is not None
        }
        stale = [cid for cid in have if want.get(cid) != have[cid]]
        for chunk in chunks(stale):
            self.conn.execute(
                delete(recoveries).where(
                    recoveries.c.case_id.in_(chunk), recoveries.c.method == PIPELINE_RECOVERY
                )
            )
        closing = [self.final[cid] for cid in want if have.get(cid) != want[cid]]
        if not closing:
            return
        cleared = self.clearing(closing) if self.clearing else {}
        self.conn.execute(
            insert(recoveries),
            [
                {
                    "case_id": row["case_id"],
                    "recovered_on": row["closed_on"],
                    "amount": row["amount_at_risk"],
                    "currency": row["currency"],
                    "amount_kind": row["amount_kind"],
                    "method": PIPELINE_RECOVERY,
                    "evidence": json.dumps(
                        {
                            "cleared_on": str(row["closed_on"]),
                            "last_seen": str(row["last_seen"]),
                            **cleared.get(row["case_id"], {}),
                        },
                        sort_keys=True,
                        default=str,
                    ),
                    "business_date": self.night,
                    "run_id": self.run_id,
                    "actor": PIPELINE_ACTOR,
                    "recorded_at": _now(),
                }
                for row in closing
            ],
        )

    def _changes(self, old: Row, new: Row) -> None:
        """History rows for what tonight changed in a stored case (dates and counts aside)."""
        cid, night = old["case_id"], self.night
        details = {
            f: [jsonable(old[f]), jsonable(new[f])] for f in DETAIL_FIELDS if old[f] != new[f]
        }
        if details:
            note = f"{', '.join(details)} changed on {night}"
            self._history(cid, "details_changed", old["status"], old["status"], note, details)
        closing = {
            f: [jsonable(old[f]), jsonable(new[f])] for f in CLOSE_FIELDS if old[f] != new[f]
        }
        if old["status"] == new["status"] and not closing:
            return
        if new["status"] == WITHDRAWN:
            action, note = "withdrawn", f"not found by the rerun of {night}"
        elif old["status"] == WITHDRAWN:
            action, note = "reopened", f"detected again on {night} after its withdrawal"
        elif new["resolution"] == NO_LONGER_DETECTED:
            action, note = "closed", f"no longer detected on {night}"
            if new["amount_at_risk"] is not None:
                note += f": {new['amount_at_risk']} {new['currency'] or ''} no longer at risk"
                note = note.rstrip()
        else:
            action, note = "reopened", f"detected again on {night}"
        self._history(cid, action, old["status"], new["status"], note, closing or None)

    def _write_sightings(self, detections: list[Row]) -> None:
        night = self.night
        fresh, changed = [], []
        for det in detections:
            cid = det["case_id"]
            state = self.published_state[cid]
            sighting = {
                "amount_at_risk": det["amount_at_risk"],
                "currency": det["currency"],
                "status": state["status"],
                "first_seen": state["first_seen"],
            }
            before = self.sighted.get(cid)
            if before is None:
                fresh.append(
                    {"case_id": cid, "business_date": night, "run_id": self.run_id, **sighting}
                )
            elif any(before[k] != v for k, v in sighting.items()):
                changed.append(
                    {"b_case_id": cid, "b_night": night, "run_id": self.run_id, **sighting}
                )
        if fresh:
            self.conn.execute(insert(case_sightings), fresh)
        if changed:
            self.conn.execute(
                update(case_sightings).where(
                    case_sightings.c.case_id == bindparam("b_case_id"),
                    case_sightings.c.business_date == bindparam("b_night"),
                ),
                changed,
            )
        detected = {d["case_id"] for d in detections}
        gone = [cid for cid in self.sighted if cid not in detected]  # a rerun's withdrawals
        for chunk in chunks(gone):
            self.conn.execute(
                delete(case_sightings).where(
                    and_(
                        case_sightings.c.business_date == night, case_sightings.c.case_id.in_(chunk)
                    )
                )
            )

    def _history(
        self,
        case_id: str,
        action: str,
        old: str | None,
        new: str | None,
        note: str,
        changes: dict[str, list[object]] | None = None,
    ) -> None:
        self.history.append(
            {
                "case_id": case_id,
                "at": _now(),
                "business_date": self.night,
                "run_id": self.run_id,
                "actor": PIPELINE_ACTOR,
                "action": action,
                "old_status": old,
                "new_status": new,
                "note": note,
                "changes": changes,
            }
        )

    def counts(self, detected: list[str]) -> dict[str, dict[str, int]]:
        """Per rule: new and still open among tonight's cases as published; closed and
        withdrawn on tonight, by the last word of tonight's runs in the history. So a rerun
        of an older night counts what that night's run counted, later nights aside."""
        counts = {r: {"new": 0, "still_open": 0, "closed": 0, "withdrawn": 0} for r in RULE_SPECS}
        for cid in detected:
            state, rule_id = self.published_state[cid], self.final[cid]["rule_id"]
            if state["first_seen"] == self.night:
                counts[rule_id]["new"] += 1
            elif state["status"] in OPEN_STATUSES:
                counts[rule_id]["still_open"] += 1
        last: dict[str, tuple[str, str]] = {}
        for cid, rule_id, action in self.conn.execute(
            select(case_history.c.case_id, cases.c.rule_id, case_history.c.action)
            .join(cases, cases.c.case_id == case_history.c.case_id)
            .where(
                case_history.c.business_date == self.night,
                case_history.c.actor == PIPELINE_ACTOR,
                case_history.c.action.in_(("closed", "reopened", WITHDRAWN)),
            )
            .order_by(case_history.c.id)
        ):
            last[cid] = (rule_id, action)
        for rule_id, action in last.values():
            if action == "closed":
                counts[rule_id]["closed"] += 1
            elif action == WITHDRAWN:
                counts[rule_id]["withdrawn"] += 1
        return counts


def _undone(stored: Row, entries: list[Row], other_nights: list[date]) -> Row | None:
    """The case before a night's pipeline changes (`entries`, oldest first), or None when
    that night raised it and no other night has seen it. A field a person has changed
    since keeps its value."""
    if not other_nights and any(e["action"] == "created" for e in entries):
        return None
    row = dict(stored)
    for entry in reversed(entries):
        if entry["new_status"] is not None and row["status"] == entry["new_status"]:
            row["status"] = entry["old_status"] or row["status"]
        changes = entry["changes"]
        if changes is None and entry["action"] == "closed":  # written before closes said so
            changes = {
                "resolution": [None, NO_LONGER_DETECTED],
                "closed_on": [None, str(entry["business_date"])],
            }
        for field, (old, new) in (changes or {}).items():
            if field in row and row[field] == _typed(field, new):
                row[field] = _typed(field, old)
    if other_nights:
        row.update(
            first_seen=min(other_nights), last_seen=max(other_nights), times_seen=len(other_nights)
        )
    return row
