"""Each failure class gets what a careful operator would do, through the real clients."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from app.cli import reauth, register_youtube
from core.models import Account, AccountStatus, Credentials, Task, TaskState
from tests.app.conftest import ADMIN, OPERATOR, Harness, body


async def _publish_now(h: Harness, caption: str = "Failure drill") -> None:
    await h.send_video(h.clip(), caption)
    await h.say("/publish 1")
    await h.expect("will be published now")


async def _settle(h: Harness) -> None:
    await asyncio.sleep(0)
    await h.idle()


async def _task(h: Harness, task_id: int = 1) -> Task:
    assert h.manager is not None
    task = await h.manager.store.get_task(task_id)
    assert task is not None
    return task


async def _account(h: Harness, name: str) -> Account:
    assert h.manager is not None
    account = await h.manager.store.account_by_name(name)
    assert account is not None
    return account


async def test_a_transient_failure_retries_a_minute_later_and_publishes_once(
    harness: Harness,
) -> None:
    harness.youtube.fail_next("insert", count=4, status=503, reason="backendError")
    await _publish_now(harness)
    waiting = await harness.expect("tries again at 2026-12-03 12:01")
    assert "temporary error" in body(waiting) or "backendError" in body(waiting)
    harness.clock.advance(59)
    await _settle(harness)
    assert (await _task(harness)).state is TaskState.RETRY_WAIT
    harness.clock.advance(1)
    await harness.expect("is published")
    assert len(await harness.youtube.wait_for_videos(1, timeout=10)) == 1


async def test_transient_failures_past_the_allowance_fail_the_task_and_keep_the_file(
    harness: Harness,
) -> None:
    harness.youtube.fail_next("insert", count=100, status=503, reason="backendError")
    await _publish_now(harness)
    for wait_s in (60, 300, 900):
        await harness.expect("tries again at", new_only=False)
        await _settle(harness)
        harness.clock.advance(wait_s)
    failed = await harness.expect("Task #1 failed")
    assert "/retry 1" in body(failed)
    task = await _task(harness)
    assert task.state is TaskState.FAILED and task.attempts == 3
    assert len(list(harness.settings.media_dir.iterdir())) == 1
    assert harness.youtube.videos == []


async def _add_twin_and_other(harness: Harness) -> None:
    youtube = harness.youtube
    youtube.add_channel("client-1", "secret-1", "refresh-twin", channel_id="UCtwin", title="Twin")
    youtube.add_channel("client-2", "secret-2", "refresh-other", channel_id="UCother")
    for name, client, token in (
        ("twin", "client-1", "refresh-twin"),
        ("other", "client-2", "refresh-other"),
    ):
        secret = "secret-1" if client == "client-1" else "secret-2"
        credentials = Credentials(client, secret, token, youtube.token_uri)
        await register_youtube(harness.settings, name, credentials, "Asia/Shanghai")
    await harness.manager.engine.accounts_changed()  # type: ignore[union-attr]


async def test_quota_exceeded_waits_for_the_pacific_reset_on_every_account_of_the_project(
    harness: Harness,
) -> None:
    youtube = harness.youtube
    await harness.send_video(harness.clip(), "Failure drill")
    await _add_twin_and_other(harness)
    await harness.say("/use 1 main")
    await harness.expect("#1 will be published on main")
    youtube.fail_next("insert", status=403, reason="quotaExceeded")
    await harness.say("/publish 1")
    # 04:00 UTC is 20:00 the day before in Los Angeles: the reset is at 08:00 UTC (16:00 here).
    await harness.expect("(YouTube's daily quota is used up); it tries again at 2026-12-03 16:01")
    reset = datetime(2026, 12, 3, 8, 1, tzinfo=UTC)
    for name in ("main", "twin"):
        account = await _account(harness, name)
        assert (account.status, account.status_until) == (AccountStatus.RATE_LIMITED, reset)
    assert (await _account(harness, "other")).status is AccountStatus.ACTIVE
    harness.clock.set(reset - timedelta(seconds=1))
    await _settle(harness)
    assert youtube.videos == []
    harness.clock.set(reset)
    await harness.expect("is published")
    assert (await _account(harness, "twin")).status is AccountStatus.ACTIVE


async def test_quota_exceeded_sends_a_task_left_to_the_balancer_to_another_project_now(
    harness: Harness,
) -> None:
    youtube = harness.youtube
    await harness.send_video(harness.clip(), "Failure drill")  # on main, the only channel then
    await _add_twin_and_other(harness)
    youtube.fail_next("insert", status=403, reason="quotaExceeded")
    await harness.say("/publish 1")
    await harness.expect("Task #1 is published", within_s=20)
    assert [v.channel_id for v in youtube.videos] == ["UCother"]
    for name in ("main", "twin"):
        assert (await _account(harness, name)).status is AccountStatus.RATE_LIMITED
    task = await _task(harness)
    assert task.choice is not None and task.choice["account_id"] == 3
    await harness.say("/why 1")
    why = await harness.expect("#1 → ")
    assert "other" in body(why) and "2 not active" in body(why)


async def test_a_channel_at_its_own_upload_cap_pauses_for_a_day(harness: Harness) -> None:
    harness.youtube.fail_next("insert", status=400, reason="uploadLimitExceeded")
    await _publish_now(harness)
    await harness.expect("daily upload limit); it tries again at 2026-12-04 12:00")
    main = await _account(harness, "main")
    assert main.status is AccountStatus.RATE_LIMITED
    harness.clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    await _settle(harness)
    assert harness.youtube.videos == []
    harness.clock.advance(1)
    await harness.expect("is published")


async def test_a_capped_channels_waiting_tasks_move_to_another_channel(harness: Harness) -> None:
    youtube = harness.youtube
    # Both tasks start on main, the only channel when they are created.
    await harness.send_video(harness.clip("later.mp4", seed=5), "Later one")
    await harness.say("/schedule 1 in 1 hour")
    await harness.expect("will be published at")
    await harness.send_video(harness.clip(), "Capped one")
    youtube.add_channel("client-2", "secret-2", "refresh-other", channel_id="UCother")
    credentials = Credentials("client-2", "secret-2", "refresh-other", youtube.token_uri)
    await register_youtube(harness.settings, "other", credentials, "Asia/Shanghai")
    youtube.fail_next("insert", status=400, reason="uploadLimitExceeded", channel_id="UCmain")
    await harness.say("/publish 2")
    await harness.expect("Task #2 is published", within_s=20)
    assert (await _account(harness, "main")).status is AccountStatus.RATE_LIMITED
    harness.clock.advance(timedelta(hours=1))
    await harness.expect("Task #1 is published", within_s=20)
    assert {v.title: v.channel_id for v in youtube.videos} == {
        "Capped one": "UCother",
        "Later one": "UCother",
    }


async def test_a_revoked_token_holds_tasks_tells_the_admins_once_and_reauth_resumes(
    harness: Harness,
) -> None:
    youtube = harness.youtube
    youtube.revoke("refresh-1")
    await _publish_now(harness)
    alert = await harness.expect("needs re-authorisation", user=ADMIN)
    assert "publish-manager accounts reauth main" in body(alert)
    await _settle(harness)
    task = await _task(harness)
    assert task.state is TaskState.QUEUED and task.attempts == 0
    assert (await _account(harness, "main")).status is AccountStatus.NEEDS_AUTH

    await harness.send_video(harness.clip("second.mp4", seed=1), "Second while held")
    await harness.say("/publish 2")
    await harness.expect("Task #2 will be published now")
    await _settle(harness)
    assert (await _task(harness, 2)).state is TaskState.QUEUED
    assert sum("needs re-authorisation" in t for t in harness.texts(ADMIN)) == 1

    youtube.add_channel("client-1", "secret-1", "refresh-new", channel_id="UCmain", title="Main")
    args = argparse.Namespace(
        name="main",
        client_id="client-1",
        client_secret="secret-1",
        refresh_token="refresh-new",
        interactive=False,
    )
    await reauth(harness.settings, args)
    harness.clock.advance(harness.settings.sweep_interval_s)
    await harness.expect("Task #1 is published")
    await harness.expect("Task #2 is published")
    assert len(youtube.videos) == 2


async def test_a_title_youtube_refuses_fails_at_once_and_can_be_fixed_and_retried(
    harness: Harness,
) -> None:
    harness.youtube.fail_next("insert", status=400, reason="invalidTitle")
    await _publish_now(harness)
    failed = await harness.expect("Task #1 failed")
    assert "YouTube refused the title (at most 100 characters, no < or >)" in body(failed)
    assert "/retry 1" in body(failed)
    assert (await _task(harness)).attempts == 0
    await harness.say("/title 1 A better title")
    await harness.expect("Task #1 is updated")
    await harness.say("/retry 1")
    await harness.expect("is published")
    [video] = await harness.youtube.wait_for_videos(1, timeout=10)
    assert video.title == "A better title"


async def test_an_unclassified_error_is_retried_then_fails_with_its_raw_reason(
    harness: Harness,
) -> None:
    harness.youtube.fail_next("insert", count=100, status=403, reason="somethingNew")
    await _publish_now(harness)
    for _ in range(3):
        await harness.expect("tries again at")
        await _settle(harness)
        harness.clock.advance(timedelta(minutes=16))
    await harness.expect("Task #1 failed")
    await harness.say("/status 1")
    status = await harness.expect("Problem:", new_only=True)
    assert "somethingNew" in body(status)
    assert (await _task(harness)).state is TaskState.FAILED


async def test_an_operator_sees_the_failure_in_their_language(harness: Harness) -> None:
    harness.youtube.fail_next("insert", status=400, reason="invalidTags")
    await harness.send_video(harness.clip(), "中文标题", user=ADMIN)
    await harness.say("/publish 1", user=ADMIN)
    failed = await harness.expect("发布失败", user=ADMIN)
    assert "/retry 1" in body(failed)
    assert OPERATOR not in {m["chat"]["id"] for m in harness.telegram.bot_messages(ADMIN)}
