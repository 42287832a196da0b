"""Dispatch benchmark: how late the engine starts 1,000 small uploads due within one minute.

`python -m bench.dispatch` creates accounts, media and tasks directly in a SQLite file through
SqlStore, queues every task with a random due instant inside a one-minute window, and runs the
real Engine on the real SystemClock (APScheduler timers) with the real YouTubePublisher talking
HTTP to the YouTube sandbox in its own process. It prints the lateness of every upload start,
measured two ways:

- on the wire: the sandbox's `sessions[*].created_at` (matched by title), the moment the
  resumable session was created, after the token refresh;
- in the engine: the `uploading` row of publish_history (the dispatch pass's clock reading).

Each is taken against the later of the task's due instant and the moment its account became
free (the `published` row of the previous task on that account). The figures are medians and
tails of one run on a shared machine; they are not a test.

The sandbox runs out of process by default: in process its aiohttp handlers, JSON parsing,
hashing and file writes would run on the engine's own event loop and hold the engine's GIL, so
the emulator's work would be counted as engine lateness, while YouTube does that work elsewhere.
`--sandbox inprocess` measures that skew.

`--clock loop` runs the engine on LoopClock, SystemClock with its timer callbacks moved onto
the event loop: with core.clock.SystemClock as it stands, APScheduler calls Engine.wake in a
worker thread, where it raises, so no timer or sweep ever starts a task and the run stalls. The
run exits 1 when any task is not published (lost, stalled or failed), 0 otherwise; missing the
lateness target is reported, not an error.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import hashlib
import inspect
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from bench.emulator import YouTubeProcess, add_channel, get_json, percentile
from core.clock import SystemClock
from core.engine import Engine, EngineConfig
from core.models import Credentials, Privacy, TaskState, VideoMetadata
from core.settings import Settings
from media.store import LocalMediaStore
from platforms.youtube import YouTubePublisher
from sandbox.youtube import YouTubeSandbox
from storage.crypto import SecretBox
from storage.schema import publish_history, publish_tasks
from storage.store import SqlStore

TARGET_P99_MS = 1000.0
SECRET_KEY = "bench-secret-key-0123456789abcdef"
POLL_S = 0.5
#: A run in which no task has started this long after the first due instant has stalled.
STALL_S = 10.0
FINISHED = (TaskState.PUBLISHED.value, TaskState.FAILED.value, TaskState.CANCELLED.value)
TITLE = "bench task {:04d}"
#: The chunk size a deployment gets when PM_UPLOAD_CHUNK_MB is not set.
DEFAULT_CHUNK_B = Settings.model_fields["upload_chunk_mb"].default * 1024 * 1024


@dataclass
class Planned:
    """One benchmark task: what was asked, and what happened to it."""

    index: int
    account: int
    due: float
    task_id: int = 0
    claimed: float | None = None
    finished: float | None = None
    started: float | None = None
    sessions: int = 0


class Emulator(Protocol):
    """The YouTube sandbox as the benchmark uses it, in or out of this process."""

    url: str
    token_uri: str

    def add_channel(self, client_id: str, secret: str, refresh_token: str, title: str) -> str:
        """Register a channel and return its id."""
        ...

    def sessions(self) -> list[dict[str, Any]]:
        """Return every resumable session created so far."""
        ...


@dataclass
class RemoteEmulator:
    """The sandbox process, reached over HTTP."""

    process: YouTubeProcess

    @property
    def url(self) -> str:
        """Return the API root."""
        return self.process.url

    @property
    def token_uri(self) -> str:
        """Return the OAuth token endpoint."""
        return self.process.token_uri

    def add_channel(self, client_id: str, secret: str, refresh_token: str, title: str) -> str:
        """Register a channel through the sandbox's control endpoint."""
        return add_channel(self.url, client_id, secret, refresh_token, title)

    def sessions(self) -> list[dict[str, Any]]:
        """Read the sessions through the sandbox's inspection endpoint."""
        return list(get_json(self.url + "_sandbox/sessions"))


@dataclass
class LocalEmulator:
    """The sandbox on this process's event loop."""

    sandbox: YouTubeSandbox

    @property
    def url(self) -> str:
        """Return the API root."""
        return self.sandbox.url

    @property
    def token_uri(self) -> str:
        """Return the OAuth token endpoint."""
        return self.sandbox.token_uri

    def add_channel(self, client_id: str, secret: str, refresh_token: str, title: str) -> str:
        """Register a channel directly."""
        return self.sandbox.add_channel(client_id, secret, refresh_token, title=title)

    def sessions(self) -> list[dict[str, Any]]:
        """Return the sandbox's session records."""
        return [asdict(s) for s in self.sandbox.sessions]


class NullNotifier:
    """Implements core.ports.Notifier: says nothing, optionally after a Bot API-like delay."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls = 0

    async def task_changed(self, task_id: int) -> None:
        """Count the call, wait the configured delay, deliver nothing."""
        self.calls += 1
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)

    async def task_note(self, task_id: int, key: str, params: dict[str, str]) -> None:
        return None

    async def task_progress(self, task_id: int, sent: int, total: int) -> None:
        """Show nothing (a real notifier rate-limits progress; it is not what is measured)."""

    async def account_changed(self, account_id: int, previous: Any) -> None:
        """Tell nobody."""

    def __getattr__(self, name: str) -> Any:
        # Notifier grows while the engine does; a method added to it must not break the run.
        async def ignore(*args: Any, **kwargs: Any) -> None:
            return None

        return ignore


class TimedStore:
    """Passes every call through to the store, recording how long each awaited call took."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self.times_ms: dict[str, list[float]] = defaultdict(list)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                self.times_ms[name].append((time.perf_counter() - began) * 1000)

        return timed


async def watch_loop(lags_ms: list[float], period_s: float = 0.05) -> None:
    """Record how late each short sleep wakes up: the event loop's lag (runs until cancelled)."""
    while True:
        began = time.perf_counter()
        await asyncio.sleep(period_s)
        lags_ms.append((time.perf_counter() - began - period_s) * 1000)


class LoopClock(SystemClock):
    """SystemClock whose timer callbacks run on the event loop instead of in a worker thread.

    APScheduler's AsyncIOExecutor runs plain functions in the loop's default thread pool, where
    Engine.wake's `asyncio.get_running_loop()` raises; a coroutine job runs on the loop. This is
    the one-line change core/clock.py would need, kept here so the fixed engine can be measured.
    """

    def call_at(self, when: datetime, callback: Callable[[], None], key: str) -> None:
        """Run `callback` on the loop at `when`, replacing any timer armed under `key`."""

        async def on_loop() -> None:
            callback()

        super().call_at(when, on_loop, key)


class LogTally(logging.Handler):
    """Counts WARNING-and-above records per logger, keeping the first message of each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.first: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        """Count the record under its logger and message kind; remember the first of each."""
        text = record.getMessage()
        key = f"{record.name}: {text.split(' (trigger')[0][:60]}"
        self.counts[key] += 1
        if key not in self.first:
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                text += f" -> {type(exc).__name__}: {exc}"
            self.first[key] = text[:240]


def epoch(instant: datetime) -> float:
    """Return an aware instant as seconds since the epoch."""
    return instant.timestamp()


async def add_accounts(store: SqlStore, emulator: Emulator, count: int) -> list[int]:
    """Register `count` channels in the sandbox and store an account for each."""
    ids = []
    now = datetime.now(UTC)
    for i in range(count):
        client_id, secret, refresh = f"bench-client-{i}", f"bench-secret-{i}", f"bench-rt-{i}"
        channel_id = emulator.add_channel(client_id, secret, refresh, f"Bench channel {i}")
        account = await store.add_account(
            platform="youtube",
            name=f"bench-{i}",
            credentials=Credentials(client_id, secret, refresh, emulator.token_uri),
            channel_id=channel_id,
            channel_title=f"Bench channel {i}",
            timezone="UTC",
            now=now,
        )
        ids.append(account.id)
    return ids


async def add_drafts(
    store: SqlStore, media: LocalMediaStore, plan: list[Planned], accounts: list[int], size: int
) -> None:
    """Write one small random file per task, record it, and create the task as a draft."""
    rng = random.Random(len(plan))
    now = datetime.now(UTC)
    for item in plan:
        data = rng.randbytes(size)
        key = f"bench-{item.index:04d}.mp4"
        media.path(key).write_bytes(data)
        record = await store.add_media(
            key=key,
            sha256=hashlib.sha256(data).hexdigest(),
            size=size,
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
            account_id=accounts[item.account],
            chat_id=1,
            user_id=1,
            metadata=VideoMetadata(title=TITLE.format(item.index)),
            privacy=Privacy.PRIVATE,
            now=now,
        )
        item.task_id = task.id


async def queue_all(store: SqlStore, plan: list[Planned], origin: float) -> None:
    """Move every draft to queued, due `origin` plus its offset."""
    now = datetime.now(UTC)
    for item in plan:
        item.due += origin
        due_at = datetime.fromtimestamp(item.due, UTC)
        await store.transition(
            item.task_id, TaskState.QUEUED, now=now, actor="bench", due_at=due_at
        )


async def state_counts(store: SqlStore) -> Counter[str]:
    """Return how many tasks are in each state."""
    query = sa.select(publish_tasks.c.state, sa.func.count()).group_by(publish_tasks.c.state)
    async with store.engine.connect() as conn:
        return Counter({row[0]: row[1] for row in (await conn.execute(query)).all()})


async def wait_until_done(
    store: SqlStore, plan: list[Planned], grace_s: float, first_sweep: float
) -> str:
    """Poll the store until every task finished; return why the wait ended (bounded).

    A run where nothing started is called stalled once both STALL_S past the first due instant
    and the engine's first sweep have gone by, so the sweep (the safety net) had its chance.
    """
    stall_at = max(min(p.due for p in plan) + STALL_S, first_sweep + POLL_S * 4)
    deadline = max(p.due for p in plan) + grace_s
    while time.time() < deadline:
        counts = await state_counts(store)
        if sum(counts[s] for s in FINISHED) == len(plan):
            return "finished"
        untouched = counts[TaskState.QUEUED.value] + counts[TaskState.DRAFT.value]
        if time.time() > stall_at and untouched == len(plan):
            waited = time.time() - min(p.due for p in plan)
            return f"stalled: no task started {waited:.0f} s after the first due instant"
        await asyncio.sleep(POLL_S)
    return f"deadline: not every task finished {grace_s:.0f} s after the last due instant"


async def collect(store: SqlStore, emulator: Emulator, plan: list[Planned]) -> None:
    """Fill in claim, finish and wire-start times from publish_history and the sandbox."""
    by_task = {p.task_id: p for p in plan}
    query = (
        sa.select(publish_history.c.task_id, publish_history.c.to_state, publish_history.c.at)
        .where(publish_history.c.to_state.in_(["uploading", "published"]))
        .order_by(publish_history.c.id)
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    for task_id, to_state, at in rows:
        item = by_task[task_id]
        if to_state == "uploading" and item.claimed is None:
            item.claimed = epoch(at)
        elif to_state == "published":
            item.finished = epoch(at)
    by_title = {TITLE.format(p.index): p for p in plan}
    for session in emulator.sessions():
        matched = by_title.get(session["title"])
        if matched is not None:
            matched.sessions += 1
            started = float(session["created_at"])
            matched.started = started if matched.started is None else min(matched.started, started)


def lateness(plan: list[Planned]) -> tuple[list[float], list[float], int]:
    """Return wire and claim lateness in ms, and how many tasks waited for their account."""
    per_account: dict[int, list[Planned]] = defaultdict(list)
    for item in plan:
        if item.started is not None:
            per_account[item.account].append(item)
    wire, claim, account_bound = [], [], 0
    for items in per_account.values():
        items.sort(key=lambda p: p.started or 0.0)
        free = float("-inf")
        for item in items:
            reference = max(item.due, free)
            account_bound += free > item.due
            assert item.started is not None
            wire.append((item.started - reference) * 1000)
            if item.claimed is not None:
                claim.append((item.claimed - reference) * 1000)
            free = item.finished if item.finished is not None else float("inf")
    return wire, claim, account_bound


def peak_in_flight(plan: list[Planned]) -> int:
    """Return the most tasks that were between session created and published at one instant."""
    events = []
    for item in plan:
        if item.started is not None and item.finished is not None:
            events += [(item.started, 1), (item.finished, -1)]
    level = peak = 0
    for _, step in sorted(events):
        level += step
        peak = max(peak, level)
    return peak


@dataclass
class Outcome:
    """What one run measured."""

    plan: list[Planned]
    ending: str
    counts: Counter[str]
    setup_s: float
    lead_margin_s: float
    engine_started: float
    ended: float
    notifications: int
    loop_lag_ms: list[float]
    store_ms: dict[str, list[float]]


def make_plan(args: argparse.Namespace) -> list[Planned]:
    """Draw each task's account and offset inside the window from the fixed seed."""
    rng = random.Random(args.seed)
    return [
        Planned(i, rng.randrange(args.accounts), rng.uniform(0.0, args.window_s))
        for i in range(args.tasks)
    ]


@contextlib.asynccontextmanager
async def open_emulator(where: str, root: Path) -> AsyncIterator[Emulator]:
    """Start the YouTube sandbox in its own process or on this loop; stop it afterwards."""
    if where == "inprocess":
        sandbox = YouTubeSandbox(root / "youtube")
        await sandbox.start()
        try:
            yield LocalEmulator(sandbox)
        finally:
            await sandbox.stop()
        return
    with YouTubeProcess(root / "youtube", root / "youtube.log") as process:
        yield RemoteEmulator(process)


async def measure(args: argparse.Namespace, root: Path, emulator: Emulator) -> Outcome:
    """Set up the data, run the engine until every task finished (bounded), collect times."""
    store = await SqlStore.open(f"sqlite+aiosqlite:///{root / 'bench.db'}", SecretBox(SECRET_KEY))
    try:
        media = LocalMediaStore(root / "media")
        plan, setup_s = await set_up(args, store, media, emulator)
        return await run_engine(args, store, media, emulator, plan, setup_s)
    finally:
        await store.close()


async def set_up(
    args: argparse.Namespace, store: SqlStore, media: LocalMediaStore, emulator: Emulator
) -> tuple[list[Planned], float]:
    """Create accounts, media and drafts, then queue them; return the plan and set-up time."""
    plan = make_plan(args)
    began = time.monotonic()
    accounts = await add_accounts(store, emulator, args.accounts)
    await add_drafts(store, media, plan, accounts, args.media_kb * 1024)
    setup_s = time.monotonic() - began
    # Queueing costs about what creating the drafts did; the engine must be up before the first
    # due instant, or the benchmark's own set-up would count as lateness.
    await queue_all(store, plan, time.time() + max(args.lead_s, setup_s + 3.0))
    return plan, setup_s


async def run_engine(
    args: argparse.Namespace,
    store: SqlStore,
    media: LocalMediaStore,
    emulator: Emulator,
    plan: list[Planned],
    setup_s: float,
) -> Outcome:
    """Run the real engine over the store until the tasks finished, then collect the times."""
    clock = LoopClock() if args.clock == "loop" else SystemClock()
    notifier = NullNotifier(args.notify_delay_ms / 1000)
    publisher = YouTubePublisher(emulator.url, media, chunk_size=DEFAULT_CHUNK_B)
    config = EngineConfig(worker_id=f"bench:{os.getpid()}", max_parallel=args.max_parallel)
    timed = TimedStore(store)
    engine = Engine(timed, {publisher.platform: publisher}, media, notifier, clock, config)  # type: ignore[arg-type]
    lags_ms: list[float] = []
    watcher = asyncio.get_running_loop().create_task(watch_loop(lags_ms))
    clock.start()
    engine_started = time.time()
    try:
        await engine.start()
        ending = await wait_until_done(store, plan, args.grace_s, engine_started + config.sweep_s)
    finally:
        await engine.stop()
        clock.shutdown()
        watcher.cancel()
    ended = time.time()
    counts = await state_counts(store)
    await collect(store, emulator, plan)
    margin = min(p.due for p in plan) - engine_started
    return Outcome(
        plan,
        ending,
        counts,
        setup_s,
        margin,
        engine_started,
        ended,
        notifier.calls,
        lags_ms,
        timed.times_ms,
    )


def ms(values: list[float]) -> str:
    """Format p50, p99 and max of millisecond values."""
    if not values:
        return "no data"
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    return f"p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   max {max(values):7.1f} ms"


def report(args: argparse.Namespace, out: Outcome, tally: LogTally, wall_s: float) -> None:
    """Print the figures and the target."""
    plan = out.plan
    published = out.counts[TaskState.PUBLISHED.value]
    wire, claim, account_bound = lateness(plan)
    duplicates = sum(p.sessions > 1 for p in plan)
    finished = [p.finished for p in plan if p.finished is not None]
    first_due = min(p.due for p in plan)
    executor = args.executor_workers or min(32, (os.cpu_count() or 1) + 4)
    print(
        f"dispatch benchmark: {args.tasks} tasks due within {args.window_s:.0f} s over "
        f"{args.accounts} accounts (seed {args.seed}, {args.media_kb} KiB each); load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"  engine: Engine + SqlStore (SQLite file) + YouTubePublisher over HTTP, clock "
        f"{'SystemClock' if args.clock == 'system' else 'LoopClock'}, "
        f"max_parallel {args.max_parallel}, notifier no-op"
        + (f" +{args.notify_delay_ms:.0f} ms" if args.notify_delay_ms else "")
    )
    print(
        f"  YouTube sandbox: {args.sandbox}; default thread pool {executor} workers "
        f"({os.cpu_count()} CPUs)"
    )
    print(f"  run ended: {out.ending}")
    states = ", ".join(f"{k} {v}" for k, v in sorted(out.counts.items()))
    print(
        f"  published {published}/{len(plan)} ({states}); duplicate uploads {duplicates}; "
        f"notifications {out.notifications}"
    )
    print(f"  lateness, upload start on the wire (sandbox session created_at): {ms(wire)}")
    print(f"  lateness, engine claim (publish_history 'uploading' at):         {ms(claim)}")
    verdict = "met" if wire and percentile(wire, 0.99) < TARGET_P99_MS else "NOT met"
    print(f"  target: wire p99 < {TARGET_P99_MS:.0f} ms: {verdict}")
    print(
        f"  reference was the account becoming free for {account_bound} tasks; "
        f"peak uploads in flight (session created -> published) {peak_in_flight(plan)}"
    )
    span = f"{max(finished) - first_due:.1f} s" if finished else "n/a"
    print(
        f"  wall time: set-up {out.setup_s:.1f} s, engine up {out.lead_margin_s:.1f} s before "
        f"the first due instant, first due -> last published {span}, total {wall_s:.1f} s"
    )
    print_diagnostics(out)
    for key, count in tally.counts.most_common():
        print(f"  log records >= WARNING: {count} x {tally.first[key]}")


def print_diagnostics(out: Outcome) -> None:
    """Print where the time between due instant and published went."""
    done = [p for p in out.plan if p.claimed and p.started and p.finished]
    if not done:
        return
    to_wire = [(p.started - p.claimed) * 1000 for p in done if p.started and p.claimed]
    to_done = [(p.finished - p.started) * 1000 for p in done if p.finished and p.started]
    print("  where the time went:")
    print(f"    claim -> session created:     {ms(to_wire)}")
    print(f"    session created -> published: {ms(to_done)}")
    print(f"    event-loop lag (50 ms sleeps): {ms(out.loop_lag_ms)}")
    for name, values in sorted(out.store_ms.items(), key=lambda kv: -sum(kv[1])):
        print(f"    store.{name:<18} x{len(values):<5} {ms(values)}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.dispatch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--window-s", type=float, default=60.0)
    parser.add_argument("--media-kb", type=int, default=256)
    parser.add_argument("--max-parallel", type=int, default=32, help="EngineConfig.max_parallel")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--lead-s", type=float, default=5.0, help="least wait before the window")
    parser.add_argument(
        "--grace-s",
        type=float,
        default=90.0,
        help="how long after the last due instant to wait for the last task",
    )
    parser.add_argument("--sandbox", choices=["subprocess", "inprocess"], default="subprocess")
    parser.add_argument(
        "--clock",
        choices=["system", "loop"],
        default="system",
        help="system: core.clock.SystemClock as is; loop: its timer callbacks "
        "moved onto the event loop (see LoopClock)",
    )
    parser.add_argument(
        "--executor-workers",
        type=int,
        help="what-if: give the loop a default thread pool of this size (the publisher and "
        "APScheduler run in it; asyncio's default is min(32, CPUs + 4))",
    )
    parser.add_argument(
        "--notify-delay-ms",
        type=float,
        default=0.0,
        help="make each notification take this long, like a Bot API call",
    )
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> int:
    """Run the benchmark and print its report; return the exit status."""
    if args.executor_workers:
        pool = concurrent.futures.ThreadPoolExecutor(args.executor_workers)
        asyncio.get_running_loop().set_default_executor(pool)
    tally = LogTally()
    logging.getLogger().addHandler(tally)
    logging.getLogger().setLevel(logging.WARNING)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pm-bench-dispatch-") as tmp:
        async with open_emulator(args.sandbox, Path(tmp)) as emulator:
            outcome = await measure(args, Path(tmp), emulator)
    report(args, outcome, tally, time.monotonic() - began)
    lost = len(outcome.plan) - outcome.counts[TaskState.PUBLISHED.value]
    if lost:
        print(f"run broken: {lost} of {len(outcome.plan)} tasks were not published")
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m bench.dispatch`."""
    sys.exit(asyncio.run(main_async(parse_args(argv))))


if __name__ == "__main__":
    main()
