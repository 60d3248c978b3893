"""The triage desk: accounts and API tokens; on cases the day a person closed them, the
update promised to the customer and the letter's send date (with the queue's covering
index); the "contacted" history entry.

Frozen: later schema changes are new revisions, never edits here.

Revision ID: 0002_desk_accounts
Revises: 0001_initial
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_desk_accounts"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
ACTIONS_BEFORE = (
    "action IN ('created', 'details_changed', 'closed', 'reopened', 'status_changed', 'assigned')"
)
ACTIONS_AFTER = (
    "action IN ('created', 'details_changed', 'closed', 'reopened', 'status_changed', "
    "'assigned', 'contacted')"
)
ROLES = "role IN ('agent', 'lead', 'auditor', 'admin')"
QUEUE_INDEX = [
    "status",
    "owner",
    "severity",
    "rule_id",
    "first_seen",
    "amount_at_risk",
    "letter_send_date",
    "next_update_by",
    "case_id",
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text()),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_users")),
        sa.CheckConstraint(ROLES, name=op.f("ck_users_role")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("token_sha256", sa.Text(), nullable=False),
        sa.Column("label", sa.Text()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_used_at", TIMESTAMP),
        sa.Column("revoked_at", TIMESTAMP),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.ForeignKeyConstraint(
            ["user_name"], ["users.name"], name=op.f("fk_api_tokens_user_name_users")
        ),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_api_tokens_user_name"), "api_tokens", ["user_name"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("decided_on", sa.Date()))
        batch.add_column(sa.Column("next_update_by", sa.Date()))
        batch.add_column(sa.Column("letter_send_date", sa.Date()))
    # Letter cases already in the store: the send date from their evidence.
    letters = "rule_id IN ('WRONG_DISCONNECT_LETTER', 'LETTER_TO_DEPARTED_CUSTOMER')"
    if op.get_bind().dialect.name == "postgresql":
        send = "CAST(CAST(evidence AS JSONB) #>> '{letter,scheduled_send_date}' AS DATE)"
    else:
        send = "json_extract(evidence, '$.letter.scheduled_send_date')"
    op.execute(f"UPDATE cases SET letter_send_date = {send} WHERE {letters}")
    op.create_index("ix_cases_queue", "cases", QUEUE_INDEX)
    with op.batch_alter_table("case_history") as batch:
        batch.drop_constraint(op.f("ck_case_history_action"), type_="check")
        batch.create_check_constraint(op.f("ck_case_history_action"), ACTIONS_AFTER)


def downgrade() -> None:
    with op.batch_alter_table("case_history") as batch:
        batch.drop_constraint(op.f("ck_case_history_action"), type_="check")
        batch.create_check_constraint(op.f("ck_case_history_action"), ACTIONS_BEFORE)
    op.drop_index("ix_cases_queue", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("letter_send_date")
        batch.drop_column("next_update_by")
        batch.drop_column("decided_on")
    op.drop_index(op.f("ix_api_tokens_user_name"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
