"""A whole publish-manager process against the Telegram and YouTube emulators."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.cli import register_youtube
from app.demo import sandbox_settings
from app.wiring import PublishManager, build
from core.clock import ManualClock
from core.models import Account, Credentials, Task
from core.settings import Settings
from media.clips import make_clip
from sandbox.telegram import TelegramSandbox
from sandbox.youtube import YouTubeSandbox

TOKEN = "100002:test-bot-token"
OPERATOR = 5001
ADMIN = 5002
STRANGER = 6666
#: 2026-12-03 12:00 in Shanghai.
START = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)

Message = dict[str, Any]


@dataclass
class Harness:
    """Both emulators, the settings, and the running process (restartable)."""

    telegram: TelegramSandbox
    youtube: YouTubeSandbox
    settings: Settings
    clock: Any
    root: Path
    manager: PublishManager | None = None

    async def start(self) -> PublishManager:
        """Start (or restart) the process on the same data directory."""
        self.manager = await build(self.settings, clock=self.clock)
        await self.manager.start()
        return self.manager

    async def stop(self) -> None:
        """Stop the process the way SIGTERM would."""
        if self.manager is not None:
            await self.manager.stop()
            self.manager = None

    async def idle(self) -> None:
        """Wait until the engine has nothing running."""
        assert self.manager is not None
        await self.manager.engine.idle()

    async def settle(self) -> None:
        """Let what the last step started run to its end (a few rounds of the engine)."""
        for _ in range(3):
            await asyncio.sleep(0)
            await self.idle()

    async def task(self, task_id: int) -> Task:
        """Return a task as the database holds it."""
        assert self.manager is not None
        task = await self.manager.store.get_task(task_id)
        assert task is not None
        return task

    async def account(self, name: str) -> Account:
        """Return a channel as the database holds it."""
        assert self.manager is not None
        account = await self.manager.store.account_by_name(name)
        assert account is not None
        return account

    def clip(self, name: str = "clip.mp4", **kwargs: Any) -> Path:
        """Make a real playable MP4."""
        return make_clip(self.root / name, **kwargs)

    async def say(self, text: str, user: int = OPERATOR, **kwargs: Any) -> Message:
        """Send a text message as a person in their private chat."""
        return await self.telegram.user_send_text(user, user, text, **kwargs)

    async def expect(
        self, needle: str, user: int = OPERATOR, within_s: float = 10.0, **kwargs: Any
    ) -> Message:
        """Wait for a bot message in the person's chat that contains `needle`."""
        return await self.telegram.wait_for_bot_message(
            user, lambda m: needle in _body(m), within_s, **kwargs
        )

    async def send_video(self, path: Path, caption: str | None, user: int = OPERATOR) -> Message:
        """Send a video and return the task card the bot answers with."""
        await self.telegram.user_send_video(user, user, path, caption=caption)
        return await self.expect("#", user, new_only=True)

    def texts(self, user: int = OPERATOR) -> list[str]:
        """Return every bot message's current text in the person's chat."""
        return [_body(m) for m in self.telegram.bot_messages(user)]


def _body(message: Message) -> str:
    return str(message.get("text") or message.get("caption") or "")


body: Callable[[Message], str] = _body


@contextlib.asynccontextmanager
async def running_harness(
    tmp_path: Path, *, local_mode: bool = False, clock: Any = None, **overrides: Any
) -> AsyncIterator[Harness]:
    """Start the emulators and the process (with settings `overrides`); stop all afterwards.

    Unless a test sets them, the channel's own cap and spacing and its project's quota are out
    of the way, so tests of other rules can publish and retry many times on one channel.
    """
    overrides.setdefault("account_min_interval_h", 0)
    overrides.setdefault("account_uploads_per_day", 1000)
    overrides.setdefault("quota_daily_units", 1_000_000)
    telegram = TelegramSandbox(tmp_path / "telegram", token=TOKEN, local_mode=local_mode)
    youtube = YouTubeSandbox(tmp_path / "youtube")
    await telegram.start()
    await youtube.start()
    telegram.user(OPERATOR, first_name="Olga", language_code="en")
    telegram.user(ADMIN, first_name="Ada", language_code="zh-hans")
    telegram.user(STRANGER, first_name="Eve", language_code="en")
    settings = sandbox_settings(
        telegram,
        youtube,
        tmp_path / "data",
        admin_ids=[ADMIN],
        operator_ids=[OPERATOR],
        secret_key="test-secret-key-0123456789",
        upload_chunk_mb=1,
        chunk_retry_delay_s=0,
        retry_jitter=0,
        **overrides,
    )
    youtube.add_channel("client-1", "secret-1", "refresh-1", channel_id="UCmain", title="Main")
    credentials = Credentials("client-1", "secret-1", "refresh-1", youtube.token_uri)
    clock = clock or ManualClock(START)
    await register_youtube(settings, "main", credentials, settings.timezone, clock=clock)
    h = Harness(telegram, youtube, settings, clock, tmp_path)
    youtube.clock = lambda: h.clock.now().timestamp()  # publishAt is judged by the test's clock
    await h.start()
    try:
        yield h
    finally:
        await h.stop()
        await youtube.stop()
        await telegram.stop()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """A running process on the cloud Bot API (20 MB download limit)."""
    async with running_harness(tmp_path) as h:
        yield h
