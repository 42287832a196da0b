"""Per-account limits and peak hours, the ledger of API calls, attempts, balancer choices."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        # NULL means "the setting's default", so changing a default reaches every account.
        batch_op.add_column(sa.Column("uploads_per_day", sa.Integer()))
        batch_op.add_column(sa.Column("min_interval_h", sa.Float()))
        batch_op.add_column(sa.Column("priority", sa.Float(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("peak_start_h", sa.Integer()))
        batch_op.add_column(sa.Column("peak_end_h", sa.Integer()))
        batch_op.add_column(sa.Column("peak_timezone", sa.String(64)))
    with op.batch_alter_table("publish_tasks") as batch_op:
        batch_op.add_column(sa.Column("allowed_accounts", sa.JSON()))
        batch_op.add_column(sa.Column("choice", sa.JSON()))
        batch_op.add_column(sa.Column("plan_id", sa.String(32)))
    op.create_table(
        "api_calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("project_day", sa.String(10), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id")),
        sa.Column("account_day", sa.String(10)),
        sa.Column("task_id", sa.Integer()),
        sa.Column("call", sa.String(32), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("insert_calls", sa.Integer(), nullable=False),
    )
    op.create_index("ix_api_calls_project", "api_calls", ["client_id", "project_day"])
    op.create_index("ix_api_calls_account", "api_calls", ["account_id", "account_day"])
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(64)),
    )
    op.create_index("ix_attempts_account_at", "attempts", ["account_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_attempts_account_at", "attempts")
    op.drop_table("attempts")
    op.drop_index("ix_api_calls_account", "api_calls")
    op.drop_index("ix_api_calls_project", "api_calls")
    op.drop_table("api_calls")
    with op.batch_alter_table("publish_tasks") as batch_op:
        for name in ("plan_id", "choice", "allowed_accounts"):
            batch_op.drop_column(name)
    with op.batch_alter_table("accounts") as batch_op:
        for name in (
            "peak_timezone",
            "peak_end_h",
            "peak_start_h",
            "priority",
            "min_interval_h",
            "uploads_per_day",
        ):
            batch_op.drop_column(name)
