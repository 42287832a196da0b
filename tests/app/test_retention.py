"""What is kept: files until their retention has passed, each person's language across restarts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.app.conftest import ADMIN, OPERATOR, Harness


async def test_a_published_file_goes_after_the_retention_and_a_failed_one_stays(
    harness: Harness,
) -> None:
    await harness.send_video(harness.clip(), "Published one")
    await harness.say("/publish 1")
    await harness.expect("Task #1 is published")
    harness.youtube.fail_next("insert", status=400, reason="invalidTitle")
    await harness.send_video(harness.clip("two.mp4", seed=2), "Failed one")
    await harness.say("/publish 2")
    await harness.expect("Task #2 failed")
    assert harness.manager is not None
    store = harness.manager.store
    published = await store.get_media(1)
    failed = await store.get_media(2)
    assert published is not None and failed is not None
    media_dir = harness.settings.media_dir

    harness.clock.advance(timedelta(hours=71))
    await asyncio.sleep(0.1)
    assert (media_dir / published.key).exists()
    harness.clock.advance(timedelta(hours=1, minutes=1))
    await asyncio.sleep(0.2)
    await harness.idle()
    assert not (media_dir / published.key).exists()
    assert (media_dir / failed.key).exists()
    purged = await store.get_media(1)
    assert purged is not None and purged.purged_at is not None
    await harness.say("/retry 2")
    await harness.expect("Task #2 is published")


async def test_a_chinese_speaker_hears_results_in_chinese_after_a_restart(
    harness: Harness,
) -> None:
    await harness.send_video(harness.clip(), "定时视频", user=ADMIN)
    await harness.say("/schedule 1 1小时后", user=ADMIN)
    await harness.expect("将于", user=ADMIN)
    await harness.stop()
    await harness.start()
    harness.clock.advance(timedelta(hours=1))
    done = await harness.expect("已发布", user=ADMIN)
    assert "Task" not in str(done.get("text"))
    assert OPERATOR not in {m["chat"]["id"] for m in harness.telegram.bot_messages(ADMIN)}
