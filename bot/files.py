"""Streams files people send from the Bot API server to the media store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from telegram import Bot
from telegram.error import BadRequest, TelegramError

from core.errors import MediaError

logger = logging.getLogger(__name__)

#: The cloud Bot API lets a bot download files of at most 20 MB.
CLOUD_DOWNLOAD_LIMIT_BYTES = 20 * 1024 * 1024
#: A local Bot API server (telegram-bot-api --local) serves files up to 2000 MB.
LOCAL_DOWNLOAD_LIMIT_BYTES = 2000 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024


class FileTooBigError(MediaError):
    """The Bot API server will not hand this file to the bot."""

    def __init__(self, size: int | None) -> None:
        super().__init__("file.too_big", size=size)
        self.size = size


class TelegramFiles:
    """Opens a sent file as a stream of chunks, from the cloud API or a local server."""

    def __init__(self, bot: Bot, http: httpx.AsyncClient, *, local_mode: bool) -> None:
        self._bot = bot
        self._http = http
        self.local_mode = local_mode

    @property
    def limit_bytes(self) -> int:
        """Return the largest file this deployment can download."""
        return LOCAL_DOWNLOAD_LIMIT_BYTES if self.local_mode else CLOUD_DOWNLOAD_LIMIT_BYTES

    async def open(self, file_id: str, size: int | None) -> AsyncIterator[bytes]:
        """Resolve the file and return its chunks; raise FileTooBigError or MediaError."""
        if size is not None and size > self.limit_bytes:
            raise FileTooBigError(size)
        try:
            telegram_file = await self._bot.get_file(file_id)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise FileTooBigError(size) from exc
            raise MediaError("file.download_failed") from exc
        except TelegramError as exc:
            raise MediaError("file.download_failed") from exc
        path = telegram_file.file_path or ""
        if self.local_mode and Path(path).is_absolute():
            return _read_local(Path(path))
        return self._stream(path)

    async def _stream(self, url: str) -> AsyncIterator[bytes]:
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise MediaError("file.download_failed")
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    yield chunk
        except httpx.HTTPError as exc:
            # The URL holds the bot token: keep it out of the message and the log.
            logger.warning("file download failed: %s", type(exc).__name__)
            raise MediaError("file.download_failed") from None


async def _read_local(path: Path) -> AsyncIterator[bytes]:
    try:
        handle = await asyncio.to_thread(path.open, "rb")
    except OSError as exc:
        raise MediaError("file.download_failed") from exc
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()
