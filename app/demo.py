"""`publish-manager demo`: the whole flow against emulated Telegram and YouTube servers."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from app.cli import register_youtube
from app.wiring import PublishManager, build
from core.models import Credentials
from core.settings import Settings
from media.clips import make_clip
from sandbox.telegram import TelegramSandbox
from sandbox.youtube import ReceivedVideo, YouTubeSandbox

logger = logging.getLogger(__name__)

DEMO_TOKEN = "100001:demo-bot-token"
DEMO_USER_ID = 424242
DEMO_CAPTION = (
    "Sunrise over the harbour\n"
    "Three seconds of test pattern, sent from the demo.\n"
    "#demo #travel #日出"
)
DEADLINE_S = 50.0
#: The sandbox's OAuth client of the device flow (/addaccount, /reauth).
SANDBOX_DEVICE_CLIENT = ("sandbox-tv-client", "sandbox-tv-secret")


class DemoFailedError(Exception):
    """A step of the demo did not happen."""


async def run_demo(*, quiet: bool = False) -> int:
    """Run the demo; return 0 if the video reached YouTube intact, 1 otherwise."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="publish-manager-demo-") as tmp:
        root = Path(tmp)
        try:
            async with asyncio.timeout(DEADLINE_S):
                video, clip, transcript = await _run(root)
        except (DemoFailedError, TimeoutError) as exc:
            print(f"demo FAILED: {exc or 'a step took too long'}")
            return 1
        digest = hashlib.sha256(clip.read_bytes()).hexdigest()
        if not quiet:
            print("== Conversation ==")
            for who, said in transcript:
                print(f"[{who}] {said}")
            print()
        _print_video(video, clip, digest)
        ok = video.sha256 == digest and video.size == clip.stat().st_size
        took = time.monotonic() - started
        print(f"demo {'OK' if ok else 'FAILED'} in {took:.1f} s")
        return 0 if ok else 1


async def _run(root: Path) -> tuple[ReceivedVideo, Path, list[tuple[str, str]]]:
    telegram = TelegramSandbox(root / "telegram", token=DEMO_TOKEN)
    youtube = YouTubeSandbox(root / "youtube")
    await telegram.start()
    await youtube.start()
    manager: PublishManager | None = None
    try:
        settings = sandbox_settings(
            telegram, youtube, root / "data", admin_ids=[DEMO_USER_ID], sweep_interval_s=5
        )
        youtube.add_channel("demo-client", "demo-secret", "demo-refresh", title="Demo Channel")
        credentials = Credentials("demo-client", "demo-secret", "demo-refresh", youtube.token_uri)
        await register_youtube(settings, "demo", credentials, settings.timezone)
        manager = await build(settings)
        await manager.start()
        clip = await asyncio.to_thread(make_clip, root / "sunrise.mp4", seconds=3.0)
        video = await _converse(telegram, youtube, clip)
        return video, clip, telegram.transcript(DEMO_USER_ID)
    finally:
        if manager is not None:
            await manager.stop()
        await youtube.stop()
        await telegram.stop()


def sandbox_settings(
    telegram: TelegramSandbox, youtube: YouTubeSandbox, data_dir: Path, **overrides: Any
) -> Settings:
    """Return settings that point every part of the product at the two emulators."""
    client_id, client_secret = SANDBOX_DEVICE_CLIENT
    youtube.add_client(client_id, client_secret)
    values: dict[str, Any] = {
        "telegram_token": telegram.token,
        "telegram_api_url": telegram.url,
        "telegram_local_mode": telegram.local_mode,
        "youtube_api_url": youtube.url,
        "google_token_uri": youtube.token_uri,
        "google_device_uri": youtube.device_uri,
        "google_client_id": client_id,
        "google_client_secret": client_secret,
        "data_dir": data_dir,
        "secret_key": "sandbox-secret-key-not-for-production",
        "language": "en",
        "timezone": "Asia/Shanghai",
    }
    values.update(overrides)
    # _env_file=None: a deployment's .env must not leak into a sandbox run.
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def _converse(
    telegram: TelegramSandbox, youtube: YouTubeSandbox, clip: Path
) -> ReceivedVideo:
    chat = DEMO_USER_ID
    telegram.user(DEMO_USER_ID, first_name="Demo", language_code="en")
    await telegram.user_send_text(chat, DEMO_USER_ID, "/start")
    await telegram.wait_for_bot_message(chat, lambda m: "Send me a video" in _body(m))
    await telegram.user_send_video(chat, DEMO_USER_ID, clip, caption=DEMO_CAPTION)
    card = await telegram.wait_for_bot_message(chat, lambda m: "Task #1" in _body(m))
    await telegram.user_press(chat, DEMO_USER_ID, card["message_id"], "pub:1")
    await telegram.wait_for_bot_message(chat, lambda m: "is published" in _body(m), timeout=40)
    videos = await youtube.wait_for_videos(1, timeout=5)
    if len(videos) != 1:
        raise DemoFailedError(f"YouTube received {len(videos)} videos instead of 1")
    return videos[0]


def _body(message: dict[str, Any]) -> str:
    return str(message.get("text") or message.get("caption") or "")


def _print_video(video: ReceivedVideo, clip: Path, digest: str) -> None:
    print("== What the emulated YouTube received ==")
    print(f"video id:    {video.id}")
    print(f"title:       {video.title}")
    print(f"description: {video.description!r}")
    print(f"tags:        {', '.join(video.tags)}")
    print(f"privacy:     {video.privacy_status}")
    print(f"bytes:       {video.size} (sent {clip.stat().st_size})")
    print(f"sha256:      {video.sha256}")
    print(f"sent sha256: {digest} ({'equal' if video.sha256 == digest else 'DIFFERENT'})")
