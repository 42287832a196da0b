"""/report, /stats, /calendar and /alerts; the texts of reports and alerts; posted reports."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.cards import problem_text
from bot.charts import calendar_png, report_png
from bot.messages import text
from bot.progress import duration_text
from core.access import Role
from core.alerts import AlertKind, AlertNotice, AlertRecord, Phase
from core.errors import InputError
from core.ports import ChatOutbox, Clock, MediaStore
from core.reports import Calendar, Period, Report, Reports, Stats, parse_period
from core.retry import next_quota_reset
from core.timeparse import format_local

if TYPE_CHECKING:
    from bot.handlers import BotDeps

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
#: Telegram allows 4096 characters in a message.
TEXT_LIMIT = 4000
MAX_LISTED = 15
HOUR_BAR_CELLS = 12
ALL_KINDS = "all"
_ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)


class MuteStore(Protocol):
    """Per-chat alert mutes and the open alerts (storage.observe.ObserveStore)."""

    async def muted_kinds(self) -> dict[int, frozenset[str]]:
        """Return the kinds each chat has muted."""
        ...

    async def set_muted(self, chat_id: int, kind: str, muted: bool, *, now: datetime) -> None:
        """Mute or unmute one kind in one chat."""
        ...

    async def open_alerts(self) -> list[AlertRecord]:
        """Return every open alert."""
        ...


@dataclass
class ObserveDeps:
    """What the report and alert handlers need, kept in application.bot_data["observe"]."""

    reports: Reports
    mutes: MuteStore
    clock: Clock
    alert_chat_ids: Sequence[int]


# -- rendering: numbers ------------------------------------------------------------------------


def percent_text(share: float | None, lang: str) -> str:
    """Return a share as a percentage with one decimal, or a dash."""
    return text("value.none", lang) if share is None else f"{share * 100:.1f}%"


def _plain(body: str) -> str:
    return html.unescape(body)


def _fit(lines: list[str], limit: int = TEXT_LIMIT) -> str:
    body = "\n".join(lines)
    if len(body) <= limit:
        return body
    return body[:limit].rsplit("\n", 1)[0] + "\n…"


def _listed(lines: list[str], total: int, lang: str) -> list[str]:
    shown = lines[:MAX_LISTED]
    if total > len(shown):
        shown.append(text("report.more", lang, count=total - len(shown)))
    return shown


# -- rendering: reports, stats ------------------------------------------------------------------


def render_report(report: Report, lang: str) -> str:
    """Return a report as Telegram HTML."""
    period = report.period
    zone = period.zone.key
    title = "report.title_day" if period.first == period.last else "report.title"
    lines = [text(title, lang, first=f"{period.first}", last=f"{period.last}", zone=zone)]
    if report.published == 0 and report.failed == 0:
        return "\n".join([*lines, text("report.empty", lang)])
    rate = percent_text(report.success_rate, lang)
    lines.append(
        text("report.summary", lang, published=report.published, failed=report.failed, rate=rate)
    )
    processing = _plain(duration_text(report.avg_processing_s, lang))
    upload = _plain(duration_text(report.avg_upload_s, lang))
    lines.append(text("report.times", lang, processing=processing, upload=upload))
    lines += ["", text("report.accounts_header", lang)]
    accounts = [
        text(
            "report.account_line",
            lang,
            name=a.name or text("chart.unassigned", lang),
            published=a.published,
            failed=a.failed,
        )
        for a in report.by_account
    ]
    lines += _listed(accounts, len(accounts), lang)
    lines += ["", text("report.hours_header", lang, zone=zone), _hour_bars(report.by_hour)]
    if report.failures:
        lines += ["", text("report.failures_header", lang)]
        failures = [
            text(
                "report.failure_line",
                lang,
                task_id=f.task_id,
                account=f.account_name or text("chart.unassigned", lang),
                title=f.title[:60],
                reason=_plain(problem_text(f.error, lang))[:200],
            )
            for f in report.failures
        ]
        lines += _listed(failures, len(failures), lang)
    return _fit(lines)


def _hour_bars(by_hour: Sequence[int]) -> str:
    peak = max(by_hour, default=0)
    rows = [
        f"{hour:02d} {'█' * max(1, round(count * HOUR_BAR_CELLS / peak))} {count}"
        for hour, count in enumerate(by_hour)
        if count
    ]
    return "<pre>" + html.escape("\n".join(rows) or "—") + "</pre>"


def render_stats(stats: Stats, lang: str, zone: ZoneInfo) -> str:
    """Return the live figures as Telegram HTML."""
    none = text("value.none", lang)
    lines = [
        text("stats.title", lang, time=format_local(stats.now, zone)),
        text("stats.queue", lang, waiting=stats.waiting, due=stats.due, active=stats.active),
        text(
            "stats.rate",
            lang,
            window=_plain(duration_text(stats.window_s, lang)),
            published=stats.published,
            rate=f"{stats.rate_per_hour:.1f}",
            errors=stats.errors,
            error_rate=percent_text(stats.error_rate, lang),
        ),
        text(
            "stats.wait",
            lang,
            avg=_plain(duration_text(stats.avg_wait_s, lang)) if stats.due else none,
            oldest=_plain(duration_text(stats.oldest_wait_s, lang)) if stats.due else none,
        ),
    ]
    if stats.accounts:
        lines += ["", text("stats.accounts_header", lang)]
        rows = [
            text(
                "stats.account_line",
                lang,
                name=a.name or text("chart.unassigned", lang),
                status=_plain(text(f"account.status.{a.status.value}", lang))
                if a.status
                else none,
                waiting=a.waiting,
                active=a.active,
                published=a.published,
                errors=a.errors,
            )
            for a in stats.accounts
        ]
        lines += _listed(rows, len(rows), lang)
    return _fit(lines)


def calendar_caption(calendar: Calendar, lang: str) -> str:
    """Return the caption sent with the calendar's picture."""
    return text(
        "calendar.caption",
        lang,
        first=f"{calendar.days[0]}",
        last=f"{calendar.days[-1]}",
        zone=calendar.zone.key,
        total=calendar.total,
    )


def chart_caption(report: Report, lang: str) -> str:
    """Return the caption sent with a report's picture."""
    period = report.period
    shown = f"{period.first}" if period.first == period.last else f"{period.first} – {period.last}"
    return text("report.chart_caption", lang, period=shown, zone=period.zone.key)


# -- rendering: alerts --------------------------------------------------------------------------


def render_alert(notice: AlertNotice, lang: str, zone: ZoneInfo) -> str:
    """Return an alert notice as Telegram HTML: what holds, and what happens next."""
    kind = notice.kind.value
    params = _alert_params(notice, lang, zone)
    if notice.phase is Phase.RESOLVED:
        lasted = _plain(duration_text((notice.at - notice.since).total_seconds(), lang))
        return text(f"alert.{kind}.resolved", lang, lasted=lasted, **params)
    body = text(f"alert.{kind}.fired", lang, **params)
    if notice.phase is Phase.REPEATED:
        since = format_local(notice.since, zone)
        return f"{text('alert.repeat', lang, since=since)}\n{body}"
    return body


def _alert_params(notice: AlertNotice, lang: str, zone: ZoneInfo) -> dict[str, object]:
    p = notice.params
    kind = notice.kind
    if kind is AlertKind.ERROR_RATE:
        return {
            "rate": percent_text(_number(p.get("rate")), lang),
            "window": _plain(duration_text(_number(p.get("window_s")), lang)),
            "errors": p.get("errors"),
            "attempts": p.get("attempts"),
            "threshold": percent_text(_number(p.get("threshold")), lang),
        }
    if kind is AlertKind.QUEUE_SIZE:
        return {"waiting": p.get("waiting"), "threshold": p.get("threshold")}
    if kind is AlertKind.ACCOUNT_STATUS:
        return _account_params(p, lang, zone)
    if kind is AlertKind.QUOTA:
        return {
            "project": p.get("project"),
            "percent": percent_text(_number(p.get("ratio")), lang),
            "used": p.get("used"),
            "limit": p.get("limit"),
            "reset": format_local(next_quota_reset(notice.at), zone),
        }
    if kind is AlertKind.SCHEDULER_STUCK:
        return {
            "count": p.get("count"),
            "task_id": p.get("task_id"),
            "late": _plain(duration_text(_number(p.get("late_s")), lang)),
        }
    return {
        "task_id": p.get("task_id"),
        "account": p.get("account") or _plain(text("chart.unassigned", lang)),
        "title": str(p.get("title") or "")[:80],
        "reason": _plain(problem_text(_string(p.get("error")), lang))[:300],
    }


def _account_params(
    p: dict[str, str | int | float | None], lang: str, zone: ZoneInfo
) -> dict[str, object]:
    status = str(p.get("status"))
    until = _string(p.get("until"))
    reason = _string(p.get("reason"))
    when = format_local(datetime.fromisoformat(until), zone) if until else None
    return {
        "account": p.get("account"),
        "status": _plain(text(f"account.status.{status}", lang)),
        "until": _plain(text("alert.account_status.until", lang, when=when)) if when else "",
        "reason": _plain(problem_text(reason, lang)) if reason else "—",
        "next": _plain(text(f"alert.account_status.next.{status}", lang)),
    }


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _string(value: object) -> str | None:
    return str(value) if value is not None else None


def alert_renderer(lang: str, zone: str) -> Callable[[AlertNotice], str]:
    """Return the renderer the alert evaluator posts with."""
    tz = ZoneInfo(zone)
    return lambda notice: render_alert(notice, lang, tz)


# -- posted reports -----------------------------------------------------------------------------


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class ReportPoster:
    """Posts a period's report, text and picture, to the alert chats through the outbox."""

    def __init__(
        self,
        reports: Reports,
        outbox: ChatOutbox,
        media: MediaStore,
        chat_ids: Sequence[int],
        *,
        language: str,
        zone: str,
    ) -> None:
        self._reports = reports
        self._outbox = outbox
        self._media = media
        self._chats = list(chat_ids)
        self._lang = language
        self.zone = ZoneInfo(zone)

    async def post(self, period: Period, heading_key: str) -> None:
        """Build the report of `period` and post it under a heading (daily or weekly)."""
        if not self._chats:
            return
        report = await self._reports.report(period)
        body = f"{text(heading_key, self._lang)}\n{render_report(report, self._lang)}"
        png = await asyncio.to_thread(report_png, report, self._lang)
        key = self._media.new_key(".png")
        await self._media.write_stream(key, _once(png))
        caption = chart_caption(report, self._lang)
        for chat_id in self._chats:
            await self._outbox.post(chat_id, body)
            await self._outbox.post(chat_id, caption, photo_key=key)
        logger.info(
            "report %s..%s posted",
            period.first,
            period.last,
            extra={"action": "report_posted"},
        )


# -- handlers -----------------------------------------------------------------------------------


def _bot_deps(context: Context) -> BotDeps:
    found: BotDeps = context.bot_data["deps"]
    return found


def _observe(context: Context) -> ObserveDeps:
    found = context.bot_data.get("observe")
    if not isinstance(found, ObserveDeps):
        raise InputError("report.unavailable")
    return found


def _person(update: Update, context: Context, role: Role = Role.VIEWER) -> tuple[str, ZoneInfo]:
    """Return the person's language and time zone; refuse a role below `role`."""
    d = _bot_deps(context)
    user = update.effective_user
    assert user is not None
    has = d.access.role_of(user.id)
    if has is None or _ROLES.index(has) < _ROLES.index(role):
        raise InputError("access.denied")
    # The person's own zone (/tz) when they chose one; the team's otherwise.
    return d.language_of(user), ZoneInfo(d.timezones.get(user.id, d.timezone))


async def _reply(update: Update, body: str, **kwargs: object) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_text(body, parse_mode=ParseMode.HTML, **kwargs)  # type: ignore[arg-type]


async def report_command(update: Update, context: Context) -> None:
    """/report [today|yesterday|week|month|<date>..<date>]: figures of a period, and a chart."""
    lang, zone = _person(update, context)
    od = _observe(context)
    period = parse_period(" ".join(context.args or []), od.reports.today(zone), zone)
    report = await od.reports.report(period)
    await _reply(update, render_report(report, lang))
    message = update.effective_message
    if message is None or (report.published == 0 and report.failed == 0):
        return
    png = await asyncio.to_thread(report_png, report, lang)
    await message.reply_photo(png, caption=chart_caption(report, lang), parse_mode=ParseMode.HTML)


async def stats_command(update: Update, context: Context) -> None:
    """/stats: queue, processing rate, error rate, waits, per account."""
    lang, zone = _person(update, context)
    stats = await _observe(context).reports.stats()
    await _reply(update, render_stats(stats, lang, zone))


async def calendar_command(update: Update, context: Context) -> None:
    """/calendar [week]: the coming seven days as a picture."""
    lang, zone = _person(update, context)
    args = [a.casefold() for a in context.args or []]
    if args not in ([], ["week"]):
        await _reply(update, text("calendar.usage", lang))
        return
    calendar = await _observe(context).reports.calendar(zone, days=7)
    message = update.effective_message
    if calendar.total == 0 or message is None:
        await _reply(update, text("calendar.empty", lang, days=len(calendar.days)))
        return
    png = await asyncio.to_thread(calendar_png, calendar, lang)
    await message.reply_photo(
        png, caption=calendar_caption(calendar, lang), parse_mode=ParseMode.HTML
    )


async def alerts_command(update: Update, context: Context) -> None:
    """/alerts [mute|unmute <kind|all>]: what this chat hears, and mute or unmute kinds."""
    lang, zone = _person(update, context)
    chat = update.effective_chat
    assert chat is not None
    args = [a.casefold() for a in context.args or []]
    if not args:
        await _show_alerts(update, context, lang, zone)
        return
    if len(args) != 2 or args[0] not in ("mute", "unmute"):
        await _reply(update, text("alerts.usage", lang, kinds=_kind_codes()))
        return
    _person(update, context, Role.OPERATOR)
    kinds = _kinds_of(args[1], lang)
    od = _observe(context)
    for kind in kinds:
        await od.mutes.set_muted(chat.id, kind, args[0] == "mute", now=od.clock.now())
    names = ", ".join(_plain(text(f"alerts.kind.{k}", lang)) for k in kinds)
    await _reply(update, text(f"alerts.{args[0]}d", lang, kinds=names))


async def alerts_button(update: Update, context: Context) -> None:
    """Toggle one kind of alert from the /alerts buttons, then redraw the list."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    lang, zone = _person(update, context, Role.OPERATOR)
    _, action, kind = (query.data or "::").split(":", 2)
    if action not in ("m", "u") or kind not in {k.value for k in AlertKind}:
        await query.answer(_plain(text("button.unknown", lang)), show_alert=True)
        return
    od = _observe(context)
    await od.mutes.set_muted(update.effective_chat.id, kind, action == "m", now=od.clock.now())
    await query.answer()
    body, markup = await _alerts_view(update.effective_chat.id, od, lang, zone)
    if query.message is not None:
        await context.bot.edit_message_text(
            body,
            chat_id=update.effective_chat.id,
            message_id=query.message.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )


async def _show_alerts(update: Update, context: Context, lang: str, zone: ZoneInfo) -> None:
    chat = update.effective_chat
    assert chat is not None
    od = _observe(context)
    body, markup = await _alerts_view(chat.id, od, lang, zone)
    await _reply(update, body, reply_markup=markup)


async def _alerts_view(
    chat_id: int, od: ObserveDeps, lang: str, zone: ZoneInfo
) -> tuple[str, InlineKeyboardMarkup]:
    muted = (await od.mutes.muted_kinds()).get(chat_id, frozenset())
    lines = [text("alerts.title", lang)]
    if chat_id not in od.alert_chat_ids:
        lines.append(text("alerts.not_alert_chat", lang, chat_id=chat_id))
    buttons = []
    for kind in AlertKind:
        name = _plain(text(f"alerts.kind.{kind.value}", lang))
        off = kind.value in muted
        lines.append(
            text("alerts.line_off" if off else "alerts.line_on", lang, kind=name, code=kind.value)
        )
        key, action = ("alerts.button_unmute", "u") if off else ("alerts.button_mute", "m")
        buttons.append(
            InlineKeyboardButton(
                _plain(text(key, lang, kind=name)), callback_data=f"alr:{action}:{kind.value}"
            )
        )
    lines += ["", text("alerts.open_header", lang)]
    open_alerts = await od.mutes.open_alerts()
    lines += [
        text(
            "alerts.open_line",
            lang,
            kind=_plain(text(f"alerts.kind.{a.kind.value}", lang)),
            since=format_local(a.fired_at, zone),
        )
        for a in open_alerts
    ] or [text("alerts.open_none", lang)]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return _fit(lines), InlineKeyboardMarkup(rows)


def _kind_codes() -> str:
    return ", ".join(k.value for k in AlertKind)


def _kinds_of(raw: str, lang: str) -> list[str]:
    if raw == ALL_KINDS:
        return [k.value for k in AlertKind]
    if raw in {k.value for k in AlertKind}:
        return [raw]
    raise InputError("alerts.bad_kind", text=raw[:50], kinds=_kind_codes())


def install_reports(app: Application, deps_: BotDeps) -> None:  # type: ignore[type-arg]
    """Register /report, /stats, /calendar, /alerts and the alert buttons.

    The handlers find their services in application.bot_data["observe"] (an ObserveDeps,
    set by app.wiring); without it they answer that reports are not available.
    """
    del deps_  # the person's language, zone and role come from bot_data["deps"] at run time
    app.add_handler(CommandHandler("report", report_command))
    app.add_handler(CommandHandler("stats", stats_command))
    app.add_handler(CommandHandler("calendar", calendar_command))
    app.add_handler(CommandHandler("alerts", alerts_command))
    app.add_handler(CallbackQueryHandler(alerts_button, pattern=r"^alr:"))
