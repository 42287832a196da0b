"""Messages to the chat are never lost: outages, restarts and groups that became supergroups."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.models import TaskState
from tests.app.conftest import OPERATOR, Harness, body

GROUP = -4001
SUPERGROUP = -1001234567890


async def test_results_made_during_a_bot_api_outage_arrive_after_it_even_across_a_restart(
    harness: Harness,
) -> None:
    await harness.send_video(harness.clip(), "Outage day")
    await harness.say("/schedule 1 in 1 minute")
    await harness.expect("will be published at")
    harness.telegram.set_outage(True)
    harness.clock.advance(timedelta(minutes=1))
    [video] = await harness.youtube.wait_for_videos(1, timeout=15)
    await asyncio.sleep(0.5)
    await harness.idle()
    assert not any("is published" in t for t in harness.texts())
    await harness.stop()  # the process restarts while Telegram is still down

    harness.telegram.set_outage(False)
    await harness.start()
    done = await harness.expect("is published", within_s=20)
    assert f"https://youtu.be/{video.id}" in body(done)
    card = await harness.expect("Task #1 · published", within_s=20)
    assert f"https://youtu.be/{video.id}" in body(card)
    assert sum("is published" in t for t in harness.texts()) == 1


async def test_a_group_that_became_a_supergroup_gets_its_results_at_the_new_id(
    harness: Harness,
) -> None:
    telegram = harness.telegram
    telegram.group(GROUP, "Studio")
    await telegram.user_send_video(GROUP, OPERATOR, harness.clip(), caption="Group clip")
    await telegram.wait_for_bot_message(GROUP, lambda m: "Task #1" in body(m))
    await harness.say("/schedule 1 in 1 minute")
    await harness.expect("will be published at")
    telegram.migrate_group(GROUP, SUPERGROUP)
    harness.clock.advance(timedelta(minutes=1))
    done = await telegram.wait_for_bot_message(SUPERGROUP, lambda m: "is published" in body(m), 20)
    assert "Task #1" in body(done)
    assert harness.manager is not None
    task = await harness.manager.store.get_task(1)
    assert task is not None and task.chat_id == SUPERGROUP and task.state is TaskState.PUBLISHED
