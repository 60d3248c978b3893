"""The case store: what each night's detections do to the cases, and triage by people."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import (
    Connection,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL

from pipelines.casestore.engine import make_engine
from pipelines.casestore.migrate import ensure_current
from pipelines.casestore.nightly import Clearing, NightWriter
from pipelines.casestore.schema import (
    CENT,
    MANUAL_RESOLUTION,
    PERSON_RECOVERY_METHODS,
    PIPELINE_ACTOR,
    case_history,
    case_sightings,
    cases,
    recoveries,
    runs,
)
from pipelines.catalogue import (
    DETECTION_COLUMNS,
    OPEN_STATUSES,
    PERSON_STATUSES,
    PUBLISHED_COLUMNS,
    RULE_SPECS,
    SEVERITY_ORDER,
    STATUSES,
    WITHDRAWN,
    amount_kind,
)
from pipelines.rules.detections import DETECTION_SCHEMA
from pipelines.settings import case_store_url

# Published after PUBLISHED_COLUMNS: the triage state behind `status`.
PUBLISHED_EXTRAS: dict[str, pl.DataType] = {
    "resolution": pl.String(),
    "owner": pl.String(),
    "times_seen": pl.Int64(),
}


class CaseNotFound(KeyError):
    """No case has this case_id."""


@dataclass(frozen=True)
class Recovery:
    """What a person recovered on resolving a case: an amount (None: not priced) and how."""

    amount: Decimal | None
    method: str

    def __post_init__(self) -> None:
        if self.method not in PERSON_RECOVERY_METHODS:
            raise ValueError(
                f"recovered how: one of {', '.join(PERSON_RECOVERY_METHODS)}, not {self.method!r}"
            )
        if self.amount is not None and (
            not self.amount.is_finite()
            or self.amount < 0
            or self.amount != self.amount.quantize(CENT)
        ):
            raise ValueError(f"amount recovered must be at least 0.00, in cents: {self.amount}")

    def text(self, currency: str | None) -> str:
        amount = "not priced" if self.amount is None else f"{self.amount} {currency or ''}".strip()
        return f"{amount} by {self.method.replace('_', ' ')}"


@dataclass(frozen=True)
class NightOutcome:
    """What `record_night` did: the night's published cases and per-rule counts.

    counts[rule_id] = {"new": first seen tonight, "still_open": seen before and open or
    acknowledged after tonight, "closed": closed tonight as no longer detected,
    "withdrawn": withdrawn by this rerun of tonight}.
    """

    run_id: str
    business_date: date
    published: pl.DataFrame
    counts: dict[str, dict[str, int]]


def _now() -> datetime:
    return datetime.now(UTC)


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
    for cid, rule_id, amount, kind in frame.select(
        "case_id", "rule_id", "amount_at_risk", "amount_kind"
    ).iter_rows():
        if kind != amount_kind(rule_id, amount):
            raise ValueError(f"detection {cid}: amount_kind {kind} is not its rule's")
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

    def last_run(self, business_date: date) -> str | None:
        """The run id of the night's last recorded run, or None when it never ran."""
        with self.engine.connect() as conn:
            return conn.scalar(
                select(runs.c.run_id)
                .where(runs.c.business_date == business_date)
                .order_by(runs.c.started_at.desc(), runs.c.run_id.desc())
                .limit(1)
            )

    def has_runs_before(self, business_date: date) -> bool:
        """Whether any night before `business_date` was recorded."""
        with self.engine.connect() as conn:
            earliest = conn.scalar(select(func.min(runs.c.business_date)))
        return earliest is not None and earliest < business_date

    def latest_business_date(self) -> date | None:
        """The latest business date any run has recorded, or None for an empty store."""
        with self.engine.connect() as conn:
            return conn.scalar(select(func.max(runs.c.business_date)))

    def people_changes(self) -> int:
        """How many changes people (not the pipeline) made to cases: statuses, owners,
        contacts."""
        with self.engine.connect() as conn:
            count = conn.scalar(select(func.count()).where(case_history.c.actor != PIPELINE_ACTOR))
        return int(count or 0)

    # -- the nightly update -------------------------------------------------------------

    def record_night(
        self,
        business_date: date,
        detections: pl.DataFrame,
        run_id: str,
        clearing: Clearing | None = None,
    ) -> NightOutcome:
        """Apply one night's detections to the cases, in one transaction.

        New case ids open; known ones move first_seen/last_seen, count a sighting once per
        night, take tonight's details when tonight is their latest sighting, and reopen
        when the pipeline had closed them on or before tonight. When tonight is not older
        than any recorded night, open or acknowledged cases of history-rejudging rules not
        found tonight (and last seen before it) close as no longer detected. A rerun of the
        latest night replaces its earlier runs' work (see `nightly`): what only they raised
        and this run does not find is withdrawn. A case closed as no longer detected gets a
        recovery: its amount, and what `clearing` says cleared it.
        """
        frame = normalise_detections(detections)
        night = business_date
        with self.engine.begin() as conn:
            if conn.scalar(select(runs.c.run_id).where(runs.c.run_id == run_id)) is not None:
                raise ValueError(f"run {run_id} is already recorded")
            latest = conn.scalar(select(func.max(runs.c.business_date)))
            is_latest = latest is None or night >= latest
            replaces = latest == night
            conn.execute(insert(runs).values(run_id=run_id, business_date=night, started_at=_now()))
            writer = NightWriter(conn, night, run_id, is_latest, replaces, clearing)
            writer.apply(frame.to_dicts())
            counts = writer.counts(frame["case_id"].to_list())
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
        kind: str | None = None,
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
            (cases.c.amount_kind, kind),
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

    def night_cases(
        self, business_date: date, rule_ids: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        """The cases sighted on `business_date` (of `rule_ids`, when given), as they are now."""
        query = (
            select(cases)
            .join(case_sightings, case_sightings.c.case_id == cases.c.case_id)
            .where(case_sightings.c.business_date == business_date)
            .order_by(cases.c.case_id)
        )
        if rule_ids:
            query = query.where(cases.c.rule_id.in_(rule_ids))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

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

    def set_status(
        self,
        case_id: str,
        status: str,
        by: str,
        note: str | None = None,
        recovery: Recovery | None = None,
    ) -> bool:
        """A person sets the status; 'resolved' gets resolution 'manual'. False: no change.

        Resolving may record what was recovered (`recovery`, in the case's currency), kept
        in `recoveries` and in the history. `withdrawn` is the pipeline's, and a withdrawn
        case is no longer a case to triage.
        """
        if status not in PERSON_STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {PERSON_STATUSES}")
        if recovery is not None and status != "resolved":
            raise ValueError("a recovery is recorded when a case is resolved")
        _check_person(by)
        resolution = MANUAL_RESOLUTION if status == "resolved" else None
        with self.engine.begin() as conn:
            old = _case_for_update(conn, case_id)
            if old["status"] == WITHDRAWN:
                raise ValueError(f"case {case_id} was withdrawn by a rerun; it is not a case")
            if (old["status"], old["resolution"]) == (status, resolution) and recovery is None:
                return False
            today = _now().date()
            conn.execute(
                update(cases)
                .where(cases.c.case_id == case_id)
                .values(
                    status=status,
                    resolution=resolution,
                    closed_on=None,
                    decided_on=None if status in OPEN_STATUSES else today,
                    updated_at=_now(),
                )
            )
            changes: dict[str, list[object]] = {}
            if old["resolution"] != resolution:
                changes["resolution"] = [old["resolution"], resolution]
            if recovery is not None:
                changes["recovered"] = [None, recovery.text(old["currency"])]
                conn.execute(
                    insert(recoveries).values(
                        case_id=case_id,
                        recovered_on=today,
                        amount=recovery.amount,
                        currency=old["currency"] if recovery.amount is not None else None,
                        amount_kind=old["amount_kind"] if recovery.amount is not None else None,
                        method=recovery.method,
                        evidence=json.dumps({"note": note}),
                        actor=by,
                        recorded_at=_now(),
                    )
                )
            _add_history(
                conn, case_id, by, "status_changed", old["status"], status, note, changes or None
            )
        return True

    def recoveries_of(self, case_id: str) -> list[dict[str, Any]]:
        """The case's recoveries, oldest first."""
        with self.engine.connect() as conn:
            query = select(recoveries).where(recoveries.c.case_id == case_id)
            return [dict(r) for r in conn.execute(query.order_by(recoveries.c.id)).mappings()]

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


def _published(
    frame: pl.DataFrame,
    night: date,
    final: dict[str, dict[str, Any]],
    published_state: dict[str, dict[str, Any]],
) -> pl.DataFrame:
    """Tonight's detections with their published state: PUBLISHED_COLUMNS, PUBLISHED_EXTRAS."""
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
        .select(*PUBLISHED_COLUMNS, *PUBLISHED_EXTRAS)
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
