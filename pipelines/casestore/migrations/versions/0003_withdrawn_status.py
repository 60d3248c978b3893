"""Status `withdrawn` and history action `withdrawn`: a rerun of the latest night takes
back the cases only its earlier run raised (contract section 3).

Revision ID: 0003_withdrawn_status
Revises: 0002_desk_accounts
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_withdrawn_status"
down_revision: str | None = "0002_desk_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("open", "acknowledged", "resolved", "false_positive")
ACTIONS = (
    "created",
    "details_changed",
    "closed",
    "reopened",
    "status_changed",
    "assigned",
    "contacted",
)


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _checks(statuses: Sequence[str], actions: Sequence[str]) -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(op.f("ck_cases_status"), type_="check")
        batch.create_check_constraint(op.f("ck_cases_status"), _in("status", statuses))
    with op.batch_alter_table("case_history") as batch:
        batch.drop_constraint(op.f("ck_case_history_action"), type_="check")
        batch.create_check_constraint(op.f("ck_case_history_action"), _in("action", actions))


def upgrade() -> None:
    _checks((*STATUSES, "withdrawn"), (*ACTIONS, "withdrawn"))


def downgrade() -> None:
    withdrawn = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM cases WHERE status = 'withdrawn'")
    )
    if withdrawn:
        raise RuntimeError(
            f"{withdrawn} case(s) are withdrawn, a status revision 0002_desk_accounts does not "
            "know: the store cannot go back without losing what the reruns did"
        )
    _checks(STATUSES, ACTIONS)
