"""Tells a task's chat what happened to it: edits the card and posts the outcome."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.cards import (
    card_keyboard,
    privacy_text,
    problem_text,
    render_card,
    video_url,
    when_text,
)
from bot.messages import text
from bot.outbox import RenderedCard, RenderedOutcome, TelegramOutbox
from bot.progress import ProgressReporter
from core.models import Account, AccountStatus, Task, TaskState
from core.service import TaskService

logger = logging.getLogger(__name__)


#: What admins are told when an account moves to a status that needs them.
ACCOUNT_MESSAGES = {
    AccountStatus.NEEDS_AUTH: "account.needs_auth",
    AccountStatus.ERROR: "account.error",
    AccountStatus.ACTIVE: "account.back",
}


def _local(value: str, zone: ZoneInfo, lang: str) -> str:
    """Show an ISO instant parameter in the reader's zone; other values as they are."""
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return value
    return when_text(instant, zone, lang) if instant.tzinfo else value


class TelegramNotifier:
    """Implements core.ports.Notifier over the Bot API."""

    def __init__(
        self,
        outbox: TelegramOutbox,
        service: TaskService,
        languages: dict[int, str],
        language: str,
        zone: str,
        admin_ids: Sequence[int] = (),
        timezones: dict[int, str] | None = None,
    ) -> None:
        #: Zones people chose with /tz; everyone else reads the team's zone.
        self._timezones = timezones if timezones is not None else {}
        self._admin_ids = tuple(admin_ids)
        self._outbox = outbox
        self._service = service
        self._languages = languages
        self._language = language
        self._zone = ZoneInfo(zone)
        outbox.render_card = self.render_card
        outbox.render_outcome = self.render_outcome
        self.progress: ProgressReporter | None = None  # set by app.wiring (issue 5)
        #: Runs the alert evaluation, which tells the alert chats of a status change at once
        #: (core.alerts; set by app.wiring when there are alert chats).
        self.announce: Callable[[], Awaitable[object]] | None = None
        #: Chats that hear alerts: an admin whose own chat is one is told there, not twice.
        self.alert_chat_ids: frozenset[int] = frozenset()

    async def task_changed(self, task_id: int) -> None:
        """Refresh the task's card; the news of a transition is queued with the transition."""
        view = await self._service.view_for_card(task_id)
        if view is not None:
            await self._outbox.refresh_card(view.task.chat_id, task_id)
        self._outbox.poke()

    def _zone_of(self, user_id: int) -> ZoneInfo:
        zone = self._timezones.get(user_id)
        return ZoneInfo(zone) if zone else self._zone

    async def render_outcome(self, task_id: int, state: str) -> RenderedOutcome | None:
        """Render what the chat is told about a task reaching `state`, if that is still news."""
        view = await self._service.view_for_card(task_id)
        if view is None or view.task.state.value != state:
            return None
        task = view.task
        outcome = self._outcome(task, self._languages.get(task.user_id, self._language))
        return None if outcome is None else (task.chat_id, task.card_message_id, outcome)

    async def account_changed(self, account_id: int, previous: AccountStatus) -> None:
        """Tell the admins privately when an account needs them or is back; have the alert
        chats told of every change at once."""
        account = await self._service.account(account_id)
        if account is None:
            return
        await self._tell_admins(account, previous)
        if self.announce is not None:
            try:
                await self.announce()
            except Exception:
                logger.exception("account %s: alert chats not told", account_id)

    async def _tell_admins(self, account: Account, previous: AccountStatus) -> None:
        key = ACCOUNT_MESSAGES.get(account.status)
        if account.status is AccountStatus.ACTIVE and previous is not AccountStatus.NEEDS_AUTH:
            key = None
        if key is None:
            return
        for admin in self._admin_ids:
            if admin in self.alert_chat_ids:
                continue  # the alert in that same chat says it
            lang = self._languages.get(admin, self._language)
            reason = problem_text(account.status_reason, lang) if account.status_reason else "?"
            body = text(key, lang, name=account.name, reason=reason)
            await self._outbox.post(admin, body)

    async def task_note(self, task_id: int, key: str, params: dict[str, str]) -> None:
        """Tell the task's chat what the engine did to it, as a reply to its card."""
        view = await self._service.view_for_card(task_id)
        if view is None:
            return
        task = view.task
        lang = self._languages.get(task.user_id, self._language)
        zone = self._zone_of(task.user_id)
        shown = {k: _local(v, zone, lang) for k, v in params.items()}
        body = text(key, lang, task_id=task_id, **shown)
        await self._outbox.post(task.chat_id, body, reply_to=task.card_message_id, task_id=None)

    async def task_progress(self, task_id: int, sent: int, total: int) -> None:
        """Show upload progress on the card (rate-limited by the progress reporter)."""
        if self.progress is not None:
            await self.progress.update(task_id, sent, total)

    def _outcome(self, task: Task, lang: str) -> str | None:
        if task.state is TaskState.PUBLISHED and task.video_id:
            published = text(
                "task.published",
                lang,
                task_id=task.id,
                url=video_url(task.video_id),
                privacy=privacy_text(task.privacy, lang),
            )
            return f"{published}\n{problem_text(task.error, lang)}" if task.error else published
        if task.state is TaskState.FAILED:
            return text("task.failed", lang, task_id=task.id, reason=self._reason(task, lang))
        if task.state is TaskState.RETRY_WAIT:
            return text(
                "task.retry_wait",
                lang,
                task_id=task.id,
                reason=self._reason(task, lang),
                when=when_text(task.due_at, self._zone_of(task.user_id), lang),
            )
        return None

    def _reason(self, task: Task, lang: str) -> str:
        return problem_text(task.error, lang)

    async def render_card(self, task_id: int) -> RenderedCard | None:
        """Render a task's card from its current state, for the outbox to send."""
        view = await self._service.view_for_card(task_id)
        card_id = view.task.card_message_id if view else None
        if view is None or card_id is None:
            return None
        task = view.task
        lang = self._languages.get(task.user_id, self._language)
        body = render_card(view, lang, self._zone_of(task.user_id))
        line = self.progress.line(task.id, lang) if self.progress else None
        if line is not None and task.state is TaskState.UPLOADING:
            body = f"{body}\n\n{line}"  # an update while uploading keeps the progress bar
        return (
            task.chat_id,
            card_id,
            body,
            card_keyboard(task, lang),
        )
