"""Many channels: the quota ledger, each channel's cap and spacing, the balancer, health rules.

Every test runs the real process against the emulators with a ManualClock that starts at
2026-12-03 04:00 UTC (12:00 in Shanghai, 20:00 the day before in Los Angeles).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from app.cli import register_youtube
from core.models import AccountStatus, Credentials, Privacy, TaskState
from tests.app.conftest import OPERATOR, Harness, body, running_harness

#: Midnight in Los Angeles on 2026-12-03 (08:00 UTC), plus the engine's one-minute margin.
PACIFIC_RESET = datetime(2026, 12, 3, 8, 1, tzinfo=UTC)


async def _add(h: Harness, name: str, client: str, zone: str = "Asia/Shanghai") -> None:
    """Connect another channel (on the project of OAuth client `client`)."""
    token, secret = f"refresh-{name}", f"secret-{client.rsplit('-', 1)[-1]}"
    h.youtube.add_channel(client, secret, token, channel_id=f"UC{name}", title=name)
    credentials = Credentials(client, secret, token, h.youtube.token_uri)
    await register_youtube(h.settings, name, credentials, zone, clock=h.clock)
    assert h.manager is not None
    await h.manager.engine.accounts_changed()


async def _send(h: Harness, n: int) -> None:
    """Send `n` different videos; they become tasks #1..#n."""
    for i in range(n):
        await h.send_video(h.clip(f"v{i}.mp4", seed=i + 1), f"Video {i + 1}")


def _channels(h: Harness) -> dict[str, str]:
    return {v.title: v.channel_id for v in h.youtube.videos}


async def test_seven_uploads_against_a_six_upload_budget_wait_for_the_pacific_reset(
    tmp_path: Path,
) -> None:
    # 10,000 units a day at 1,600 per insert: six uploads (9,600), then the project stops.
    async with running_harness(tmp_path, quota_daily_units=10_000) as h:
        await _send(h, 7)
        for task_id in range(1, 8):
            await h.say(f"/publish {task_id}")
        await h.expect("Task #6 is published", within_s=30)
        await h.settle()
        assert len(h.youtube.videos) == 6
        assert (await h.task(7)).state is TaskState.QUEUED
        # Six inserts and the channels.list that checked the channel when it was added: what
        # YouTube counted is what the ledger charged.
        assert h.youtube.units_used("client-1") == 6 * 1600 + 1
        assert h.manager is not None and h.manager.engine.ledger is not None
        spent = await h.manager.engine.ledger.project_spent(h.clock.now())
        assert spent["client-1"].units == 6 * 1600 + 1
        main = await h.account("main")
        assert (main.status, main.status_until) == (AccountStatus.RATE_LIMITED, PACIFIC_RESET)
        await h.say("/status 7")
        card = body(await h.expect("Task #7", new_only=True))
        assert "Waits: main is rate-limited until 2026-12-03 16:01" in card
        assert "YouTube's daily API quota" in card
        h.clock.set(PACIFIC_RESET - timedelta(seconds=1))
        await h.settle()
        assert len(h.youtube.videos) == 6
        h.clock.set(PACIFIC_RESET)
        await h.expect("Task #7 is published", within_s=20)
        assert (await h.account("main")).status is AccountStatus.ACTIVE


async def test_a_channel_answering_upload_limit_exceeded_pauses_alone_while_others_go_on(
    harness: Harness,
) -> None:
    h = harness
    await _send(h, 3)
    await _add(h, "b", "client-2")
    await _add(h, "c", "client-3")
    for task_id, name in ((1, "main"), (2, "b"), (3, "c")):
        await h.say(f"/use {task_id} {name}")
        await h.expect(f"#{task_id} will be published on {name}")
    h.youtube.fail_next("insert", status=400, reason="uploadLimitExceeded", channel_id="UCmain")
    for task_id in (1, 2, 3):
        await h.say(f"/publish {task_id}")
    await h.expect("Task #2 is published", within_s=20)
    await h.expect("Task #3 is published", within_s=20)
    await h.expect("daily upload limit); it tries again at 2026-12-04 12:00")
    assert _channels(h) == {"Video 2": "UCb", "Video 3": "UCc"}
    statuses = {n: (await h.account(n)).status for n in ("main", "b", "c")}
    assert statuses == {
        "main": AccountStatus.RATE_LIMITED,
        "b": AccountStatus.ACTIVE,
        "c": AccountStatus.ACTIVE,
    }
    # The task named main stays on main and goes when main's pause is over.
    h.clock.advance(timedelta(hours=24))
    await h.expect("Task #1 is published", within_s=20)
    assert _channels(h)["Video 1"] == "UCmain"


async def test_a_channels_daily_cap_holds_the_next_upload_until_its_own_midnight(
    tmp_path: Path,
) -> None:
    async with running_harness(tmp_path, account_uploads_per_day=2) as h:
        await _send(h, 3)
        for task_id in (1, 2, 3):
            await h.say(f"/publish {task_id}")
        await h.expect("Task #2 is published", within_s=20)
        await h.settle()
        assert (await h.task(3)).state is TaskState.QUEUED
        # Midnight in Shanghai, the channel's zone, is 16:00 UTC.
        midnight = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
        main = await h.account("main")
        assert (main.status, main.status_until) == (AccountStatus.RATE_LIMITED, midnight)
        await h.say("/status 3")
        card = body(await h.expect("Task #3", new_only=True))
        assert "main is rate-limited until 2026-12-04 00:00" in card
        assert "all its uploads for today" in card
        h.clock.set(midnight)
        await h.expect("Task #3 is published", within_s=20)


async def test_two_uploads_on_one_channel_keep_its_minimum_interval(tmp_path: Path) -> None:
    async with running_harness(tmp_path, account_min_interval_h=2) as h:
        await _send(h, 2)
        await h.say("/publish 1")
        await h.expect("Task #1 is published", within_s=20)
        await h.say("/publish 2")
        told = body(await h.expect("Task #2 is queued"))
        assert "at 2026-12-03 14:00" in told and "minimum interval" in told
        await h.settle()
        second = await h.task(2)
        assert second.state is TaskState.QUEUED
        assert second.due_at is not None
        assert timedelta(hours=2) - (second.due_at - h.clock.now()) < timedelta(seconds=5)
        await h.say("/status 2")
        card = body(await h.expect("Task #2", new_only=True))
        assert "minimum interval" in card and "Time: 2026-12-03 14:00" in card
        h.clock.advance(timedelta(hours=2))
        await h.expect("Task #2 is published", within_s=20)


async def test_the_balancer_spreads_tasks_over_channels_and_why_explains_each_factor(
    tmp_path: Path,
) -> None:
    async with running_harness(tmp_path, account_min_interval_h=2) as h:
        await _add(h, "b", "client-2")
        await _add(h, "c", "client-2")
        await _send(h, 3)
        for task_id in (1, 2, 3):
            await h.say(f"/publish {task_id}")
        for task_id in (1, 2, 3):
            await h.expect(f"Task #{task_id} is published", within_s=20)
        # Spacing rules each channel out after one upload: three videos, three channels.
        assert sorted(_channels(h).values()) == ["UCb", "UCc", "UCmain"]
        await h.say("/why 3")
        why = body(await h.expect("#3 → "))
        assert "the best of 3 active channels" in why
        assert "never uploaded" in why and "uploads left today" in why
        assert "success: 100%" in why and "priority: weight 1" in why


async def test_the_same_file_goes_to_one_channel_unless_asked_for_more(harness: Harness) -> None:
    h = harness
    await _add(h, "b", "client-2")
    clip = h.clip("same.mp4", seed=9)
    await h.send_video(clip, "Once")
    await h.send_video(clip, "Twice")
    await h.say("/publish 1")
    await h.expect("Task #1 is published", within_s=20)
    await h.say("/publish 2")
    refused = await h.expect("same file as task #1")
    assert "/interval" in body(refused)
    assert (await h.task(2)).state is TaskState.DRAFT
    # Asked for explicitly: the other channel may have it, the same channel never.
    first = (await h.task(1)).account_id
    other = "b" if first == (await h.account("main")).id else "main"
    same = "main" if other == "b" else "b"
    await h.say(f"/use 2 {same}")
    await h.expect("has this video already")
    await h.say(f"/use 2 {other}")
    await h.expect(f"#2 will be published on {other}")
    await h.say("/publish 2")
    await h.expect("Task #2 is published", within_s=20)
    assert sorted(v.channel_id for v in h.youtube.videos) == ["UCb", "UCmain"]


async def test_more_than_five_errors_in_the_window_put_a_channel_in_error(
    tmp_path: Path,
) -> None:
    async with running_harness(
        tmp_path, chunk_retries=0, retry_delays_s=[1], max_retries=20, alert_chat_ids=[]
    ) as h:
        h.youtube.fail_next("insert", count=100, status=503, reason="backendError")
        await _send(h, 1)
        await h.say("/publish 1")
        await h.expect("tries again at")
        for _ in range(20):  # one attempt a second of the test's clock, until the rule acts
            await h.settle()
            if (await h.account("main")).status is AccountStatus.ERROR:
                break
            h.clock.advance(1)
            await asyncio.sleep(0.05)
        main = await h.account("main")
        assert main.status is AccountStatus.ERROR and main.status_reason == "errors:6:60"
        # An errored channel takes nothing until an admin looks at it.
        h.clock.advance(60)
        await h.settle()
        assert (await h.task(1)).state is TaskState.RETRY_WAIT
        assert h.youtube.videos == []


async def test_a_publish_instant_the_upload_cannot_beat_moves_later_and_the_chat_is_told(
    tmp_path: Path,
) -> None:
    # 0.01 MB/s: the ~80 KB clip takes about 8 s, plus the 5-minute margin.
    async with running_harness(tmp_path, upload_rate_mbps=0.01) as h:
        await _send(h, 1)
        assert h.manager is not None
        asked = h.clock.now() + timedelta(minutes=2)
        await h.manager.store.update_task(
            1,
            expected={TaskState.DRAFT},
            now=h.clock.now(),
            publish_at=asked,
            privacy=Privacy.PUBLIC,
        )
        await h.say("/publish 1")
        told = body(await h.expect("could not finish before", within_s=20))
        assert "12:02" in told and "12:06" in told and "never published early" in told
        await h.expect("Task #1 is published", within_s=20)
        [video] = h.youtube.videos
        assert video.privacy_status == "private"
        assert video.publish_at == "2026-12-03T04:06:00Z"


async def test_every_api_call_is_charged_to_its_project_failed_ones_too(harness: Harness) -> None:
    h = harness
    h.youtube.fail_next("insert", status=400, reason="invalidTags")  # refused, still charged
    await _send(h, 1)
    await h.say("/publish 1")
    await h.expect("Task #1 failed", within_s=20)
    card = await h.send_video(h.clip("v2.mp4", seed=2), "Second")
    picture = h.root / "thumb.jpg"
    Image.new("RGB", (1280, 720), (200, 40, 40)).save(picture, "JPEG")
    await h.telegram.user_send_photo(
        OPERATOR, OPERATOR, picture, reply_to_message_id=card["message_id"]
    )
    await h.expect("Thumbnail set for task #2")
    await h.say("/publish 2")
    await h.expect("Task #2 is published", within_s=20)
    assert h.manager is not None and h.manager.engine.ledger is not None
    spent = await h.manager.engine.ledger.project_spent(h.clock.now())
    # Two inserts, a thumbnail, and the channels.list that checked the channel when it was added.
    assert spent["client-1"].units == 1600 + 1600 + 50 + 1 == h.youtube.units_used("client-1")


async def test_a_file_waiting_for_the_balancer_is_not_also_put_on_a_named_channel(
    harness: Harness,
) -> None:
    h = harness
    await _add(h, "b", "client-2")
    same = h.clip("same.mp4", seed=7)
    await h.send_video(same, "Left to the balancer")  # 1
    await h.send_video(same, "Named main")  # 2
    await h.say("/schedule 1 in 5 minutes")
    await h.expect("will be published at")
    await h.say("/use 2 main")
    await h.expect("#2 will be published on main")
    await h.say("/publish 2")
    refused = await h.expect("same file as task #1")
    assert "/use 2" in body(refused)
    assert (await h.task(2)).state is TaskState.DRAFT
    h.clock.advance(timedelta(minutes=5))
    await h.expect("Task #1 is published", within_s=20)
    assert len(h.youtube.videos) == 1


async def test_a_projects_quota_reset_does_not_cut_a_channels_own_longer_pause(
    harness: Harness,
) -> None:
    h = harness
    await _add(h, "b", "client-1")  # the same Google Cloud project as main
    await _send(h, 2)
    await h.say("/use 1 main")
    await h.expect("#1 will be published on main")
    await h.say("/use 2 b")
    await h.expect("#2 will be published on b")
    h.youtube.fail_next("insert", status=400, reason="uploadLimitExceeded", channel_id="UCmain")
    await h.say("/publish 1")
    await h.expect("daily upload limit", within_s=20)
    paused = await h.account("main")
    assert paused.status_until == h.clock.now() + timedelta(hours=24)
    h.youtube.fail_next("insert", status=403, reason="quotaExceeded", channel_id="UCb")
    await h.say("/publish 2")
    await h.expect("daily quota is used up", within_s=20)
    main = await h.account("main")
    assert (main.status_until, main.status_reason) == (paused.status_until, "uploadLimitExceeded")
    b = await h.account("b")
    assert b.status_until == PACIFIC_RESET
    h.clock.set(PACIFIC_RESET)
    await h.expect("Task #2 is published", within_s=20)
    await h.settle()
    assert (await h.task(1)).state is TaskState.RETRY_WAIT  # main still waits its day out


async def test_a_task_limited_to_some_channels_says_so_and_goes_to_one_of_them(
    harness: Harness,
) -> None:
    h = harness
    await _add(h, "b", "client-2")
    await _add(h, "c", "client-3")
    await _send(h, 1)
    await h.say("/use 1 b c")
    await h.expect("#1: the balancer chooses among b, c when it starts")
    await h.say("/status 1")
    card = body(await h.expect("Task #1", new_only=True))
    assert "Account: auto, one of b, c" in card
    await h.say("/publish 1")
    await h.expect("Task #1 is published", within_s=20)
    assert _channels(h)["Video 1"] in ("UCb", "UCc")
