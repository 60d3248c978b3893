"""The case store's tables (SQLAlchemy Core) and their PostgreSQL DDL.

A change to a table comes with a migration (pipelines/casestore/migrations/versions/).
`sql/case_store.sql` is this metadata rendered for PostgreSQL, stamped with the head
revision; regenerate it with `python -m pipelines.casestore.schema [PATH]`.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    insert,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeEngine

from pipelines.casestore.migrate import VERSION_TABLE, head
from pipelines.catalogue import AMOUNT_KINDS, NO_LONGER_DETECTED, STATUSES, WITHDRAWN

DDL_PATH = Path(__file__).resolve().parents[2] / "sql" / "case_store.sql"
CENT = Decimal("0.01")
PIPELINE_ACTOR = "recon"
MANUAL_RESOLUTION = "manual"
WITHDRAWN_RESOLUTION = "not_found_by_rerun"
HISTORY_ACTIONS = (
    "created",
    "details_changed",
    "closed",
    "reopened",
    "status_changed",
    "assigned",
    "contacted",
    WITHDRAWN,
)
ROLES = ("agent", "lead", "auditor", "admin")
# How money at risk was recovered: the pipeline's no_longer_detected, or what a person did.
PIPELINE_RECOVERY = NO_LONGER_DETECTED
PERSON_RECOVERY_METHODS = ("credit_note", "re_bill", "letter_held")
RECOVERY_METHODS = (PIPELINE_RECOVERY, *PERSON_RECOVERY_METHODS)


class Money(TypeDecorator[Decimal]):
    """NUMERIC(18,2) as an exact Decimal; SQLite, which has no exact decimal, keeps text."""

    impl = Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(18, 2, asdecimal=True))

    def process_bind_param(self, value: object, dialect: Dialect) -> object:
        if value is None:
            return None
        if not isinstance(value, Decimal | int | str):
            raise TypeError(f"money must be Decimal, int or str, not {type(value).__name__}")
        amount = Decimal(value)
        cents = amount.quantize(CENT)
        if cents != amount:
            raise ValueError(f"money has more than 2 decimals: {value}")
        return str(cents) if dialect.name == "sqlite" else cents

    def process_result_value(self, value: object, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(CENT)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp with time zone, always handed back as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
    }
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("detections", Integer),
    Column("counts", JSON(none_as_null=True)),
    Index(None, "business_date"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", Text, primary_key=True),
    Column("rule_id", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("customer_id", Text),
    Column("account_id", Text),
    Column("msisdn", Text),
    Column("iccid", Text),
    Column("invoice_id", Text),
    Column("transaction_id", Text),
    Column("letter_id", Text),
    Column("period_start", Date),
    Column("period_end", Date),
    Column("amount_at_risk", Money),
    Column("currency", Text),
    Column("summary", Text),
    Column("evidence", Text),
    Column("status", Text, nullable=False),
    Column("resolution", Text),
    Column("owner", Text),
    Column("first_seen", Date, nullable=False),
    Column("last_seen", Date, nullable=False),
    Column("closed_on", Date),
    Column("times_seen", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The day a person closed the case (resolved, false positive): its age stops there.
    Column("decided_on", Date),
    # The update promised to the customer in the latest "customer contacted" entry.
    Column("next_update_by", Date),
    # A letter case's letter goes out on this day (from the evidence): it is due the day before.
    Column("letter_send_date", Date),
    # What kind of money amount_at_risk is (contract section 3), null without an amount.
    Column("amount_kind", Text),
    CheckConstraint(_in("status", STATUSES), name="status"),
    CheckConstraint(_in("amount_kind", AMOUNT_KINDS), name="amount_kind"),
    CheckConstraint(f"closed_on IS NULL OR resolution = '{NO_LONGER_DETECTED}'", name="closed_on"),
    CheckConstraint("first_seen <= last_seen", name="seen_order"),
    Index(None, "rule_id", "status"),
    Index(None, "customer_id"),
    Index(None, "status", "last_seen"),
    # The desk's queue: filtered, counted and ordered from the index, without reading rows.
    Index(
        "ix_cases_queue",
        "status",
        "owner",
        "severity",
        "rule_id",
        "first_seen",
        "amount_at_risk",
        "letter_send_date",
        "next_update_by",
        "case_id",
    ),
)

case_sightings = Table(
    "case_sightings",
    metadata,
    Column("case_id", Text, ForeignKey(cases.c.case_id), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("amount_at_risk", Money),
    Column("currency", Text),
    # The case's state as published for that night, so a rerun republishes it unchanged.
    Column("status", Text, nullable=False),
    Column("first_seen", Date, nullable=False),
    Column("run_id", Text, ForeignKey(runs.c.run_id), nullable=False),
    PrimaryKeyConstraint("case_id", "business_date"),
    Index(None, "business_date"),
)

case_history = Table(
    "case_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Text, ForeignKey(cases.c.case_id), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("business_date", Date),
    Column("run_id", Text, ForeignKey(runs.c.run_id)),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("old_status", Text),
    Column("new_status", Text),
    Column("note", Text),
    Column("changes", JSON(none_as_null=True)),
    CheckConstraint(_in("action", HISTORY_ACTIONS), name="action"),
    Index(None, "case_id", "id"),
)

# Money no longer at risk: the pipeline's when a history-rejudging case closes as no longer
# detected (one per case, its current closure), or what a person recorded on resolving.
recoveries = Table(
    "recoveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Text, ForeignKey(cases.c.case_id), nullable=False),
    Column("recovered_on", Date, nullable=False),
    Column("amount", Money),
    Column("currency", Text),
    Column("amount_kind", Text),
    Column("method", Text, nullable=False),
    # JSON: what cleared it (the lines and inventory found that night), or a person's note.
    Column("evidence", Text),
    Column("business_date", Date),
    Column("run_id", Text, ForeignKey(runs.c.run_id)),
    Column("actor", Text, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    CheckConstraint(_in("method", RECOVERY_METHODS), name="method"),
    CheckConstraint(_in("amount_kind", AMOUNT_KINDS), name="amount_kind"),
    Index(None, "case_id", "id"),
    Index(None, "recovered_on"),
)

users = Table(
    "users",
    metadata,
    Column("name", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("password_hash", Text),
    Column("disabled", Boolean, nullable=False, default=False),
    # Bumped by a password change or disabling: sessions signed before it stop working.
    Column("session_epoch", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(_in("role", ROLES), name="role"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", Text, ForeignKey(users.c.name), nullable=False),
    # SHA-256 of the token: tokens are 256 random bits, so a fast hash cannot be brute-forced.
    Column("token_sha256", Text, nullable=False, unique=True),
    Column("label", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Index(None, "user_name"),
)


def _version_table() -> Table:
    """Alembic's version table, as Alembic creates it."""
    return Table(
        VERSION_TABLE,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
    )


def render_ddl() -> str:
    """The metadata's CREATE TABLE and CREATE INDEX statements for PostgreSQL, then the
    version table at the head revision, so that a store built from them needs no upgrade."""
    dialect = postgresql.dialect()
    elements: list[CreateTable | CreateIndex | Insert] = []
    for table in metadata.sorted_tables:
        elements.append(CreateTable(table))
        elements.extend(CreateIndex(i) for i in sorted(table.indexes, key=lambda i: str(i.name)))
    version = _version_table()
    elements += [CreateTable(version), insert(version).values(version_num=head())]
    literal = {"literal_binds": True}
    statements = [
        "\n".join(
            line.rstrip()
            for line in str(e.compile(dialect=dialect, compile_kwargs=literal)).strip().splitlines()
        ).replace("\t", "    ")
        for e in elements
    ]
    header = (
        "-- Case store DDL (PostgreSQL), generated from pipelines/casestore/schema.py.\n"
        "-- Do not edit: run `python -m pipelines.casestore.schema` to regenerate.\n\n"
    )
    return header + "".join(f"{s};\n\n" for s in statements).rstrip("\n") + "\n"


def write_ddl(path: Path = DDL_PATH) -> Path:
    """Write `render_ddl()` to `path` (default `sql/case_store.sql`)."""
    path.write_text(render_ddl(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_ddl(Path(sys.argv[1]) if len(sys.argv) > 1 else DDL_PATH))
