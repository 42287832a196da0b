"""SIGTERM and restarts cost nothing but time: uploads resume where YouTube says they stand."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

from core.models import TaskState
from tests.app.conftest import Harness, running_harness

CHUNK = 1024 * 1024


async def test_a_stop_mid_upload_is_quick_and_the_restart_resumes_without_resending(
    tmp_path: Path,
) -> None:
    async with running_harness(tmp_path, local_mode=True) as harness:
        await _stop_mid_upload_and_resume(harness)


async def _stop_mid_upload_and_resume(harness: Harness) -> None:
    clip = harness.clip()
    padding = 48 * CHUNK
    with clip.open("ab") as out:
        out.write(padding.to_bytes(4, "big") + b"free" + bytes(padding - 8))
    size = clip.stat().st_size
    await harness.send_video(clip, "Long upload")
    await harness.say("/publish 1")
    async with asyncio.timeout(20):
        # The emulator has no event for chunks; a short poll under a deadline finds the moment.
        while len(harness.youtube.chunks) < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    started = time.monotonic()
    await harness.stop()
    assert time.monotonic() - started < 10
    assert harness.youtube.videos == []
    received_before = harness.youtube.bytes_received
    assert 0 < received_before < size

    await harness.start()
    assert harness.manager is not None
    task = await harness.manager.store.get_task(1)
    assert task is not None and task.upload_uri
    await harness.expect("is published", within_s=30)
    [video] = await harness.youtube.wait_for_videos(1, timeout=10)
    assert video.sha256 == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert len(harness.youtube.sessions) == 1
    assert harness.youtube.bytes_received - size <= CHUNK
    task = await harness.manager.store.get_task(1)
    assert task is not None and task.state is TaskState.PUBLISHED
