"""Telegram handlers: read the update, call one service, render the answer."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from telegram import ForceReply, Message, Update, User
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.accounts_admin import install_accounts_admin
from bot.accounts_flow import install_account_flow
from bot.cards import (
    card_keyboard,
    human_size,
    privacy_keyboard,
    privacy_text,
    queue_line,
    render_card,
)
from bot.files import CLOUD_DOWNLOAD_LIMIT_BYTES, FileTooBigError, TelegramFiles
from bot.messages import text
from bot.outbox import TelegramOutbox
from bot.reports import install_reports
from core.access import AccessList, Actor
from core.accounts import resolve_zone
from core.errors import InputError
from core.models import Privacy
from core.service import IncomingVideo, TaskService, TaskView
from core.timeparse import format_local

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


@dataclass
class BotDeps:
    """What the handlers need, kept in application.bot_data."""

    service: TaskService
    access: AccessList
    files: TelegramFiles
    outbox: TelegramOutbox
    language: str
    timezone: str
    #: The language each person's Telegram client uses, learnt from their updates.
    languages: dict[int, str] = field(default_factory=dict)
    remember_language: Callable[[int, str], Awaitable[None]] | None = None
    #: Time zones people chose with /tz; everyone else reads times in the team's zone.
    timezones: dict[int, str] = field(default_factory=dict)
    remember_timezone: Callable[[int, str], Awaitable[None]] | None = None

    @property
    def zone(self) -> ZoneInfo:
        """Return the team's time zone."""
        return ZoneInfo(self.timezone)

    def language_of(self, user: User | None) -> str:
        """Return the language to answer a person in."""
        if user is None:
            return self.language
        code = (user.language_code or "").lower()
        if code.startswith("zh"):
            return "zh"
        if code.startswith("en"):
            return "en"
        return self.languages.get(user.id, self.language)


def deps(context: Context) -> BotDeps:
    """Return the handlers' dependencies."""
    found: BotDeps = context.bot_data["deps"]
    return found


def actor_of(update: Update, context: Context) -> Actor:
    """Return the acting person; the gate has already refused strangers."""
    d = deps(context)
    user = update.effective_user
    assert user is not None
    role = d.access.role_of(user.id)
    assert role is not None
    return Actor(user.id, role, d.language_of(user), d.timezones.get(user.id, d.timezone))


async def reply(update: Update, body: str, **kwargs: object) -> Message | None:
    """Answer in the chat the update came from, as HTML."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(body, parse_mode=ParseMode.HTML, **kwargs)  # type: ignore[arg-type]


async def gate(update: Update, context: Context) -> None:
    """Refuse anyone who is not an admin or operator; nothing else runs for them."""
    user = update.effective_user
    d = deps(context)
    if user is None:
        raise ApplicationHandlerStop
    lang = d.language_of(user)
    if d.languages.get(user.id) != lang:
        d.languages[user.id] = lang
        if d.remember_language is not None:
            # Kept in the database so results after a restart still come in their language.
            await d.remember_language(user.id, lang)
    if d.access.role_of(user.id) is not None:
        return
    logger.warning("refused user %s", user.id, extra={"action": "refused", "user_id": user.id})
    lang = d.language_of(user)
    if update.callback_query is not None:
        await update.callback_query.answer(
            text("access.stranger", lang, user_id=user.id), show_alert=True
        )
    elif _addressed_to_bot(update):
        await reply(update, text("access.stranger", lang, user_id=user.id))
    raise ApplicationHandlerStop


def _addressed_to_bot(update: Update) -> bool:
    # In a group only commands are answered, so strangers' chatter does not flood the chat.
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None:
        return False
    return chat.type == "private" or (message.text or "").startswith("/")


async def start(update: Update, context: Context) -> None:
    """Greet the person and say how to begin."""
    user = update.effective_user
    lang = actor_of(update, context).language
    await reply(update, text("start", lang, name=user.first_name if user else ""))


async def help_command(update: Update, context: Context) -> None:
    """List every command."""
    await reply(
        update, text("help", actor_of(update, context).language, zone=deps(context).timezone)
    )


async def receive_video(update: Update, context: Context) -> None:
    """Turn a sent video into a draft task and answer with its card."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    actor = actor_of(update, context)
    d = deps(context)
    media = message.video or message.document
    assert media is not None
    name = getattr(media, "file_name", None) or "video.mp4"
    mime = getattr(media, "mime_type", None) or "video/mp4"
    try:
        chunks = await d.files.open(media.file_id, media.file_size)
    except FileTooBigError as exc:
        size = human_size(exc.size) if exc.size else "?"
        limit = human_size(CLOUD_DOWNLOAD_LIMIT_BYTES)
        await reply(update, text("file.too_big", actor.language, size=size, limit=limit))
        return
    incoming = IncomingVideo(chunks, name, mime, media.file_unique_id)
    view = await d.service.receive_video(
        incoming, message.caption, update.effective_chat.id, actor
    )
    await send_card(update, context, view, actor)


async def unknown_command(update: Update, context: Context) -> None:
    """Answer a command the bot does not have (in a private chat; groups have other bots)."""
    chat = update.effective_chat
    if chat is not None and chat.type == "private":
        await reply(update, text("command.unknown", actor_of(update, context).language))


async def refuse_document(update: Update, context: Context) -> None:
    """Explain that a non-video file cannot be published."""
    message = update.effective_message
    assert message is not None
    attachment = message.document or message.audio or message.voice
    name = getattr(attachment, "file_name", None) or "?"
    mime = getattr(attachment, "mime_type", None) or "?"
    await reply(
        update, text("file.not_video", actor_of(update, context).language, name=name, mime=mime)
    )


async def send_card(update: Update, context: Context, view: TaskView, actor: Actor) -> None:
    """Send a task's card and remember it as the card."""
    zone = ZoneInfo(actor.timezone)
    card = await reply(
        update,
        render_card(view, actor.language, zone),
        reply_markup=card_keyboard(view.task, actor.language),
    )
    if card is not None:
        await deps(context).service.attach_card(view.task.id, card.message_id)


async def receive_photo(update: Update, context: Context) -> None:
    """Set a task's thumbnail from a photo sent in reply to its card."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    actor = actor_of(update, context)
    d = deps(context)
    target = message.reply_to_message
    task = (
        await d.service.task_by_card(update.effective_chat.id, target.message_id)
        if target
        else None
    )
    if task is None:
        await reply(update, text("thumbnail.no_card", actor.language))
        return
    photo = message.photo[-1]
    chunks = await d.files.open(photo.file_id, photo.file_size)
    view = await d.service.set_thumbnail(task.id, chunks, actor)
    await reply(update, text("thumbnail.set", actor.language, task_id=view.task.id))
    await refresh_card(context, view, actor)


async def receive_text(update: Update, context: Context) -> None:
    """Take a reply to a schedule prompt as the time; otherwise point to /help."""
    message = update.effective_message
    assert message is not None
    actor = actor_of(update, context)
    prompts: dict[int, int] = (
        context.chat_data.setdefault("prompts", {}) if context.chat_data is not None else {}
    )
    target = message.reply_to_message
    waiting = context.user_data.pop("schedule_prompt", None) if context.user_data else None
    if target is not None and target.message_id in prompts:
        await _schedule(update, context, prompts.pop(target.message_id), message.text or "", actor)
        return
    chat = update.effective_chat
    if target is None and waiting is not None:
        # The person answered the 🕒 prompt without using Telegram's reply.
        await _schedule(update, context, waiting, message.text or "", actor)
        return
    if chat is not None and chat.type == "private":
        # In a group, people talk to each other: only a reply to the bot's prompt is for it.
        await reply(update, text("text.unknown", actor.language))


async def publish_command(update: Update, context: Context) -> None:
    """/publish <id>: publish now."""
    actor = actor_of(update, context)
    task_id = await _task_id_arg(update, context, "usage.publish", actor)
    if task_id is not None:
        await _publish_now(update, context, task_id, actor)


async def schedule_command(update: Update, context: Context) -> None:
    """/schedule <id> <when>: publish at a time."""
    actor = actor_of(update, context)
    args = context.args or []
    if len(args) < 2:
        await reply(update, text("usage.schedule", actor.language))
        return
    task_id = await _task_id_arg(update, context, "usage.schedule", actor)
    if task_id is not None:
        await _schedule(update, context, task_id, " ".join(args[1:]), actor)


async def privacy_command(update: Update, context: Context) -> None:
    """/privacy <id> private|unlisted|public."""
    actor = actor_of(update, context)
    args = context.args or []
    if len(args) != 2:
        await reply(update, text("usage.privacy", actor.language))
        return
    task_id = await _task_id_arg(update, context, "usage.privacy", actor)
    if task_id is None:
        return
    try:
        privacy = Privacy(args[1].lower())
    except ValueError:
        await reply(update, text("usage.bad_privacy", actor.language, text=args[1][:50]))
        return
    await _set_privacy(update, context, task_id, privacy, actor)


async def cancel_command(update: Update, context: Context) -> None:
    """/cancel <id>."""
    actor = actor_of(update, context)
    task_id = await _task_id_arg(update, context, "usage.cancel", actor)
    if task_id is not None:
        await _cancel(update, context, task_id, actor)


async def status_command(update: Update, context: Context) -> None:
    """/status <id>: the task card, now."""
    actor = actor_of(update, context)
    task_id = await _task_id_arg(update, context, "usage.status", actor)
    if task_id is None:
        return
    view = await deps(context).service.view(task_id, actor)
    await reply(update, render_card(view, actor.language, ZoneInfo(actor.timezone)))


async def title_command(update: Update, context: Context) -> None:
    """/title <id> <new title>."""
    await _edit_command(update, context, "title")


async def description_command(update: Update, context: Context) -> None:
    """/description <id> <new description>."""
    await _edit_command(update, context, "description")


async def tags_command(update: Update, context: Context) -> None:
    """/tags <id> <tag> [tag...]: replace the tags (with or without #)."""
    await _edit_command(update, context, "tags")


async def retry_command(update: Update, context: Context) -> None:
    """/retry <id>: queue a failed task again."""
    actor = actor_of(update, context)
    task_id = await _task_id_arg(update, context, "usage.retry", actor)
    if task_id is None:
        return
    view = await deps(context).service.retry(task_id, actor)
    await reply(update, text("task.queued_now", actor.language, task_id=task_id))
    await refresh_card(context, view, actor)


async def _edit_command(update: Update, context: Context, field: str) -> None:
    actor = actor_of(update, context)
    message = update.effective_message
    raw = (message.text or "") if message else ""
    parts = raw.split(maxsplit=2)
    if len(parts) < 3:
        await reply(update, text(f"usage.{field}", actor.language))
        return
    task_id = parse_task_id(parts[1])
    if task_id is None:
        await reply(update, text("usage.bad_id", actor.language, text=parts[1][:50]))
        return
    value = parts[2]
    service = deps(context).service
    if field == "title":
        view = await service.edit_metadata(task_id, actor, title=value)
    elif field == "description":
        view = await service.edit_metadata(task_id, actor, description=value)
    else:
        tags = tuple(dict.fromkeys(t.lstrip("#＃") for t in value.split() if t.lstrip("#＃")))
        view = await service.edit_metadata(task_id, actor, tags=tags)
    await reply(update, text("task.edited", actor.language, task_id=task_id))
    await refresh_card(context, view, actor)


async def tz_command(update: Update, context: Context) -> None:
    """/tz [zone]: show or set the time zone this person reads and types times in."""
    actor = actor_of(update, context)
    d = deps(context)
    args = context.args or []
    if not args:
        await reply(update, text("tz.current", actor.language, zone=actor.timezone))
        return
    zone = resolve_zone(args[0])
    if zone is None:
        await reply(update, text("tz.unknown", actor.language, text=args[0][:60]))
        return
    d.timezones[actor.user_id] = zone
    if d.remember_timezone is not None:
        await d.remember_timezone(actor.user_id, zone)
    now = format_local(d.service.now(), ZoneInfo(zone))
    await reply(update, text("tz.set", actor.language, zone=zone, now=now))


async def queue_command(update: Update, context: Context) -> None:
    """/queue: unfinished tasks."""
    actor = actor_of(update, context)
    tasks = await deps(context).service.queue(actor)
    if not tasks:
        await reply(update, text("queue.empty", actor.language))
        return
    zone = ZoneInfo(actor.timezone)
    lines = [text("queue.header", actor.language)] + [
        queue_line(t, zone, actor.language) for t in tasks
    ]
    await reply(update, _fit("\n".join(lines)))


async def button(update: Update, context: Context) -> None:
    """Handle a card button; unknown or forged data gets a short answer and changes nothing."""
    query = update.callback_query
    assert query is not None
    actor = actor_of(update, context)
    action, task_id, value = _parse_callback(query.data or "")
    if task_id is None:
        await query.answer(text("button.unknown", actor.language), show_alert=True)
        return
    await query.answer()
    if action == "pub":
        await _publish_now(update, context, task_id, actor)
    elif action == "sch":
        await _prompt_schedule(update, context, task_id, actor)
    elif action == "prv" and value is None:
        await deps(context).service.view(task_id, actor)
        await reply(
            update,
            text("privacy.prompt", actor.language, task_id=task_id),
            reply_markup=privacy_keyboard(task_id, actor.language),
        )
    elif action == "prv" and value is not None:
        await _set_privacy(update, context, task_id, Privacy(value), actor)
    elif action == "can":
        await _cancel(update, context, task_id, actor)


async def on_error(update: object, context: Context) -> None:
    """Answer a person whose action failed, in their language; log what went wrong."""
    error = context.error
    if not isinstance(update, Update):
        logger.error("error outside an update: %s", type(error).__name__, exc_info=error)
        return
    d = deps(context)
    lang = d.language_of(update.effective_user)
    if isinstance(error, InputError):
        params = dict(error.params)
        if "state" in params:
            params["state"] = html.unescape(text(f"state.{params['state']}", lang))
        body = text(error.key, lang, **params)
    else:
        logger.error("handler failed", exc_info=error, extra={"action": "handler_error"})
        body = text("error.internal", lang)
    try:
        if update.callback_query is not None and update.effective_message is None:
            await update.callback_query.answer(html.unescape(body)[:200], show_alert=True)
        else:
            await reply(update, body)
    except Exception:
        logger.exception("could not tell the person about an error")


async def refresh_card(context: Context, view: TaskView, actor: Actor) -> None:
    """Queue an update of the task's card; the outbox renders it from the newest state."""
    await deps(context).outbox.refresh_card(view.task.chat_id, view.task.id)


async def _publish_now(update: Update, context: Context, task_id: int, actor: Actor) -> None:
    service = deps(context).service
    view = await service.publish_now(task_id, actor)
    held = await service.held_until(view.task)
    if held is None:
        await reply(update, text("task.queued_now", actor.language, task_id=task_id))
    else:
        until, why = held
        when = format_local(until, ZoneInfo(actor.timezone))
        body = text("task.queued_waits", actor.language, task_id=task_id, when=when)
        await reply(update, f"{body}\n{text(why, actor.language)}")
    await refresh_card(context, view, actor)


async def _schedule(
    update: Update, context: Context, task_id: int, when: str, actor: Actor
) -> None:
    view, resolved = await deps(context).service.schedule(task_id, when, actor)
    zone = ZoneInfo(actor.timezone)
    lines = [
        text(
            "task.scheduled",
            actor.language,
            task_id=task_id,
            when=format_local(resolved.instant, zone),
        )
    ]
    if resolved.note is not None:
        lines.append(
            text(f"time.note_{resolved.note}", actor.language, **resolved.note_params(zone))
        )
    await reply(update, "\n".join(lines))
    await refresh_card(context, view, actor)


async def _prompt_schedule(update: Update, context: Context, task_id: int, actor: Actor) -> None:
    await deps(context).service.view(task_id, actor)
    prompt = await reply(
        update,
        text("schedule.prompt", actor.language, task_id=task_id, zone=actor.timezone),
        reply_markup=ForceReply(selective=True),
    )
    if prompt is not None and context.chat_data is not None:
        context.chat_data.setdefault("prompts", {})[prompt.message_id] = task_id
    if context.user_data is not None:
        context.user_data["schedule_prompt"] = task_id


async def _set_privacy(
    update: Update, context: Context, task_id: int, privacy: Privacy, actor: Actor
) -> None:
    view = await deps(context).service.set_privacy(task_id, privacy, actor)
    shown = privacy_text(privacy, actor.language)
    await reply(update, text("task.privacy_set", actor.language, task_id=task_id, privacy=shown))
    await refresh_card(context, view, actor)


async def _cancel(update: Update, context: Context, task_id: int, actor: Actor) -> None:
    view = await deps(context).service.cancel(task_id, actor)
    await reply(update, text("task.cancelled", actor.language, task_id=task_id))
    await refresh_card(context, view, actor)


async def _task_id_arg(update: Update, context: Context, usage: str, actor: Actor) -> int | None:
    args = context.args or []
    if not args:
        await reply(update, text(usage, actor.language))
        return None
    task_id = parse_task_id(args[0])
    if task_id is None:
        await reply(update, text("usage.bad_id", actor.language, text=args[0][:50]))
    return task_id


def parse_task_id(raw: str) -> int | None:
    """Return the task id in `#12` or `12`, or None."""
    digits = raw.strip().removeprefix("#")
    if not digits.isascii() or not digits.isdigit() or len(digits) > 12:
        return None
    return int(digits)


def _parse_callback(data: str) -> tuple[str, int | None, str | None]:
    parts = data.split(":")
    if len(parts) not in (2, 3) or parts[0] not in {"pub", "sch", "prv", "can"}:
        return "", None, None
    task_id = parse_task_id(parts[1])
    value = parts[2] if len(parts) == 3 else None
    if value is not None and (parts[0] != "prv" or value not in {p.value for p in Privacy}):
        return "", None, None
    return parts[0], task_id, value


def _fit(body: str, limit: int = 4000) -> str:
    if len(body) <= limit:
        return body
    cut = body[:limit].rsplit("\n", 1)[0]
    return cut + "\n…"


def install(app: Application, deps_: BotDeps) -> None:  # type: ignore[type-arg]
    """Register every handler on the application."""
    app.bot_data["deps"] = deps_
    app.add_handler(TypeHandler(Update, gate), group=-1)
    # Edited messages are not new requests: editing a caption must not create a second task.
    fresh = filters.UpdateType.MESSAGE
    commands = {
        "start": start,
        "help": help_command,
        "publish": publish_command,
        "schedule": schedule_command,
        "privacy": privacy_command,
        "cancel": cancel_command,
        "status": status_command,
        "queue": queue_command,
        "title": title_command,
        "description": description_command,
        "tags": tags_command,
        "retry": retry_command,
        "tz": tz_command,
    }
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback, filters=fresh))
    app.add_handler(
        MessageHandler(fresh & (filters.VIDEO | filters.Document.VIDEO), receive_video)
    )
    app.add_handler(MessageHandler(fresh & filters.PHOTO, receive_photo))
    app.add_handler(
        MessageHandler(
            fresh & (filters.Document.ALL | filters.AUDIO | filters.VOICE), refuse_document
        )
    )
    install_reports(app, deps_)  # /report /stats /calendar /alerts (bot/reports.py)
    install_accounts_admin(app)  # /accounts /account /quota (bot/accounts_admin.py)
    from bot.plans import install_plans
    from bot.task_channels import install_task_channels

    install_task_channels(app)  # /use /why (bot/task_channels.py)
    install_plans(app)  # /publishat /interval /batch /best (bot/plans.py)
    install_account_flow(app)  # /addaccount /reauth (bot/accounts_flow.py)
    app.add_handler(MessageHandler(fresh & filters.TEXT & ~filters.COMMAND, receive_text))
    app.add_handler(MessageHandler(fresh & filters.COMMAND, unknown_command))
    app.add_handler(CallbackQueryHandler(button))
    app.add_error_handler(on_error)
