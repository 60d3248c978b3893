"""The case store: what each night's detections do to the cases, and triage by people."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import (
    Connection,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL

from pipelines.casestore.engine import make_engine
from pipelines.casestore.migrate import ensure_current
from pipelines.casestore.schema import (
    MANUAL_RESOLUTION,
    PIPELINE_ACTOR,
    case_history,
    case_sightings,
    cases,
    runs,
)
from pipelines.catalogue import (
    CASE_COLUMNS,
    DETECTION_COLUMNS,
    NO_LONGER_DETECTED,
    RULE_SPECS,
    SEVERITY_ORDER,
    STATUSES,
)
from pipelines.rules.detections import DETECTION_SCHEMA
from pipelines.settings import case_store_url

# Published after CASE_COLUMNS: the triage state behind `status`.
PUBLISHED_EXTRAS: dict[str, pl.DataType] = {
    "resolution": pl.String(),
    "owner": pl.String(),
    "times_seen": pl.Int64(),
}
# Detection fields a later sighting may refresh (case_id and rule_id make the identity).
DETAIL_FIELDS = tuple(c for c in DETECTION_COLUMNS if c not in ("case_id", "rule_id"))
HISTORY_RULES = tuple(r for r, spec in RULE_SPECS.items() if spec.rejudges_history)
ACTIVE = ("open", "acknowledged")
CHUNK = 500


class CaseNotFound(KeyError):
    """No case has this case_id."""


@dataclass(frozen=True)
class NightOutcome:
    """What `record_night` did: the night's published cases and per-rule counts.

    counts[rule_id] = {"new": first seen tonight, "still_open": seen before and open or
    acknowledged after tonight, "closed": closed tonight as no longer detected}.
    """

    run_id: str
    business_date: date
    published: pl.DataFrame
    counts: dict[str, dict[str, int]]


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _jsonable(value: object) -> object:
    """A value as it goes into a history row's JSON `changes`."""
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def normalise_detections(detections: pl.DataFrame) -> pl.DataFrame:
    """Tonight's detections as DETECTION_COLUMNS with their contract dtypes, checked."""
    missing = [c for c in DETECTION_COLUMNS if c not in detections.columns]
    if missing:
        raise ValueError(f"detections lack columns: {', '.join(missing)}")
    amount_dtype = detections.schema["amount_at_risk"]
    if amount_dtype.is_float() or (isinstance(amount_dtype, pl.Decimal) and amount_dtype.scale > 2):
        raise ValueError(f"amount_at_risk must be Decimal(18, 2), not {amount_dtype}")
    frame = detections.select(
        pl.col(c).cast(dtype, strict=True) for c, dtype in DETECTION_SCHEMA.items()
    )
    for column in ("case_id", "rule_id", "severity"):
        if frame[column].null_count():
            raise ValueError(f"detections have null {column}")
    if frame["case_id"].n_unique() != frame.height:
        raise ValueError("detections have duplicate case_id values")
    unknown = sorted(set(frame["rule_id"]) - set(RULE_SPECS))
    if unknown:
        raise ValueError(f"detections of unknown rules: {', '.join(unknown)}")
    return frame


class CaseStore:
    """Cases, their sightings, their history and the runs, in one SQL database."""

    def __init__(self, url: str | URL):
        """Connect to `url` (SQLAlchemy URL) after checking its schema version.

        Raises SchemaError when the store must first be upgraded with `recon db upgrade`.
        """
        self.engine = make_engine(url)
        try:
            ensure_current(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def latest_business_date(self) -> date | None:
        """The latest business date any run has recorded, or None for an empty store."""
        with self.engine.connect() as conn:
            return conn.scalar(select(func.max(runs.c.business_date)))

    # -- the nightly update -------------------------------------------------------------

    def record_night(
        self, business_date: date, detections: pl.DataFrame, run_id: str
    ) -> NightOutcome:
        """Apply one night's detections to the cases, in one transaction.

        New case ids open; known ones move first_seen/last_seen, count a sighting once per
        night, take tonight's details when tonight is their latest sighting, and reopen
        when the pipeline had closed them on or before tonight. When tonight is not older
        than any recorded night, open or acknowledged cases of history-rejudging rules not
        found tonight (and last seen before it) close as no longer detected.
        """
        frame = normalise_detections(detections)
        night = business_date
        with self.engine.begin() as conn:
            if conn.scalar(select(runs.c.run_id).where(runs.c.run_id == run_id)) is not None:
                raise ValueError(f"run {run_id} is already recorded")
            latest = conn.scalar(select(func.max(runs.c.business_date)))
            conn.execute(insert(runs).values(run_id=run_id, business_date=night, started_at=_now()))
            is_latest = latest is None or night >= latest
            writer = _NightWriter(conn, night, run_id).apply(frame.to_dicts(), is_latest)
            if is_latest:
                writer.close_missing(frame["case_id"].to_list())
            counts = writer.counts(frame)
            conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(finished_at=_now(), detections=frame.height, counts=counts)
            )
            published = _published(frame, night, writer.final, writer.published_state)
        return NightOutcome(run_id, night, published, counts)

    # -- reading ------------------------------------------------------------------------

    def list_cases(
        self,
        rule: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        customer: str | None = None,
        min_amount: Decimal | int | str | None = None,
        min_age_days: int | None = None,
        as_of: date | None = None,
    ) -> list[dict[str, Any]]:
        """Cases matching every filter given, most severe and largest amount first.

        Age is counted in days from first_seen to `as_of` (default: the latest business
        date recorded, else today); each dict carries it as `age_days`. `min_amount`
        compares the signed amount_at_risk; cases without an amount never match it.
        """
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        if severity is not None and severity not in SEVERITY_ORDER:
            raise ValueError(f"unknown severity {severity!r}")
        as_of = as_of or self.latest_business_date() or date.today()
        query = select(cases)
        for column, value in (
            (cases.c.rule_id, rule),
            (cases.c.severity, severity),
            (cases.c.status, status),
            (cases.c.customer_id, customer),
        ):
            if value is not None:
                query = query.where(column == value)
        if min_age_days is not None:
            query = query.where(cases.c.first_seen <= as_of - timedelta(days=min_age_days))
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        if min_amount is not None:
            floor = Decimal(min_amount)
            rows = [
                r for r in rows if r["amount_at_risk"] is not None and r["amount_at_risk"] >= floor
            ]
        for row in rows:
            row["age_days"] = (as_of - row["first_seen"]).days
        return sorted(rows, key=_triage_order)

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        """The case with its `history` (oldest first) and the customer's `other_cases`."""
        with self.engine.connect() as conn:
            row = conn.execute(select(cases).where(cases.c.case_id == case_id)).mappings().first()
            if row is None:
                return None
            case = dict(row)
            case["history"] = [
                dict(h)
                for h in conn.execute(
                    select(case_history)
                    .where(case_history.c.case_id == case_id)
                    .order_by(case_history.c.id)
                ).mappings()
            ]
            others: list[dict[str, Any]] = []
            if case["customer_id"] is not None:
                others = [
                    dict(o)
                    for o in conn.execute(
                        select(cases).where(
                            cases.c.customer_id == case["customer_id"],
                            cases.c.case_id != case_id,
                        )
                    ).mappings()
                ]
        case["other_cases"] = sorted(others, key=_triage_order)
        return case

    # -- triage by people ---------------------------------------------------------------

    def set_status(self, case_id: str, status: str, by: str, note: str | None = None) -> bool:
        """A person sets the status; 'resolved' gets resolution 'manual'. False: no change."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        _check_person(by)
        resolution = MANUAL_RESOLUTION if status == "resolved" else None
        with self.engine.begin() as conn:
            old = _case_for_update(conn, case_id)
            if (old["status"], old["resolution"]) == (status, resolution):
                return False
            conn.execute(
                update(cases)
                .where(cases.c.case_id == case_id)
                .values(status=status, resolution=resolution, closed_on=None, updated_at=_now())
            )
            changes = (
                {"resolution": [old["resolution"], resolution]}
                if old["resolution"] != resolution
                else None
            )
            _add_history(conn, case_id, by, "status_changed", old["status"], status, note, changes)
        return True

    def assign(self, case_id: str, owner: str | None, by: str, note: str | None = None) -> bool:
        """A person gives the case to `owner` (None: nobody). False: no change."""
        _check_person(by)
        with self.engine.begin() as conn:
            old = _case_for_update(conn, case_id)
            if old["owner"] == owner:
                return False
            conn.execute(
                update(cases)
                .where(cases.c.case_id == case_id)
                .values(owner=owner, updated_at=_now())
            )
            _add_history(
                conn,
                case_id,
                by,
                "assigned",
                old["status"],
                old["status"],
                note,
                {"owner": [old["owner"], owner]},
            )
        return True


def open_store(db_url: str | None = None, warehouse: str | None = None) -> CaseStore:
    """The case store at `settings.case_store_url(db_url, warehouse)`."""
    return CaseStore(case_store_url(db_url, warehouse))


class _NightWriter:
    """The writes of one record_night, on its transaction's connection."""

    def __init__(self, conn: Connection, night: date, run_id: str):
        self.conn, self.night, self.run_id = conn, night, run_id
        self.final: dict[str, dict[str, Any]] = {}  # case_id -> case row after tonight
        self.published_state: dict[str, dict[str, Any]] = {}  # case_id -> state published
        self.history: list[dict[str, Any]] = []

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

    def apply(self, detections: list[dict[str, Any]], is_latest: bool) -> _NightWriter:
        """Insert new cases, update known ones, record tonight's sightings.

        The state published for the night (status, first_seen, last_seen) is the case's
        state after tonight when tonight is the latest night; a rerun of an older night
        republishes the state recorded in its sightings, so the night reproduces exactly.
        """
        night, conn = self.night, self.conn
        ids = [d["case_id"] for d in detections]
        known: dict[str, dict[str, Any]] = {}
        sighted: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            known.update(
                (r["case_id"], dict(r))
                for r in conn.execute(select(cases).where(cases.c.case_id.in_(chunk))).mappings()
            )
            sighted.update(
                (r["case_id"], dict(r))
                for r in conn.execute(
                    select(
                        case_sightings.c.case_id,
                        case_sightings.c.amount_at_risk,
                        case_sightings.c.currency,
                        case_sightings.c.status,
                        case_sightings.c.first_seen,
                    ).where(
                        case_sightings.c.business_date == night,
                        case_sightings.c.case_id.in_(chunk),
                    )
                ).mappings()
            )
        new_cases, changed_cases, new_sightings, changed_sightings = [], [], [], []
        for det in detections:
            cid = det["case_id"]
            old = known.get(cid)
            if old is None:
                row = {
                    **det,
                    "status": "open",
                    "resolution": None,
                    "owner": None,
                    "first_seen": night,
                    "last_seen": night,
                    "closed_on": None,
                    "times_seen": 1,
                    "updated_at": _now(),
                }
                new_cases.append(row)
                self._history(cid, "created", None, "open", f"first detected on {night}")
            else:
                row = self._seen_again(old, det, seen_before=cid in sighted)
                if row != old:
                    changed_cases.append({**row, "updated_at": _now(), "b_case_id": cid})
            self.final[cid] = row
            before = sighted.get(cid)
            state = (
                {"status": row["status"], "first_seen": row["first_seen"]}
                if is_latest or before is None
                else {"status": before["status"], "first_seen": before["first_seen"]}
            )
            self.published_state[cid] = {**state, "last_seen": night}
            sighting = {
                "case_id": cid,
                "business_date": night,
                "amount_at_risk": det["amount_at_risk"],
                "currency": det["currency"],
                **state,
            }
            if before is None:
                new_sightings.append({**sighting, "run_id": self.run_id})
            elif any(before[k] != sighting[k] for k in before):
                changed_sightings.append({**sighting, "b_case_id": cid})
        if new_cases:
            conn.execute(insert(cases), new_cases)
        if changed_cases:
            conn.execute(
                update(cases).where(cases.c.case_id == bindparam("b_case_id")),
                [{k: v for k, v in r.items() if k != "case_id"} for r in changed_cases],
            )
        if new_sightings:
            conn.execute(insert(case_sightings), new_sightings)
        if changed_sightings:
            conn.execute(
                update(case_sightings).where(
                    case_sightings.c.case_id == bindparam("b_case_id"),
                    case_sightings.c.business_date == bindparam("b_night"),
                ),
                [
                    {
                        "b_case_id": s["b_case_id"],
                        "b_night": night,
                        "amount_at_risk": s["amount_at_risk"],
                        "currency": s["currency"],
                        "status": s["status"],
                        "first_seen": s["first_seen"],
                    }
                    for s in changed_sightings
                ],
            )
        self._flush_history()
        return self

    def _seen_again(
        self, old: dict[str, Any], det: dict[str, Any], seen_before: bool
    ) -> dict[str, Any]:
        """A known case found tonight: its row after tonight, queuing history for changes."""
        night, cid = self.night, old["case_id"]
        row = dict(old)
        row["first_seen"] = min(old["first_seen"], night)
        row["last_seen"] = max(old["last_seen"], night)
        row["times_seen"] = old["times_seen"] + (0 if seen_before else 1)
        if night >= old["last_seen"]:
            changes = {
                f: [_jsonable(old[f]), _jsonable(det[f])] for f in DETAIL_FIELDS if old[f] != det[f]
            }
            if changes:
                row.update({f: det[f] for f in changes})
                self._history(
                    cid,
                    "details_changed",
                    old["status"],
                    old["status"],
                    f"{', '.join(changes)} changed on {night}",
                    changes,
                )
        if (
            old["resolution"] == NO_LONGER_DETECTED
            and old["closed_on"] is not None
            and night >= old["closed_on"]
        ):
            row.update(status="open", resolution=None, closed_on=None)
            self._history(cid, "reopened", old["status"], "open", f"detected again on {night}")
        return row

    def close_missing(self, detected: list[str]) -> None:
        """Close open/acknowledged cases of history-rejudging rules not seen tonight."""
        night, conn = self.night, self.conn
        tonight = set(detected)
        missing = [
            (cid, status)
            for cid, status in conn.execute(
                select(cases.c.case_id, cases.c.status).where(
                    cases.c.rule_id.in_(HISTORY_RULES),
                    cases.c.status.in_(ACTIVE),
                    cases.c.last_seen < night,
                )
            )
            if cid not in tonight
        ]
        for chunk in _chunks([cid for cid, _ in missing]):
            conn.execute(
                update(cases)
                .where(cases.c.case_id.in_(chunk))
                .values(
                    status="resolved",
                    resolution=NO_LONGER_DETECTED,
                    closed_on=night,
                    updated_at=_now(),
                )
            )
        for cid, status in missing:
            self._history(cid, "closed", status, "resolved", f"no longer detected on {night}")
        self._flush_history()

    def _flush_history(self) -> None:
        if self.history:
            self.conn.execute(insert(case_history), self.history)
            self.history = []

    def counts(self, frame: pl.DataFrame) -> dict[str, dict[str, int]]:
        """Per rule: new, still open and closed tonight (the same on a rerun of the night)."""
        counts = {r: {"new": 0, "still_open": 0, "closed": 0} for r in RULE_SPECS}
        for cid in frame["case_id"]:
            row = self.final[cid]
            if row["first_seen"] == self.night:
                counts[row["rule_id"]]["new"] += 1
            elif row["status"] in ACTIVE:
                counts[row["rule_id"]]["still_open"] += 1
        closed = self.conn.execute(
            select(cases.c.rule_id, func.count())
            .where(cases.c.closed_on == self.night, cases.c.resolution == NO_LONGER_DETECTED)
            .group_by(cases.c.rule_id)
        )
        for rule_id, n in closed:
            counts[rule_id]["closed"] = n
        return counts


def _published(
    frame: pl.DataFrame,
    night: date,
    final: dict[str, dict[str, Any]],
    published_state: dict[str, dict[str, Any]],
) -> pl.DataFrame:
    """Tonight's detections with their published state: CASE_COLUMNS then PUBLISHED_EXTRAS."""
    state_columns = {
        "status": pl.String(),
        "first_seen": pl.Date(),
        "last_seen": pl.Date(),
        **PUBLISHED_EXTRAS,
    }
    ids = frame["case_id"].to_list()
    rows = {i: {**final[i], **published_state[i]} for i in ids}
    state = pl.DataFrame(
        {"case_id": ids, **{c: [rows[i][c] for i in ids] for c in state_columns}},
        schema={"case_id": pl.String(), **state_columns},
    )
    return (
        frame.join(state, on="case_id", how="left")
        .with_columns(business_date=pl.lit(night, dtype=pl.Date()))
        .select(*CASE_COLUMNS, *PUBLISHED_EXTRAS)
        .sort("rule_id", "case_id")
    )


def _triage_order(case: dict[str, Any]) -> tuple[object, ...]:
    amount = case["amount_at_risk"]
    return (
        SEVERITY_ORDER.get(case["severity"], len(SEVERITY_ORDER)),
        amount is None,
        -(amount or 0),
        case["first_seen"],
        case["case_id"],
    )


def _check_person(by: str) -> None:
    if not by or not by.strip():
        raise ValueError("say who makes the change (by)")
    if by == PIPELINE_ACTOR:
        raise ValueError(f"{PIPELINE_ACTOR!r} is reserved for the pipeline")


def _case_for_update(conn: Connection, case_id: str) -> dict[str, Any]:
    query = select(cases).where(cases.c.case_id == case_id).with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise CaseNotFound(case_id)
    return dict(row)


def _add_history(
    conn: Connection,
    case_id: str,
    actor: str,
    action: str,
    old_status: str | None,
    new_status: str | None,
    note: str | None,
    changes: dict[str, list[object]] | None,
) -> None:
    conn.execute(
        insert(case_history).values(
            case_id=case_id,
            at=_now(),
            business_date=None,
            run_id=None,
            actor=actor,
            action=action,
            old_status=old_status,
            new_status=new_status,
            note=note,
            changes=changes,
        )
    )
