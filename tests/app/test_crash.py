"""Crash safety: the real process is SIGKILLed at random moments during 20 uploads.

Both emulators run in their own processes and stay up; `publish-manager run` is started on one
data directory, killed with SIGKILL a random while after each start, and started again, until
every task is published. Uploads pass through a proxy that sends at a network-like rate, so the
kills land inside uploads, often inside a chunk. Afterwards every video must exist exactly once
on the emulated YouTube with the bytes that were sent, every task must be published with that
video, and the chat must have been told exactly once per task.

Random kills rarely hit the narrow gaps around the chat's news, so two more tests plant the kill
there (tests/app/crash_at.py): right after `published` is committed, and between the Bot API
taking the message and the outbox marking it sent.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import signal
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from media.clips import make_clip
from tests.app.crash_rig import OPERATOR, Rig
from tests.app.throttle import ThrottledProxy

logger = logging.getLogger(__name__)

SEED = 20261203
VIDEOS = 20
FILE_B = 4 * 1024 * 1024
CHUNK_MB = 1
#: What the proxy lets the product send to YouTube: a 4 MiB upload takes about half a second.
UPLOAD_RATE_BPS = 8 * 1024 * 1024
#: How long after each start (once it says it started) the process is killed.
KILL_DELAY_S = (0.05, 1.0)
MAX_KILLS = 11
MIN_KILLS_MID_UPLOAD = 8
#: A kill counts as cutting a request body if the proxy forwarded upload bytes this recently.
MID_CHUNK_WINDOW_S = 0.03
DEADLINE_S = 240.0
POLL_S = 0.05


@dataclass(frozen=True)
class Sent:
    """One video a person sent: its title and the bytes of the file."""

    title: str
    path: Path
    sha256: str
    size: int


@dataclass
class Kill:
    """One SIGKILL: when it struck and what was in flight."""

    after_s: float
    at: float
    uploading: list[int]
    offsets: list[int]
    cut_a_chunk: bool


@dataclass
class Run:
    """What the crash loop did."""

    kills: list[Kill] = field(default_factory=list)

    @property
    def mid_upload(self) -> int:
        """Return how many kills struck while this process had a task uploading."""
        return sum(1 for k in self.kills if k.uploading)


def _make_video(root: Path, index: int) -> Sent:
    """Make a real clip and pad it to FILE_B with an MP4 `free` box of seeded random bytes."""
    path = make_clip(root / f"video-{index:02d}.mp4", seconds=1.0, seed=index)
    padding = FILE_B - path.stat().st_size
    with path.open("ab") as out:  # a `free` box: the file stays a valid, playable MP4
        out.write(padding.to_bytes(4, "big") + b"free")
        out.write(random.Random(SEED + index).randbytes(padding - 8))
    data = path.read_bytes()
    title = f"Crash video {index:02d}"
    return Sent(title, path, hashlib.sha256(data).hexdigest(), len(data))


def _text(message: dict[str, object]) -> str:
    return str(message.get("text") or message.get("caption") or "")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """Both emulators in their own processes, and the product's settings."""
    rig = Rig(
        tmp_path,
        PM_UPLOAD_CHUNK_MB=str(CHUNK_MB),
        PM_MAX_PARALLEL_UPLOADS="2",
        PM_CHUNK_RETRY_DELAY_S="0.05",
        PM_RETRY_DELAYS_S="0.5,1,2",
        PM_SWEEP_INTERVAL_S="2",
    )
    try:
        rig.start_emulators()
        yield rig
    finally:
        rig.close()


@pytest.fixture
def proxy(rig: Rig) -> Iterator[ThrottledProxy]:
    """A proxy in front of the YouTube emulator that sends at a network-like rate."""
    upstream = urllib.parse.urlparse(rig.youtube_url)
    assert upstream.hostname is not None and upstream.port is not None
    proxy = ThrottledProxy(upstream.hostname, upstream.port, UPLOAD_RATE_BPS).start()
    rig.settings["PM_YOUTUBE_API_URL"] = proxy.url
    try:
        yield proxy
    finally:
        proxy.stop()


def _intake(rig: Rig, videos: list[Sent]) -> dict[str, int]:
    """Send every video with its caption, as a person does; return task ids by title."""
    for video in videos:
        caption = f"{video.title}\nFilmed for the crash test.\n#crash"
        rig.telegram(
            "send_video", chat_id=OPERATOR, user_id=OPERATOR, path=str(video.path), caption=caption
        )
    tasks = {}
    for video in videos:
        card = rig.telegram(
            "wait_for_bot_message",
            chat_id=OPERATOR,
            contains=f"Title: {video.title}\n",
            timeout=30.0,
        )
        found = re.search(r"Task #(\d+)", _text(card))
        assert found, _text(card)
        tasks[video.title] = int(found.group(1))
    return tasks


def _publish(rig: Rig, task_ids: list[int]) -> None:
    """Send /publish for every task and wait until the bot has acknowledged each."""
    for task_id in task_ids:
        rig.telegram("send_text", chat_id=OPERATOR, user_id=OPERATOR, text=f"/publish {task_id}")
    for task_id in task_ids:
        rig.telegram(
            "wait_for_bot_message",
            chat_id=OPERATOR,
            contains=f"Task #{task_id} will be published now.",
            timeout=30.0,
        )


def _published(rig: Rig) -> int:
    return int(rig.query("SELECT count(*) FROM publish_tasks WHERE state = 'published'")[0][0])


def _crash_loop(rig: Rig, proxy: ThrottledProxy, deadline: float) -> Run:
    """Kill the running process a seeded random while after it started; restart; repeat."""
    rng = random.Random(SEED)
    run = Run()
    while len(run.kills) < MAX_KILLS and time.monotonic() < deadline:
        if _published(rig) == VIDEOS:
            break
        assert rig.product is not None
        started = rig.wait_started()
        delay = rng.uniform(*KILL_DELAY_S)
        time.sleep(max(0.0, started + delay - time.monotonic()))
        owner = f"%:{rig.product.pid}"
        rows = rig.query(
            "SELECT id, upload_offset FROM publish_tasks "
            "WHERE state = 'uploading' AND lease_owner LIKE ?",
            owner,
        )
        cut = proxy.sent_within(MID_CHUNK_WINDOW_S) and bool(rows)
        at = time.time()
        rig.kill_product()
        run.kills.append(Kill(delay, at, [r[0] for r in rows], [int(r[1]) for r in rows], cut))
        rig.start_product()
    return run


def _wait_until_settled(rig: Rig, deadline: float, videos: int = VIDEOS) -> None:
    """Wait until every task is published and every queued chat message was delivered."""
    while time.monotonic() < deadline:
        pending = rig.query("SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]
        if _published(rig) == videos and pending == 0:
            return
        assert rig.product is not None and rig.product.poll() is None, "the product exited"
        time.sleep(POLL_S)
    states = rig.query("SELECT state, count(*) FROM publish_tasks GROUP BY state")
    pytest.fail(f"not settled in time: tasks {states}")


def _log_run(rig: Rig, proxy: ThrottledProxy, run: Run, phases: dict[str, float]) -> None:
    cut = sum(1 for k in run.kills if k.cut_a_chunk)
    sessions = rig.youtube_get("_sandbox/sessions")
    logger.info(
        "%s kills (%s mid-upload, %s cutting a request body), %s starts, %s upload sessions, "
        "%s bytes sent to YouTube; phases ended at %s",
        len(run.kills),
        run.mid_upload,
        cut,
        rig.starts,
        len(sessions),
        proxy.bytes_up,
        {k: round(v, 1) for k, v in phases.items()},
    )
    for kill in run.kills:
        logger.info(
            "kill %.2f s in: uploading %s at %s", kill.after_s, kill.uploading, kill.offsets
        )


def _check_youtube(rig: Rig, videos: list[Sent]) -> dict[str, str]:
    """Check every video is on YouTube once with the bytes sent; return video ids by title."""
    by_title = {v.title: v for v in videos}
    received = rig.youtube_get("_sandbox/videos")
    titles = Counter(v["title"] for v in received)
    assert titles == Counter(list(by_title)), f"duplicates or missing: {titles}"
    for video in received:
        sent = by_title[video["title"]]
        assert (video["sha256"], video["size"]) == (sent.sha256, sent.size), video["title"]
    return {v["title"]: v["id"] for v in received}


def _check_tasks(rig: Rig, tasks: dict[str, int], video_ids: dict[str, str]) -> None:
    """Check every task is published with its video and reached `published` exactly once."""
    rows = rig.query("SELECT id, title, state, video_id FROM publish_tasks ORDER BY id")
    assert len(rows) == VIDEOS
    for task_id, title, state, video_id in rows:
        assert tasks[title] == task_id
        assert (state, video_id) == ("published", video_ids[title]), task_id
    reached = Counter(
        r[0] for r in rig.query("SELECT task_id FROM publish_history WHERE to_state = 'published'")
    )
    assert reached == Counter(tasks.values())


def _instant(value: str) -> float:
    """Return a time stored by the product (naive UTC in SQLite) as seconds since the epoch."""
    instant = datetime.fromisoformat(value)
    return (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).timestamp()


def _killed_while_sending(rig: Rig, task_id: int, kills: list[Kill]) -> bool:
    """Tell whether a kill struck between a task's "published" news being queued and marked sent.

    That is the one moment a message may be sent twice: the Bot API took it, and the process
    died before the outbox could record it.
    """
    rows = rig.query(
        "SELECT created_at, sent_at FROM outbox WHERE task_id = ? AND body = 'published'",
        task_id,
    )
    return any(
        _instant(queued) <= kill.at <= _instant(sent)
        for queued, sent in rows
        if sent is not None
        for kill in kills
    )


def _check_told(
    rig: Rig, tasks: dict[str, int], video_ids: dict[str, str], kills: list[Kill]
) -> None:
    """Check the chat was told once per task that it is published, with its video's link."""
    told = _published_messages(rig)
    missing = sorted(set(tasks.values()) - set(told))
    assert not missing, f"tasks never announced as published: {missing}"
    for title, task_id in tasks.items():
        assert set(told[task_id]) == {video_ids[title]}, told[task_id]
    repeated = sorted(t for t, ids in told.items() if len(ids) > 1)
    # TODO: a kill after the Bot API took a message and before the outbox marked it sent makes
    # the next process send it again (test_a_kill_between_sending_and_marking_sent_...); remove
    # this allowance once delivery is exactly once.
    unexplained = [t for t in repeated if not _killed_while_sending(rig, t, kills)]
    assert not unexplained, f"'is published' sent more than once: {told}"
    if repeated:
        logger.warning("announced twice after a kill while sending: tasks %s", repeated)


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    rig: Rig, proxy: ThrottledProxy
) -> None:
    began = time.monotonic()
    deadline = began + DEADLINE_S
    with ThreadPoolExecutor(max_workers=2) as pool:
        made = pool.map(_make_video, [rig.root] * VIDEOS, range(VIDEOS))
        assert rig.add_account().startswith("added account 1 main")
        videos = list(made)
    rig.start_product()
    rig.wait_started()
    tasks = _intake(rig, videos)
    assert sorted(tasks.values()) == list(range(1, VIDEOS + 1))
    _publish(rig, list(tasks.values()))
    phases = {"intake": time.monotonic() - began}

    run = _crash_loop(rig, proxy, deadline)
    phases["kills"] = time.monotonic() - began
    _wait_until_settled(rig, deadline)
    phases["settled"] = time.monotonic() - began
    assert rig.stop_product() == 0, "the last process did not stop cleanly on SIGTERM"
    _log_run(rig, proxy, run, phases)

    assert run.mid_upload >= MIN_KILLS_MID_UPLOAD, run.kills
    video_ids = _check_youtube(rig, videos)
    _check_tasks(rig, tasks, video_ids)
    # Resumed, not restarted: what was sent twice is at most a chunk per kill, headers included.
    assert proxy.bytes_up - sum(v.size for v in videos) <= len(run.kills) * CHUNK_MB * 2**20
    _check_told(rig, tasks, video_ids, run.kills)


_PUBLISHED = re.compile(r"Task #(\d+) is published \(\w+\): https://youtu\.be/(\S+)")


def _published_messages(rig: Rig) -> dict[int, list[str]]:
    """Return the video ids of the "is published" messages the bot sent, by task."""
    told: dict[int, list[str]] = {}
    for who, said in rig.telegram("transcript", chat_id=OPERATOR):
        found = _PUBLISHED.search(said)
        if who == "bot" and found:
            told.setdefault(int(found.group(1)), []).append(found.group(2))
    return told


def _publish_one_then_die_at(rig: Rig, point: str) -> int:
    """Publish one video with the process planted to SIGKILL itself at `point`; return its task."""
    assert rig.add_account().startswith("added account 1 main")
    video = _make_video(rig.root, 0)
    rig.start_product("-m", "tests.app.crash_at", point)
    rig.wait_started()
    task_id = _intake(rig, [video])[video.title]
    _publish(rig, [task_id])
    assert rig.product is not None
    assert rig.product.wait(timeout=60) == -signal.SIGKILL, "the planted kill did not happen"
    return task_id


def test_a_kill_right_after_publishing_still_tells_the_chat(rig: Rig) -> None:
    task_id = _publish_one_then_die_at(rig, "published-before-notify")
    assert rig.query("SELECT state FROM publish_tasks WHERE id = ?", task_id) == [("published",)]
    rig.start_product()
    rig.wait_started()
    _wait_until_settled(rig, time.monotonic() + 60.0, videos=1)
    assert len(_published_messages(rig).get(task_id, [])) == 1
    cards = [_text(m) for m in rig.telegram("bot_messages", chat_id=OPERATOR)]
    assert any(f"Task #{task_id} · published" in card for card in cards), cards


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="delivery is at least once: the outbox marks a message sent only after the Bot API "
    "took it (bot/outbox.py _deliver), so a kill in between makes the next process send it again",
)
def test_a_kill_between_sending_and_marking_sent_does_not_repeat_the_message(rig: Rig) -> None:
    task_id = _publish_one_then_die_at(rig, "sent-before-done")
    assert len(_published_messages(rig).get(task_id, [])) == 1
    rig.start_product()
    rig.wait_started()
    _wait_until_settled(rig, time.monotonic() + 60.0, videos=1)
    assert len(_published_messages(rig).get(task_id, [])) == 1
