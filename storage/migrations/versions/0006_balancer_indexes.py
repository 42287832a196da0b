"""Indexes for many channels and long queues: a day's API calls, a file's tasks, an account's.

The balancer sums every project's calls of the day at each dispatch round; (client_id,
project_day) cannot serve a query on the day alone. Before the balancer places a task the engine
looks for another task with the same file (SqlStore.duplicate_of): without an index on media_id
that reads every task. The next-due query looks, for each rate-limited account, for a waiting task
due before its limit lifts; with due_at in the account's index that is one index search.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_api_calls_day", "api_calls", ["project_day", "client_id"])
    op.create_index("ix_publish_tasks_media", "publish_tasks", ["media_id"])
    # The new index begins with the old one's columns, so it serves every query the old did.
    op.create_index(
        "ix_publish_tasks_account_state_due", "publish_tasks", ["account_id", "state", "due_at"]
    )
    op.drop_index("ix_publish_tasks_account_state", "publish_tasks")


def downgrade() -> None:
    op.create_index("ix_publish_tasks_account_state", "publish_tasks", ["account_id", "state"])
    op.drop_index("ix_publish_tasks_account_state_due", "publish_tasks")
    op.drop_index("ix_publish_tasks_media", "publish_tasks")
    op.drop_index("ix_api_calls_day", "api_calls")
