"""Table definitions (SQLAlchemy Core); migrations create and change them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware instants as UTC and returns them aware, on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = sa.MetaData()

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("channel_id", sa.String(100)),
    sa.Column("channel_title", sa.Text),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("client_secret_enc", sa.Text, nullable=False),
    sa.Column("refresh_token_enc", sa.Text, nullable=False),
    sa.Column("token_uri", sa.Text, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("status_until", UtcDateTime),
    sa.Column("status_changed_at", UtcDateTime),
    # migration 0005: per-account limits and audience peak (NULL: the setting's default)
    sa.Column("uploads_per_day", sa.Integer),
    sa.Column("min_interval_h", sa.Float),
    sa.Column("priority", sa.Float, nullable=False, server_default="1"),
    sa.Column("peak_start_h", sa.Integer),
    sa.Column("peak_end_h", sa.Integer),
    sa.Column("peak_timezone", sa.String(64)),
)

account_events = sa.Table(
    "account_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("from_status", sa.String(32)),
    sa.Column("to_status", sa.String(32), nullable=False),
    sa.Column("until", UtcDateTime),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("reason", sa.Text),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("task_id", sa.Integer),
    sa.Column("message_id", sa.BigInteger),
    sa.Column("reply_to", sa.BigInteger),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("markup", sa.JSON),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Index("ix_outbox_pending", "sent_at", "chat_id", "id"),
)

media = sa.Table(
    "media",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mime_type", sa.String(100), nullable=False),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("codec", sa.String(50), nullable=False),
    sa.Column("file_unique_id", sa.String(200), index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("purged_at", UtcDateTime),
)

publish_tasks = sa.Table(
    "publish_tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("media_id", sa.Integer, sa.ForeignKey("media.id"), nullable=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id")),
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("card_message_id", sa.BigInteger),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("category_id", sa.String(10), nullable=False),
    sa.Column("language", sa.String(20)),
    sa.Column("made_for_kids", sa.Boolean, nullable=False),
    sa.Column("privacy", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due_at", UtcDateTime),
    sa.Column("publish_at", UtcDateTime),
    sa.Column("thumbnail_key", sa.String(200)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("upload_uri", sa.Text),
    sa.Column("upload_offset", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("video_id", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # migration 0005: accounts the balancer may choose from, its choice, the plan it belongs to
    sa.Column("allowed_accounts", sa.JSON),
    sa.Column("choice", sa.JSON),
    sa.Column("plan_id", sa.String(32)),
    sa.Index("ix_publish_tasks_state_due", "state", "due_at"),
    # migration 0006: with due_at, so the next-due query searches one account's waiting tasks
    sa.Index("ix_publish_tasks_account_state_due", "account_id", "state", "due_at"),
    # migration 0006: a file's tasks (SqlStore.duplicate_of, file_on_account)
    sa.Index("ix_publish_tasks_media", "media_id"),
    sa.Index("ix_publish_tasks_card", "chat_id", "card_message_id"),
)

publish_history = sa.Table(
    "publish_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "task_id", sa.Integer, sa.ForeignKey("publish_tasks.id"), nullable=False, index=True
    ),
    sa.Column("from_state", sa.String(16)),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(100)),
    sa.Column("detail", sa.Text),
)

# -- alerts (migration 0003): open alerts, per-chat mutes, cursors of what was told ------------

alert_state = sa.Table(
    "alert_state",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("fired_at", UtcDateTime, nullable=False),
    sa.Column("last_sent_at", UtcDateTime, nullable=False),
    sa.Column("sent_count", sa.Integer, nullable=False, server_default="1"),
    sa.Column("resolved_at", UtcDateTime),
    sa.Index("ix_alert_state_open", "resolved_at"),
)

alert_mutes = sa.Table(
    "alert_mutes",
    metadata,
    sa.Column("chat_id", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("muted_at", UtcDateTime, nullable=False),
)

alert_cursors = sa.Table(
    "alert_cursors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)


# -- people (migration 0004): what each person's bot answers in --------------------------------

people = sa.Table(
    "people",
    metadata,
    sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("language", sa.String(8)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)


# -- quota ledger (migration 0005): every API call charged, every attempt's outcome ------------

api_calls = sa.Table(
    "api_calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("client_id", sa.Text, nullable=False),
    #: The Pacific date the call is charged to (YouTube's quota day), ISO format.
    sa.Column("project_day", sa.String(10), nullable=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id")),
    #: The date in the account's own zone, ISO format.
    sa.Column("account_day", sa.String(10)),
    sa.Column("task_id", sa.Integer),
    sa.Column("call", sa.String(32), nullable=False),
    sa.Column("units", sa.Integer, nullable=False),
    sa.Column("insert_calls", sa.Integer, nullable=False),
    sa.Index("ix_api_calls_project", "client_id", "project_day"),
    sa.Index("ix_api_calls_account", "account_id", "account_day"),
    # migration 0006: the balancer reads every project's calls of one day
    sa.Index("ix_api_calls_day", "project_day", "client_id"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("task_id", sa.Integer, nullable=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(64)),
    sa.Index("ix_attempts_account_at", "account_id", "at"),
)
