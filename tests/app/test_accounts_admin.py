"""/accounts, /account and /quota end to end, and status changes told in the alert chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.cli import register_youtube
from core.models import Account, AccountStatus, Credentials
from core.quota import Cost
from tests.app.conftest import ADMIN, OPERATOR, Harness, Message, body, running_harness

GROUP = -1009876543
#: One alert check; the alert timers run every minute in these tests.
CHECK_S = 60


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """A running process with an alert chat (a group) whose team reads Chinese."""
    async with running_harness(tmp_path, alert_chat_ids=[GROUP], language="zh") as harness:
        harness.telegram.group(GROUP, "Ops")
        yield harness


async def _settle(h: Harness) -> None:
    """Wait until the engine, the alert checks and the outbox have nothing left to do."""
    assert h.manager is not None and h.manager.monitoring is not None
    await asyncio.sleep(0)
    await h.idle()
    await h.manager.monitoring.timers.idle()
    await h.manager.outbox.drained()


async def _tick(h: Harness, seconds: float = CHECK_S) -> None:
    h.clock.advance(timedelta(seconds=seconds))
    await _settle(h)


def _group(h: Harness) -> list[str]:
    return [body(m) for m in h.telegram.bot_messages(GROUP) if "text" in m]


async def _account(h: Harness, name: str = "main") -> Account:
    assert h.manager is not None
    account = await h.manager.store.account_by_name(name)
    assert account is not None
    return account


async def _add_other(h: Harness) -> None:
    """Connect a second channel, in another Google Cloud project."""
    h.youtube.add_channel("client-2", "secret-2", "refresh-other", channel_id="UCother")
    credentials = Credentials("client-2", "secret-2", "refresh-other", h.youtube.token_uri)
    await register_youtube(h.settings, "other", credentials, "Asia/Shanghai")
    assert h.manager is not None
    await h.manager.engine.accounts_changed()


async def _answer(h: Harness, command: str, needle: str, user: int = ADMIN) -> str:
    """Send a command and return the new answer that contains `needle`."""
    await h.say(command, user=user)
    return body(await h.expect(needle, user=user, new_only=True))


async def _published(h: Harness, task_id: int) -> Message:
    return await h.expect(f"Task #{task_id} is published", within_s=20)


async def test_a_paused_channel_takes_no_new_task_until_an_admin_resumes_it(h: Harness) -> None:
    await h.send_video(h.clip("later.mp4", seed=3), "Waiting on main")  # main: the only one
    await h.say("/schedule 1 in 1 hour")
    await h.expect("will be published at")
    await _add_other(h)

    paused = await _answer(h, "/account main pause", "已暂停")
    assert "新任务会发往其他频道" in paused and "1 个等待中的任务已交回均衡器" in paused
    assert "由 Ada (5002) 暂停" in paused  # the reason names who paused it
    assert (await _account(h)).status is AccountStatus.SUSPENDED
    for n, seed in ((2, 5), (3, 6)):
        await h.send_video(h.clip(f"new{n}.mp4", seed=seed), f"New one {n}")
        await h.say(f"/publish {n}")
        await _published(h, n)
    h.clock.advance(timedelta(hours=1))
    await _published(h, 1)
    assert {v.title: v.channel_id for v in h.youtube.videos} == {
        "Waiting on main": "UCother",
        "New one 2": "UCother",
        "New one 3": "UCother",
    }

    resumed = await _answer(h, "/account main resume", "已恢复正常")
    assert "由 Ada (5002) 恢复" not in resumed  # an active channel shows no reason
    assert (await _account(h)).status is AccountStatus.ACTIVE
    await h.send_video(h.clip("after.mp4", seed=9), "After the resume")
    await h.say("/use 4 main")
    await h.expect("#4 will be published on main")
    await h.say("/publish 4")
    await _published(h, 4)
    assert h.youtube.videos[-1].channel_id == "UCmain"


async def test_each_status_change_is_announced_once_in_the_alert_chat(h: Harness) -> None:
    await _answer(h, "/account main pause", "已暂停")
    await _settle(h)
    [paused] = _group(h)
    assert paused.startswith("🚨") and "频道 main 状态：已暂停" in paused
    assert "由 Ada (5002) 暂停" in paused and "/account <名称> resume" in paused
    for _ in range(3):
        await _tick(h)
    assert len(_group(h)) == 1

    await _answer(h, "/account main resume", "已恢复正常")
    await _settle(h)
    assert len(_group(h)) == 2 and _group(h)[-1].startswith("✅ 频道 main 已不再是“已暂停”")

    # The engine changes the status too: YouTube's own daily cap pauses the channel for a day.
    h.youtube.fail_next("insert", status=400, reason="uploadLimitExceeded")
    await h.send_video(h.clip(), "Capped")
    await h.say("/publish 1")
    await h.expect("daily upload limit")
    await _settle(h)
    assert len(_group(h)) == 3 and "频道 main 状态：限流中" in _group(h)[-1]
    await _tick(h)
    await _tick(h, 600)
    assert len(_group(h)) == 3


async def test_an_admin_whose_own_chat_hears_alerts_is_told_of_a_change_once(
    tmp_path: Path,
) -> None:
    async with running_harness(tmp_path, alert_chat_ids=[ADMIN]) as h:
        h.youtube.revoke("refresh-1")
        await h.send_video(h.clip(), "Held until re-authorised")
        await h.say("/publish 1")
        told = await h.expect("Channel main is needs re-authorisation", user=ADMIN)
        assert "/reauth <name>" in body(told)
        await _tick(h)
        await _tick(h)
        about_main = [t for t in h.texts(ADMIN) if "main" in t]
        assert about_main == [body(told)]  # the alert, not the private message as well


async def _queued(h: Harness, task_id: int) -> None:
    """Wait for the answer to /publish: now, or when the channel can take it."""
    await h.telegram.wait_for_bot_message(
        OPERATOR,
        lambda m: any(
            f"Task #{task_id} {words}" in body(m)
            for words in ("will be published now", "is queued")
        ),
        10.0,
    )


async def test_a_raised_cap_lets_a_waiting_task_go_at_once(tmp_path: Path) -> None:
    async with running_harness(tmp_path, account_uploads_per_day=1) as h:
        for n in (1, 2):
            await h.send_video(h.clip(f"c{n}.mp4", seed=n), f"Clip {n}")
            await h.say(f"/publish {n}")
            await _queued(h, n)
        await _published(h, 1)
        await h.idle()
        assert (await _account(h)).status is AccountStatus.RATE_LIMITED
        assert len(h.youtube.videos) == 1

        changed = await _answer(h, "/account main quota 5", "每日上限已改为")
        assert "每天 5 次" in changed and "已上传 1 / 5 次" in changed
        await _published(h, 2)
        assert (await _account(h)).status is AccountStatus.ACTIVE
        await _answer(h, "/account main quota default", "每天 1 次（默认）")
        assert (await _account(h)).uploads_per_day is None


async def test_a_shorter_interval_lets_a_waiting_task_go_at_once(tmp_path: Path) -> None:
    async with running_harness(tmp_path, account_min_interval_h=2) as h:
        for n in (1, 2):
            await h.send_video(h.clip(f"c{n}.mp4", seed=n), f"Clip {n}")
            await h.say(f"/publish {n}")
            await _queued(h, n)
        await _published(h, 1)
        await h.idle()
        assert len(h.youtube.videos) == 1
        await h.say("/status 2")
        await h.expect("minimum interval", new_only=True)

        changed = await _answer(h, "/account main interval 0.5", "最短间隔已改为")
        assert "0.5 小时" in changed
        assert len(h.youtube.videos) == 1  # 30 minutes have not passed since the first upload
        await _answer(h, "/account main interval 0", "0 小时")
        await _published(h, 2)


async def test_priority_shows_in_accounts_and_in_why(h: Harness) -> None:
    await _add_other(h)
    await _answer(h, "/account main priority 3", "优先级已改为 3")
    await h.say("/accounts")
    listed = body(await h.expect("times in Asia/Shanghai", new_only=True))
    assert "main (Main) · 🟢 active" in listed and "priority 3" in listed
    assert "\n• <b>other" not in listed and "• other" in listed and "priority 1" in listed

    await h.say("/account main", user=ADMIN)
    card = await h.expect("下次可上传", user=ADMIN, new_only=True)
    query = await h.telegram.user_press(ADMIN, ADMIN, card["message_id"], "acc:1:up")
    answer = await h.telegram.wait_for_callback_answer(query)
    assert "优先级已改为 4" in answer["text"]
    edited = await h.expect("优先级: 4", user=ADMIN)
    assert edited["message_id"] == card["message_id"]

    await h.send_video(h.clip(), "Balanced")
    await h.say("/publish 1")
    await _published(h, 1)
    await h.say("/why 1")
    why = body(await h.expect("#1 → ", new_only=True))
    assert "main" in why and "priority: weight 4" in why


async def test_bad_values_are_refused_and_change_nothing(h: Harness) -> None:
    before = await _account(h)
    refusals = {
        "/account main priority 500": "不是有效的优先级",
        "/account main priority lots": "不是有效的优先级",
        "/account main quota 0": "不是有效的每日上限",
        "/account main quota 1001": "不是有效的每日上限",
        "/account main quota 2.5": "不是有效的每日上限",
        "/account main interval 169": "不是有效的间隔",
        "/account main interval -1": "不是有效的间隔",
        "/account main peak 25-3": "不是有效的高峰时段",
        "/account main peak 20": "不是有效的高峰时段",
        "/account main tz Mars/Olympus": "不是时区",
        "/account main quota": "后面需要一个值",
        "/account main frobnicate 3": "不支持“frobnicate”",
        "/account nobody pause": "没有名为“nobody pause”的账号",
    }
    for command, words in refusals.items():
        answer = await _answer(h, command, words)
        assert "没有做任何更改" in answer or "没有名为" in answer, answer
    assert await _account(h) == before
    await _answer(h, "/account main peak 21-1 america/new_york", "高峰时段已改为")
    peak = await _account(h)
    assert (peak.peak_start_h, peak.peak_end_h, peak.peak_timezone) == (
        21,
        1,
        "America/New_York",
    )
    await _answer(h, "/account main tz europe/berlin", "Europe/Berlin")
    await _answer(h, "/account main peak default", "20:00–22:00（Asia/Shanghai）（默认）")


async def test_an_operator_reads_the_channels_but_cannot_change_them(h: Harness) -> None:
    before = await _account(h)
    for command in ("/account main pause", "/account main quota abc", "/account main tz x"):
        await _answer(h, command, "Your role does not allow that.", user=OPERATOR)
    shown = await _answer(h, "/account main", "Next free slot", user=OPERATOR)
    assert "Channel: Main · UCmain" in shown and "Priority: 1" in shown
    card = await h.expect("Next free slot", user=OPERATOR)
    assert "reply_markup" not in card  # no buttons for an operator

    await h.telegram.user_send_text(GROUP, ADMIN, "/account main")
    panel = await h.telegram.wait_for_bot_message(GROUP, lambda m: "下次可上传" in body(m))
    query = await h.telegram.user_press(GROUP, OPERATOR, panel["message_id"], "acc:1:pause")
    refused = await h.telegram.wait_for_callback_answer(query)
    assert refused["text"] == "Your role does not allow that." and refused["show_alert"]
    for forged in ("acc:1:explode", "acc:999:pause", "acc:1", "acc:x:pause"):
        query = await h.telegram.user_press(GROUP, ADMIN, panel["message_id"], forged, force=True)
        answer = await h.telegram.wait_for_callback_answer(query)
        assert answer["show_alert"], forged
    await _settle(h)
    assert await _account(h) == before
    assert not [t for t in _group(h) if "🚨" in t]  # nothing changed, nothing announced


async def test_rate_limited_until_is_shown_in_each_readers_zone(h: Harness) -> None:
    await h.say("/tz America/New_York")
    await h.expect("Your time zone is now America/New_York")
    h.youtube.fail_next("insert", status=400, reason="uploadLimitExceeded")
    await h.send_video(h.clip(), "Capped")
    await h.say("/publish 1")
    await h.expect("daily upload limit")
    await h.idle()

    listed = await _answer(h, "/accounts", "times in America/New_York", user=OPERATOR)
    # 24 hours after 2026-12-03 04:00 UTC: 23:00 the day before in New York, noon in Shanghai.
    assert "rate limited until 12-03 23:00" in listed
    shown = await _answer(h, "/account main", "Next free slot", user=OPERATOR)
    assert "rate limited until 2026-12-03 23:00 (America/New_York, UTC-05:00)" in shown
    assert "YouTube" in shown or "upload limit" in shown  # the reason, in words
    listed = await _answer(h, "/accounts", "时间按 Asia/Shanghai")
    assert "限流中，至 12-04 12:00" in listed
    [told] = _group(h)
    assert "限流中" in told and "2026-12-04 12:00 (Asia/Shanghai" in told


async def test_quota_after_real_uploads_matches_the_ledger(tmp_path: Path) -> None:
    settings: dict[str, Any] = {"quota_daily_units": 10_000}
    async with running_harness(tmp_path, **settings) as h:
        assert h.manager is not None and h.manager.engine.ledger is not None
        ledger = h.manager.engine.ledger
        before = (await ledger.project_spent(h.clock.now())).get("client-1", Cost())
        for n in (1, 2):
            await h.send_video(h.clip(f"q{n}.mp4", seed=n), f"Counted {n}")
            await h.say(f"/publish {n}")
            await _published(h, n)
        await h.idle()
        spent = (await ledger.project_spent(h.clock.now()))["client-1"]
        assert spent.units - before.units == 2 * 1600
        [project] = await ledger.projects(await h.manager.store.list_accounts(), h.clock.now())
        used, left = spent.units, 10_000 - spent.units

        shown = await _answer(h, "/quota", "Google Cloud projects", user=OPERATOR)
        assert "an upload takes 1,600 units" in shown
        assert f"client-1: {used:,} of 10,000 units used, {left:,} left: " in shown
        assert f"{project.uploads_left} uploads · main" in shown and project.uploads_left == 4
        # Projects renew at midnight in Los Angeles: 08:00 UTC, 16:00 in Shanghai.
        assert "2026-12-03 16:00 (Asia/Shanghai, UTC+08:00)" in shown
        assert "main: 2 of 1000 uploads used, 998 left" in shown
        assert "(its project allows 4)" in shown
        assert "renews at 2026-12-04 00:00 (Asia/Shanghai, UTC+08:00)" in shown  # its midnight

        zh = await _answer(h, "/quota", "Google Cloud 项目")
        assert f"已用 {used:,} / 10,000 单位，剩余 {left:,}" in zh and "已上传 2 / 1000 次" in zh


async def test_many_channels_fit_one_message_and_say_how_many_more(tmp_path: Path) -> None:
    async with running_harness(tmp_path) as h:
        for n in range(60):
            credentials = Credentials(f"client-{n}", "s", f"refresh-{n}", h.youtube.token_uri)
            name = f"channel number {n:02d} with a long name"
            await register_youtube(h.settings, name, credentials, "Asia/Shanghai", verify=False)
        listed = await _answer(h, "/accounts", "Channels (61)", user=OPERATOR)
        assert len(listed) < 4096 and "more; /account <name> shows one in full" in listed
        shown = await _answer(h, "/account channel number 07 with a long name", "下次可上传")
        assert "channel number 07 with a long name" in shown
        quota = await _answer(h, "/quota", "Google Cloud projects", user=OPERATOR)
        assert len(quota) < 4096 and "more" in quota
