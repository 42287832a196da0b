"""`/metrics` for Prometheus: figures read from the database at each scrape.

The HTTP server runs on the process's own asyncio loop (aiohttp), so a scrape reads the store
with the same async engine as everything else; prometheus-client formats the answer. Every
counter is a total over the stored history, so it never goes backwards across restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storage.observe import MetricsSnapshot

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Reads what a scrape shows.
Snapshot = Callable[[], Awaitable[MetricsSnapshot]]


class SnapshotCollector(Collector):
    """Turns one snapshot of the store into Prometheus metric families."""

    def __init__(self) -> None:
        self.snapshot: MetricsSnapshot | None = None

    def collect(self) -> Iterator[Metric]:
        """Yield the families of the latest snapshot."""
        s = self.snapshot
        if s is None:
            return
        yield GaugeMetricFamily(
            "pm_queue_length", "Tasks waiting (queued or retry_wait).", value=s.queue_length
        )
        states = GaugeMetricFamily("pm_tasks", "Tasks by state.", labels=["state"])
        for state, count in sorted(s.tasks_by_state.items()):
            states.add_metric([state], count)
        yield states
        uploads = CounterMetricFamily(
            "pm_uploads", "Videos published, by account.", labels=["account"]
        )
        for account, count in sorted(s.uploads_by_account.items()):
            uploads.add_metric([account], count)
        yield uploads
        failures = CounterMetricFamily(
            "pm_upload_failures",
            "Failed upload attempts (retried or final), by account and failure class.",
            labels=["account", "class"],
        )
        for (account, cls), count in sorted(s.failures_by_account_class.items()):
            failures.add_metric([account, cls], count)
        yield failures
        sent = CounterMetricFamily(
            "pm_upload_bytes", "Bytes of videos uploaded, by account.", labels=["account"]
        )
        for account, size in sorted(s.upload_bytes_by_account.items()):
            sent.add_metric([account], size)
        yield sent
        used = GaugeMetricFamily(
            "pm_quota_used_units",
            "YouTube quota units used today, by project.",
            labels=["project"],
        )
        limit = GaugeMetricFamily(
            "pm_quota_limit_units", "YouTube quota units a day, by project.", labels=["project"]
        )
        for project, units, daily in s.quota:
            used.add_metric([project], units)
            limit.add_metric([project], daily)
        yield used
        yield limit


class MetricsServer:
    """Serves /metrics on a port; port 0 means off."""

    def __init__(self, snapshot: Snapshot, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._snapshot = snapshot
        self._host = host
        self.port = port
        self._collector = SnapshotCollector()
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self._collector)
        self._runner: web.AppRunner | None = None

    async def render(self) -> bytes:
        """Read the store and return the metrics in Prometheus' text format."""
        self._collector.snapshot = await self._snapshot()
        return generate_latest(self._registry)

    async def start(self) -> None:
        """Start serving, if a port is configured."""
        if self.port == 0 or self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self.port).start()
        logger.info(
            "metrics on http://%s:%s/metrics", self._host, self.port, extra={"action": "metrics"}
        )

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            body = await self.render()
        except Exception:
            logger.exception("metrics not read", extra={"action": "metrics_error"})
            return web.Response(status=503, text="metrics are not available\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
