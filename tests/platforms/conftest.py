"""Fixtures for platform adapters: a YouTube sandbox on a free port and a stored video."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from core.models import Credentials, Privacy, VideoMetadata
from core.ports import UploadRequest
from media.store import LocalMediaStore
from platforms.youtube import CHUNK_GRANULARITY_B, YouTubePublisher
from sandbox.youtube import YouTubeSandbox

CHUNK_B = CHUNK_GRANULARITY_B
VIDEO_B = 12 * CHUNK_B + 12_345


@dataclass(frozen=True)
class StoredVideo:
    """A random-bytes "video" in the media store."""

    key: str
    size: int
    sha256: str


@dataclass
class ProgressLog:
    """An on_progress callback that records every call."""

    calls: list[tuple[str, int, int]] = field(default_factory=list)

    async def __call__(self, uri: str, offset: int, total: int) -> None:
        self.calls.append((uri, offset, total))

    @property
    def offsets(self) -> list[int]:
        """The confirmed offsets, in call order."""
        return [offset for _, offset, _ in self.calls]


@pytest.fixture
async def youtube(tmp_path: Path) -> AsyncIterator[YouTubeSandbox]:
    """A running YouTube sandbox."""
    sandbox = YouTubeSandbox(tmp_path / "youtube")
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
def credentials(youtube: YouTubeSandbox) -> Credentials:
    """Credentials of a channel registered with the sandbox."""
    youtube.add_channel(
        "client-1.apps.googleusercontent.com",
        "secret-1",
        "refresh-1",
        channel_id="UCmain",
        title="Main channel",
    )
    return Credentials(
        client_id="client-1.apps.googleusercontent.com",
        client_secret="secret-1",
        refresh_token="refresh-1",
        token_uri=youtube.token_uri,
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalMediaStore:
    """A media store in a temporary folder."""
    return LocalMediaStore(tmp_path / "media")


@pytest.fixture
def video(store: LocalMediaStore) -> StoredVideo:
    """A few MB of random bytes stored as a video; the sandbox does not decode video."""
    key = store.new_key(".mp4")
    data = os.urandom(VIDEO_B)
    store.path(key).write_bytes(data)
    return StoredVideo(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())


@pytest.fixture
def make_publisher(
    youtube: YouTubeSandbox, store: LocalMediaStore
) -> Callable[..., YouTubePublisher]:
    """Build publishers against the sandbox with 256 KiB chunks and no retry delay."""

    def make(**kw: Any) -> YouTubePublisher:
        options: dict[str, Any] = {
            "chunk_size": CHUNK_B,
            "chunk_retries": 2,
            "chunk_retry_delay_s": 0.0,
            "http_timeout_s": 5.0,
        }
        options.update(kw)
        return YouTubePublisher(youtube.url, store, **options)

    return make


@pytest.fixture
def publisher(make_publisher: Callable[..., YouTubePublisher]) -> YouTubePublisher:
    """A publisher against the sandbox."""
    return make_publisher()


@pytest.fixture
def make_request(credentials: Credentials, video: StoredVideo) -> Callable[..., UploadRequest]:
    """Build upload requests for the stored video; keyword arguments override fields."""
    base = UploadRequest(
        task_id=7,
        account_id=1,
        credentials=credentials,
        metadata=VideoMetadata(title="A sandbox video"),
        privacy=Privacy.UNLISTED,
        publish_at=None,
        media_key=video.key,
        media_size=video.size,
        mime_type="video/mp4",
    )

    def make(**kw: Any) -> UploadRequest:
        return replace(base, **kw)

    return make
