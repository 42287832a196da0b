"""Durable delivery of chat messages: stored first, sent in order per chat, retried until sent.

A Bot API outage or a 429 only delays messages; a restart resumes delivery from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from storage.store import SqlStore

logger = logging.getLogger(__name__)

#: Waits between attempts while the Bot API cannot be reached.
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
_TAG = re.compile(r"<[^>]+>")

#: Opens a media-store key as a binary file, for messages that carry a picture.
PhotoOpener = Callable[[str], Any]
#: Renders a task's card as it stands now: (chat id, message id, HTML, buttons), or None.
CardRenderer = Callable[[int], Awaitable["RenderedCard | None"]]
RenderedCard = tuple[int, int, str, InlineKeyboardMarkup | None]
#: Renders what a task's chat is told when the task reached a state: (chat, reply to, HTML),
#: or None when there is nothing to say (or the task has moved on since).
OutcomeRenderer = Callable[[int, str], Awaitable["RenderedOutcome | None"]]
RenderedOutcome = tuple[int, int | None, str]


def _now() -> datetime:
    # Delivery retries follow real time even when the engine runs on a test clock.
    return datetime.now(UTC)


def plain(body: str) -> str:
    """Return Telegram HTML as plain text, for a message Telegram refused to parse."""
    return html.unescape(_TAG.sub("", body))


class TelegramOutbox:
    """Implements core.ports.ChatOutbox over the Bot API, with the outbox table as its queue."""

    def __init__(self, bot: Bot, store: SqlStore, photo_opener: PhotoOpener | None = None) -> None:
        self._bot = bot
        self._store = store
        self._open_photo = photo_opener
        self.render_card: CardRenderer | None = None
        self.render_outcome: OutcomeRenderer | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._failures = 0

    async def post(
        self,
        chat_id: int,
        body: str,
        *,
        reply_to: int | None = None,
        task_id: int | None = None,
        photo_key: str | None = None,
    ) -> None:
        """Queue a message (with an optional picture from the media store)."""
        now = _now()
        await self._store.outbox_add(
            chat_id=chat_id,
            kind="photo" if photo_key else "send",
            task_id=task_id,
            reply_to=reply_to,
            body=body,
            markup={"photo_key": photo_key} if photo_key else None,
            created_at=now,
            next_attempt_at=now,
        )
        self._poke()

    async def refresh_card(self, chat_id: int, task_id: int) -> None:
        """Queue an update of a task's card; it is rendered from the task's state when sent."""
        now = _now()
        await self._store.outbox_add(
            chat_id=chat_id,
            kind="card",
            task_id=task_id,
            body="",
            created_at=now,
            next_attempt_at=now,
        )
        self._poke()

    def start(self) -> None:
        """Start delivering, beginning with whatever an earlier run left unsent."""
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run())
            self._poke()

    async def stop(self) -> None:
        """Stop delivering; unsent messages stay queued for the next start."""
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None

    async def drained(self, timeout_s: float = 10.0) -> None:
        """Wait until nothing is left to send (for tests and shutdown)."""
        async with asyncio.timeout(timeout_s):
            while await self._store.outbox_pending(limit=1):
                self._poke()
                self._idle.clear()
                await self._idle.wait()

    def poke(self) -> None:
        """Look for new messages now (the store queues one with every task transition)."""
        self._poke()

    def _poke(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self._deliver_due()
            except Exception:
                logger.exception("outbox delivery failed", extra={"action": "outbox_error"})
                delay = BACKOFF_S[-1]
            self._idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _deliver_due(self) -> float:
        """Send what is due, in order per chat; return how long to wait before the next try."""
        blocked: set[int] = set()
        wait = BACKOFF_S[-1]
        for row in await self._store.outbox_pending():
            if row["chat_id"] in blocked:
                continue
            due = row["next_attempt_at"]
            if due.tzinfo is None:
                due = due.replace(tzinfo=UTC)
            # A message not tried yet is due now, whatever clock stamped it; waits after a
            # failed attempt are set here, in real time.
            if row["attempts"] > 0 and due > _now():
                blocked.add(row["chat_id"])
                wait = min(wait, (due - _now()).total_seconds())
                continue
            retry_in = await self._deliver(row)
            if retry_in is not None:
                blocked.add(row["chat_id"])
                wait = min(wait, retry_in)
        return max(wait, 0.05)

    async def _deliver(self, row: dict[str, Any]) -> float | None:
        """Send one message; return None when done, or the seconds to wait before retrying."""
        try:
            await self._send(row, ParseMode.HTML)
        except RetryAfter as exc:
            return await self._later(row, _seconds(exc.retry_after), "429")
        except ChatMigrated as exc:
            await self._store.move_chat(row["chat_id"], exc.new_chat_id)
            logger.warning("chat %s became %s", row["chat_id"], exc.new_chat_id)
            return 0.0
        except BadRequest as exc:
            return await self._refused(row, exc)
        except Forbidden as exc:
            await self._give_up(row, f"forbidden: {exc.message}")
        except TelegramError as exc:
            self._failures += 1
            backoff = BACKOFF_S[min(self._failures - 1, len(BACKOFF_S) - 1)]
            return await self._later(row, backoff, type(exc).__name__)
        else:
            self._failures = 0
            await self._store.outbox_done(row["id"], _now())
        return None

    async def _refused(self, row: dict[str, Any], exc: BadRequest) -> float | None:
        text = exc.message.lower()
        if "not modified" in text:
            await self._store.outbox_done(row["id"], _now())
        elif "parse entities" in text:
            # Never lose the words over a formatting mistake: send them unformatted.
            try:
                await self._send(row, None)
                await self._store.outbox_done(row["id"], _now(), "sent as plain text")
            except TelegramError as again:
                await self._give_up(row, f"refused: {again}")
        elif "replied message not found" in text and row["reply_to"]:
            await self._send({**row, "reply_to": None}, ParseMode.HTML)
            await self._store.outbox_done(row["id"], _now())
        else:
            await self._give_up(row, f"refused: {exc.message}")
        return None

    async def _send(self, row: dict[str, Any], mode: ParseMode | None) -> None:
        body = row["body"] if mode else plain(row["body"])
        if row["kind"] == "task":
            await self._send_task_change(row, mode)
        elif row["kind"] == "card":
            card = await self.render_card(row["task_id"]) if self.render_card else None
            if card is None:
                return
            chat_id, message_id, html_body, markup = card
            await self._bot.edit_message_text(
                html_body if mode else plain(html_body),
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=mode,
                reply_markup=markup,
            )
        elif row["kind"] == "photo" and self._open_photo is not None:
            with self._open_photo(row["markup"]["photo_key"]) as photo:
                await self._bot.send_photo(
                    row["chat_id"], photo, caption=body[:1024], parse_mode=mode
                )
        else:
            await self._bot.send_message(
                row["chat_id"],
                body,
                parse_mode=mode,
                reply_to_message_id=row["reply_to"],
                allow_sending_without_reply=True,
            )

    async def _send_task_change(self, row: dict[str, Any], mode: ParseMode | None) -> None:
        # The card is rendered as it stands now; the outcome only if it is still the news.
        # A card that cannot be edited any more must not hold back the outcome message.
        try:
            await self._send({**row, "kind": "card"}, mode)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                logger.warning("task %s: card not updated: %s", row["task_id"], exc.message)
        render = self.render_outcome
        outcome = await render(row["task_id"], row["body"]) if render else None
        if outcome is None:
            return
        chat_id, reply_to, html_body = outcome
        await self._bot.send_message(
            chat_id,
            html_body if mode else plain(html_body),
            parse_mode=mode,
            reply_to_message_id=reply_to,
            allow_sending_without_reply=True,
        )

    async def _later(self, row: dict[str, Any], seconds: float, error: str) -> float:
        await self._store.outbox_retry(row["id"], _now() + timedelta(seconds=seconds), error)
        logger.warning("message to chat %s delayed %.0f s: %s", row["chat_id"], seconds, error)
        return seconds

    async def _give_up(self, row: dict[str, Any], error: str) -> None:
        logger.error(
            "message to chat %s dropped: %s",
            row["chat_id"],
            error,
            extra={"action": "outbox_dropped", "task_id": row["task_id"]},
        )
        await self._store.outbox_done(row["id"], _now(), error)


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if isinstance(value, timedelta) else float(value)
