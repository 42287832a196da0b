"""Small protocols through which the engine talks to the outside world."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from core.models import Credentials, Privacy, VideoMetadata


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


class Publisher(Protocol):
    """A platform adapter that uploads videos (YouTube now, later others)."""

    platform: str

    async def upload(self, request: UploadRequest, on_progress: ProgressCallback) -> UploadResult:
        """Upload (or resume) a video and return it once the platform has it.

        Raises the PublishError subclasses of core.errors, never a client library's own.
        """
        ...

    async def set_thumbnail(
        self, credentials: Credentials, video_id: str, image: BinaryIO, mime_type: str
    ) -> None:
        """Set a video's thumbnail."""
        ...

    async def channel_info(self, credentials: Credentials) -> ChannelInfo:
        """Return the channel the credentials act for."""
        ...


class Notifier(Protocol):
    """Delivers what the engine has to say to the chat a task came from."""

    async def task_changed(self, task_id: int) -> None:
        """Tell the task's chat that the task moved to a new state."""
        ...
