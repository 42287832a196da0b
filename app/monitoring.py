"""Builds monitoring from the settings: progress, alerts, posted reports, /metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from telegram.ext import Application

from app.metrics import MetricsServer
from app.schedule_reports import ObserveTimers
from bot.progress import ProgressReporter
from bot.reports import ObserveDeps, ReportPoster, alert_renderer
from core.alerts import AlertEvaluator, AlertThresholds
from core.ports import ChatOutbox, Clock, MediaStore
from core.reports import Reports
from core.service import TaskService
from core.settings import Settings
from storage.observe import ObserveStore
from storage.store import SqlStore


@dataclass
class Monitoring:
    """The monitoring parts of one process."""

    observe: ObserveStore
    reports: Reports
    progress: ProgressReporter
    alerts: AlertEvaluator
    timers: ObserveTimers
    metrics: MetricsServer

    async def start(self) -> None:
        """Arm the alert and report timers and serve /metrics (if a port is set)."""
        await self.timers.start()
        await self.metrics.start()

    async def stop(self) -> None:
        """Stop the timers and the metrics server."""
        await self.timers.stop()
        await self.metrics.stop()


def build_monitoring(
    settings: Settings,
    store: SqlStore,
    media: MediaStore,
    clock: Clock,
    application: Application,  # type: ignore[type-arg]
    service: TaskService,
    outbox: ChatOutbox,
    languages: dict[int, str],
) -> Monitoring:
    """Wire monitoring, and give the /report, /stats, /calendar, /alerts handlers their deps."""
    observe = ObserveStore(
        store,
        quota_units_per_upload=settings.quota_units_per_upload,
        quota_daily_units=settings.quota_daily_units,
        max_parallel=settings.max_parallel_uploads,
    )
    reports = Reports(observe, clock, window_s=settings.alert_window_s)
    chats = list(settings.alert_chat_ids)
    application.bot_data["observe"] = ObserveDeps(reports, observe, clock, chats)
    alerts = AlertEvaluator(
        observe,
        observe,
        outbox,
        chats,
        alert_renderer(settings.language, settings.timezone),
        clock,
        AlertThresholds(
            error_rate=settings.alert_error_rate,
            error_min_attempts=settings.alert_error_min_attempts,
            window_s=settings.alert_window_s,
            queue_size=settings.alert_queue_size,
            quota_ratio=settings.alert_quota_ratio,
            stuck_s=settings.alert_stuck_s,
            cooldown_s=settings.alert_cooldown_s,
        ),
    )
    poster = ReportPoster(
        reports, outbox, media, chats, language=settings.language, zone=settings.timezone
    )
    hour, minute = (int(part) for part in settings.daily_report_time.split(":"))
    timers = ObserveTimers(
        clock,
        evaluate=alerts.evaluate if chats else None,
        post_report=poster.post if chats else None,
        cursors=observe,
        zone=settings.timezone,
        report_at=time(hour, minute),
        check_s=settings.alert_check_interval_s,
    )
    progress = ProgressReporter(
        application.bot,
        service,
        clock,
        interval_s=settings.progress_interval_s,
        languages=languages,
        language=settings.language,
        zone=settings.timezone,
    )
    metrics = MetricsServer(
        lambda: observe.metrics_snapshot(clock.now()),
        host=settings.metrics_host,
        port=settings.metrics_port,
    )
    return Monitoring(observe, reports, progress, alerts, timers, metrics)
