"""Clocks: the system clock's timers fire on the event loop; the manual clock fires in order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.clock import ManualClock, SystemClock


async def test_a_system_clock_timer_fires_on_the_running_loop_and_can_be_replaced() -> None:
    clock = SystemClock()
    clock.start()
    fired: list[str] = []
    done = asyncio.Event()

    def callback(name: str) -> None:
        asyncio.get_running_loop()  # raises in a worker thread, where the engine would break
        fired.append(name)
        done.set()

    try:
        soon = clock.now() + timedelta(milliseconds=50)
        clock.call_at(soon + timedelta(seconds=30), lambda: callback("replaced"), "timer")
        clock.call_at(soon, lambda: callback("latest"), "timer")
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        clock.shutdown()
    assert fired == ["latest"]


def test_a_manual_clock_fires_due_timers_in_order_and_only_when_due() -> None:
    clock = ManualClock(datetime(2026, 12, 3, tzinfo=UTC))
    fired: list[str] = []
    clock.call_at(clock.now() + timedelta(seconds=20), lambda: fired.append("b"), "b")
    clock.call_at(clock.now() + timedelta(seconds=10), lambda: fired.append("a"), "a")
    clock.call_at(clock.now() + timedelta(seconds=30), lambda: fired.append("c"), "c")
    clock.cancel("c")
    clock.advance(19)
    assert fired == ["a"]
    clock.advance(60)
    assert fired == ["a", "b"]
