"""Small protocols through which the engine talks to the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol

from core.models import (
    Account,
    AccountStatus,
    Credentials,
    Media,
    Privacy,
    Task,
    TaskState,
    VideoMetadata,
)
from core.quota import ApiCall


class Clock(Protocol):
    """The source of the current instant and of timers, so tests can move time."""

    def now(self) -> datetime:
        """Return the current instant, timezone-aware UTC."""
        ...

    def call_at(self, when: datetime, callback: Callable[[], None], key: str) -> None:
        """Arrange for `callback` to run at `when`; a later call with the same key replaces it."""
        ...

    def cancel(self, key: str) -> None:
        """Drop the timer armed under `key`, if any."""
        ...


class MediaStore(Protocol):
    """Where received video files live: a local folder, or a bucket."""

    def new_key(self, suffix: str = "") -> str:
        """Return a fresh key for a file about to be written."""
        ...

    async def write_stream(self, key: str, chunks: AsyncIterator[bytes]) -> tuple[int, str]:
        """Write chunks under `key`; return (size, sha256 hex)."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Open a stored file for reading from its start."""
        ...

    def size(self, key: str) -> int:
        """Return the size in bytes of a stored file."""
        ...

    def delete(self, key: str) -> None:
        """Remove a stored file; a missing one is not an error."""
        ...


#: Called with (session_uri, confirmed_offset, total_bytes) whenever the platform confirms bytes.
ProgressCallback = Callable[[str, int, int], Awaitable[None]]


@dataclass(frozen=True)
class UploadRequest:
    """Everything a publisher needs to upload one video."""

    task_id: int
    account_id: int
    credentials: Credentials
    metadata: VideoMetadata
    privacy: Privacy
    publish_at: datetime | None
    media_key: str
    media_size: int
    mime_type: str
    #: A resumable session from an earlier attempt; the publisher asks it where it stands.
    session_uri: str | None = None


@dataclass(frozen=True)
class UploadResult:
    """A finished upload."""

    video_id: str
    url: str
    privacy: Privacy


@dataclass(frozen=True)
class ChannelInfo:
    """The channel an account's credentials act for."""

    channel_id: str
    title: str


class CallMeter(Protocol):
    """Charges every platform API call to the quota ledger, before the call is sent."""

    async def charge(
        self, client_id: str, call: ApiCall, *, account_id: int | None, task_id: int | None
    ) -> None:
        """Record one call (failed calls cost quota too)."""
        ...


class Publisher(Protocol):
    """A platform adapter that uploads videos (YouTube now, later others)."""

    platform: str

    async def upload(self, request: UploadRequest, on_progress: ProgressCallback) -> UploadResult:
        """Upload (or resume) a video and return it once the platform has it.

        Raises the PublishError subclasses of core.errors, never a client library's own.
        """
        ...

    async def set_thumbnail(
        self,
        credentials: Credentials,
        video_id: str,
        image: BinaryIO,
        mime_type: str,
        *,
        account_id: int | None = None,
        task_id: int | None = None,
    ) -> None:
        """Set a video's thumbnail (the call is charged to the account and task given)."""
        ...

    async def channel_info(self, credentials: Credentials) -> ChannelInfo:
        """Return the channel the credentials act for."""
        ...


class VideoInfo(Protocol):
    """What probing a received file tells about it."""

    @property
    def duration_s(self) -> float:
        """Return the duration in seconds."""
        ...

    @property
    def width(self) -> int:
        """Return the frame width in pixels."""
        ...

    @property
    def height(self) -> int:
        """Return the frame height in pixels."""
        ...

    @property
    def codec(self) -> str:
        """Return the video codec's name."""
        ...


#: Probes the stored file under a media key; raises MediaError when it is not a playable video.
Prober = Callable[[str], Awaitable[VideoInfo]]


class Notifier(Protocol):
    """Delivers what the engine has to say to the chat a task came from."""

    async def task_changed(self, task_id: int) -> None:
        """Tell the task's chat that the task moved to a new state."""
        ...

    async def task_note(self, task_id: int, key: str, params: dict[str, str]) -> None:
        """Tell the task's chat something the engine did to it (a catalogue key)."""
        ...

    async def task_progress(self, task_id: int, sent: int, total: int) -> None:
        """Tell the task's chat how far its upload is; callers may call this for every chunk."""
        ...

    async def account_changed(self, account_id: int, previous: AccountStatus) -> None:
        """Tell the admins that an account's status changed, and what to do about it."""
        ...


class TaskStore(Protocol):
    """The persistence the engine and the services need (storage.store.SqlStore)."""

    async def get_task(self, task_id: int) -> Task | None:
        """Return one task, or None."""
        ...

    async def transition(
        self,
        task_id: int,
        to: TaskState,
        *,
        now: datetime,
        actor: str,
        detail: str | None = None,
        expected: Iterable[TaskState] | None = None,
        owned_by: str | None = None,
        **fields: Any,
    ) -> Task:
        """Move a task to `to` in one transaction; raise TaskStateError if it cannot."""
        ...

    async def update_task(
        self, task_id: int, *, expected: Iterable[TaskState], now: datetime, **fields: Any
    ) -> Task:
        """Change fields of a task that is in one of the `expected` states."""
        ...

    async def save_progress(self, task_id: int, owner: str, uri: str, offset: int) -> bool:
        """Record a resumable session and its offset; False if `owner` no longer holds it."""
        ...

    async def renew_lease(self, task_ids: Sequence[int], owner: str, until: datetime) -> None:
        """Extend the leases this process holds."""
        ...

    async def recall_waiting(self, now: datetime) -> int:
        """Bring tasks postponed for quota back to when they were wanted; return how many."""
        ...

    async def next_due_at(self) -> datetime | None:
        """Return the earliest due instant of a waiting task."""
        ...

    async def due_tasks(self, now: datetime, limit: int = 200) -> list[Task]:
        """Return waiting tasks whose instant has come, earliest first."""
        ...

    async def stale_active_tasks(self, now: datetime, *, every: bool = False) -> list[Task]:
        """Return in-flight tasks whose lease has expired (or all of them)."""
        ...

    async def list_tasks(
        self, states: Iterable[TaskState], *, user_id: int | None = None, limit: int = 50
    ) -> list[Task]:
        """Return tasks in the given states, soonest due first."""
        ...

    async def get_account(self, account_id: int) -> Account | None:
        """Return one account, or None."""
        ...

    async def list_accounts(self) -> list[Account]:
        """Return every account."""
        ...

    async def credentials(self, account_id: int) -> Credentials:
        """Return an account's decrypted credentials."""
        ...

    async def get_media(self, media_id: int) -> Media | None:
        """Return one media record, or None."""
        ...

    async def set_account_status(
        self,
        account_id: int,
        status: AccountStatus,
        *,
        now: datetime,
        reason: str | None,
        until: datetime | None = None,
    ) -> AccountStatus | None:
        """Change an account's status; return the previous status if it changed."""
        ...

    async def media_to_purge(self, finished_before: datetime, limit: int = 100) -> list[Media]:
        """Return files whose every task finished (published or cancelled) before the cutoff."""
        ...

    async def thumbnails_of(self, media_id: int) -> list[str]:
        """Return the thumbnail keys of a file's tasks."""
        ...

    async def mark_purged(self, media_id: int, at: datetime) -> None:
        """Record that a file was deleted."""
        ...

    async def expired_limits(self, now: datetime) -> list[Account]:
        """Return rate-limited accounts whose limit has lifted."""
        ...

    async def accounts_of_project(self, client_id: str) -> list[Account]:
        """Return the accounts that share one OAuth client's quota."""
        ...

    async def add_media(self, **values: Any) -> Media:
        """Record a received file."""
        ...

    async def movable_tasks(self, account_id: int) -> list[Task]:
        """Return an account's waiting tasks that have not opened an upload session yet."""
        ...

    async def file_on_account(self, media_id: int, account_id: int) -> bool:
        """Tell whether the same file is live or published on an account."""
        ...

    async def duplicate_of(self, task_id: int) -> Task | None:
        """Return another live or published task with the same file on the same account."""
        ...

    async def task_by_card(self, chat_id: int, message_id: int) -> Task | None:
        """Return the task whose card is that message."""
        ...

    async def create_task(
        self,
        *,
        media_id: int,
        account_id: int | None,
        chat_id: int,
        user_id: int,
        metadata: VideoMetadata,
        privacy: Privacy,
        now: datetime,
    ) -> Task:
        """Create a draft task."""
        ...


class ChatOutbox(Protocol):
    """Durable delivery of messages to chats: stored first, sent in order, retried until sent."""

    async def post(
        self,
        chat_id: int,
        body: str,
        *,
        reply_to: int | None = None,
        task_id: int | None = None,
        photo_key: str | None = None,
    ) -> None:
        """Queue a Telegram-HTML message (with an optional picture from the media store)."""
        ...
