"""Clocks: the system clock with APScheduler timers, and a manual clock that tests move."""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

logger = logging.getLogger(__name__)


class SystemClock:
    """Real time; timers are APScheduler date jobs on the running asyncio loop."""

    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    def now(self) -> datetime:
        """Return the current instant, aware UTC."""
        return datetime.now(UTC)

    def start(self) -> None:
        """Start firing timers; call from inside the running loop."""
        if not self._scheduler.running:
            self._scheduler.start()

    def shutdown(self) -> None:
        """Stop firing timers."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def call_at(self, when: datetime, callback: Callable[[], None], key: str) -> None:
        """Run `callback` on the event loop at `when`, replacing any timer armed under `key`."""

        # APScheduler runs plain functions in a thread pool, where the engine's callbacks would
        # find no event loop; a coroutine function runs on the scheduler's loop itself.
        async def fire() -> None:
            callback()

        self._scheduler.add_job(
            fire,
            DateTrigger(run_date=when),
            id=key,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=16,
        )

    def cancel(self, key: str) -> None:
        """Drop the timer under `key`, if any."""
        if self._scheduler.get_job(key) is not None:
            self._scheduler.remove_job(key)


class ManualClock:
    """A clock that only moves when told to; due timers fire during `advance`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start instant")
        self._now = start.astimezone(UTC)
        self._timers: list[tuple[datetime, int, str]] = []
        self._callbacks: dict[str, tuple[int, Callable[[], None]]] = {}
        self._seq = itertools.count()

    def now(self) -> datetime:
        """Return the clock's current instant."""
        return self._now

    def call_at(self, when: datetime, callback: Callable[[], None], key: str) -> None:
        """Arm a timer; a timer already due fires at the next `advance`."""
        seq = next(self._seq)
        self._callbacks[key] = (seq, callback)
        heapq.heappush(self._timers, (when, seq, key))

    def cancel(self, key: str) -> None:
        """Drop the timer under `key`."""
        self._callbacks.pop(key, None)

    def pending(self) -> list[datetime]:
        """Return the instants of the armed timers, soonest first."""
        live = {seq for seq, _ in self._callbacks.values()}
        return sorted(when for when, seq, _ in self._timers if seq in live)

    def advance(self, delta: timedelta | float) -> None:
        """Move time forward, firing every timer that falls due on the way."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        self.set(self._now + step)

    def set(self, instant: datetime) -> None:
        """Move time to `instant` (never backwards), firing due timers in order."""
        target = max(instant.astimezone(UTC), self._now)
        while self._timers and self._timers[0][0] <= target:
            when, seq, key = heapq.heappop(self._timers)
            armed = self._callbacks.get(key)
            if armed is None or armed[0] != seq:
                continue
            del self._callbacks[key]
            self._now = max(self._now, when)
            armed[1]()
        self._now = target
