"""The case store of release 0.1: runs, cases, case_sightings, case_history.

Frozen: later schema changes are new revisions, never edits here. Types are written out
rather than imported from schema.py so this file keeps meaning what 0.1 created.

Revision ID: 0001_initial
Revises:
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# NUMERIC(18,2) on PostgreSQL; TEXT on SQLite, whose NUMERIC affinity would turn amounts
# into floats.
MONEY = sa.Numeric(18, 2).with_variant(sa.Text(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
STATUSES = "status IN ('open', 'acknowledged', 'resolved', 'false_positive')"
ACTIONS = (
    "action IN ('created', 'details_changed', 'closed', 'reopened', 'status_changed', 'assigned')"
)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("detections", sa.Integer()),
        sa.Column("counts", sa.JSON()),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_business_date"), "runs", ["business_date"])
    op.create_table(
        "cases",
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text()),
        sa.Column("account_id", sa.Text()),
        sa.Column("msisdn", sa.Text()),
        sa.Column("iccid", sa.Text()),
        sa.Column("invoice_id", sa.Text()),
        sa.Column("transaction_id", sa.Text()),
        sa.Column("letter_id", sa.Text()),
        sa.Column("period_start", sa.Date()),
        sa.Column("period_end", sa.Date()),
        sa.Column("amount_at_risk", MONEY),
        sa.Column("currency", sa.Text()),
        sa.Column("summary", sa.Text()),
        sa.Column("evidence", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text()),
        sa.Column("owner", sa.Text()),
        sa.Column("first_seen", sa.Date(), nullable=False),
        sa.Column("last_seen", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date()),
        sa.Column("times_seen", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
        sa.CheckConstraint(STATUSES, name=op.f("ck_cases_status")),
        sa.CheckConstraint(
            "closed_on IS NULL OR resolution = 'no_longer_detected'",
            name=op.f("ck_cases_closed_on"),
        ),
        sa.CheckConstraint("first_seen <= last_seen", name=op.f("ck_cases_seen_order")),
    )
    op.create_index(op.f("ix_cases_customer_id"), "cases", ["customer_id"])
    op.create_index(op.f("ix_cases_rule_id_status"), "cases", ["rule_id", "status"])
    op.create_index(op.f("ix_cases_status_last_seen"), "cases", ["status", "last_seen"])
    op.create_table(
        "case_sightings",
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("amount_at_risk", MONEY),
        sa.Column("currency", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "business_date", name=op.f("pk_case_sightings")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_case_sightings_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_case_sightings_run_id_runs")
        ),
    )
    op.create_index(op.f("ix_case_sightings_business_date"), "case_sightings", ["business_date"])
    op.create_table(
        "case_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("business_date", sa.Date()),
        sa.Column("run_id", sa.Text()),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("old_status", sa.Text()),
        sa.Column("new_status", sa.Text()),
        sa.Column("note", sa.Text()),
        sa.Column("changes", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_history")),
        sa.CheckConstraint(ACTIONS, name=op.f("ck_case_history_action")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_case_history_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_case_history_run_id_runs")
        ),
    )
    op.create_index(op.f("ix_case_history_case_id_id"), "case_history", ["case_id", "id"])


def downgrade() -> None:
    for table in ("case_history", "case_sightings", "cases", "runs"):
        op.drop_table(table)
