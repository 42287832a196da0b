"""Shows a running upload's progress on its task card, edited in place at a bounded rate."""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.cards import card_keyboard, human_size, render_card
from bot.messages import text
from core.models import TaskState
from core.ports import Clock
from core.service import TaskService, TaskView

logger = logging.getLogger(__name__)

#: Telegram allows about 20 messages a minute per group; one edit per task every 5 s stays under.
DEFAULT_INTERVAL_S = 5.0
BAR_CELLS = 12
#: An upload not heard of for this long is forgotten.
FORGET_AFTER = timedelta(hours=1)
#: The longest an upload waits for its progress edit (a Bot API outage or a 429 must not stall it).
EDIT_TIMEOUT_S = 2.0
#: After an edit failed, the next one waits this much longer than the interval.
FAILED_EDIT_PAUSE = timedelta(seconds=30)


def duration_text(seconds: float | None, lang: str) -> str:
    """Return a duration the way people read it: 45 s, 3 min 20 s, 2 h 5 min, 1 d 4 h."""
    if seconds is None:
        return text("value.none", lang)
    whole = max(0, round(seconds))
    if whole < 60:
        return text("duration.s", lang, s=whole)
    if whole < 3600:
        return text("duration.ms", lang, m=whole // 60, s=whole % 60)
    if whole < 86400:
        return text("duration.hm", lang, h=whole // 3600, m=whole % 3600 // 60)
    return text("duration.dh", lang, d=whole // 86400, h=whole % 86400 // 3600)


def progress_bar(sent: int, total: int, cells: int = BAR_CELLS) -> str:
    """Return a bar of filled and empty cells."""
    filled = min(cells, sent * cells // total) if total > 0 else 0
    return "█" * filled + "░" * (cells - filled)


def progress_text(sent: int, total: int, speed_bps: float | None, lang: str) -> str:
    """Return the progress lines: bar, percent, bytes, speed and time left."""
    percent = min(100, sent * 100 // total) if total > 0 else 0
    if speed_bps is None or speed_bps <= 0:
        speed = text("progress.speed_unknown", lang)
        eta = text("progress.eta_unknown", lang)
    else:
        speed = f"{human_size(round(speed_bps))}/s"
        left = duration_text(max(0, total - sent) / speed_bps, lang)
        eta = text("progress.eta", lang, time=html.unescape(left))
    return text(
        "progress.line",
        lang,
        bar=progress_bar(sent, total),
        percent=percent,
        sent=human_size(sent),
        total=human_size(total),
        speed=html.unescape(speed),
        eta=html.unescape(eta),
    )


@dataclass
class _Upload:
    started_at: datetime
    start_sent: int
    last_seen: datetime
    last_edit: datetime | None = None
    status_message_id: int | None = None
    #: The figures last shown: (sent, total, bytes a second).
    shown: tuple[int, int, float | None] | None = None


class ProgressReporter:
    """Edits a task's card with its upload progress, at most once per interval per task.

    Callers may report every chunk; calls between edits only update the figures. A task
    without a card gets one status message, edited the same way. Time comes from the clock.
    """

    def __init__(
        self,
        bot: Bot,
        service: TaskService,
        clock: Clock,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        languages: dict[int, str] | None = None,
        language: str = "en",
        zone: str = "UTC",
    ) -> None:
        self._bot = bot
        self._service = service
        self._clock = clock
        self._interval = timedelta(seconds=interval_s)
        self._languages = languages if languages is not None else {}
        self._language = language
        self._zone = ZoneInfo(zone)
        #: Zones people chose with /tz (shared with the handlers), for the card's times.
        self.timezones: dict[int, str] = {}
        self._uploads: dict[int, _Upload] = {}

    async def update(self, task_id: int, sent: int, total: int) -> None:
        """Take a progress report; edit the task's message if the interval has passed."""
        now = self._clock.now()
        upload = self._uploads.get(task_id)
        if upload is None:
            self._forget_old(now)
            upload = self._uploads[task_id] = _Upload(now, sent, now)
        upload.last_seen = now
        if upload.last_edit is not None and now - upload.last_edit < self._interval:
            return
        # Claimed before the edit is awaited, so concurrent reports cannot both edit.
        upload.last_edit = now
        view = await self._service.view_for_card(task_id)
        if view is None or view.task.state is not TaskState.UPLOADING:
            return
        elapsed = (now - upload.started_at).total_seconds()
        speed = (sent - upload.start_sent) / elapsed if elapsed > 0 else None
        try:
            # The upload waits for this edit, so it is bounded; the next one comes later.
            async with asyncio.timeout(EDIT_TIMEOUT_S):
                await self._show(view, upload, sent, total, speed)
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return  # the outbox showed these very figures a moment ago
            self._pause(upload, now, task_id, exc)
        except (TelegramError, TimeoutError) as exc:
            self._pause(upload, now, task_id, exc)

    def _pause(self, upload: _Upload, now: datetime, task_id: int, exc: Exception) -> None:
        """Skip progress edits for a while after one failed, so the upload is never held up."""
        upload.last_edit = now + FAILED_EDIT_PAUSE
        logger.warning(
            "task %s: progress not shown: %s",
            task_id,
            getattr(exc, "message", None) or type(exc).__name__,
            extra={"action": "progress_failed", "task_id": task_id},
        )

    def _card_zone(self, user_id: int) -> ZoneInfo:
        zone = self.timezones.get(user_id)
        return ZoneInfo(zone) if zone else self._zone

    def line(self, task_id: int, lang: str) -> str | None:
        """Return the progress line last shown for a task, for other renderings of its card."""
        upload = self._uploads.get(task_id)
        if upload is None or upload.shown is None:
            return None
        return progress_text(*upload.shown, lang)

    def forget(self, task_id: int) -> None:
        """Drop what is known about a task's upload."""
        self._uploads.pop(task_id, None)

    async def _show(
        self, view: TaskView, upload: _Upload, sent: int, total: int, speed: float | None
    ) -> None:
        task = view.task
        lang = self._languages.get(task.user_id, self._language)
        upload.shown = (sent, total, speed)
        line = progress_text(sent, total, speed, lang)
        if task.card_message_id is not None:
            await self._bot.edit_message_text(
                f"{render_card(view, lang, self._card_zone(task.user_id))}\n\n{line}",
                chat_id=task.chat_id,
                message_id=task.card_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=card_keyboard(task, lang),
            )
            return
        body = f"{text('progress.status', lang, task_id=task.id)}\n{line}"
        if upload.status_message_id is None:
            sent_message = await self._bot.send_message(
                task.chat_id, body, parse_mode=ParseMode.HTML
            )
            upload.status_message_id = sent_message.message_id
            return
        await self._bot.edit_message_text(
            body,
            chat_id=task.chat_id,
            message_id=upload.status_message_id,
            parse_mode=ParseMode.HTML,
        )

    def _forget_old(self, now: datetime) -> None:
        for task_id, upload in list(self._uploads.items()):
            if now - upload.last_seen > FORGET_AFTER:
                del self._uploads[task_id]
