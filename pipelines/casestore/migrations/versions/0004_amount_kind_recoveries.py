"""amount_kind on cases (contract section 3), backfilled from each case's rule and amount;
the recoveries table (money no longer at risk, and what people recovered).

Revision ID: 0004_amount_kind_recoveries
Revises: 0003_withdrawn_status
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_amount_kind_recoveries"
down_revision: str | None = "0003_withdrawn_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "amount_kind IN ('refund_due', 'revenue_leakage', 'misbilled', 'revenue_at_risk')"
METHODS = "method IN ('no_longer_detected', 'credit_note', 're_bill', 'letter_held')"
MONEY = sa.Numeric(18, 2).with_variant(sa.Text(), "sqlite")
RULE_KINDS = {
    "CHARGE_AFTER_DEACTIVATION": "refund_due",
    "USAGE_AFTER_DEACTIVATION": "refund_due",
    "DUPLICATE_RECURRING_CHARGE": "refund_due",
    "UNBILLED_ACTIVE_LINE": "revenue_leakage",
    "UNKNOWN_SIM_CHARGED": "misbilled",
    "WRONG_DISCONNECT_LETTER": "revenue_at_risk",
}


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("amount_kind", sa.Text()))
        batch.create_check_constraint(op.f("ck_cases_amount_kind"), KINDS)
    # SQLite keeps money as two-decimal text: a negative amount starts with '-'.
    negative = (
        "amount_at_risk < 0"
        if op.get_bind().dialect.name == "postgresql"
        else "substr(amount_at_risk, 1, 1) = '-'"
    )
    for rule_id, kind in RULE_KINDS.items():
        op.execute(
            sa.text(
                "UPDATE cases SET amount_kind = :kind"
                " WHERE rule_id = :rule AND amount_at_risk IS NOT NULL"
            ).bindparams(kind=kind, rule=rule_id)
        )
    op.execute(
        "UPDATE cases SET amount_kind = CASE WHEN "
        f"{negative} THEN 'revenue_leakage' ELSE 'refund_due' END"
        " WHERE rule_id = 'TARIFF_MISMATCH' AND amount_at_risk IS NOT NULL"
    )
    op.create_table(
        "recoveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("recovered_on", sa.Date(), nullable=False),
        sa.Column("amount", MONEY),
        sa.Column("currency", sa.Text()),
        sa.Column("amount_kind", sa.Text()),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text()),
        sa.Column("business_date", sa.Date()),
        sa.Column("run_id", sa.Text()),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recoveries")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_recoveries_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_recoveries_run_id_runs")
        ),
        sa.CheckConstraint(METHODS, name=op.f("ck_recoveries_method")),
        sa.CheckConstraint(KINDS, name=op.f("ck_recoveries_amount_kind")),
    )
    op.create_index(op.f("ix_recoveries_case_id_id"), "recoveries", ["case_id", "id"])
    op.create_index(op.f("ix_recoveries_recovered_on"), "recoveries", ["recovered_on"])


def downgrade() -> None:
    op.drop_index(op.f("ix_recoveries_recovered_on"), table_name="recoveries")
    op.drop_index(op.f("ix_recoveries_case_id_id"), table_name="recoveries")
    op.drop_table("recoveries")
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(op.f("ck_cases_amount_kind"), type_="check")
        batch.drop_column("amount_kind")
