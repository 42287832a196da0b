"""End to end: a person, the real bot and engine, and the emulated Telegram and YouTube."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from app import logs
from core.clock import SystemClock
from core.models import TaskState
from tests.app.conftest import ADMIN, OPERATOR, STRANGER, TOKEN, Harness, body, running_harness

CAPTION = "Harbour sunrise\nMorning light over the water.\n#travel #日出"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _task_state(h: Harness, task_id: int) -> TaskState:
    assert h.manager is not None
    task = await h.manager.store.get_task(task_id)
    assert task is not None
    return task.state


async def test_a_sent_video_is_published_now_and_the_link_comes_back(harness: Harness) -> None:
    clip = harness.clip()
    card = await harness.send_video(clip, CAPTION)
    text = body(card)
    assert "Task #1" in text and "Harbour sunrise" in text
    assert "#travel #日出" in text and "Main" in text and "private" in text

    await harness.telegram.user_press(OPERATOR, OPERATOR, card["message_id"], "pub:1")
    done = await harness.expect("is published")
    [video] = await harness.youtube.wait_for_videos(1, timeout=10)
    assert f"https://youtu.be/{video.id}" in body(done)
    assert (video.title, video.tags, video.privacy_status) == (
        "Harbour sunrise",
        ["travel", "日出"],
        "private",
    )
    assert video.description.startswith("Morning light over the water.")
    assert (video.size, video.sha256) == (clip.stat().st_size, _sha(clip))
    final_card = next(
        m for m in harness.telegram.bot_messages(OPERATOR) if m["message_id"] == card["message_id"]
    )
    assert "published" in body(final_card) and not final_card.get("reply_markup")


async def test_a_video_sent_as_a_file_with_a_video_type_is_accepted(harness: Harness) -> None:
    clip = harness.clip("movie.mp4")
    await harness.telegram.user_send_video(
        OPERATOR, OPERATOR, clip, caption="As a file", as_document=True, mime_type="video/mp4"
    )
    card = await harness.expect("Task #1")
    assert "As a file" in body(card)
    await harness.say("/publish #1")
    await harness.expect("is published")
    [video] = await harness.youtube.wait_for_videos(1, timeout=10)
    assert video.sha256 == _sha(clip)


async def test_a_scheduled_task_starts_at_its_time_and_not_before(harness: Harness) -> None:
    await harness.send_video(harness.clip(), CAPTION)
    await harness.say("/schedule 1 in 2 hours")
    echo = await harness.expect("will be published at")
    assert "2026-12-03 14:00 (Asia/Shanghai, UTC+08:00)" in body(echo)

    harness.clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    await asyncio.sleep(0)
    await harness.idle()
    assert harness.youtube.sessions == []
    assert await _task_state(harness, 1) is TaskState.QUEUED

    harness.clock.advance(timedelta(seconds=1))
    await harness.expect("is published")
    assert len(harness.youtube.sessions) == 1


async def test_a_task_scheduled_before_a_restart_runs_on_time_after_it(harness: Harness) -> None:
    await harness.send_video(harness.clip(), CAPTION)
    await harness.say("/schedule 1 2026-12-03 12:30")
    await harness.expect("2026-12-03 12:30 (Asia/Shanghai")
    await harness.stop()

    await harness.start()
    harness.clock.advance(timedelta(minutes=29, seconds=59))
    await asyncio.sleep(0)
    await harness.idle()
    assert harness.youtube.sessions == []
    harness.clock.advance(timedelta(seconds=1))
    await harness.expect("is published")
    [video] = await harness.youtube.wait_for_videos(1, timeout=10)
    assert video.title == "Harbour sunrise"


async def test_chinese_time_is_echoed_with_date_time_and_zone(harness: Harness) -> None:
    await harness.send_video(harness.clip(), CAPTION, user=ADMIN)
    await harness.say("/schedule 1 明天 20:00", user=ADMIN)
    echo = await harness.expect("发布", user=ADMIN, new_only=True)
    assert "2026-12-04 20:00 (Asia/Shanghai, UTC+08:00)" in body(echo)


async def test_the_schedule_button_asks_for_a_time_and_takes_the_reply(harness: Harness) -> None:
    card = await harness.send_video(harness.clip(), CAPTION)
    await harness.telegram.user_press(OPERATOR, OPERATOR, card["message_id"], "sch:1")
    prompt = await harness.expect("When should task #1 be published?")
    await harness.say("tomorrow 8pm", reply_to_message_id=prompt["message_id"])
    echo = await harness.expect("will be published at")
    assert "2026-12-04 20:00 (Asia/Shanghai" in body(echo)
    assert await _task_state(harness, 1) is TaskState.QUEUED


async def test_a_time_in_the_past_is_refused_and_changes_nothing(harness: Harness) -> None:
    await harness.send_video(harness.clip(), CAPTION)
    await harness.say("/schedule 1 2026-12-01 08:00")
    await harness.expect("has already passed")
    assert await _task_state(harness, 1) is TaskState.DRAFT


async def test_the_privacy_buttons_set_the_privacy_the_video_gets(harness: Harness) -> None:
    card = await harness.send_video(harness.clip(), CAPTION)
    await harness.telegram.user_press(OPERATOR, OPERATOR, card["message_id"], "prv:1")
    choice = await harness.expect("Choose the privacy of task #1")
    await harness.telegram.user_press(OPERATOR, OPERATOR, choice["message_id"], "prv:1:public")
    await harness.expect("Task #1 will be public")
    await harness.say("/publish 1")
    await harness.expect("is published (public)")
    [video] = await harness.youtube.wait_for_videos(1, timeout=10)
    assert video.privacy_status == "public"


async def test_a_photo_in_reply_to_the_card_becomes_the_thumbnail(harness: Harness) -> None:
    card = await harness.send_video(harness.clip(), CAPTION)
    picture = harness.root / "thumb.jpg"
    Image.new("RGB", (1280, 720), (200, 40, 40)).save(picture, "JPEG")
    await harness.telegram.user_send_photo(
        OPERATOR, OPERATOR, picture, reply_to_message_id=card["message_id"]
    )
    await harness.expect("Thumbnail set for task #1")
    await harness.say("/publish 1")
    await harness.expect("is published")
    [video] = await harness.youtube.wait_for_videos(1, timeout=10)
    assert video.thumbnail is not None
    assert Image.open(io.BytesIO(video.thumbnail)).size == (1280, 720)


async def test_cancel_stops_a_scheduled_task(harness: Harness) -> None:
    await harness.send_video(harness.clip(), CAPTION)
    await harness.say("/schedule 1 in 10 minutes")
    await harness.expect("will be published at")
    await harness.say("/cancel 1")
    await harness.expect("Task #1 is cancelled")
    harness.clock.advance(timedelta(minutes=11))
    await asyncio.sleep(0)
    await harness.idle()
    assert harness.youtube.sessions == []
    assert await _task_state(harness, 1) is TaskState.CANCELLED


async def test_a_text_file_renamed_mp4_is_refused_and_creates_no_task(harness: Harness) -> None:
    fake = harness.root / "holiday.mp4"
    fake.write_text("this is not a video at all\n" * 50)
    await harness.telegram.user_send_video(
        OPERATOR, OPERATOR, fake, caption="Fake", as_document=True, mime_type="video/mp4"
    )
    await harness.expect("This file is not a video")
    await harness.say("/queue")
    await harness.expect("No unfinished tasks")
    assert list((harness.settings.media_dir).iterdir()) == []


async def test_a_document_that_is_not_a_video_is_refused(harness: Harness) -> None:
    notes = harness.root / "notes.txt"
    notes.write_text("hello")
    await harness.telegram.user_send_document(OPERATOR, OPERATOR, notes)
    await harness.expect("“notes.txt” is not a video (text/plain)")


async def test_a_caption_youtube_would_refuse_is_explained_before_download(
    harness: Harness,
) -> None:
    await harness.telegram.user_send_video(OPERATOR, OPERATOR, harness.clip(), caption="x" * 120)
    await harness.expect("The title has 120 characters; YouTube allows at most 100")
    await harness.say("/queue")
    await harness.expect("No unfinished tasks")
    assert list(harness.settings.media_dir.iterdir()) == []


async def test_a_file_over_20mb_in_cloud_mode_says_the_limit_and_how_to_lift_it(
    harness: Harness,
) -> None:
    big = harness.root / "big.mp4"
    with big.open("wb") as out:
        out.truncate(21 * 1024 * 1024)
    await harness.telegram.user_send_video(OPERATOR, OPERATOR, big, caption="Big")
    answer = await harness.expect("can only download files up to 20.0 MB")
    assert "21.0 MB" in body(answer)
    assert "PM_TELEGRAM_LOCAL_MODE=true" in body(answer)
    assert "telegram-bot-api --local" in body(answer)


async def test_a_stranger_is_refused_and_nothing_changes(harness: Harness) -> None:
    await harness.send_video(harness.clip(), CAPTION)
    stranger = harness.telegram
    await harness.say("/start", user=STRANGER)
    await harness.expect("only works for its team", user=STRANGER, new_only=True)
    await stranger.user_send_video(STRANGER, STRANGER, harness.clip("s.mp4"), caption="x")
    await harness.expect("only works for its team", user=STRANGER, new_only=True)
    for command in ("/publish 1", "/cancel 1", "/queue"):
        await harness.say(command, user=STRANGER)
        await harness.expect("only works for its team", user=STRANGER, new_only=True)
    assert len(harness.texts(STRANGER)) == 5
    assert all("only works for its team" in t for t in harness.texts(STRANGER))
    assert await _task_state(harness, 1) is TaskState.DRAFT
    assert harness.youtube.sessions == []
    assert len(list(harness.settings.media_dir.iterdir())) == 1


async def test_an_operator_cannot_touch_someone_elses_task(harness: Harness) -> None:
    await harness.send_video(harness.clip(), CAPTION, user=ADMIN)
    await harness.say("/publish 1")
    await harness.expect("Task #1 belongs to someone else")
    assert await _task_state(harness, 1) is TaskState.DRAFT


async def test_a_forged_button_gets_a_short_answer_and_changes_nothing(harness: Harness) -> None:
    card = await harness.send_video(harness.clip(), CAPTION)
    query = await harness.telegram.user_press(
        OPERATOR, OPERATOR, card["message_id"], "pub:1;drop table", force=True
    )
    answer = await harness.telegram.wait_for_callback_answer(query)
    assert answer.get("text") == "This button is no longer valid."
    assert await _task_state(harness, 1) is TaskState.DRAFT


async def test_no_token_or_secret_reaches_the_logs_or_the_chat(
    harness: Harness, capfd: pytest.CaptureFixture[str]
) -> None:
    logs.configure("DEBUG", [TOKEN, "secret-1"])
    try:
        await harness.send_video(harness.clip(), CAPTION)
        await harness.say("/publish 1")
        await harness.expect("is published")
    finally:
        logging.getLogger().handlers.clear()
    captured = capfd.readouterr()
    printed = captured.out + captured.err
    assert "getUpdates" in printed or "sendMessage" in printed  # DEBUG really logged requests
    for secret in (TOKEN, "test-bot-token", "secret-1", "refresh-1"):
        assert secret not in printed
        assert all(secret not in t for t in harness.texts())


async def test_a_local_bot_api_server_takes_a_file_over_20mb(tmp_path: Path) -> None:
    async with running_harness(tmp_path, local_mode=True) as h:
        clip = h.clip()
        padding = 21 * 1024 * 1024
        with clip.open("ab") as out:  # an MP4 `free` box: still a valid, playable file
            out.write(padding.to_bytes(4, "big") + b"free")
            out.write(bytes(padding - 8))
        card = await h.send_video(clip, "Big harbour")
        assert "Task #1" in body(card) and "21." in body(card)
        await h.say("/publish 1")
        await h.expect("is published")
        [video] = await h.youtube.wait_for_videos(1, timeout=20)
        assert (video.size, video.sha256) == (clip.stat().st_size, _sha(clip))


async def test_a_command_sent_right_after_a_video_is_handled_after_it(harness: Harness) -> None:
    await harness.telegram.user_send_video(OPERATOR, OPERATOR, harness.clip(), caption="Quick")
    await harness.say("/publish 1")
    await harness.expect("is published")
    assert not any("There is no task" in t for t in harness.texts())


async def test_on_the_real_clock_a_scheduled_task_starts_at_its_second_not_before(
    tmp_path: Path,
) -> None:
    async with running_harness(tmp_path, clock=SystemClock()) as h:
        await h.send_video(h.clip(), "On the real clock")
        due = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
        local = due.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
        await h.say(f"/schedule 1 {local}")
        await h.expect("will be published at")
        await h.expect("is published", within_s=20)
        [session] = h.youtube.sessions
        started = datetime.fromtimestamp(session.created_at, UTC)
        assert due <= started < due + timedelta(seconds=2)


async def test_a_person_reads_and_types_times_in_their_own_zone_after_tz(
    harness: Harness,
) -> None:
    await harness.send_video(harness.clip(), CAPTION)
    await harness.say("/tz america/new_york")
    await harness.expect("Your time zone is now America/New_York; it is 2026-12-02 23:00")
    await harness.say("/schedule 1 tomorrow 8pm")
    echo = await harness.expect("will be published at")
    assert "2026-12-03 20:00 (America/New_York, UTC-05:00)" in body(echo)
    await harness.expect("Time: 2026-12-03 20:00 (America/New_York")  # the card follows too
    await harness.stop()
    await harness.start()
    await harness.say("/tz")
    await harness.expect("Your times are read and shown in America/New_York")
    await harness.say("/tz Mars/Olympus")
    await harness.expect("“Mars/Olympus” is not a time zone")


async def test_help_and_accounts_answer_an_operator(harness: Harness) -> None:
    await harness.say("/help")
    listed = await harness.expect("/schedule")
    for command in ("/publish", "/privacy", "/cancel", "/status", "/queue", "/retry", "/tz"):
        assert command in body(listed)
    await harness.say("/accounts")
    accounts = await harness.expect("Channels")
    assert "main (Main)" in body(accounts) and "active" in body(accounts)


async def test_one_account_uploads_one_video_at_a_time(harness: Harness) -> None:
    for n in range(3):
        await harness.send_video(harness.clip(f"c{n}.mp4", seed=n), f"Clip {n}")
    for n in range(1, 4):
        await harness.say(f"/publish {n}")
    for n in range(1, 4):
        await harness.expect(f"Task #{n} is published", within_s=20)
    sessions = sorted(harness.youtube.sessions, key=lambda s: s.created_at)
    videos = {v.title: v for v in harness.youtube.videos}
    for earlier, later in itertools.pairwise(sessions):
        assert videos[earlier.title].completed_at <= later.created_at


async def test_the_schedule_prompt_takes_a_plain_answer_and_unknown_commands_are_answered(
    harness: Harness,
) -> None:
    card = await harness.send_video(harness.clip(), CAPTION)
    await harness.telegram.user_press(OPERATOR, OPERATOR, card["message_id"], "sch:1")
    await harness.expect("When should task #1 be published?")
    await harness.say("tomorrow 8pm")
    await harness.expect("will be published at 2026-12-04 20:00")
    await harness.say("hello")
    await harness.expect("Send a video to create a task")
    await harness.say("/frobnicate")
    await harness.expect("I do not know that command")
