"""Builds the whole application from the settings: store, engine, bot, publishers."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from telegram.error import InvalidToken, NetworkError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from app.monitoring import Monitoring, build_monitoring
from bot.accounts_admin import DEPS_KEY as ACCOUNTS_ADMIN_KEY
from bot.accounts_flow import AccountFlowDeps
from bot.files import TelegramFiles
from bot.handlers import BotDeps, install
from bot.notifier import TelegramNotifier
from bot.outbox import TelegramOutbox
from bot.updates import PerChatUpdateProcessor
from core.access import AccessList
from core.accounts import AccountService
from core.assign import waiting_for
from core.clock import SystemClock
from core.engine import Engine, EngineConfig
from core.errors import ConfigError
from core.ledger import AccountDefaults, HealthRules, QuotaLedger
from core.models import Account, AccountStatus, Privacy
from core.plans import PlanService
from core.ports import Clock, VideoInfo
from core.quota import CostModel, InsertCost
from core.retry import RetryPolicy
from core.service import TaskService
from core.settings import Settings
from media.probe import probe
from media.store import LocalMediaStore
from platforms.google_device import DeviceFlowClient
from platforms.youtube import YouTubePublisher
from storage.crypto import SecretBox
from storage.ledger import SqlLedger
from storage.store import SqlStore

logger = logging.getLogger(__name__)


@dataclass
class PublishManager:
    """One process: the bot and the engine on one asyncio loop."""

    settings: Settings
    store: SqlStore
    media: LocalMediaStore
    clock: Clock
    engine: Engine
    service: TaskService
    application: Application  # type: ignore[type-arg]
    http: httpx.AsyncClient
    outbox: TelegramOutbox
    monitoring: Monitoring | None = None  # progress, alerts, reports, metrics (issue 5)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, *, poll_interval_s: float = 0.0) -> None:
        """Start the engine, then the bot's long polling."""
        if isinstance(self.clock, SystemClock):
            self.clock.start()
        # The engine does not need Telegram: uploads go on while the Bot API is unreachable,
        # and what they have to say waits in the outbox.
        await self.engine.start()
        await self._connect_bot()
        self.outbox.start()
        if self.monitoring is not None:  # monitoring (issue 5)
            await self.monitoring.start()
        await self.application.start()
        assert self.application.updater is not None
        await self.application.updater.start_polling(
            poll_interval=poll_interval_s, drop_pending_updates=False
        )
        logger.info("publish-manager started", extra={"action": "started"})

    async def _connect_bot(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.application.initialize()
                return
            except InvalidToken:
                # PTB's message quotes the token; say which setting is wrong instead.
                raise ConfigError("PM_TELEGRAM_TOKEN was rejected by the Bot API server") from None
            except NetworkError as exc:
                logger.warning("Bot API unreachable (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def stop(self) -> None:
        """Stop taking updates and work, let running uploads finish, close everything."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        flows = self.application.bot_data.get("account_flow")
        if isinstance(flows, AccountFlowDeps):  # device flows still waiting (/addaccount)
            await flows.cancel_all()
        if self.application.running:
            await self.application.stop()
        await self.engine.stop()
        if self.monitoring is not None:  # monitoring (issue 5)
            await self.monitoring.stop()
        await self.outbox.stop()
        await self.application.shutdown()
        if isinstance(self.clock, SystemClock):
            self.clock.shutdown()
        await self.http.aclose()
        await self.store.close()
        logger.info("publish-manager stopped", extra={"action": "stopped"})


async def open_store(settings: Settings) -> SqlStore:
    """Open the database named by the settings, creating the data directory."""
    settings.require("secret_key")
    assert settings.secret_key is not None
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"PM_DATA_DIR: cannot create {settings.data_dir} ({exc.strerror})"
        ) from None
    postgres = settings.db_url.startswith("postgresql+asyncpg")
    if postgres and importlib.util.find_spec("asyncpg") is None:
        raise ConfigError(
            "PM_DATABASE_URL names PostgreSQL: install its driver with "
            "`.venv/bin/pip install -e '.[postgres]'`"
        )
    return await SqlStore.open(settings.db_url, SecretBox(settings.secret_key.get_secret_value()))


async def channel_hold(
    ledger: QuotaLedger, account: Account, at: datetime
) -> tuple[datetime, str] | None:
    """Return until when and why a channel cannot start an upload at `at` (for replies)."""
    if account.status is AccountStatus.RATE_LIMITED and account.status_until is not None:
        return account.status_until, "wait.account_limited"
    if account.status is not AccountStatus.ACTIVE:
        return None  # the card says what the channel needs
    block = await ledger.block(account, at)
    return None if block is None else (block.until, waiting_for(block).reason)


def build_ledger(settings: Settings, store: SqlLedger, clock: Clock) -> QuotaLedger:
    """Return the quota ledger with the cost model, account defaults and health rules set."""
    start, end = settings.peak
    return QuotaLedger(
        store,
        clock,
        CostModel(
            insert=InsertCost(settings.quota_insert_cost),
            daily_units=settings.quota_daily_units,
            insert_units=settings.quota_units_per_upload,
            insert_bucket_calls=settings.quota_insert_bucket_calls,
            thumbnail_units=settings.quota_thumbnail_units,
            stop_ratio=settings.quota_stop_ratio,
        ),
        AccountDefaults(
            uploads_per_day=settings.account_uploads_per_day,
            min_interval_h=settings.account_min_interval_h,
            peak_start_h=start,
            peak_end_h=end,
            peak_timezone=settings.peak_timezone,
        ),
        HealthRules(
            max_errors=settings.health_max_errors,
            window=timedelta(seconds=settings.health_window_s),
        ),
    )


async def build(settings: Settings, clock: Clock | None = None) -> PublishManager:
    """Wire every part of one process from the settings."""
    settings.require("telegram_token", "secret_key")
    assert settings.telegram_token is not None
    clock = clock or SystemClock()
    store = await open_store(settings)
    accounts = await store.list_accounts()
    if accounts:
        await store.credentials(accounts[0].id)  # a wrong PM_SECRET_KEY stops the start here
    if not settings.admin_ids and not settings.operator_ids:
        logger.warning("PM_ADMIN_IDS and PM_OPERATOR_IDS are empty: the bot will refuse everyone")
    if not accounts:
        logger.warning("no account yet: add one with `publish-manager accounts add youtube`")
    media = LocalMediaStore(settings.media_dir)

    async def probe_key(key: str) -> VideoInfo:
        return await asyncio.to_thread(probe, media.path(key))

    ledger = build_ledger(settings, SqlLedger(store.engine), clock)
    ledger.know(accounts)
    publisher = YouTubePublisher(
        settings.youtube_api_url,
        media,
        chunk_size=settings.chunk_size,
        chunk_retries=settings.chunk_retries,
        chunk_retry_delay_s=settings.chunk_retry_delay_s,
        meter=ledger,
    )
    root = settings.telegram_api_url.rstrip("/")
    application = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value())
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .local_mode(settings.telegram_local_mode)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(PerChatUpdateProcessor())
        .build()
    )
    engine_ref: list[Engine] = []
    service = TaskService(
        store,
        media,
        probe_key,
        clock,
        default_privacy=Privacy(settings.default_privacy),
        default_category_id=settings.default_category_id,
        on_change=lambda: engine_ref[0].wake(),
        holds=lambda account, at: channel_hold(ledger, account, at),
    )
    http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
    outbox = TelegramOutbox(application.bot, store, media.open)
    deps = BotDeps(
        outbox=outbox,
        service=service,
        access=AccessList(settings.admin_ids, settings.operator_ids),
        files=TelegramFiles(application.bot, http, local_mode=settings.telegram_local_mode),
        language=settings.language,
        timezone=settings.timezone,
        languages=await store.languages(),
        remember_language=lambda user_id, lang: store.set_language(user_id, lang, clock.now()),
        timezones=await store.timezones(),
        remember_timezone=lambda user_id, zone: store.set_timezone(user_id, zone, clock.now()),
    )
    install(application, deps)
    application.bot_data["plans"] = PlanService(  # /publishat /interval /batch /best
        store,
        ledger,
        media,
        clock,
        upload_rate_bps=settings.upload_rate_mbps * 1_000_000,
        on_change=lambda: engine_ref[0].wake(),
    )
    secret = settings.google_client_secret
    application.bot_data["account_flow"] = AccountFlowDeps(
        store=store,
        device=DeviceFlowClient(http, settings.google_device_uri, settings.google_token_uri),
        client_id=settings.google_client_id,
        client_secret=secret.get_secret_value() if secret is not None else None,
        token_uri=settings.google_token_uri,
        channel_info=publisher.channel_info,
        wake=lambda: engine_ref[0].wake(),
        clock=clock,
        timezone=settings.timezone,
    )
    notifier = TelegramNotifier(
        outbox,
        service,
        deps.languages,
        settings.language,
        settings.timezone,
        admin_ids=settings.admin_ids,
        timezones=deps.timezones,
    )
    engine = Engine(
        store,
        {publisher.platform: publisher},
        media,
        notifier,
        clock,
        EngineConfig(
            worker_id=f"{socket.gethostname()}:{os.getpid()}",
            max_parallel=settings.max_parallel_uploads,
            lease_s=settings.lease_s,
            sweep_s=settings.sweep_interval_s,
            single_process=settings.db_url.startswith("sqlite"),
            upload_limit_wait_h=settings.upload_limit_wait_h,
            unknown_retries=settings.unknown_retries,
            media_retention_h=settings.media_retention_h,
            upload_rate_bps=settings.upload_rate_mbps * 1_000_000,
        ),
        RetryPolicy(
            delays_s=tuple(settings.retry_delays_s),
            max_retries=settings.max_retries,
            jitter=settings.retry_jitter,
        ),
        ledger=ledger,
    )
    engine_ref.append(engine)
    # -- monitoring: progress, alerts, reports, metrics (issue 5) ----------------------------
    monitoring = build_monitoring(
        settings, store, media, clock, application, service, outbox, deps.languages
    )
    notifier.progress = monitoring.progress
    monitoring.progress.timezones = deps.timezones
    # -- end of monitoring ---------------------------------------------------------------------
    # -- channel administration (/accounts, /account, /quota) and status announcements ---------
    application.bot_data[ACCOUNTS_ADMIN_KEY] = AccountService(
        store,
        SqlLedger(store.engine),
        ledger,
        clock,
        team_timezone=settings.timezone,
        history=monitoring.observe,
        listener=notifier,
        on_change=engine.accounts_changed,
    )
    if settings.alert_chat_ids:
        notifier.announce = monitoring.alerts.evaluate
        notifier.alert_chat_ids = frozenset(settings.alert_chat_ids)
    return PublishManager(
        settings, store, media, clock, engine, service, application, http, outbox, monitoring
    )
