"""Fault benchmark: what transient failures and dropped connections cost the uploads.

`python -m bench.faults` writes `--uploads` files of random bytes (a few MiB each, sizes drawn
from the seed), creates one task per file over `--accounts` channels directly in a SQLite file
through SqlStore, and runs the real Engine and YouTubePublisher (`--chunk-mb`, 1 MiB by default)
against the YouTube sandbox, whose faults are planned up front through `fail_next` from the seed:

- `--fail` of the data-carrying chunk PUTs are answered 500, 502, 503 or 429 (the sandbox
  discards their bytes);
- `--drop` of the others lose the connection after a random part of the chunk arrived;
- `--lose-final` of the finishing PUTs complete the video, then drop the connection before the
  answer, so the client must settle the upload by asking where it stands.

The engine's waits are cut to a few milliseconds (the publisher's per-chunk retry delay and the
retry policy between attempts), so the run takes seconds. It prints the share of tasks published,
the interruptions that struck, the bytes YouTube received beyond what the finished sessions hold
(re-sent or discarded) per interruption, in bytes and in chunks (target: at most one chunk), the
quota units spent beyond 1,600 per published video, and the videos YouTube holds more than once
(must be 0).

The sandbox runs in this process on a thread with its own event loop, so its counters
(`bytes_received`, `units_used`, sessions) are read directly without sharing the engine's loop.
The engine runs on the product's SystemClock; a run in which nothing moves for `--stall-s` ends
early and says so, and timer callbacks that failed are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import logging
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from core.clock import SystemClock
from core.engine import Engine, EngineConfig
from core.models import AccountStatus, Credentials, Privacy, TaskState, VideoMetadata
from core.retry import RetryPolicy
from media.store import LocalMediaStore
from platforms.youtube import YouTubePublisher
from sandbox.youtube import UNIT_COSTS, YouTubeSandbox
from storage.crypto import SecretBox
from storage.schema import publish_tasks
from storage.store import SqlStore

MIB = 1024 * 1024
SECRET_KEY = "bench-faults-secret-key-0123456789"
INSERT_UNITS = UNIT_COSTS["videos.insert"]
FINISHED = {TaskState.PUBLISHED.value, TaskState.FAILED.value, TaskState.CANCELLED.value}
#: What a transient chunk failure is answered with: (status, reason).
TRANSIENT_ANSWERS = ((500, "backendError"), (502, "badGateway"), (503, "backendError"))
RATE_LIMIT_ANSWER = (429, "rateLimitExceeded")
POLL_S = 0.2
THREAD_TIMEOUT_S = 30.0
TITLE = "fault bench {:03d}"

T = TypeVar("T")


class NullNotifier:
    """Implements core.ports.Notifier and says nothing; counts what it was told."""

    def __init__(self) -> None:
        self.changes = 0

    async def task_changed(self, task_id: int) -> None:
        """Count a state change."""
        self.changes += 1

    async def task_note(self, task_id: int, key: str, params: dict[str, str]) -> None:
        return None

    async def task_progress(self, task_id: int, sent: int, total: int) -> None:
        """Show nothing."""

    async def account_changed(self, account_id: int, previous: AccountStatus) -> None:
        """Say nothing."""


class TimerFailures(logging.Handler):
    """Counts the timer callbacks APScheduler reports as failed, keeping the first error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first = ""

    def emit(self, record: logging.LogRecord) -> None:
        """Count the record; remember the first exception."""
        self.count += 1
        if not self.first and record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.first = f"{type(exc).__name__}: {exc}"


class SandboxThread:
    """The YouTube sandbox on its own thread and event loop."""

    def __init__(self, storage: Path) -> None:
        self._storage = storage
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.sandbox: YouTubeSandbox | None = None

    def start(self) -> YouTubeSandbox:
        """Start serving on a free loopback port (bounded wait)."""
        self._thread.start()

        async def start() -> YouTubeSandbox:
            sandbox = YouTubeSandbox(self._storage)
            await sandbox.start()
            return sandbox

        self.sandbox = self.run(start())
        return self.sandbox

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the sandbox's loop and return its result (bounded wait)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(THREAD_TIMEOUT_S)

    def call(self, function: Callable[[], T]) -> T:
        """Call a function on the sandbox's loop, so it never races a request handler."""

        async def call() -> T:
            return function()

        return self.run(call())

    def stop(self) -> None:
        """Stop serving and end the thread (bounded wait)."""
        if self.sandbox is not None:
            self.run(self.sandbox.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(THREAD_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()


@dataclass
class Plan:
    """The faults planned for the run, per kind, in the order they strike."""

    chunk: list[dict[str, Any]] = field(default_factory=list)
    drop_chunk: list[dict[str, Any]] = field(default_factory=list)
    lose_final_response: list[dict[str, Any]] = field(default_factory=list)

    def kinds(self) -> dict[str, list[dict[str, Any]]]:
        """Return the planned faults by sandbox fault kind."""
        return {
            "chunk": self.chunk,
            "drop_chunk": self.drop_chunk,
            "lose_final_response": self.lose_final_response,
        }


def _gaps(rng: random.Random, share: float, events: int) -> list[int]:
    """Return how many events pass before each fault, for a fault on `share` of `events`."""
    gaps, gap = [], 0
    for _ in range(events):
        if rng.random() < share:
            gaps.append(gap)
            gap = 0
        else:
            gap += 1
    return gaps


def plan_faults(args: argparse.Namespace, rng: random.Random, chunks: int) -> Plan:
    """Draw every fault up front; the sandbox counts events per kind, so faults are a sequence."""
    plan = Plan()
    # Retries and status queries add events; plan for several times the chunks the files hold.
    events = chunks * 4
    for skip in _gaps(rng, args.fail, events):
        status, reason = (
            RATE_LIMIT_ANSWER
            if rng.random() < args.rate_limited
            else rng.choice(TRANSIENT_ANSWERS)
        )
        plan.chunk.append({"skip": skip, "status": status, "reason": reason})
    chunk_b = args.chunk_mb * MIB
    for skip in _gaps(rng, args.drop, events):
        plan.drop_chunk.append({"skip": skip, "after_bytes": rng.randrange(0, chunk_b, 1024)})
    for skip in _gaps(rng, args.lose_final, args.uploads * 4):
        plan.lose_final_response.append({"skip": skip})
    return plan


def inject(sandbox: YouTubeSandbox, plan: Plan) -> None:
    """Queue the planned faults in the sandbox (before any request arrives)."""
    for kind, faults in plan.kinds().items():
        for fault in faults:
            sandbox.fail_next(kind, **fault)


def remaining_faults(sandbox: YouTubeSandbox) -> Counter[str]:
    """Count the faults that have not struck yet, per kind."""
    return Counter(f.kind for f in sandbox._faults)


@dataclass
class Setup:
    """What the run uploads."""

    accounts: list[tuple[int, str]]
    sizes: dict[str, int]
    digests: dict[str, str]


async def prepare(
    args: argparse.Namespace,
    rng: random.Random,
    store: SqlStore,
    media: LocalMediaStore,
    sandbox: SandboxThread,
) -> Setup:
    """Register the channels, write the files and create one queued task per file."""
    assert sandbox.sandbox is not None
    yt = sandbox.sandbox
    now = datetime.now(UTC)
    accounts = []
    for i in range(args.accounts):
        client, secret, refresh = f"faults-client-{i}", f"faults-secret-{i}", f"faults-rt-{i}"
        channel = sandbox.call(functools.partial(yt.add_channel, client, secret, refresh))
        account = await store.add_account(
            platform="youtube",
            name=f"faults-{i}",
            credentials=Credentials(client, secret, refresh, yt.token_uri),
            channel_id=channel,
            channel_title=None,
            timezone="UTC",
            now=now,
        )
        accounts.append((account.id, client))
    sizes, digests = {}, {}
    low, high = (int(x * MIB) for x in args.size_mb)
    for index in range(args.uploads):
        data = rng.randbytes(rng.randrange(low, high))
        title = TITLE.format(index)
        sizes[title], digests[title] = len(data), hashlib.sha256(data).hexdigest()
        key = f"faults-{index:03d}.mp4"
        media.path(key).write_bytes(data)
        record = await store.add_media(
            key=key,
            sha256=digests[title],
            size=len(data),
            mime_type="video/mp4",
            duration_s=1.0,
            width=640,
            height=360,
            codec="h264",
            file_unique_id=None,
            created_at=now,
        )
        task = await store.create_task(
            media_id=record.id,
            account_id=accounts[index % len(accounts)][0],
            chat_id=1,
            user_id=1,
            metadata=VideoMetadata(title=title),
            privacy=Privacy.PRIVATE,
            now=now,
        )
        await store.transition(task.id, TaskState.QUEUED, now=now, actor="bench", due_at=now)
    return Setup(accounts, sizes, digests)


async def task_rows(store: SqlStore) -> list[dict[str, Any]]:
    """Return every task's title, state, attempts, video and error."""
    query = sa.select(
        publish_tasks.c.title,
        publish_tasks.c.state,
        publish_tasks.c.attempts,
        publish_tasks.c.video_id,
        publish_tasks.c.error,
    )
    async with store.engine.connect() as conn:
        return [dict(r._mapping) for r in (await conn.execute(query)).all()]


async def wait_until_done(store: SqlStore, count: int, deadline_s: float, stall_s: float) -> str:
    """Poll the store until every task finished; return why the wait ended (bounded).

    A run in which no task changed for `stall_s` while some are unfinished has stalled: every
    wait the engine was given is a fraction of a second.
    """
    deadline = time.monotonic() + deadline_s
    last, changed = None, time.monotonic()
    while time.monotonic() < deadline:
        rows = await task_rows(store)
        if sum(r["state"] in FINISHED for r in rows) == count:
            return "finished"
        if rows != last:
            last, changed = rows, time.monotonic()
        elif time.monotonic() - changed > stall_s:
            states = Counter(r["state"] for r in rows)
            return f"stalled: no task changed for {stall_s:.0f} s; tasks are {dict(states)}"
        await asyncio.sleep(POLL_S)
    states = Counter(r["state"] for r in await task_rows(store))
    return f"deadline: after {deadline_s:.0f} s tasks are {dict(states)}"


@dataclass
class Outcome:
    """What one run measured."""

    ending: str
    rows: list[dict[str, Any]]
    wall_s: float
    struck: Counter[str]
    bytes_received: int
    committed: int
    units: int
    sessions: int
    puts: int
    videos: list[tuple[str, str, str]]


async def measure(args: argparse.Namespace, root: Path) -> tuple[Outcome, Setup]:
    """Set everything up, run the engine until every task finished (bounded), collect counts."""
    rng = random.Random(args.seed)
    sandbox = SandboxThread(root / "youtube")
    yt = sandbox.start()
    store = await SqlStore.open(f"sqlite+aiosqlite:///{root / 'faults.db'}", SecretBox(SECRET_KEY))
    try:
        media = LocalMediaStore(root / "media")
        setup = await prepare(args, rng, store, media, sandbox)
        chunks = sum(-(-size // (args.chunk_mb * MIB)) for size in setup.sizes.values())
        plan = plan_faults(args, rng, chunks)
        sandbox.call(lambda: inject(yt, plan))
        planned = Counter({kind: len(faults) for kind, faults in plan.kinds().items()})
        ending, wall_s = await run_engine(args, store, media, yt.url)
        rows = await task_rows(store)
    finally:
        await store.close()

    def snapshot() -> Outcome:
        committed = sum(s.offset for s in yt._sessions.values())
        videos = [(v.title, v.id, v.sha256) for v in yt.videos]
        units = sum(yt.units_used(client) for _, client in setup.accounts)
        struck = planned - remaining_faults(yt)
        return Outcome(
            ending,
            rows,
            wall_s,
            struck,
            yt.bytes_received,
            committed,
            units,
            len(yt.sessions),
            len(yt.chunks),
            videos,
        )

    try:
        return sandbox.call(snapshot), setup
    finally:
        sandbox.stop()


async def run_engine(
    args: argparse.Namespace, store: SqlStore, media: LocalMediaStore, api_url: str
) -> tuple[str, float]:
    """Run the real engine and publisher until every task finished; return (ending, seconds)."""
    clock = SystemClock()
    publisher = YouTubePublisher(
        api_url,
        media,
        chunk_size=args.chunk_mb * MIB,
        chunk_retries=args.chunk_retries,
        chunk_retry_delay_s=args.chunk_retry_delay_s,
    )
    engine = Engine(
        store,
        {publisher.platform: publisher},
        media,
        NullNotifier(),
        clock,
        EngineConfig(worker_id="bench-faults", max_parallel=args.accounts, sweep_s=1.0),
        RetryPolicy(delays_s=tuple(args.retry_delays_s), max_retries=args.max_retries, jitter=0),
    )
    began = time.monotonic()
    clock.start()
    await engine.start()
    try:
        ending = await wait_until_done(store, args.uploads, args.deadline_s, args.stall_s)
    finally:
        await engine.stop()
        clock.shutdown()
    return ending, time.monotonic() - began


def report(args: argparse.Namespace, out: Outcome, setup: Setup) -> None:
    """Print the figures."""
    published = [r for r in out.rows if r["state"] == TaskState.PUBLISHED.value]
    states = Counter(r["state"] for r in out.rows)
    interruptions = sum(out.struck.values())
    extra = out.bytes_received - out.committed
    chunk_b = args.chunk_mb * MIB
    per = extra / interruptions if interruptions else 0.0
    wasted = out.units - INSERT_UNITS * len(published)
    titles = Counter(title for title, _, _ in out.videos)
    duplicates = sum(n - 1 for n in titles.values())
    wrong = sum(setup.digests[title] != sha for title, _, sha in out.videos)
    attempts = Counter(r["attempts"] for r in out.rows)
    total_b = sum(setup.sizes.values())
    print(
        f"fault benchmark: {args.uploads} uploads of {args.size_mb[0]:g}-{args.size_mb[1]:g} MiB "
        f"({total_b / MIB:.0f} MiB) over {args.accounts} channels, {args.chunk_mb} MiB chunks, "
        f"seed {args.seed}"
    )
    print(
        f"faults: {args.fail:.0%} of chunk PUTs answered 5xx/429, {args.drop:.0%} of the rest "
        f"dropped mid-chunk, {args.lose_final:.0%} of final answers lost; "
        f"retries: {args.chunk_retries} per chunk after {args.chunk_retry_delay_s * 1000:g} ms, "
        f"{args.max_retries} per task after {args.retry_delays_s} s"
    )
    print(f"run: {out.ending} in {out.wall_s:.1f} s")
    print()
    print(
        f"published:              {len(published)}/{args.uploads} "
        f"({len(published) / args.uploads:.0%}); states {dict(states)}"
    )
    print(f"task attempts:          {dict(sorted(attempts.items()))} (attempts: count)")
    print(
        f"interruptions:          {interruptions} in {out.puts} chunk PUTs "
        f"({out.struck['chunk']} 5xx/429, {out.struck['drop_chunk']} dropped mid-chunk, "
        f"{out.struck['lose_final_response']} lost final answers)"
    )
    print(
        f"bytes received:         {out.bytes_received:,} for {out.committed:,} kept "
        f"(files: {total_b:,})"
    )
    print(
        f"extra bytes re-sent:    {extra:,} in all; {per:,.0f} bytes = {per / chunk_b:.2f} chunks "
        f"per interruption (target: at most 1 chunk) "
        f"{'OK' if per <= chunk_b else 'OVER TARGET'}"
    )
    unsettled = len(out.videos) - len(published)
    pending = f"; {unsettled} of them complete on YouTube, task unfinished" if unsettled else ""
    print(
        f"quota units:            {out.units:,} spent, {INSERT_UNITS:,} x {len(published)} "
        f"published = {INSERT_UNITS * len(published):,}; wasted {wasted:,} "
        f"({out.sessions} upload sessions for {args.uploads} tasks{pending})"
    )
    print(
        f"videos on YouTube:      {len(out.videos)}; duplicates {duplicates} (must be 0); "
        f"wrong bytes {wrong} (must be 0)"
    )
    failed = [r for r in out.rows if r["state"] != TaskState.PUBLISHED.value]
    for row in failed[:5]:
        print(f"  not published: {row['title']} {row['state']} ({row['error']})")


def parser() -> argparse.ArgumentParser:
    """Return the benchmark's argument parser."""
    p = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    p.add_argument("--uploads", type=int, default=50)
    p.add_argument("--accounts", type=int, default=4, help="channels, one upload each at once")
    p.add_argument("--size-mb", type=float, nargs=2, default=(2.0, 6.0), metavar=("MIN", "MAX"))
    p.add_argument("--chunk-mb", type=int, default=1)
    p.add_argument("--fail", type=float, default=0.30, help="share of chunk PUTs answered 5xx/429")
    p.add_argument("--rate-limited", type=float, default=0.25, help="share of those that are 429")
    p.add_argument("--drop", type=float, default=0.08, help="share of chunk PUTs cut mid-chunk")
    p.add_argument("--lose-final", type=float, default=0.15, help="share of final answers lost")
    p.add_argument("--chunk-retries", type=int, default=3)
    p.add_argument("--chunk-retry-delay-s", type=float, default=0.005)
    p.add_argument("--retry-delays-s", type=float, nargs="+", default=[0.02, 0.05, 0.1])
    p.add_argument("--max-retries", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--deadline-s", type=float, default=150.0)
    p.add_argument("--stall-s", type=float, default=15.0, help="end a run nothing moves in")
    p.add_argument("--log-level", default="ERROR")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark once; return 1 if a video is duplicated or has the wrong bytes."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    # A failing timer callback is counted and summarised, not printed each time it fires.
    timers = TimerFailures()
    scheduler_log = logging.getLogger("apscheduler.executors.default")
    scheduler_log.addHandler(timers)
    scheduler_log.propagate = False
    with tempfile.TemporaryDirectory(prefix="pm-bench-faults-") as tmp:
        out, setup = asyncio.run(measure(args, Path(tmp)))
    report(args, out, setup)
    if timers.count:
        print(f"timer callbacks failed:  {timers.count} ({timers.first})")
    titles = Counter(title for title, _, _ in out.videos)
    wrong = any(setup.digests[t] != sha for t, _, sha in out.videos)
    return 1 if wrong or any(n > 1 for n in titles.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
