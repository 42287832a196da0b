"""/addaccount and /reauth: connect or re-authorise a YouTube channel from the chat.

Both run Google's device flow: the bot shows a code and Google's page, then polls in a
background task (one per chat) while the handlers go on answering. When the person has decided,
the channel is checked with YouTube and stored (refresh token encrypted by the store), and the
outcome is posted to the chat through the outbox. A restart loses a flow still waiting; the
person simply asks for a new code.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot.messages import text
from core.access import Role
from core.errors import AuthError, InputError, PublishError, TransientPublishError
from core.models import Account, AccountStatus, Credentials
from core.ports import ChannelInfo, Clock
from platforms.google_device import (
    YOUTUBE_SCOPE,
    DeviceAccessDeniedError,
    DeviceCode,
    DeviceCodeExpiredError,
    DeviceFlowClient,
    DeviceFlowError,
    DeviceTokens,
)
from storage.store import DuplicateAccountError, SqlStore

if TYPE_CHECKING:
    from bot.handlers import BotDeps

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
NAME_MAX_CHARS = 64
#: OAuth errors that mean the client settings are wrong, not the person's sign-in.
_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_scope"})


@dataclass
class PendingFlow:
    """A device flow waiting for a person's decision in one chat."""

    code: DeviceCode
    task: asyncio.Task[None]


@dataclass(frozen=True)
class _Target:
    """What a flow is for: a new account (with the name asked for, if any), or a stored one."""

    name: str | None
    account_id: int | None = None


@dataclass
class AccountFlowDeps:
    """What /addaccount and /reauth need, kept in application.bot_data["account_flow"]."""

    store: SqlStore
    device: DeviceFlowClient
    client_id: str | None
    client_secret: str | None = field(repr=False)
    token_uri: str
    channel_info: Callable[[Credentials], Awaitable[ChannelInfo]]
    wake: Callable[[], None]
    clock: Clock
    timezone: str
    flows: dict[int, PendingFlow] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        """Return whether the device-flow OAuth client is set."""
        return bool(self.client_id and self.client_secret)

    def credentials(self, refresh_token: str) -> Credentials:
        """Return the credentials of a refresh token the device-flow client received."""
        assert self.client_id is not None and self.client_secret is not None
        return Credentials(self.client_id, self.client_secret, refresh_token, self.token_uri)

    async def cancel_all(self) -> None:
        """Stop every waiting flow (on shutdown; the people ask again after the restart)."""
        tasks = [pending.task for pending in self.flows.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.flows.clear()


# -- handlers -----------------------------------------------------------------------------------


async def addaccount_command(update: Update, context: Context) -> None:
    """/addaccount [name]: connect a YouTube channel by Google's device flow."""
    lang, flow, chat_id = _admin_flow(update, context)
    if not flow.configured:
        await _reply(update, text("account_flow.unconfigured", lang))
        return
    if await _busy(update, flow, chat_id, lang):
        return
    name = " ".join(context.args or []).strip() or None
    if name is not None and (len(name) > NAME_MAX_CHARS or not name.isprintable()):
        await _reply(update, text("account_flow.bad_name", lang, text=name[:NAME_MAX_CHARS]))
        return
    if name is not None and await flow.store.account_by_name(name) is not None:
        await _reply(update, text("account_flow.name_taken", lang, name=name))
        return
    await _begin(update, context, flow, lang, _Target(name))


async def reauth_command(update: Update, context: Context) -> None:
    """/reauth <name>: give a stored account new credentials by Google's device flow."""
    lang, flow, chat_id = _admin_flow(update, context)
    if not flow.configured:
        await _reply(update, text("account_flow.unconfigured", lang))
        return
    name = " ".join(context.args or []).strip()
    if not name:
        await _reply(update, text("account_flow.reauth_usage", lang))
        return
    account = await flow.store.account_by_name(name)
    if account is None:
        await _reply(update, text("account_flow.unknown_account", lang, name=name[:100]))
        return
    if await _busy(update, flow, chat_id, lang):
        return
    await _begin(update, context, flow, lang, _Target(account.name, account.id))


def _admin_flow(update: Update, context: Context) -> tuple[str, AccountFlowDeps, int]:
    """Return the person's language, the flow's dependencies and the chat; admins only."""
    d: BotDeps = context.bot_data["deps"]
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    if d.access.role_of(user.id) is not Role.ADMIN:
        raise InputError("access.denied")
    flow = context.bot_data.get("account_flow")
    if not isinstance(flow, AccountFlowDeps):
        raise InputError("account_flow.unavailable")
    return d.language_of(user), flow, chat.id


async def _busy(update: Update, flow: AccountFlowDeps, chat_id: int, lang: str) -> bool:
    pending = flow.flows.get(chat_id)
    if pending is None or pending.task.done():
        return False
    code = pending.code
    await _reply(
        update,
        text("account_flow.pending", lang, url=code.verification_url, code=code.user_code),
    )
    return True


async def _begin(
    update: Update, context: Context, flow: AccountFlowDeps, lang: str, target: _Target
) -> None:
    """Ask Google for a code, show it, and follow the flow in the background."""
    assert flow.client_id is not None and update.effective_chat is not None
    try:
        code = await flow.device.start(flow.client_id, YOUTUBE_SCOPE)
    except DeviceFlowError as exc:
        await _reply(update, text("account_flow.client_refused", lang, reason=exc.reason))
        return
    except TransientPublishError:
        await _reply(update, text("account_flow.unreachable", lang))
        return
    minutes = max(1, math.ceil(code.expires_in_s / 60))
    shown = {"url": code.verification_url, "code": code.user_code, "minutes": minutes}
    if target.account_id is None:
        await _reply(update, text("account_flow.code_add", lang, **shown))
    else:
        await _reply(update, text("account_flow.code_reauth", lang, name=target.name, **shown))
    d: BotDeps = context.bot_data["deps"]
    chat_id = update.effective_chat.id
    task = asyncio.get_running_loop().create_task(
        _follow(flow, d, chat_id, lang, code, target), name=f"account-flow-{chat_id}"
    )
    flow.flows[chat_id] = PendingFlow(code, task)
    logger.info(
        "device flow started in chat %s", chat_id, extra={"action": "account_flow_started"}
    )


async def _follow(
    flow: AccountFlowDeps, d: BotDeps, chat_id: int, lang: str, code: DeviceCode, target: _Target
) -> None:
    """Wait for the person's decision, act on it, and post the outcome to the chat."""
    outcome = "failed"
    try:
        tokens = await _decision(flow, code)
        if target.account_id is None:
            body = await _add(flow, lang, tokens, target)
        else:
            body = await _reauth(flow, lang, tokens, target.account_id)
        outcome = "done"
    except InputError as err:
        outcome = err.key.removeprefix("account_flow.")
        body = text(err.key, lang, **err.params)
    except Exception:
        logger.exception("device flow failed", extra={"action": "account_flow_error"})
        body = text("error.internal", lang)
    finally:
        pending = flow.flows.get(chat_id)
        if pending is not None and pending.task is asyncio.current_task():
            del flow.flows[chat_id]
    logger.info(
        "device flow in chat %s: %s",
        chat_id,
        outcome,
        extra={"action": "account_flow_" + outcome, "account_id": target.account_id},
    )
    try:
        await d.outbox.post(chat_id, body)
    except Exception:
        logger.exception("could not queue the outcome of a device flow")


async def _decision(flow: AccountFlowDeps, code: DeviceCode) -> DeviceTokens:
    """Poll until the person decided; a refusal becomes the catalogue key that explains it."""
    assert flow.client_id is not None and flow.client_secret is not None
    try:
        return await flow.device.poll(code, flow.client_id, flow.client_secret)
    except DeviceAccessDeniedError:
        raise InputError("account_flow.denied") from None
    except DeviceCodeExpiredError:
        raise InputError("account_flow.expired", code=code.user_code) from None
    except DeviceFlowError as exc:
        if exc.reason in _CLIENT_ERRORS:
            raise InputError("account_flow.client_refused", reason=exc.reason) from None
        raise InputError("account_flow.failed", reason=exc.reason) from None


async def _channel(flow: AccountFlowDeps, credentials: Credentials) -> ChannelInfo:
    """Return the channel the credentials act for, as YouTube says."""
    try:
        return await flow.channel_info(credentials)
    except AuthError as exc:
        if exc.reason == "noChannel":
            raise InputError("account_flow.no_channel") from None
        raise InputError("account_flow.verify_failed", reason=exc.reason or "auth") from None
    except PublishError as exc:
        reason = exc.reason or type(exc).__name__
        raise InputError("account_flow.verify_failed", reason=reason) from None


# -- outcomes -----------------------------------------------------------------------------------


async def _add(flow: AccountFlowDeps, lang: str, tokens: DeviceTokens, target: _Target) -> str:
    """Store the channel the person allowed as a new account; return what to tell them."""
    if tokens.refresh_token is None:
        raise InputError("account_flow.no_refresh_token")
    credentials = flow.credentials(tokens.refresh_token)
    info = await _channel(flow, credentials)
    accounts = await flow.store.list_accounts()
    for known in accounts:
        if known.channel_id == info.channel_id:
            raise InputError("account_flow.already_connected", name=known.name, title=info.title)
    account = await _store_new(flow, credentials, info, target.name, {a.name for a in accounts})
    flow.wake()
    return text(
        "account_flow.added",
        lang,
        name=account.name,
        title=info.title,
        channel_id=info.channel_id,
        zone=account.timezone,
    )


async def _store_new(
    flow: AccountFlowDeps,
    credentials: Credentials,
    info: ChannelInfo,
    wanted: str | None,
    taken: set[str],
) -> Account:
    base = (wanted or info.title.strip() or "youtube")[:NAME_MAX_CHARS]
    while True:
        name = unique_name(base, taken)
        try:
            return await flow.store.add_account(
                platform="youtube",
                name=name,
                credentials=credentials,
                channel_id=info.channel_id,
                channel_title=info.title,
                timezone=flow.timezone,
                now=flow.clock.now(),
            )
        except DuplicateAccountError:
            taken.add(name)  # added meanwhile by someone else: take the next free name


def unique_name(base: str, taken: set[str]) -> str:
    """Return `base`, or `base 2`, `base 3`... whichever no account has yet."""
    if base not in taken:
        return base
    n = 2
    while f"{base} {n}" in taken:
        n += 1
    return f"{base} {n}"


async def _reauth(flow: AccountFlowDeps, lang: str, tokens: DeviceTokens, account_id: int) -> str:
    """Give a stored account the credentials the person allowed; return what to tell them."""
    account = await flow.store.get_account(account_id)
    if account is None:
        raise InputError("account_flow.unknown_account", name=f"#{account_id}")
    kept = tokens.refresh_token is None
    if tokens.refresh_token is None:
        # Google keeps an earlier grant and sends no new refresh token: keep the stored one.
        credentials = await flow.store.credentials(account.id)
    else:
        credentials = flow.credentials(tokens.refresh_token)
    try:
        info = await _channel(flow, credentials)
    except InputError:
        if kept:
            raise InputError("account_flow.kept_token_stale", name=account.name) from None
        raise
    if account.channel_id is not None and info.channel_id != account.channel_id:
        expected = f"{account.channel_title or ''} ({account.channel_id})".strip()
        raise InputError(
            "account_flow.other_channel",
            name=account.name,
            expected=expected,
            got=f"{info.title} ({info.channel_id})",
        )
    if not kept:
        await flow.store.update_credentials(account.id, credentials)
    await flow.store.set_account_status(
        account.id, AccountStatus.ACTIVE, now=flow.clock.now(), reason="re-authorised"
    )
    flow.wake()
    if kept:
        return text("account_flow.reauthorised_kept", lang, name=account.name, title=info.title)
    return text("account_flow.reauthorised", lang, name=account.name, title=info.title)


async def _reply(update: Update, body: str) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_text(body, parse_mode=ParseMode.HTML)


def install_account_flow(app: Application) -> None:  # type: ignore[type-arg]
    """Register /addaccount and /reauth.

    The handlers find their services in application.bot_data["account_flow"] (an
    AccountFlowDeps, set by app.wiring); without it they answer that it is not available.
    """
    fresh = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("addaccount", addaccount_command, filters=fresh))
    app.add_handler(CommandHandler("reauth", reauth_command, filters=fresh))
