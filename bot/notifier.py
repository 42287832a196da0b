"""Tells a task's chat what happened to it: edits the card and posts the outcome."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.cards import (
    card_keyboard,
    privacy_text,
    problem_text,
    render_card,
    video_url,
    when_text,
)
from bot.messages import text
from core.models import Task, TaskState
from core.service import TaskService, TaskView

logger = logging.getLogger(__name__)


class TelegramNotifier:
    """Implements core.ports.Notifier over the Bot API."""

    def __init__(
        self, bot: Bot, service: TaskService, languages: dict[int, str], language: str, zone: str
    ) -> None:
        self._bot = bot
        self._service = service
        self._languages = languages
        self._language = language
        self._zone = ZoneInfo(zone)

    async def task_changed(self, task_id: int) -> None:
        """Refresh the task's card; post published, failed and retry outcomes to its chat."""
        view = await self._service.view_for_card(task_id)
        if view is None:
            return
        task = view.task
        lang = self._languages.get(task.user_id, self._language)
        await self._edit_card(view, lang)
        outcome = self._outcome(task, lang)
        if outcome is not None:
            await self._bot.send_message(
                task.chat_id,
                outcome,
                parse_mode=ParseMode.HTML,
                reply_to_message_id=task.card_message_id,
                allow_sending_without_reply=True,
            )

    async def task_progress(self, task_id: int, sent: int, total: int) -> None:
        """Show upload progress on the card (rate-limited by the progress reporter)."""

    def _outcome(self, task: Task, lang: str) -> str | None:
        if task.state is TaskState.PUBLISHED and task.video_id:
            return text(
                "task.published",
                lang,
                task_id=task.id,
                url=video_url(task.video_id),
                privacy=privacy_text(task.privacy, lang),
            )
        if task.state is TaskState.FAILED:
            return text("task.failed", lang, task_id=task.id, reason=self._reason(task, lang))
        if task.state is TaskState.RETRY_WAIT:
            return text(
                "task.retry_wait",
                lang,
                task_id=task.id,
                reason=self._reason(task, lang),
                when=when_text(task.due_at, self._zone, lang),
            )
        return None

    def _reason(self, task: Task, lang: str) -> str:
        return problem_text(task.error, lang)

    async def _edit_card(self, view: TaskView, lang: str) -> None:
        task = view.task
        if task.card_message_id is None:
            return
        try:
            await self._bot.edit_message_text(
                render_card(view, lang, self._zone),
                chat_id=task.chat_id,
                message_id=task.card_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=card_keyboard(task, lang),
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                logger.warning("task %s: card not updated: %s", task.id, exc.message)
