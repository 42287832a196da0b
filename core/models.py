"""Domain records: accounts, media, tasks and their metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Privacy(StrEnum):
    """How visible a published video is."""

    PRIVATE = "private"
    UNLISTED = "unlisted"
    PUBLIC = "public"


class TaskState(StrEnum):
    """Where a publish task stands."""

    DRAFT = "draft"
    QUEUED = "queued"
    UPLOADING = "uploading"
    PROCESSING = "processing"
    RETRY_WAIT = "retry_wait"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AccountStatus(StrEnum):
    """Whether an account can take uploads."""

    ACTIVE = "active"
    RATE_LIMITED = "rate_limited"
    SUSPENDED = "suspended"
    ERROR = "error"
    NEEDS_AUTH = "needs_auth"


@dataclass(frozen=True)
class VideoMetadata:
    """What the platform shows about a video."""

    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    category_id: str = "22"
    language: str | None = None
    made_for_kids: bool = False


@dataclass(frozen=True)
class Credentials:
    """OAuth credentials of one account, decrypted for use by a publisher."""

    client_id: str
    client_secret: str
    refresh_token: str
    token_uri: str

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id!r}, secrets=***)"


@dataclass(frozen=True)
class Account:
    """A channel on a platform that tasks can be published to."""

    id: int
    platform: str
    name: str
    status: AccountStatus
    channel_id: str | None
    channel_title: str | None
    client_id: str
    timezone: str
    created_at: datetime
    status_until: datetime | None = None
    status_reason: str | None = None
    #: The account's own limits; None means the setting's default.
    uploads_per_day: int | None = None
    min_interval_h: float | None = None
    #: The balancer's priority weight (1 is neutral).
    priority: float = 1.0
    #: The audience's peak hours in `peak_timezone` (None: the settings' defaults).
    peak_start_h: int | None = None
    peak_end_h: int | None = None
    peak_timezone: str | None = None


@dataclass(frozen=True)
class Media:
    """A received video file held in the media store."""

    id: int
    key: str
    sha256: str
    size: int
    mime_type: str
    duration_s: float
    width: int
    height: int
    codec: str
    file_unique_id: str | None
    created_at: datetime
    purged_at: datetime | None = None


@dataclass(frozen=True)
class Task:
    """One video to publish on one account, and where that stands."""

    id: int
    media_id: int
    account_id: int | None
    chat_id: int
    user_id: int
    metadata: VideoMetadata
    privacy: Privacy
    state: TaskState
    due_at: datetime | None
    publish_at: datetime | None
    created_at: datetime
    updated_at: datetime
    card_message_id: int | None = None
    thumbnail_key: str | None = None
    attempts: int = 0
    upload_uri: str | None = None
    upload_offset: int = 0
    video_id: str | None = None
    error: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    #: The accounts the balancer may choose from when `account_id` is None (None: any).
    allowed_accounts: tuple[int, ...] | None = None
    #: The balancer's choice and its factors, for `/why`.
    choice: dict[str, Any] | None = None
    #: The plan (interval, batch, best time) the task was scheduled by.
    plan_id: str | None = None
