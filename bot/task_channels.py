"""/use (which channel a task goes to) and /why (how the balancer chose it)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.handlers import Context, _fit, actor_of, deps, parse_task_id, refresh_card, reply
from bot.messages import Html, text
from core.models import AccountStatus
from core.timeparse import format_local


async def use_command(update: Update, context: Context) -> None:
    """/use <id> <account> [account...] | auto."""
    actor = actor_of(update, context)
    args = context.args or []
    if len(args) < 2:
        await reply(update, text("usage.use", actor.language))
        return
    task_id = parse_task_id(args[0])
    if task_id is None:
        await reply(update, text("usage.bad_id", actor.language, text=args[0][:50]))
        return
    view = await deps(context).service.use_accounts(task_id, args[1:], actor)
    task = view.task
    if task.account_id is not None and view.account is not None:
        body = text("use.set_one", actor.language, task_id=task_id, name=view.account.name)
    elif task.allowed_accounts:
        accounts = {a.id: a.name for a in await deps(context).service.accounts(actor)}
        names = ", ".join(accounts.get(i, str(i)) for i in task.allowed_accounts)
        body = text("use.set_many", actor.language, task_id=task_id, names=names)
    else:
        body = text("use.set_auto", actor.language, task_id=task_id)
    await reply(update, body)
    await refresh_card(context, view, actor)


async def why_command(update: Update, context: Context) -> None:
    """/why <id>: which channel the balancer chose for a task, and each factor's value."""
    actor = actor_of(update, context)
    args = context.args or []
    if len(args) != 1:
        await reply(update, text("usage.why", actor.language))
        return
    task_id = parse_task_id(args[0])
    if task_id is None:
        await reply(update, text("usage.bad_id", actor.language, text=args[0][:50]))
        return
    service = deps(context).service
    view = await service.view(task_id, actor)
    task, lang = view.task, actor.language
    zone = ZoneInfo(actor.timezone)
    choice = task.choice or {}
    if choice.get("named"):
        name = view.account.name if view.account else "?"
        await reply(update, text("why.named", lang, task_id=task_id, name=name))
        return
    accounts = await service.accounts(actor)
    names = {a.id: a.name for a in accounts}
    active = sum(a.status is AccountStatus.ACTIVE for a in accounts)
    lines: list[str] = []
    factors = choice.get("factors")
    if factors and choice.get("account_id") is not None:
        at = format_local(datetime.fromisoformat(str(choice["at"])), zone)
        idle = (
            text("why.idle_never", lang)
            if factors["idle_h"] is None
            else text("why.idle_hours", lang, hours=f"{factors['idle_h']:.1f}")
        )
        lines.append(
            text(
                "why.chosen",
                lang,
                task_id=task_id,
                name=names.get(int(choice["account_id"]), "?"),
                at=at,
                score=f"{factors['score']:.3f}",
                active=active,
            )
        )
        lines.append(text("why.factor_idle", lang, value=idle, weighted=f"{factors['idle']:.2f}"))
        lines.append(
            text(
                "why.factor_quota",
                lang,
                left=factors["uploads_left"],
                project=factors["project_uploads_left"],
                weighted=f"{factors['quota']:.2f}",
            )
        )
        lines.append(
            text(
                "why.factor_success",
                lang,
                rate=f"{factors['success_rate']:.0%}",
                weighted=f"{factors['success']:.2f}",
            )
        )
        lines.append(
            text(
                "why.factor_priority",
                lang,
                weight=f"{factors['priority_weight']:g}",
                weighted=f"{factors['priority']:.2f}",
            )
        )
    elif choice.get("waiting"):
        lines.append(text("why.waiting", lang, task_id=task_id))
    elif task.account_id is not None and view.account is not None:
        lines.append(text("why.default", lang, task_id=task_id, name=view.account.name))
    else:
        lines.append(text("why.not_yet", lang, task_id=task_id))
    excluded = choice.get("excluded") or {}
    if excluded:
        parts = [
            Html(text(f"why.excluded.{reason}", lang, count=count))
            for reason, count in sorted(excluded.items())
        ]
        lines.append(text("why.excluded", lang, reasons=Html("; ".join(parts))))
    await reply(update, _fit("\n".join(lines)))


def install_task_channels(app: Application) -> None:  # type: ignore[type-arg]
    """Register /use and /why."""
    fresh = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("use", use_command, filters=fresh))
    app.add_handler(CommandHandler("why", why_command, filters=fresh))
