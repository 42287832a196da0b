"""Scheduling from the chat: /publishat, /interval, /batch and /best, end to end.

The real process runs against the emulators with a ManualClock (2026-12-03 04:00 UTC, 12:00 in
Shanghai, unless a test starts it elsewhere); every plan is read in the chat the way a person
reads it, accepted or cancelled with its buttons, and checked by what YouTube receives.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.cli import register_youtube
from core.clock import ManualClock
from core.models import Credentials, Privacy, TaskState
from storage.ledger import SqlLedger
from tests.app.conftest import ADMIN, OPERATOR, Harness, Message, body, running_harness

PLAN_BUTTON = re.compile(r"plan:ok:[A-Za-z0-9_-]+")


async def _add(h: Harness, name: str, zone: str, client: str = "client-1") -> None:
    """Connect another channel in `zone` (on the project of OAuth client `client`)."""
    token, secret = f"refresh-{name}", "secret-1" if client == "client-1" else f"secret-{client}"
    h.youtube.add_channel(client, secret, token, channel_id=f"UC{name}", title=name)
    credentials = Credentials(client, secret, token, h.youtube.token_uri)
    await register_youtube(h.settings, name, credentials, zone, clock=h.clock)
    assert h.manager is not None
    await h.manager.engine.accounts_changed()


async def _send(h: Harness, n: int, user: int = OPERATOR) -> None:
    """Send `n` different videos; they become drafts #1..#n."""
    for i in range(n):
        await h.send_video(h.clip(f"v{i}.mp4", seed=i + 1), f"Video {i + 1}", user=user)


async def _plan(h: Harness, command: str, user: int = OPERATOR) -> Message:
    """Send a plan command and return the plan message (the one with the Accept button)."""
    await h.say(command, user=user)
    return await h.telegram.wait_for_bot_message(user, _has_plan_buttons, 20, new_only=True)


def _has_plan_buttons(message: Message) -> bool:
    return any(PLAN_BUTTON.fullmatch(data) for data in _buttons(message))


def _buttons(message: Message) -> list[str]:
    markup: dict[str, Any] = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", [])
    return [str(b.get("callback_data")) for row in rows for b in row]


async def _press(h: Harness, plan: Message, verb: str, user: int = OPERATOR) -> str:
    [data] = [d for d in _buttons(plan) if d.startswith(f"plan:{verb}:")]
    return await h.telegram.user_press(user, user, plan["message_id"], data)


def _lines(plan: Message) -> list[str]:
    return body(plan).splitlines()


def _line_of(plan: Message, start: str) -> str:
    [line] = [line for line in _lines(plan) if line.startswith(start)]
    return line


async def test_publishat_uploads_now_private_and_youtube_makes_it_public_then(
    harness: Harness,
) -> None:
    h = harness
    await _send(h, 1)
    await h.say("/publishat 1 2030-06-01 20:00")
    echo = await h.expect("uploads now and stays private")
    assert "YouTube makes it public at 2030-06-01 20:00 (Asia/Shanghai, UTC+08:00)" in body(echo)
    await h.expect("Task #1 is published", within_s=20)
    [video] = h.youtube.videos
    assert video.privacy_status == "private"
    assert video.publish_at == "2030-06-01T12:00:00Z"
    await h.say("/status 1")
    card = await h.expect("Goes public:", new_only=True)
    assert "Goes public: 2030-06-01 20:00 (Asia/Shanghai, UTC+08:00)" in body(card)


async def test_publishat_refuses_a_past_or_present_instant_and_changes_nothing(
    harness: Harness,
) -> None:
    h = harness
    await _send(h, 1)
    await h.say("/publishat 1 2026-12-01 20:00")
    refused = await h.expect("has already passed", new_only=True)
    assert "2026-12-01 20:00 (Asia/Shanghai, UTC+08:00)" in body(refused)
    await h.say("/publishat 1 now")
    await h.expect("is not in the future", new_only=True)
    await h.say("/publishat 1")
    await h.expect("Usage: /publishat", new_only=True)
    await h.settle()
    task = await h.task(1)
    assert (task.state, task.publish_at, task.privacy) == (TaskState.DRAFT, None, Privacy.PRIVATE)
    assert h.youtube.sessions == []


async def test_publishat_in_a_dst_gap_says_which_instant_it_took(harness: Harness) -> None:
    h = harness
    await h.say("/tz America/New_York")
    await h.expect("Your time zone is now America/New_York")
    await _send(h, 1)
    # 2030-03-10: clocks in New York jump from 02:00 to 03:00.
    await h.say("/publishat 1 2030-03-10 02:30")
    echo = body(await h.expect("uploads now and stays private"))
    assert "2030-03-10 02:30 does not exist in America/New_York" in echo
    assert "public at 2030-03-10 03:00 (America/New_York, UTC-04:00)" in echo
    assert (await h.task(1)).publish_at == datetime(2030, 3, 10, 7, 0, tzinfo=UTC)


async def test_publishat_an_upload_cannot_beat_is_moved_later_and_said(tmp_path: Path) -> None:
    # 0.01 MB/s: the ~80 KB clip takes about 8 s, plus the five-minute margin.
    async with running_harness(tmp_path, upload_rate_mbps=0.01) as h:
        await _send(h, 1)
        await h.say("/publishat 1 in 2 minutes")
        echo = body(await h.expect("uploads now and stays private"))
        assert "public at 2026-12-03 12:06 (Asia/Shanghai, UTC+08:00)" in echo
        assert "instead of 2026-12-03 12:02" in echo and "never earlier" in echo
        assert (await h.task(1)).publish_at == datetime(2026, 12, 3, 4, 6, tzinfo=UTC)


async def test_an_interval_over_three_channels_in_three_zones_reads_in_my_zone_and_runs(
    harness: Harness,
) -> None:
    h = harness
    await _add(h, "ny", "America/New_York")
    await _add(h, "london", "Europe/London")
    await h.say("/tz Europe/Berlin")
    await h.expect("Your time zone is now Europe/Berlin")
    await _send(h, 1)
    plan = await _plan(h, "/interval 1 3 main ny london")
    assert _lines(plan)[0] == "Plan: #1 on 3 channels, 3 h apart"
    assert _line_of(plan, "#1 → main") == (
        "#1 → main · 2026-12-03 05:00 (Europe/Berlin, UTC+01:00) = 12:00 Asia/Shanghai"
        " · uploads now; private once YouTube has it"
    )
    assert _line_of(plan, "copy of #1 → ny") == (
        "copy of #1 → ny · 2026-12-03 08:00 (Europe/Berlin, UTC+01:00) = 02:00 America/New_York"
        " · uploaded then; stays private"
    )
    assert _line_of(plan, "copy of #1 → london").startswith(
        "copy of #1 → london · 2026-12-03 11:00 (Europe/Berlin, UTC+01:00) = 10:00 Europe/London"
    )
    assert "Quota: all 3 fit as planned." in body(plan)
    assert (await h.task(1)).state is TaskState.DRAFT  # nothing changes before Accept

    await _press(h, plan, "ok")
    accepted = await h.expect("Plan accepted")
    assert "3 tasks queued (#1, #2, #3)" in body(accepted)
    answered = await h.telegram.wait_for_bot_message(
        OPERATOR, lambda m: m["message_id"] == plan["message_id"] and not _buttons(m), 10
    )
    assert "Plan: #1 on 3 channels" in body(answered)  # the plan stays, its buttons go
    for copy in (2, 3):
        await h.expect(f"Task #{copy} · queued")  # each copy gets its own card
    await h.expect("Task #1 is published", within_s=20)
    tasks = [await h.task(n) for n in (1, 2, 3)]
    assert [t.due_at for t in tasks[1:]] == [
        datetime(2026, 12, 3, 7, 0, tzinfo=UTC),
        datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
    ]
    assert len({t.plan_id for t in tasks}) == 1 and tasks[0].plan_id is not None
    assert {t.media_id for t in tasks} == {tasks[0].media_id}
    assert [t.metadata.title for t in tasks] == ["Video 1"] * 3

    h.clock.set(datetime(2026, 12, 3, 6, 59, 59, tzinfo=UTC))
    await h.settle()
    assert [v.channel_id for v in h.youtube.videos] == ["UCmain"]
    h.clock.set(datetime(2026, 12, 3, 7, 0, tzinfo=UTC))
    await h.expect("Task #2 is published", within_s=20)
    h.clock.set(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
    await h.expect("Task #3 is published", within_s=20)
    assert [v.channel_id for v in h.youtube.videos] == ["UCmain", "UCny", "UClondon"]
    assert len({v.sha256 for v in h.youtube.videos}) == 1


async def test_an_interval_refuses_a_channel_with_the_file_unknown_names_and_bad_hours(
    harness: Harness,
) -> None:
    h = harness
    await _add(h, "ny", "America/New_York")
    clip = h.clip()
    await h.send_video(clip, "Once")
    await h.say("/use 1 main")
    await h.expect("#1 will be published on main")
    await h.say("/publish 1")
    await h.expect("Task #1 is published", within_s=20)
    await h.send_video(clip, "Same file again")
    refusals = {
        "/interval 2 3 ny main": "#2: main has this video already",
        "/interval 2 3 ny nobody": "No account is named “nobody”",
        "/interval 2 3 ny ny": "ny is named twice",
        "/interval 2 0 ny": "“0” is not a number of hours above zero",
        "/interval 2 -2 ny": "“-2” is not a number of hours above zero",
        "/interval 2 soon ny": "“soon” is not a number of hours above zero",
        "/interval 2 3": "Usage: /interval",
        "/interval x 3 ny": "“x” is not a task id",
    }
    for command, answer in refusals.items():
        await h.say(command)
        await h.expect(answer, new_only=True)
    await h.settle()
    assert (await h.task(2)).state is TaskState.DRAFT
    assert h.manager is not None
    assert await h.manager.store.get_task(3) is None  # no copy was made
    assert len(h.youtube.videos) == 1


async def test_a_daily_batch_across_the_new_york_spring_change_says_the_gap(
    tmp_path: Path,
) -> None:
    # Friday 2027-03-12 07:00 in New York; on Sunday 14th clocks jump from 02:00 to 03:00.
    clock = ManualClock(datetime(2027, 3, 12, 12, 0, tzinfo=UTC))
    async with running_harness(tmp_path, clock=clock) as h:
        await _add(h, "ny", "America/New_York")
        await _send(h, 3)
        plan = await _plan(h, "/batch daily 02:30 on ny")
        assert _lines(plan)[0] == (
            "Plan: 3 videos, one a day at 02:30 in each channel's own zone, on ny"
        )
        assert _line_of(plan, "#1 → ny").startswith(
            "#1 → ny · 2027-03-13 15:30 (Asia/Shanghai, UTC+08:00) = 02:30 America/New_York"
        )
        assert _line_of(plan, "#2 → ny").startswith(
            "#2 → ny · 2027-03-14 15:00 (Asia/Shanghai, UTC+08:00) = 03:00 America/New_York"
        )
        gap = _lines(plan)[_lines(plan).index(_line_of(plan, "#2 → ny")) + 1]
        assert gap.strip() == (
            "2027-03-14 02:30 does not exist in America/New_York (clocks move forward); "
            "using 2027-03-14 03:00 (America/New_York, UTC-04:00)."
        )
        assert _line_of(plan, "#3 → ny").startswith(
            "#3 → ny · 2027-03-15 14:30 (Asia/Shanghai, UTC+08:00) = 02:30 America/New_York"
        )
        await _press(h, plan, "ok")
        await h.expect("Plan accepted: 3 tasks queued (#1, #2, #3)")
        assert [(await h.task(n)).due_at for n in (1, 2, 3)] == [
            datetime(2027, 3, 13, 7, 30, tzinfo=UTC),
            datetime(2027, 3, 14, 7, 0, tzinfo=UTC),
            datetime(2027, 3, 15, 6, 30, tzinfo=UTC),
        ]


async def test_a_chinese_daily_batch_in_the_london_autumn_fold_is_told_in_chinese(
    tmp_path: Path,
) -> None:
    # 2027-10-31: London goes from 02:00 BST back to 01:00 GMT, so 01:30 happens twice.
    clock = ManualClock(datetime(2027, 10, 30, 12, 0, tzinfo=UTC))
    async with running_harness(tmp_path, clock=clock) as h:
        await _add(h, "london", "Europe/London")
        await _send(h, 2, user=ADMIN)
        plan = await _plan(h, "/batch 每天 01:30 发到 london", user=ADMIN)
        text = body(plan)
        assert (
            _lines(plan)[0] == "计划：2 个视频，每天一个，按各频道自己时区的 01:30，频道：london"
        )
        assert "#1 → london · 2027-10-31 08:30 (Asia/Shanghai, UTC+08:00)" in text
        assert "2027-10-31 01:30 在 Europe/London 会出现两次" in text
        assert "已按第一次计算：2027-10-31 01:30 (Europe/London, UTC+01:00)" in text
        assert "配额：2 个全部可以按计划进行。" in text
        await _press(h, plan, "ok", user=ADMIN)
        await h.expect("计划已接受：2 个任务已加入队列（#1, #2）", user=ADMIN)
        assert (await h.task(1)).due_at == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


async def test_every_three_hours_from_tomorrow_in_chinese_spreads_the_drafts(
    harness: Harness,
) -> None:
    h = harness
    await _send(h, 3, user=ADMIN)
    plan = await _plan(h, "/batch 每3小时 从明天 09:00", user=ADMIN)
    assert _lines(plan)[0] == (
        "计划：3 个视频，从 2026-12-04 09:00 (Asia/Shanghai, UTC+08:00) 起每 3 小时 一个，"
        "频道：main"
    )
    for n, hour in ((1, "09:00"), (2, "12:00"), (3, "15:00")):
        assert _line_of(plan, f"#{n} → main").startswith(
            f"#{n} → main · 2026-12-04 {hour} (Asia/Shanghai, UTC+08:00) · 届时上传；保持私享"
        )
    await _press(h, plan, "ok", user=ADMIN)
    await h.expect("计划已接受", user=ADMIN)
    assert [(await h.task(n)).state for n in (1, 2, 3)] == [TaskState.QUEUED] * 3


async def test_an_album_is_drafts_and_batch_best_places_them_without_stacking(
    harness: Harness,
) -> None:
    h = harness
    await _add(h, "twin", "Asia/Shanghai")
    for n in range(3):
        clip = h.clip(f"a{n}.mp4", seed=n + 1)
        await h.telegram.user_send_video(
            OPERATOR, OPERATOR, clip, f"Album {n + 1}", media_group_id="album-1"
        )
        await h.expect(f"Task #{n + 1}", new_only=True)
    hint = await h.expect("An album: its videos become drafts")
    assert "/batch best" in body(hint)
    assert sum("An album" in t for t in h.texts()) == 1
    for n in (1, 2, 3):
        await h.say(f"/privacy {n} public")
        await h.expect(f"Task #{n} will be public", new_only=True)
    plan = await _plan(h, "/batch best")
    # main and twin share the default peak zone: one audience, so no two within an hour; an
    # even slot goes to the channel with fewer of the plan's videos.
    assert _line_of(plan, "#1 → main").startswith(
        "#1 → main · 2026-12-03 20:00 (Asia/Shanghai, UTC+08:00) · goes public then "
        "(the upload starts 19:49)"
    )
    assert _line_of(plan, "#2 → twin").startswith("#2 → twin · 2026-12-03 21:00 (Asia/Shanghai")
    assert _line_of(plan, "#3 → main").startswith("#3 → main · 2026-12-04 20:00 (Asia/Shanghai")
    await _press(h, plan, "ok")
    await h.expect("Plan accepted: 3 tasks queued (#1, #2, #3)")
    first = await h.task(1)
    assert first.publish_at == datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert first.due_at == datetime(2026, 12, 3, 11, 49, tzinfo=UTC)


async def test_best_time_keeps_clear_of_our_planned_uploads_to_the_same_audience(
    harness: Harness,
) -> None:
    h = harness
    await _add(h, "twin", "Asia/Shanghai")
    await _add(h, "london", "Europe/London")
    assert h.manager is not None
    london = await h.manager.store.account_by_name("london")
    assert london is not None
    await SqlLedger(h.manager.store.engine).update_account(
        london.id, peak_timezone="Europe/London"
    )
    await _send(h, 3)
    first = await _plan(h, "/best 1 main")
    assert "#1 → main · 2026-12-03 20:00 (Asia/Shanghai" in body(first)
    await _press(h, first, "ok")
    await h.expect("Plan accepted: 1 tasks queued (#1)")
    # twin has the same peak zone as main: 20:00 and 20:30 would stack on #1.
    second = await _plan(h, "/best 2 twin")
    assert "#2 → twin · 2026-12-03 21:00 (Asia/Shanghai" in body(second)
    # london's audience is another one: its own 20:00 is free.
    third = await _plan(h, "/best 3 london")
    assert (
        "#3 → london · 2026-12-04 04:00 (Asia/Shanghai, UTC+08:00) = 12-03 20:00 Europe/London"
        in body(third)
    )
    await _press(h, third, "no")
    await h.expect("Plan cancelled; nothing changed.")
    assert (await h.task(3)).state is TaskState.DRAFT


async def test_a_plan_beyond_the_projects_quota_says_six_of_seven_and_moves_the_seventh(
    tmp_path: Path,
) -> None:
    # 10,000 units a day at 1,600 an upload: six uploads, then the project waits for the reset
    # at midnight in Los Angeles (08:00 UTC, 16:00 in Shanghai) and the engine's minute.
    async with running_harness(tmp_path, quota_daily_units=10_000) as h:
        await _send(h, 7)
        plan = await _plan(h, "/batch every 10m")
        assert (
            "Quota: 6 of 7 fit as planned; #7 on main goes at 2026-12-03 16:01 your time, "
            "after YouTube's quota reset." in body(plan)
        )
        assert _line_of(plan, "#7 → main").startswith("#7 → main · 2026-12-03 16:01 (Asia/")
        assert "⏩ the quota moves its upload to 2026-12-03 16:01" in body(plan)
        assert _line_of(plan, "#6 → main").startswith("#6 → main · 2026-12-03 12:50 (Asia/")
        await _press(h, plan, "ok")
        await h.expect("Plan accepted: 7 tasks queued")
        assert (await h.task(7)).due_at == datetime(2026, 12, 3, 8, 1, tzinfo=UTC)
        h.clock.set(datetime(2026, 12, 3, 5, 0, tzinfo=UTC))
        await h.expect("Task #6 is published", within_s=30)
        await h.settle()
        assert len(h.youtube.videos) == 6
        h.clock.set(datetime(2026, 12, 3, 8, 1, tzinfo=UTC))
        await h.expect("Task #7 is published", within_s=30)


async def test_only_the_planner_or_an_admin_decides_and_forged_buttons_change_nothing(
    harness: Harness,
) -> None:
    h = harness
    group = -4242
    h.telegram.group(group, "Team")
    await _add(h, "ny", "America/New_York")
    await _send(h, 1)
    await h.telegram.user_send_text(group, ADMIN, "/interval 1 2 main ny")
    plan = await h.telegram.wait_for_bot_message(group, _has_plan_buttons, 20)
    [data] = [d for d in _buttons(plan) if d.startswith("plan:ok:")]
    assert len(data.encode()) <= 64

    async def press(user: int, pressed: str, *, force: bool = False) -> dict[str, Any]:
        query = await h.telegram.user_press(group, user, plan["message_id"], pressed, force=force)
        return await h.telegram.wait_for_callback_answer(query)

    refused = await press(OPERATOR, data)
    assert "Only the person who made this plan, or an admin" in refused["text"]
    stranger = await press(6666, data)
    assert "only works for its team" in stranger["text"]
    forged = await press(ADMIN, "plan:ok:forged", force=True)
    assert "计划已失效" in forged["text"]
    nonsense = await press(ADMIN, "plan:yes:" + "x" * 60, force=True)
    assert "此按钮已失效" in nonsense["text"]
    await h.settle()
    assert (await h.task(1)).state is TaskState.DRAFT
    assert h.manager is not None and await h.manager.store.get_task(2) is None

    # The operator's own plan may be accepted by an admin.
    await h.telegram.user_send_text(group, OPERATOR, "/interval 1 2 main ny")
    mine = await h.telegram.wait_for_bot_message(group, _has_plan_buttons, 20, new_only=True)
    [accept] = [d for d in _buttons(mine) if d.startswith("plan:ok:")]
    query = await h.telegram.user_press(group, ADMIN, mine["message_id"], accept)
    await h.telegram.wait_for_callback_answer(query)
    await h.telegram.wait_for_bot_message(group, lambda m: "计划已接受" in body(m), 20)
    assert (await h.task(1)).state is not TaskState.DRAFT
    assert (await h.task(2)).account_id is not None
    # The first plan is still open, but its task changed: accepting it now changes nothing.
    query = await h.telegram.user_press(group, ADMIN, plan["message_id"], data)
    await h.telegram.wait_for_callback_answer(query)
    await h.telegram.wait_for_bot_message(group, lambda m: "在制定计划后有了变化" in body(m), 20)
    assert h.manager is not None and await h.manager.store.get_task(3) is None


async def test_bad_batch_input_is_refused_clearly_and_changes_nothing(harness: Harness) -> None:
    h = harness
    await h.say("/batch best")
    await h.expect("You have no drafts in this chat", new_only=True)
    await _send(h, 2)
    refusals = {
        "/batch": "Usage: /batch [ids…]",
        "/batch whatever": "I could not read “whatever” as a plan",
        "/batch daily 25:00": "“25:00” is not a time of day",
        "/batch every 0h": "“0h” is not an interval above zero",
        "/batch daily 20:00 on nobody": "No account is named “nobody”",
        "/batch 99 best": "There is no task #99",
        "/batch every 3h from yesterday 09:00": "has already passed",
    }
    for command, answer in refusals.items():
        await h.say(command)
        await h.expect(answer, new_only=True)
    await h.settle()
    assert [(await h.task(n)).state for n in (1, 2)] == [TaskState.DRAFT] * 2
