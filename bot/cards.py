"""Renders task cards, lists and keyboards."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.messages import Html, text
from core.models import Account, AccountStatus, Media, Privacy, Task, TaskState
from core.problems import decode_problem
from core.service import TaskView
from core.states import EDITABLE
from core.timeparse import format_local

#: Telegram allows 4096 characters in a message; the card keeps the description short.
CARD_DESCRIPTION_CHARS = 300


def human_size(size: int) -> str:
    """Return a byte count the way people read it."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def when_text(instant: datetime | None, zone: ZoneInfo, lang: str) -> str:
    """Return an instant in the person's zone, or 'not scheduled'."""
    if instant is None:
        return text("card.not_scheduled", lang)
    return html.escape(format_local(instant, zone))


def account_text(account: Account | None, lang: str) -> str:
    """Return how a card names an account."""
    if account is None:
        return text("card.no_account", lang)
    title = f" ({account.channel_title})" if account.channel_title else ""
    return html.escape(account.name + title)


def video_url(video_id: str) -> str:
    """Return the public link of a YouTube video."""
    return f"https://youtu.be/{video_id}"


def render_card(view: TaskView, lang: str, zone: ZoneInfo) -> str:
    """Return the HTML text of a task card."""
    task = view.task
    meta = task.metadata
    state = text(f"state.{task.state.value}", lang)
    lines = [f"🎬 <b>{text('card.title', lang, task_id=task.id, state=state)}</b>"]
    lines.append(_field("title", html.escape(meta.title), lang))
    if meta.description:
        short = meta.description[:CARD_DESCRIPTION_CHARS]
        short += "…" if len(meta.description) > CARD_DESCRIPTION_CHARS else ""
        lines.append(_field("description", html.escape(short), lang))
    tags = " ".join(f"#{t}" if " " not in t else f'"{t}"' for t in meta.tags)
    lines.append(_field("tags", html.escape(tags) or text("card.none", lang), lang))
    if view.account is None and view.allowed:
        among = ", ".join(view.allowed)
        lines.append(_field("account", text("card.auto_among", lang, names=among), lang))
    else:
        lines.append(_field("account", account_text(view.account, lang), lang))
    lines.append(_field("privacy", privacy_text(task.privacy, lang), lang))
    lines.append(_field("time", when_text(task.due_at, zone, lang), lang))
    if task.publish_at is not None:
        lines.append(_field("publish_at", when_text(task.publish_at, zone, lang), lang))
    if view.media is not None:
        lines.append(_field("file", media_text(view.media), lang))
    if task.thumbnail_key:
        lines.append(_field("thumbnail", text("card.thumbnail_set", lang), lang))
    if task.video_id:
        lines.append(_field("video", html.escape(video_url(task.video_id)), lang))
    if task.error and task.state in (TaskState.FAILED, TaskState.RETRY_WAIT):
        lines.append(_field("error", problem_text(task.error, lang), lang))
    elif task.error and task.state is TaskState.QUEUED and _is_wait(task.error):
        lines.append(_field("waits", problem_text(task.error, lang), lang))
    held = _held_by_account(view.account, zone, lang)
    if held is not None and task.state in (TaskState.QUEUED, TaskState.RETRY_WAIT):
        lines.append(_field("waits", held, lang))
    elif task.error and task.state is TaskState.PUBLISHED:
        lines.append(_field("note", problem_text(task.error, lang), lang))
    if task.state in EDITABLE:
        lines.append(f"<i>{text('card.hint', lang)}</i>")
    return "\n".join(lines)


def media_text(media: Media) -> str:
    """Return a one-line description of a video file."""
    return html.escape(
        f"{media.duration_s:.1f} s · {media.width}×{media.height} · {media.codec} · "
        f"{human_size(media.size)}"
    )


def privacy_text(privacy: Privacy, lang: str) -> str:
    """Return a privacy in the person's language."""
    return text(f"privacy.{privacy.value}", lang)


def card_keyboard(task: Task, lang: str) -> InlineKeyboardMarkup | None:
    """Return the card's buttons, or None once the task can no longer be changed."""
    if task.state not in EDITABLE:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(text("button.publish", lang), callback_data=f"pub:{task.id}"),
                InlineKeyboardButton(
                    text("button.schedule", lang), callback_data=f"sch:{task.id}"
                ),
            ],
            [
                InlineKeyboardButton(text("button.privacy", lang), callback_data=f"prv:{task.id}"),
                InlineKeyboardButton(text("button.cancel", lang), callback_data=f"can:{task.id}"),
            ],
        ]
    )


def privacy_keyboard(task_id: int, lang: str) -> InlineKeyboardMarkup:
    """Return one button per privacy."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    privacy_text(p, lang), callback_data=f"prv:{task_id}:{p.value}"
                )
                for p in Privacy
            ]
        ]
    )


def queue_line(task: Task, zone: ZoneInfo, lang: str) -> str:
    """Return one line of the queue listing."""
    state = text(f"state.{task.state.value}", lang)
    when = when_text(task.due_at, zone, lang)
    return f"#{task.id} · {state} · {when} · {html.escape(task.metadata.title[:60])}"


#: Platform reasons that have words of their own in the catalogue.
REASON_KEYS = {
    "quotaExceeded": "reason.quota",
    "uploadLimitExceeded": "reason.upload_limit",
    "invalid_grant": "reason.auth",
    "authError": "reason.auth",
    "invalidTitle": "reason.invalidTitle",
    "invalidTags": "reason.invalidTags",
    "invalidDescription": "reason.invalidDescription",
    "invalidPublishAt": "reason.invalidPublishAt",
    "invalidCategoryId": "reason.invalidCategoryId",
    "uploadTooLarge": "reason.uploadTooLarge",
    "mediaBodyRequired": "reason.mediaBodyRequired",
    "backendError": "reason.transient",
    "internalError": "reason.transient",
    "rateLimitExceeded": "reason.transient",
    "userRateLimitExceeded": "reason.transient",
    "network": "reason.transient",
    "timeout": "reason.transient",
}


#: Why a channel was rate-limited, in words (its status reason -> catalogue key).
_LIMIT_REASONS = {
    "project_quota": "wait.project_quota",
    "quotaExceeded": "wait.project_quota",
    "account_cap": "wait.account_cap",
    "uploadLimitExceeded": "wait.upload_limit",
}


def _held_by_account(account: Account | None, zone: ZoneInfo, lang: str) -> str | None:
    """Return why a channel that is not active holds its tasks, or None if it is active."""
    if account is None or account.status is AccountStatus.ACTIVE:
        return None
    name = account.name
    if account.status is AccountStatus.RATE_LIMITED:
        key = _LIMIT_REASONS.get(account.status_reason or "")
        why = text(key, lang) if key else html.escape(account.status_reason or "?")
        until = when_text(account.status_until, zone, lang)
        return text("wait.account.rate_limited", lang, name=name, until=until, why=why)
    return text(f"wait.account.{account.status.value}", lang, name=name)


def _is_wait(stored: str) -> bool:
    problem = decode_problem(stored)
    return problem is not None and (problem.key or "").startswith("wait.")


def problem_text(stored: str | None, lang: str) -> str:
    """Return a task's recorded problem in plain words, as Telegram HTML."""
    problem = decode_problem(stored)
    if problem is None:
        return Html("?")
    if problem.key is not None:
        return text(problem.key, lang, **problem.params)
    reason, _, detail = problem.raw.partition(": ")
    key = REASON_KEYS.get(reason)
    return text(key, lang) if key else Html(html.escape((detail or problem.raw)[:500]))


def _field(name: str, value: str, lang: str) -> str:
    return f"<b>{text(f'card.field.{name}', lang)}:</b> {value}"
