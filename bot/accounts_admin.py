"""/accounts, /account and /quota: every channel, one channel in full, every quota.

Everyone with a role reads them; admins pause, resume and tune a channel with
`/account <name> ...` or the buttons under its card. The work is done by
core.accounts.AccountService, kept in application.bot_data["accounts_admin"] by app.wiring.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.cards import problem_text
from bot.messages import Html, text
from core.access import Actor, Role
from core.accounts import RESUMABLE, AccountDetail, AccountService, Applied, Setting
from core.errors import InputError
from core.ledger import AccountDefaults, AccountLine, ProjectLine
from core.models import Account, AccountStatus
from core.quota import InsertCost
from core.timeparse import format_local

if TYPE_CHECKING:
    from bot.handlers import BotDeps

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
#: Where app.wiring puts the AccountService.
DEPS_KEY = "accounts_admin"
#: Telegram allows 4096 characters; lists stop short of it and say how many were left out.
MESSAGE_CHARS = 4000
#: Room kept at the end of a list for the line that says how many were left out.
MORE_RESERVE_CHARS = 120
_CALLBACK = re.compile(r"^acc:(\d{1,9}):(pause|resume|up|down)$")
STATUS_ICONS = {
    AccountStatus.ACTIVE: "🟢",
    AccountStatus.RATE_LIMITED: "⏳",
    AccountStatus.SUSPENDED: "⏸",
    AccountStatus.ERROR: "⚠️",
    AccountStatus.NEEDS_AUTH: "🔑",
}
#: Statuses whose channel takes no upload until a person acts.
HELD = frozenset({AccountStatus.SUSPENDED, AccountStatus.ERROR, AccountStatus.NEEDS_AUTH})
#: Status reasons the engine records, and their words.
_REASON_KEYS = {
    "project_quota": "account.reason.project_quota",
    "account_cap": "account.reason.account_cap",
    "limit lifted": "account.reason.limit_lifted",
    "re-authorised": "account.reason.reauthorised",
}
_ERRORS_REASON = re.compile(r"^errors:(\d+):(\d+)$")
#: OAuth client ids end in this; /quota leaves it out.
GOOGLE_CLIENT_SUFFIX = ".apps.googleusercontent.com"
CLIENT_ID_CHARS = 24


# -- handlers -----------------------------------------------------------------------------------


async def accounts_command(update: Update, context: Context) -> None:
    """/accounts: every channel with its status, today's uploads, next free slot, priority."""
    actor = _actor(update, context)
    service = _service(context)
    lines = await service.overview(actor)
    lang, zone = actor.language, ZoneInfo(actor.timezone)
    if not lines:
        await _reply(update, text("accounts.none", lang))
        return
    now = service.now()
    items = [account_item(line, lang, zone, now) for line in lines]
    header = text("admin.list_header", lang, count=len(lines), zone=actor.timezone)
    kept, left_out = fit_items(items, MESSAGE_CHARS - len(header))
    body = [header, *kept]
    body.append(text("admin.more", lang, count=left_out) if left_out else text("admin.hint", lang))
    await _reply(update, "\n".join(body))


async def account_command(update: Update, context: Context) -> None:
    """/account <name> [pause|resume|priority|quota|interval|peak|tz ...]."""
    actor = _actor(update, context)
    service = _service(context)
    args = context.args or []
    if not args:
        await _reply(update, text("admin.usage", actor.language))
        return
    account, rest = await service.target(args, actor)
    lead = ""
    if rest:
        applied = await service.apply(account.id, rest, actor, by=_by(update))
        lead = confirmation(applied, actor.language, service) + "\n\n"
    detail = await service.detail(account.id, actor)
    body, markup = detail_view(detail, actor, service.now())
    await _reply(update, lead + body, markup)


async def account_button(update: Update, context: Context) -> None:
    """Pause, resume or re-weigh a channel from its card; forged data changes nothing."""
    query = update.callback_query
    assert query is not None
    actor = _actor(update, context)
    match = _CALLBACK.match(query.data or "")
    if match is None:
        await query.answer(_plain(text("button.unknown", actor.language)), show_alert=True)
        return
    account_id, action = int(match[1]), match[2]
    service = _service(context)
    try:
        applied = await _press(service, account_id, action, actor, _by(update))
        detail = await service.detail(account_id, actor)
    except InputError as err:
        refusal = _plain(text(err.key, actor.language, **err.params))
        await query.answer(refusal[:200], show_alert=True)
        return
    await query.answer(_plain(confirmation(applied, actor.language, service))[:200])
    body, markup = detail_view(detail, actor, service.now())
    try:
        await query.edit_message_text(body, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def quota_command(update: Update, context: Context) -> None:
    """/quota: each project's and each channel's quota used and left, and when it renews."""
    actor = _actor(update, context)
    view = await _service(context).quota(actor)
    lang, zone = actor.language, ZoneInfo(actor.timezone)
    if not view.accounts:
        await _reply(update, text("accounts.none", lang))
        return
    body = [text("quota.title", lang, zone=actor.timezone)]
    budget = MESSAGE_CHARS - len(body[0])
    if view.projects:
        first = view.projects[0]
        body.append(
            text(
                "quota.projects_header",
                lang,
                reset=format_local(first.resets_at, zone),
                cost=_upload_cost(first, lang),
            )
        )
        kept, left_out = fit_items([project_item(p, lang) for p in view.projects], budget // 2)
        body += kept + ([text("quota.more", lang, count=left_out)] if left_out else [])
    body.append(text("quota.accounts_header", lang))
    rooms = {p.client_id: p.uploads_left for p in view.projects}
    items = [quota_account_item(line, rooms, lang, zone) for line in view.accounts]
    kept, left_out = fit_items(items, MESSAGE_CHARS - sum(len(b) + 1 for b in body))
    body += kept + ([text("quota.more", lang, count=left_out)] if left_out else [])
    await _reply(update, "\n".join(body))


async def _press(
    service: AccountService, account_id: int, action: str, actor: Actor, by: str
) -> Applied:
    if action in ("up", "down"):
        changed = await service.nudge_priority(account_id, 1 if action == "up" else -1, actor)
        return Applied(Setting.PRIORITY.value, changed)
    return await service.apply(account_id, [action], actor, by=by)


# -- rendering ----------------------------------------------------------------------------------


def fit_items(items: Sequence[str], budget: int) -> tuple[list[str], int]:
    """Return the items that fit in `budget` characters (one a line), and how many did not."""
    kept: list[str] = []
    used = 0
    for n, item in enumerate(items):
        room = budget - (MORE_RESERVE_CHARS if n < len(items) - 1 else 0)
        if used + len(item) + 1 > room:
            return kept, len(items) - n
        kept.append(item)
        used += len(item) + 1
    return kept, 0


def account_item(line: AccountLine, lang: str, zone: ZoneInfo, now: datetime) -> str:
    """Return a channel's two lines in /accounts."""
    a = line.account
    return text(
        "admin.list_line",
        lang,
        name=_name(a),
        status=Html(status_text(a, lang, zone, short=True)),
        used=line.uploads,
        cap=line.limits.uploads_per_day,
        next=Html(next_free_text(line, lang, zone, now, short=True)),
        priority=_number(a.priority),
    )


def status_text(account: Account, lang: str, zone: ZoneInfo, *, short: bool = False) -> str:
    """Return a status with its icon, and until when a rate limit lasts."""
    icon = STATUS_ICONS.get(account.status, "")
    status = text(f"account.status.{account.status.value}", lang)
    if account.status is AccountStatus.RATE_LIMITED and account.status_until is not None:
        until = _when(account.status_until, zone, short)
        return f"{icon} " + text("admin.status_until", lang, status=status, until=until)
    return f"{icon} {status}"


def next_free_text(
    line: AccountLine, lang: str, zone: ZoneInfo, now: datetime, *, short: bool = False
) -> str:
    """Return when the channel may start its next upload: now, an instant, or held."""
    a = line.account
    if a.status in HELD:
        return text("admin.free_held", lang)
    at = line.next_free_at
    if a.status is AccountStatus.RATE_LIMITED and a.status_until is not None:
        at = max(at, a.status_until)
    if at <= now:
        return text("admin.free_now", lang)
    return html.escape(_when(at, zone, short))


def reason_text(stored: str, lang: str) -> str:
    """Return a recorded status reason in words."""
    key = _REASON_KEYS.get(stored)
    if key is not None:
        return text(key, lang)
    errors = _ERRORS_REASON.match(stored)
    if errors is not None:
        return text("account.reason.errors", lang, count=errors[1], minutes=errors[2])
    return problem_text(stored, lang)


def detail_view(
    detail: AccountDetail, actor: Actor, now: datetime
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Return one channel in full, with buttons for admins."""
    lang, zone = actor.language, ZoneInfo(actor.timezone)
    a, line = detail.account, detail.line
    rows = [f"📺 <b>{html.escape(a.name)}</b> · {html.escape(a.platform)}"]
    channel = html.escape(a.channel_title or "—")
    if a.channel_id:
        channel += f" · <code>{html.escape(a.channel_id)}</code>"
    rows.append(_field("channel", channel, lang))
    rows.append(_field("status", status_text(a, lang, zone), lang))
    if a.status_reason and a.status is not AccountStatus.ACTIVE:
        rows.append(_field("reason", reason_text(a.status_reason, lang), lang))
    if detail.since is not None:
        rows.append(_field("since", html.escape(format_local(detail.since, zone)), lang))
    rows.append(_field("zone", html.escape(a.timezone), lang))
    rows.append(_field("today", today_text(line, lang, zone), lang))
    rows.append(_field("interval", interval_text(a, detail.defaults, lang), lang))
    rows.append(_field("priority", html.escape(_number(a.priority)), lang))
    rows.append(_field("peak", peak_text(a, detail.defaults, lang), lang))
    last = line.last_upload_at
    shown = html.escape(format_local(last, zone)) if last else text("admin.never", lang)
    rows.append(_field("last_upload", shown, lang))
    rows.append(_field("next_free", next_free_text(line, lang, zone, now), lang))
    if detail.project is not None:
        rows.append(_field("project", project_text(detail.project, lang, zone), lang))
    if actor.role is not Role.ADMIN:
        return "\n".join(rows), None
    rows.append(f"<i>{text('admin.change_hint', lang, name=a.name)}</i>")
    return "\n".join(rows), keyboard(a, lang)


def today_text(line: AccountLine, lang: str, zone: ZoneInfo) -> str:
    """Return today's uploads against the cap, and when the channel's day ends."""
    a = line.account
    return text(
        "admin.today_value",
        lang,
        used=line.uploads,
        cap=line.limits.uploads_per_day,
        default=Html(_default_mark(a.uploads_per_day is None, lang)),
        ends=format_local(line.day_ends_at, zone),
    )


def interval_text(account: Account, defaults: AccountDefaults, lang: str) -> str:
    """Return the spacing between two uploads in hours, marked when it is the default."""
    hours = defaults.limits(account).min_interval.total_seconds() / 3600
    mark = _default_mark(account.min_interval_h is None, lang)
    return text("admin.hours", lang, hours=_number(hours)) + mark


def peak_text(account: Account, defaults: AccountDefaults, lang: str) -> str:
    """Return the audience's peak hours and their zone, marked when they are the default."""
    peak = defaults.plan_account(account)
    own = account.peak_start_h is not None or account.peak_timezone is not None
    shown = text(
        "admin.peak_value",
        lang,
        start=peak.peak_start_h,
        end=peak.peak_end_h or 24,
        zone=peak.tz.key,
    )
    return shown + _default_mark(not own, lang)


def project_text(project: ProjectLine, lang: str, zone: ZoneInfo) -> str:
    """Return what is left of a project's day, and when it renews."""
    model = project.model
    return text(
        "admin.project_value",
        lang,
        left=f"{max(0, model.daily_units - project.spent.units):,}",
        daily=f"{model.daily_units:,}",
        uploads=project.uploads_left,
        reset=format_local(project.resets_at, zone),
        client=short_client(project.client_id),
    )


def keyboard(account: Account, lang: str) -> InlineKeyboardMarkup:
    """Return an admin's buttons under a channel's card."""
    status_row = []
    if account.status not in (AccountStatus.SUSPENDED, AccountStatus.NEEDS_AUTH):
        status_row.append(_button("admin.button.pause", lang, account.id, "pause"))
    if account.status in RESUMABLE:
        status_row.append(_button("admin.button.resume", lang, account.id, "resume"))
    priority_row = [
        _button("admin.button.priority_down", lang, account.id, "down"),
        _button("admin.button.priority_up", lang, account.id, "up"),
    ]
    return InlineKeyboardMarkup([row for row in (status_row, priority_row) if row])


def confirmation(applied: Applied, lang: str, service: AccountService) -> str:
    """Return what a person is told after a change, with the new value."""
    a = applied.account
    if applied.action == "pause":
        paused = text("admin.paused", lang, name=a.name)
        if applied.moved:
            paused += " " + text("admin.moved", lang, count=applied.moved)
        return paused
    if applied.action == "resume":
        return text("admin.resumed", lang, name=a.name)
    setting = Setting(applied.action)
    return text(
        "admin.changed",
        lang,
        name=a.name,
        setting=Html(text(f"admin.setting.{setting.value}", lang)),
        value=Html(setting_value(setting, a, service.defaults, lang)),
    )


def setting_value(setting: Setting, account: Account, defaults: AccountDefaults, lang: str) -> str:
    """Return a setting's value as it stands now, marked when it is the default."""
    if setting is Setting.PRIORITY:
        return html.escape(_number(account.priority))
    if setting is Setting.QUOTA:
        per_day = defaults.limits(account).uploads_per_day
        mark = _default_mark(account.uploads_per_day is None, lang)
        return text("admin.per_day", lang, count=per_day) + mark
    if setting is Setting.INTERVAL:
        return interval_text(account, defaults, lang)
    if setting is Setting.PEAK:
        return peak_text(account, defaults, lang)
    return html.escape(account.timezone)


def project_item(project: ProjectLine, lang: str) -> str:
    """Return one project's lines in /quota."""
    model = project.model
    bucket = ""
    if model.insert is InsertCost.BUCKET:
        bucket = text(
            "quota.bucket", lang, used=project.spent.insert_calls, limit=model.insert_bucket_calls
        )
    names = ", ".join(project.accounts[:8])
    if len(project.accounts) > 8:
        names += f" +{len(project.accounts) - 8}"
    return text(
        "quota.project_line",
        lang,
        client=short_client(project.client_id),
        used=f"{project.spent.units:,}",
        daily=f"{model.daily_units:,}",
        left=f"{max(0, model.daily_units - project.spent.units):,}",
        bucket=Html(bucket),
        uploads=project.uploads_left,
        names=names,
    )


def quota_account_item(line: AccountLine, rooms: dict[str, int], lang: str, zone: ZoneInfo) -> str:
    """Return one channel's line in /quota: its own uploads used and left, and its reset."""
    a = line.account
    room = rooms.get(a.client_id)
    limited = ""
    if room is not None and room < line.uploads_left:
        limited = text("quota.project_limits", lang, uploads=room)
    return text(
        "quota.account_line",
        lang,
        name=a.name,
        used=line.uploads,
        cap=line.limits.uploads_per_day,
        left=line.uploads_left,
        limited=Html(limited),
        reset=format_local(line.day_ends_at, zone),
    )


def short_client(client_id: str) -> str:
    """Return an OAuth client id short enough to read: `1234567890-abc…fgh123`."""
    short = client_id.removesuffix(GOOGLE_CLIENT_SUFFIX)
    if len(short) <= CLIENT_ID_CHARS:
        return short
    return f"{short[: CLIENT_ID_CHARS - 7]}…{short[-6:]}"


def _upload_cost(project: ProjectLine, lang: str) -> Html:
    model = project.model
    if model.insert is InsertCost.BUCKET:
        return Html(text("quota.cost_bucket", lang))
    return Html(text("quota.cost_units", lang, units=f"{model.insert_units:,}"))


def _field(name: str, value: str, lang: str) -> str:
    return f"<b>{text(f'admin.field.{name}', lang)}:</b> {value}"


def _button(key: str, lang: str, account_id: int, action: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        _plain(text(key, lang)), callback_data=f"acc:{account_id}:{action}"
    )


def _default_mark(is_default: bool, lang: str) -> str:
    return text("admin.default_mark", lang) if is_default else ""


def _name(account: Account) -> str:
    title = account.channel_title
    return f"{account.name} ({title})" if title and title != account.name else account.name


def _when(instant: datetime, zone: ZoneInfo, short: bool) -> str:
    # The lists name the reader's zone once in their heading; each line keeps to date and time.
    return f"{instant.astimezone(zone):%m-%d %H:%M}" if short else format_local(instant, zone)


def _number(value: float) -> str:
    return f"{value:g}"


def _plain(body: str) -> str:
    """Return catalogue HTML as the plain text a callback answer shows."""
    return html.unescape(re.sub(r"<[^>]+>", "", body))


# -- plumbing -----------------------------------------------------------------------------------


def _service(context: Context) -> AccountService:
    found = context.bot_data.get(DEPS_KEY)
    if not isinstance(found, AccountService):
        raise InputError("admin.unavailable")
    return found


def _actor(update: Update, context: Context) -> Actor:
    """Return the acting person (the gate has refused strangers already)."""
    d: BotDeps = context.bot_data["deps"]
    user = update.effective_user
    assert user is not None
    role = d.access.role_of(user.id)
    if role is None:
        raise InputError("access.denied")
    return Actor(user.id, role, d.language_of(user), d.timezones.get(user.id, d.timezone))


def _by(update: Update) -> str:
    """Return how a status reason names the person who acted."""
    user = update.effective_user
    assert user is not None
    return f"{user.full_name} ({user.id})"


async def _reply(update: Update, body: str, markup: InlineKeyboardMarkup | None = None) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_text(body, parse_mode=ParseMode.HTML, reply_markup=markup)


def install_accounts_admin(app: Application) -> None:  # type: ignore[type-arg]
    """Register /accounts, /account, /quota and the buttons of a channel's card."""
    fresh = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("accounts", accounts_command, filters=fresh))
    app.add_handler(CommandHandler("account", account_command, filters=fresh))
    app.add_handler(CommandHandler("quota", quota_command, filters=fresh))
    app.add_handler(CallbackQueryHandler(account_button, pattern=r"^acc:"))
