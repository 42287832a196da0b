"""Timers of monitoring: the periodic alert evaluation, and the daily and weekly reports.

Every timer is armed on the Clock protocol (`call_at`), so tests drive them with a ManualClock.
The daily report (the day before) is posted at a local time of the team's zone, and on Mondays
the weekly one (Monday to Sunday before). Which report was posted last is stored, so a restart
neither posts one twice nor skips one that fell due while the process was down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from core.ports import Clock
from core.reports import Period, local_instant

logger = logging.getLogger(__name__)

ALERT_TIMER = "observe:alerts"
REPORT_TIMER = "observe:reports"
DAILY_CURSOR = "report:daily"
WEEKLY_CURSOR = "report:weekly"
MONDAY = 0


class Cursors(Protocol):
    """Stored positions (storage.observe.ObserveStore)."""

    async def get_cursor(self, name: str) -> int | None:
        """Return a stored position, or None."""
        ...

    async def set_cursor(self, name: str, value: int) -> None:
        """Store a position."""
        ...


#: Posts the report of a period under a heading key (bot.reports.ReportPoster.post).
PostReport = Callable[[Period, str], Awaitable[None]]


class ObserveTimers:
    """Arms and runs the alert checks and the report timers."""

    def __init__(
        self,
        clock: Clock,
        *,
        evaluate: Callable[[], Awaitable[object]] | None,
        post_report: PostReport | None,
        cursors: Cursors,
        zone: str,
        report_at: time = time(9, 0),
        check_s: float = 60.0,
    ) -> None:
        self._clock = clock
        self._evaluate = evaluate
        self._post = post_report
        self._cursors = cursors
        self._zone = ZoneInfo(zone)
        self._report_at = report_at
        self._check = timedelta(seconds=check_s)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._checking = False
        self._report_lock = asyncio.Lock()

    async def start(self) -> None:
        """Check alerts, arm the timers, catch up a report that fell due while down."""
        self._stopping = False
        if self._evaluate is not None:
            # A check at start: alerts are current at once, and the first-ever check marks
            # where telling failures begins before anything can fail in this process.
            self._checking = True
            await self._run_check()
            self._arm_check()
        if self._post is not None:
            await self._catch_up()
            self._arm_report()

    async def stop(self) -> None:
        """Cancel the timers and let a running check or report finish."""
        self._stopping = True
        self._clock.cancel(ALERT_TIMER)
        self._clock.cancel(REPORT_TIMER)
        await self.idle()

    async def idle(self) -> None:
        """Wait until no check or report runs (for tests and shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    def next_report_at(self, after: datetime) -> datetime:
        """Return the first local report time strictly after `after` (DST-safe)."""
        day = after.astimezone(self._zone).date()
        while True:
            instant = local_instant(day, self._report_at, self._zone)
            if instant > after:
                return instant
            day += timedelta(days=1)

    # -- timers ---------------------------------------------------------------------------------

    def _arm_check(self) -> None:
        def fire() -> None:
            if self._stopping:
                return
            self._arm_check()
            # Checks never overlap: one that falls due while another runs is skipped.
            if not self._checking:
                self._checking = True
                self._spawn(self._run_check())

        self._clock.call_at(self._clock.now() + self._check, fire, ALERT_TIMER)

    def _arm_report(self) -> None:
        when = self.next_report_at(self._clock.now())

        def fire() -> None:
            if not self._stopping:
                self._arm_report()
                self._spawn(self._run_reports(when.astimezone(self._zone).date()))

        self._clock.call_at(when, fire, REPORT_TIMER)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_check(self) -> None:
        assert self._evaluate is not None
        try:
            await self._evaluate()
        except Exception:
            logger.exception("alert evaluation failed", extra={"action": "alert_error"})
        finally:
            self._checking = False

    # -- reports --------------------------------------------------------------------------------

    async def _catch_up(self) -> None:
        now = self._clock.now()
        today = now.astimezone(self._zone).date()
        passed = now >= local_instant(today, self._report_at, self._zone)
        fire_day = today if passed else today - timedelta(days=1)
        if await self._cursors.get_cursor(DAILY_CURSOR) is None:
            # A first start reports from the next report time on, not about the days before.
            await self._cursors.set_cursor(
                DAILY_CURSOR, (fire_day - timedelta(days=1)).toordinal()
            )
            monday = fire_day - timedelta(days=fire_day.weekday())
            await self._cursors.set_cursor(WEEKLY_CURSOR, (monday - timedelta(days=7)).toordinal())
            return
        self._spawn(self._run_reports(fire_day))

    async def _run_reports(self, fire_day: date) -> None:
        async with self._report_lock:  # one report run at a time: the cursors stay in order
            try:
                await self._daily(fire_day - timedelta(days=1))
                monday = fire_day - timedelta(days=fire_day.weekday())
                await self._weekly(monday - timedelta(days=7))
            except Exception:
                logger.exception("report not posted", extra={"action": "report_error"})

    async def _daily(self, day: date) -> None:
        done = await self._cursors.get_cursor(DAILY_CURSOR)
        if done is not None and done >= day.toordinal():
            return
        assert self._post is not None
        await self._post(Period(day, day, self._zone), "report.daily")
        await self._cursors.set_cursor(DAILY_CURSOR, day.toordinal())

    async def _weekly(self, monday: date) -> None:
        done = await self._cursors.get_cursor(WEEKLY_CURSOR)
        if done is not None and done >= monday.toordinal():
            return
        assert self._post is not None
        await self._post(Period(monday, monday + timedelta(days=6), self._zone), "report.weekly")
        await self._cursors.set_cursor(WEEKLY_CURSOR, monday.toordinal())
