"""Monitoring end to end: alerts, reports, progress, metrics, against the Telegram sandbox."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from app.monitoring import Monitoring
from bot import charts
from core.alerts import AlertKind
from core.models import AccountStatus, Privacy, TaskState, VideoMetadata
from core.quota import ApiCall
from tests.app.conftest import ADMIN, OPERATOR, Harness, body, running_harness

S = TaskState
GROUP = -1001234567
KEYS = itertools.count(1)
#: Settings that make every rule easy to reach and quick to check.
ALERTING: dict[str, Any] = {
    "alert_chat_ids": [GROUP],
    "alert_check_interval_s": 60,
    "alert_cooldown_s": 600,
    "alert_queue_size": 3,
    "alert_error_min_attempts": 3,
    "alert_stuck_s": 30,
    "quota_daily_units": 1700,
    # The quota alert (at 90%) is tested alone: the channel is not rate-limited at 94%.
    "quota_stop_ratio": 1.0,
}


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """A running process whose alert chat is a group in the sandbox."""
    async with running_harness(tmp_path, **ALERTING) as harness:
        harness.telegram.group(GROUP, "Ops")
        yield harness


def _monitoring(h: Harness) -> Monitoring:
    assert h.manager is not None and h.manager.monitoring is not None
    return h.manager.monitoring


async def _settle(h: Harness) -> None:
    assert h.manager is not None
    await asyncio.sleep(0)
    await _monitoring(h).timers.idle()
    await h.manager.outbox.drained()


async def _tick(h: Harness, seconds: float = 60) -> None:
    """Move time on by one alert check (or more) and wait until what it said is delivered."""
    h.clock.advance(timedelta(seconds=seconds))
    await _settle(h)


def _group(h: Harness) -> list[str]:
    return [body(m) for m in h.telegram.bot_messages(GROUP) if "text" in m]


async def _task(
    h: Harness,
    *states: TaskState,
    due: datetime | None = None,
    account: int | None = 1,
    **fields: Any,
) -> int:
    """Create a task straight in the store and walk it through states (as the engine would)."""
    assert h.manager is not None
    store = h.manager.store
    now = h.clock.now()
    media = await store.add_media(
        key=f"observe-{next(KEYS)}.mp4",
        sha256="0" * 64,
        size=3 * 2**20,
        mime_type="video/mp4",
        duration_s=3.0,
        width=320,
        height=240,
        codec="h264",
        file_unique_id=None,
        created_at=now,
    )
    task = await store.create_task(
        media_id=media.id,
        account_id=account,
        chat_id=OPERATOR,
        user_id=OPERATOR,
        metadata=VideoMetadata("Observed"),
        privacy=Privacy.PRIVATE,
        now=now,
    )
    for state in states:
        extra: dict[str, Any] = dict(fields)
        if state is S.QUEUED:
            extra["due_at"] = due or now + timedelta(days=1)
        if state is S.UPLOADING:
            extra["lease_owner"] = "test-worker"
        if state is S.RETRY_WAIT:
            extra["due_at"] = now + timedelta(days=1)
        detail = "invalidTitle" if state is S.FAILED else None
        await store.transition(task.id, state, now=now, actor="test", detail=detail, **extra)
    return task.id


async def _cancel(h: Harness, task_id: int) -> None:
    assert h.manager is not None
    await h.manager.store.transition(task_id, S.CANCELLED, now=h.clock.now(), actor="test")


Step = Callable[[Harness], Awaitable[object]]


async def _queue_holds(h: Harness) -> object:
    return [await _task(h, S.QUEUED) for _ in range(4)]


async def _queue_clears(h: Harness) -> None:
    for task in await _monitoring(h).observe.open_tasks():
        await _cancel(h, task.task_id)


async def _errors_hold(h: Harness) -> object:
    return [await _task(h, S.QUEUED, S.UPLOADING, S.RETRY_WAIT) for _ in range(3)]


async def _errors_clear(h: Harness) -> None:
    for _ in range(27):  # 3 failed of 30 attempts: 10%, no longer over the threshold
        # Without an account, so that they use no project's quota.
        await _task(h, S.QUEUED, S.UPLOADING, S.PROCESSING, S.PUBLISHED, account=None)


async def _account_holds(h: Harness) -> object:
    await _monitoring(h).observe.add_account_event(
        1, AccountStatus.NEEDS_AUTH, at=h.clock.now(), reason="invalid_grant"
    )
    return None


async def _account_clears(h: Harness) -> None:
    await _monitoring(h).observe.add_account_event(1, AccountStatus.ACTIVE, at=h.clock.now())


async def _quota_holds(h: Harness) -> object:
    task = await _task(h, S.QUEUED, S.UPLOADING, S.PROCESSING, S.PUBLISHED)
    assert h.manager is not None and h.manager.engine.ledger is not None
    # What the publisher charges for the upload's insert call: 1600 units.
    await h.manager.engine.ledger.charge(
        "client-1", ApiCall.VIDEOS_INSERT, account_id=1, task_id=task
    )
    return task


async def _quota_clears(h: Harness) -> None:
    # The harness starts at 20:00 Pacific; the quota comes back at midnight Pacific.
    h.clock.advance(timedelta(hours=4))


RULES: dict[AlertKind, tuple[Step, Step, str]] = {
    AlertKind.QUEUE_SIZE: (_queue_holds, _queue_clears, "4 tasks are waiting"),
    AlertKind.ERROR_RATE: (_errors_hold, _errors_clear, "Error rate 100.0%"),
    AlertKind.ACCOUNT_STATUS: (_account_holds, _account_clears, "Channel main is needs re-auth"),
    # 1600 units of the insert and 1 of the channels.list that checked the channel: 94.2%.
    AlertKind.QUOTA: (_quota_holds, _quota_clears, "Project client-1 has used 94.2%"),
}


@pytest.mark.parametrize("kind", list(RULES))
async def test_an_alert_fires_once_survives_a_restart_repeats_after_cooldown_and_resolves(
    h: Harness, kind: AlertKind
) -> None:
    hold, clear, words = RULES[kind]
    await hold(h)
    await _tick(h)
    assert len(_group(h)) == 1, _group(h)
    [fired] = _group(h)
    assert words in fired and fired.startswith("🚨")
    await _tick(h)
    assert len(_group(h)) == 1

    await h.stop()
    await h.start()
    await _tick(h)
    assert len(_group(h)) == 1  # the restarted process knows the alert is open

    await _tick(h, 600 - 120)
    assert len(_group(h)) == 2 and _group(h)[-1].startswith("🔁 Still going on, since")
    assert words in _group(h)[-1]
    await clear(h)
    await _tick(h)
    assert len(_group(h)) == 3 and _group(h)[-1].startswith("✅")
    await _tick(h, 600)
    assert len(_group(h)) == 3


async def test_a_stopped_scheduler_is_told_and_resolved(h: Harness) -> None:
    assert h.manager is not None
    await h.manager.engine.stop()  # the engine stops dispatching, the process runs on
    task = await _task(h, S.QUEUED, due=h.clock.now() - timedelta(minutes=1))
    await _tick(h)
    [fired] = _group(h)
    assert (
        f"Due tasks are not being started</b>: 1 waiting on idle channels, the oldest (#{task})"
        in (fired.replace("\n", " "))
        or "Due tasks are not being started" in fired
    )
    await _tick(h)
    assert len(_group(h)) == 1
    await _tick(h, 600)
    assert _group(h)[-1].startswith("🔁")
    await _cancel(h, task)
    await _tick(h)
    assert _group(h)[-1].startswith("✅ Due tasks are being started again")


async def test_a_task_that_failed_for_good_is_told_once_across_a_restart(h: Harness) -> None:
    task = await _task(h, S.QUEUED, S.UPLOADING, S.FAILED, error="invalidTitle: refused")
    await _tick(h)
    [told] = _group(h)
    assert f"Task #{task} failed for good" in told and f"/publish {task}" in told
    await _tick(h, 700)
    await h.stop()
    await h.start()
    await _tick(h, 700)
    assert len(_group(h)) == 1


async def test_a_chat_mutes_a_kind_with_the_alerts_buttons(h: Harness) -> None:
    await h.telegram.user_send_text(GROUP, OPERATOR, "/alerts")
    panel = await h.telegram.wait_for_bot_message(
        GROUP, lambda m: "Alerts in this chat" in body(m)
    )
    assert "🔔 queue size (queue_size)" in body(panel)
    query = await h.telegram.user_press(GROUP, OPERATOR, panel["message_id"], "alr:m:queue_size")
    await h.telegram.wait_for_callback_answer(query)
    redrawn = await h.telegram.wait_for_bot_message(
        GROUP, lambda m: "queue size (queue_size), muted" in body(m)
    )
    assert redrawn["message_id"] == panel["message_id"]
    await _queue_holds(h)
    await _account_holds(h)
    await _tick(h)
    texts = _group(h)
    assert any("Channel main" in t for t in texts)
    assert not any("tasks are waiting" in t for t in texts)
    await h.telegram.user_send_text(GROUP, OPERATOR, "/alerts unmute all")
    await h.telegram.wait_for_bot_message(GROUP, lambda m: "Unmuted in this chat" in body(m))
    assert await _monitoring(h).observe.muted_kinds() == {}


async def test_report_answers_with_figures_and_a_chart_in_the_persons_zone(h: Harness) -> None:
    await h.send_video(h.clip(), "Harbour sunrise")
    await h.say("/publish 1")
    await h.expect("is published")
    await h.say("/report today")
    report = await h.expect("Report 2026-12-03 (Asia/Shanghai)")
    text = body(report)
    assert "Published: 1 · failed: 0 · success rate: 100.0%" in text
    assert "main: 1 published, 0 failed" in text and "12 █" in text
    photo = await h.telegram.wait_for_bot_message(OPERATOR, lambda m: "photo" in m)
    data = h.telegram.file_bytes(photo["photo"][-1]["file_id"])
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == ("PNG", (charts.WIDTH_PX, charts.REPORT_HEIGHT_PX))
    await h.say("/report 2026-13-01")
    await h.expect("“2026-13-01” is not a period")


async def test_stats_and_calendar_show_the_queue(h: Harness) -> None:
    await _task(h, S.QUEUED, due=h.clock.now() + timedelta(hours=30))
    await h.say("/stats")
    stats = await h.expect("Right now")
    assert "Waiting: 1 (due now: 0)" in body(stats) and "main (active): waiting 1" in body(stats)
    await h.say("/calendar")
    photo = await h.telegram.wait_for_bot_message(OPERATOR, lambda m: "photo" in m)
    assert "Schedule 2026-12-03 – 2026-12-09 (Asia/Shanghai): 1 tasks" in body(photo)
    data = h.telegram.file_bytes(photo["photo"][-1]["file_id"])
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (charts.WIDTH_PX, charts.CALENDAR_HEADER_PX + charts.CALENDAR_ROW_PX)
    await h.say("/calendar", user=ADMIN)
    await h.telegram.wait_for_bot_message(ADMIN, lambda m: "发布日程" in body(m))


async def test_stats_reports_and_the_calendar_follow_the_persons_own_zone(h: Harness) -> None:
    await h.say("/tz America/New_York")
    await h.expect("America/New_York")
    await h.say("/stats")
    stats = body(await h.expect("Right now", new_only=True))
    assert "2026-12-02 23:00 (America/New_York" in stats
    await h.say("/report today")
    await h.expect("Report 2026-12-02 (America/New_York)", new_only=True)
    await _task(h, S.QUEUED, due=h.clock.now() + timedelta(hours=30))
    await h.say("/calendar")
    photo = await h.telegram.wait_for_bot_message(
        OPERATOR, lambda m: "photo" in m and "Schedule" in body(m), new_only=True
    )
    assert "(America/New_York)" in body(photo)


async def test_the_daily_report_is_posted_at_nine_and_the_weekly_one_on_monday(
    h: Harness,
) -> None:
    await _task(h, S.QUEUED, S.UPLOADING, S.PROCESSING, S.PUBLISHED)  # Thu 12-03, 12:00 local
    await _tick(h, 21 * 3600)  # Fri 09:00 in Shanghai
    daily = [t for t in _group(h) if t.startswith("🗓 Daily report")]
    assert len(daily) == 1 and "Report 2026-12-03 (Asia/Shanghai)" in daily[0]
    assert "Published: 1" in daily[0]
    pictures = [m for m in h.telegram.bot_messages(GROUP) if "photo" in m]
    assert len(pictures) == 1
    await h.stop()
    await h.start()  # a restart at 09:00 does not post the same report again
    await _settle(h)
    assert len([t for t in _group(h) if t.startswith("🗓 Daily")]) == 1
    await _tick(h, 3 * 86400)  # Mon 12-07 09:00
    texts = _group(h)
    assert [t.split("\n")[1] for t in texts if t.startswith("🗓 Daily")][-1].startswith(
        "📊 Report 2026-12-06"
    )
    [weekly] = [t for t in texts if t.startswith("🗓 Weekly")]
    assert "Report 2026-11-30 – 2026-12-06" in weekly and "Published: 1" in weekly


async def test_progress_edits_the_card_at_most_once_per_interval(h: Harness) -> None:
    card = await h.send_video(h.clip(), "Harbour sunrise")
    assert h.manager is not None
    await h.manager.store.transition(
        1, S.QUEUED, now=h.clock.now(), actor="test", due_at=h.clock.now() + timedelta(days=1)
    )
    await h.manager.store.transition(
        1, S.UPLOADING, now=h.clock.now(), actor="test", lease_owner="test-worker"
    )
    await h.manager.outbox.drained()  # the card updates of those transitions are out first
    progress = _monitoring(h).progress
    total = 120 * 2**20
    edits_before = _card(h, card["message_id"])["edit_count"]
    for second in range(31):  # 2 MiB a second, reported ten times a second
        for tenth in range(10):
            await progress.update(1, (second * 10 + tenth) * 2**20 // 5, total)
            h.clock.advance(0.1)
    final = _card(h, card["message_id"])
    assert final["edit_count"] - edits_before == 7  # at 0, 5, 10, ..., 30 s
    assert "█" * 12 not in body(final) and "100%" not in body(final)
    assert "Task #1 · uploading" in body(final) and "2.0 MB/s" in body(final)
    assert "<b>" not in body(final) and "50%" in body(final) and "30 s left" in body(final)


async def test_a_real_upload_shows_progress_on_its_card_then_published(h: Harness) -> None:
    clip = h.clip()
    with clip.open("ab") as out:  # an MP4 `free` box: still a playable file, now 3 chunks long
        padding = 2 * 2**20
        out.write(padding.to_bytes(4, "big") + b"free" + bytes(padding - 8))
    card = await h.send_video(clip, "Harbour sunrise")
    await h.say("/publish 1")
    await h.expect("is published")
    assert h.manager is not None
    await h.manager.outbox.drained()
    final = _card(h, card["message_id"])
    progress_texts = [t for t in final["previous_texts"] if "%" in t and "░" in t]
    assert len(progress_texts) == 1  # no time passed on the clock: one edit, not one a chunk
    assert "Task #1 · published" in body(final) and "░" not in body(final)


def _card(h: Harness, message_id: int) -> dict[str, Any]:
    return next(m for m in h.telegram.bot_messages(OPERATOR) if m["message_id"] == message_id)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_metrics_are_served_over_http_from_the_store(tmp_path: Path) -> None:
    port = _free_port()
    async with running_harness(tmp_path, metrics_port=port, quota_daily_units=10_000) as h:
        await h.send_video(h.clip(), "Harbour sunrise")
        await h.say("/publish 1")
        await h.expect("is published")
        await _task(h, S.QUEUED)
        await _task(h, S.QUEUED, S.UPLOADING, S.FAILED)
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert answer.status_code == 200
        lines = answer.text.splitlines()
        for expected in (
            "pm_queue_length 1.0",
            'pm_tasks{state="published"} 1.0',
            'pm_uploads_total{account="main"} 1.0',
            'pm_upload_failures_total{account="main",class="content"} 1.0',
            'pm_quota_used_units{project="client-1"} 1601.0',  # the insert and channels.list
            'pm_quota_limit_units{project="client-1"} 10000.0',
        ):
            assert expected in lines, expected
        sent = next(x for x in lines if x.startswith('pm_upload_bytes_total{account="main"}'))
        assert float(sent.split()[-1]) == h.clip().stat().st_size


async def test_metrics_are_off_by_default(h: Harness) -> None:
    assert _monitoring(h).metrics.port == 0


async def test_every_engine_transition_logs_one_line_with_task_account_and_action(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await h.send_video(h.clip(), "Harbour sunrise")
        await h.say("/publish 1")
        await h.expect("is published")
    assert h.manager is not None
    history = await h.manager.store.history(1)
    engine_moves = [
        to for _, to, _, _ in history if to in ("uploading", "processing", "published")
    ]
    lines = [
        r
        for r in caplog.records
        if getattr(r, "task_id", None) == 1
        and r.name == "core.engine"
        and r.levelno == logging.INFO
    ]
    assert len(lines) == len(engine_moves) == 3
    assert all(getattr(r, "account_id", None) == 1 and getattr(r, "action", None) for r in lines)


async def test_every_transition_logs_one_line(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await h.send_video(h.clip(), "Harbour sunrise")
        await h.say("/publish 1")
        await h.expect("is published")
    assert h.manager is not None
    history = await h.manager.store.history(1)
    lines = [
        r
        for r in caplog.records
        if getattr(r, "task_id", None) == 1 and getattr(r, "action", None) and r.levelno == 20
    ]
    assert len(lines) == len(history)


def _progress_edits(h: Harness) -> int:
    """Count the card edits that carried a progress bar (the outbox edits cards too)."""
    return sum(
        1
        for name, params in h.telegram.api_calls
        if name == "editMessageText" and "⬆" in str(params.get("text", ""))
    )


async def test_a_refused_progress_edit_never_holds_the_upload_up(h: Harness) -> None:
    card = await h.send_video(h.clip(), "Harbour sunrise")
    assert h.manager is not None
    store, now = h.manager.store, h.clock.now()
    await store.transition(1, S.QUEUED, now=now, actor="test", due_at=now + timedelta(days=1))
    await store.transition(1, S.UPLOADING, now=now, actor="test", lease_owner="test-worker")
    await h.manager.outbox.drained()  # the card updates of those transitions are out first
    h.telegram.fail_next(
        "editMessageText", 429, "Too Many Requests: retry after 30", retry_after=30
    )
    progress = _monitoring(h).progress
    loop = asyncio.get_running_loop()
    started = loop.time()
    await progress.update(1, 2**20, 10 * 2**20)
    assert loop.time() - started < 5  # the rate limiter would have slept 30 s
    edits = _progress_edits(h)
    for _ in range(30):  # the next edits wait out the pause
        h.clock.advance(1)
        await progress.update(1, 2 * 2**20, 10 * 2**20)
    assert _progress_edits(h) == edits
    h.clock.advance(6)
    await progress.update(1, 3 * 2**20, 10 * 2**20)
    assert "30%" in body(_card(h, card["message_id"]))
