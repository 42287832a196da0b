"""/publishat, /interval, /batch and /best: every plan is shown in full, queued when accepted."""

from __future__ import annotations

import html
import logging
import math
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.cards import privacy_text
from bot.handlers import Context, actor_of, deps, parse_task_id, reply, send_card
from bot.messages import Html, text
from core.access import Actor
from core.errors import InputError
from core.models import AccountStatus, Privacy
from core.planning import AUDIENCE_SPACING_H
from core.plans import Accepted, Plan, PlanKind, PlanLine, PlanService, Scheduled
from core.quota import MoveReason
from core.timeparse import format_local

logger = logging.getLogger(__name__)

#: Buttons carry `plan:ok:<token>` or `plan:no:<token>` (well under Telegram's 64 bytes).
CALLBACK_RE = re.compile(r"plan:(ok|no):([A-Za-z0-9_-]{1,16})")
#: Telegram allows 4096 characters in a message; a longer plan is sent in several.
MESSAGE_CHARS = 4000
#: Albums whose drafts the chat was already told about (a few, per chat).
ALBUM_MEMORY = 20


def plans(context: Context) -> PlanService:
    """Return the plan service."""
    found: PlanService = context.bot_data["plans"]
    return found


async def publishat_command(update: Update, context: Context) -> None:
    """/publishat <id> <when>: upload now; YouTube makes it public at that time."""
    actor = actor_of(update, context)
    args = context.args or []
    task_id = await _task_id(update, args, 2, "usage.publishat", actor)
    if task_id is None:
        return
    done = await plans(context).publish_at(task_id, " ".join(args[1:]), actor)
    await reply(update, render_scheduled(done, actor))
    await deps(context).outbox.refresh_card(done.task.chat_id, done.task.id)


async def interval_command(update: Update, context: Context) -> None:
    """/interval <id> <hours> <account…>: one video on several channels, spaced."""
    actor = actor_of(update, context)
    args = context.args or []
    task_id = await _task_id(update, args, 3, "usage.interval", actor)
    if task_id is None:
        return
    plan = await plans(context).interval(task_id, args[1], args[2:], actor, _chat_id(update))
    await send_plan(update, plan, actor)


async def best_command(update: Update, context: Context) -> None:
    """/best <id> [account…]: the nearest peak slot with quota left."""
    actor = actor_of(update, context)
    args = context.args or []
    task_id = await _task_id(update, args, 1, "usage.best", actor)
    if task_id is None:
        return
    plan = await plans(context).best(task_id, args[1:], actor, _chat_id(update))
    await send_plan(update, plan, actor)


async def batch_command(update: Update, context: Context) -> None:
    """/batch [ids…] daily <time> | every <span> [from <when>] | best [on <account…>]."""
    actor = actor_of(update, context)
    message = update.effective_message
    parts = (message.text or "").split(maxsplit=1) if message else []
    if len(parts) < 2:
        await reply(update, text("usage.batch", actor.language))
        return
    plan = await plans(context).batch(parts[1], actor, _chat_id(update))
    await send_plan(update, plan, actor)


async def plan_button(update: Update, context: Context) -> None:
    """Accept or cancel a plan; forged or stale buttons are answered and change nothing."""
    query = update.callback_query
    assert query is not None
    actor = actor_of(update, context)
    lang = actor.language
    match = CALLBACK_RE.fullmatch(query.data or "")
    if match is None:
        await query.answer(html.unescape(text("button.unknown", lang)), show_alert=True)
        return
    action, token = match.groups()
    service = plans(context)
    try:
        accepted = await service.accept(token, actor) if action == "ok" else None
        if action == "no":
            service.cancel(token, actor)
    except InputError as exc:
        if exc.key in ("plan.gone", "plan.not_yours"):
            await query.answer(html.unescape(text(exc.key, lang)), show_alert=True)
            return
        await query.answer()
        await _drop_buttons(query)
        raise  # the error handler says why, in the chat
    await query.answer()
    await _drop_buttons(query)
    if accepted is None:
        await reply(update, text("plan.cancelled", lang))
        return
    await reply(update, render_accepted(accepted, actor))
    for task, line in zip(accepted.tasks, accepted.plan.lines, strict=True):
        if line.copy:
            await send_card(
                update, context, await deps(context).service.view(task.id, actor), actor
            )
        else:
            await deps(context).outbox.refresh_card(task.chat_id, task.id)


async def draft_hint(update: Update, context: Context) -> None:
    """On the first video of an album, say that its videos are drafts /batch can spread."""
    message = update.effective_message
    album = message.media_group_id if message is not None else None
    if album is None or context.chat_data is None:
        return
    told: list[str] = context.chat_data.setdefault("album_hints", [])
    if album in told:
        return
    told.append(album)
    del told[:-ALBUM_MEMORY]
    await reply(update, text("batch.hint", actor_of(update, context).language))


async def send_plan(update: Update, plan: Plan, actor: Actor) -> None:
    """Show a plan in full, with Accept and Cancel under its last part."""
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    text("button.plan_accept", actor.language),
                    callback_data=f"plan:ok:{plan.token}",
                ),
                InlineKeyboardButton(
                    text("button.plan_cancel", actor.language),
                    callback_data=f"plan:no:{plan.token}",
                ),
            ]
        ]
    )
    parts = render_plan(plan, actor)
    for part in parts[:-1]:
        await reply(update, part)
    await reply(update, parts[-1], reply_markup=keyboard)


# -- rendering -------------------------------------------------------------------------------


def render_plan(plan: Plan, actor: Actor) -> list[str]:
    """Return a plan as one or more messages: header, one line per task, forecast, question."""
    lang, zone = actor.language, ZoneInfo(actor.timezone)
    blocks = [_header(plan, lang, zone)]
    if plan.start is not None and plan.start.note is not None:
        blocks.append(text(f"time.note_{plan.start.note}", lang, **plan.start.note_params(zone)))
    blocks += [_line(plan, line, lang, zone) for line in plan.lines]
    blocks.append(_forecast(plan, lang, zone))
    kept = [line for line in plan.lines if line.privacy is not Privacy.PUBLIC]
    if kept:
        ids = ", ".join(dict.fromkeys(f"#{line.task_id}" for line in kept))
        blocks.append(text("plan.private_hint", lang, ids=ids))
    blocks.append(text("plan.ask", lang))
    return _chunks(blocks)


def render_scheduled(done: Scheduled, actor: Actor) -> str:
    """Return the answer to /publishat: the instant, any DST note and any re-planning."""
    lang, zone = actor.language, ZoneInfo(actor.timezone)
    lines = [
        text(
            "publishat.done", lang, task_id=done.task.id, when=format_local(done.publish_at, zone)
        )
    ]
    if done.resolved.note is not None:
        lines.append(
            text(f"time.note_{done.resolved.note}", lang, **done.resolved.note_params(zone))
        )
    if done.publish_at != done.resolved.instant:
        lines.append(
            text(
                "publishat.replanned",
                lang,
                minutes=_minutes(done.upload_s),
                asked=format_local(done.resolved.instant, zone),
                at=format_local(done.publish_at, zone),
            )
        )
    return "\n".join(lines)


def render_accepted(accepted: Accepted, actor: Actor) -> str:
    """Return the answer to Accept: what was queued and what the lead-time guard moved."""
    lang, zone = actor.language, ZoneInfo(actor.timezone)
    ids = ", ".join(f"#{task.id}" for task in accepted.tasks)
    lines = [text("plan.accepted", lang, count=len(accepted.tasks), ids=ids)]
    for moved in accepted.replanned:
        lines.append(
            text(
                "plan.accept_replanned",
                lang,
                task_id=moved.task_id,
                asked=format_local(moved.asked, zone),
                at=format_local(moved.at, zone),
            )
        )
    return "\n".join(lines)


def _header(plan: Plan, lang: str, zone: ZoneInfo) -> str:
    names = ", ".join(account.name for account in plan.accounts)
    count = len(plan.lines)
    if plan.kind is PlanKind.INTERVAL:
        every = _span(plan.every, lang)
        return text(
            "plan.head.interval", lang, task_id=plan.lines[0].task_id, count=count, every=every
        )
    if plan.kind is PlanKind.DAILY:
        clock = f"{plan.clock:%H:%M}" if plan.clock is not None else "?"
        return text("plan.head.daily", lang, count=count, clock=clock, names=names)
    if plan.kind is PlanKind.EVERY:
        start = format_local(plan.start.instant, zone) if plan.start is not None else "?"
        every = _span(plan.every, lang)
        return text("plan.head.every", lang, count=count, every=every, start=start, names=names)
    return text("plan.head.best", lang, count=count, spacing=f"{AUDIENCE_SPACING_H:g}")


def _label(line: PlanLine, lang: str) -> str:
    return text("plan.copy" if line.copy else "plan.task", lang, task_id=line.task_id)


def _line(plan: Plan, line: PlanLine, lang: str, zone: ZoneInfo) -> str:
    """Return one task of the plan, with its DST, quota and lead-time notes under it."""
    status = ""
    if line.account.status is not AccountStatus.ACTIVE:
        shown = text(f"account.status.{line.account.status.value}", lang)
        status = text("plan.status", lang, status=Html(shown))
    row = text(
        "plan.line",
        lang,
        label=Html(_label(line, lang)),
        name=line.account.name,
        status=Html(status),
        when=format_local(line.at, zone),
        local=Html(_local(line, lang, zone)),
        what=Html(_what(plan, line, lang, zone)),
    )
    notes: list[str] = []
    if line.note is not None and line.wall is not None:
        wall = f"{line.wall:%Y-%m-%d %H:%M}"
        actual = format_local(line.slot, line.zone)
        notes.append(
            text(f"time.note_{line.note}", lang, wall=wall, zone=line.zone.key, actual=actual)
        )
    if line.moved is not None:
        at = format_local(line.upload_at, zone)
        notes.append(text("plan.moved", lang, at=at, reason=Html(_reason(line.moved, lang))))
    if line.asked_publish_at is not None and line.publish_at is not None:
        notes.append(
            text(
                "plan.lead",
                lang,
                minutes=_minutes(line.upload_s),
                asked=format_local(line.asked_publish_at, zone),
                at=format_local(line.publish_at, zone),
            )
        )
    return "\n".join([row, *(f"    {note}" for note in notes)])


def _local(line: PlanLine, lang: str, zone: ZoneInfo) -> str:
    """Return the instant read in the channel's zone, when that is not the person's."""
    if line.zone.key == zone.key:
        return ""
    local = line.at.astimezone(line.zone)
    same_day = local.date() == line.at.astimezone(zone).date()
    shown = f"{local:%H:%M}" if same_day else f"{local:%m-%d %H:%M}"
    return text("plan.local", lang, time=shown, zone=line.zone.key)


def _what(plan: Plan, line: PlanLine, lang: str, zone: ZoneInfo) -> str:
    privacy = privacy_text(line.privacy, lang)
    if line.upload_at <= plan.created_at:
        return text("plan.what_now", lang, privacy=Html(privacy))
    if line.publish_at is not None:
        return text("plan.what_public", lang, upload=f"{line.upload_at.astimezone(zone):%H:%M}")
    if line.privacy is Privacy.PUBLIC:
        return text("plan.what_lands", lang)
    return text("plan.what_kept", lang, privacy=Html(privacy))


def _forecast(plan: Plan, lang: str, zone: ZoneInfo) -> str:
    """Return the quota forecast: how many go as planned, and when the others go."""
    total = len(plan.lines)
    if plan.fitting == total:
        return text("plan.forecast_all", lang, total=total)
    moves = [
        text(
            "plan.forecast_move",
            lang,
            label=Html(_label(line, lang)),
            name=line.account.name,
            when=f"{line.upload_at.astimezone(zone):%Y-%m-%d %H:%M}",
            reason=Html(_reason(line.moved, lang)),
        )
        for line in plan.lines
        if line.moved is not None
    ]
    return text(
        "plan.forecast_some", lang, fit=plan.fitting, total=total, moves=Html("; ".join(moves))
    )


def _reason(reason: MoveReason | None, lang: str) -> str:
    return text(f"plan.reason.{(reason or MoveReason.PROJECT_QUOTA).value}", lang)


def _span(every: timedelta | None, lang: str) -> str:
    """Return a spacing as people say it: 3 h, 90 min, 2 d."""
    if every is None:
        return "?"
    minutes = every.total_seconds() / 60
    for unit, size in (("d", 1440), ("h", 60), ("m", 1)):
        if minutes >= size and (minutes / size).is_integer():
            return text(f"plan.span.{unit}", lang, n=int(minutes / size))
    return text("plan.span.h", lang, n=f"{minutes / 60:.2f}".rstrip("0").rstrip("."))


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def _chunks(blocks: list[str]) -> list[str]:
    """Join blocks into messages that Telegram takes (each under MESSAGE_CHARS)."""
    parts: list[str] = []
    current = ""
    for block in blocks:
        block = block[:MESSAGE_CHARS]
        if current and len(current) + 1 + len(block) > MESSAGE_CHARS:
            parts.append(current)
            current = block
        else:
            current = f"{current}\n{block}" if current else block
    parts.append(current)
    return parts


# -- small helpers ---------------------------------------------------------------------------


async def _task_id(
    update: Update, args: list[str], needed: int, usage: str, actor: Actor
) -> int | None:
    if len(args) < needed:
        await reply(update, text(usage, actor.language))
        return None
    task_id = parse_task_id(args[0])
    if task_id is None:
        await reply(update, text("usage.bad_id", actor.language, text=args[0][:50]))
    return task_id


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


async def _drop_buttons(query: CallbackQuery) -> None:
    """Take Accept and Cancel off an answered plan."""
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except TelegramError:
        logger.debug("plan buttons already gone", exc_info=True)


def install_plans(app: Application) -> None:  # type: ignore[type-arg]
    """Register /publishat, /interval, /batch, /best, the plan buttons and the draft hint."""
    fresh = filters.UpdateType.MESSAGE
    for name, callback in (
        ("publishat", publishat_command),
        ("interval", interval_command),
        ("batch", batch_command),
        ("best", best_command),
    ):
        app.add_handler(CommandHandler(name, callback, filters=fresh))
    app.add_handler(CallbackQueryHandler(plan_button, pattern=r"^plan:"))
    # In a later group than the video handler (group 0), so the album's draft exists already.
    videos = fresh & (filters.VIDEO | filters.Document.VIDEO)
    app.add_handler(MessageHandler(videos, draft_hint), group=1)
