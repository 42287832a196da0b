"""The alert state machine: fire once, repeat after the cooldown, resolve, mutes, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from core.alerts import (
    FAILED_CURSOR,
    AccountState,
    AlertEvaluator,
    AlertKind,
    AlertNotice,
    AlertRecord,
    AlertThresholds,
    FailureEvent,
    Phase,
    StuckTask,
)
from core.clock import ManualClock
from core.models import AccountStatus, TaskState
from core.reports import HistoryEvent

S = TaskState
START = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
CHAT = -1001
OTHER_CHAT = -1002


@dataclass
class Source:
    """What the rules read, set by each test."""

    events: list[HistoryEvent] = field(default_factory=list)
    waiting: int = 0
    accounts: list[AccountState] = field(default_factory=list)
    quota: list[tuple[str, int, int]] = field(default_factory=list)
    stuck: list[StuckTask] = field(default_factory=list)
    failures: list[FailureEvent] = field(default_factory=list)
    broken: bool = False

    async def history_since(self, since: datetime) -> list[HistoryEvent]:
        return [e for e in self.events if e.at >= since]

    async def waiting_count(self) -> int:
        if self.broken:
            raise RuntimeError("database is gone")
        return self.waiting

    async def account_states(self) -> list[AccountState]:
        return self.accounts

    async def project_quota_usage(self, now: datetime) -> list[tuple[str, int, int]]:
        return self.quota

    async def stuck_tasks(self, now: datetime, older_than_s: float) -> list[StuckTask]:
        return [t for t in self.stuck if (now - t.due_at).total_seconds() > older_than_s]

    async def failures_after(self, history_id: int, limit: int) -> list[FailureEvent]:
        return [f for f in self.failures if f.history_id > history_id][:limit]

    async def last_history_id(self) -> int:
        return max((f.history_id for f in self.failures), default=0)


@dataclass
class State:
    """Alert state kept in memory the way the database keeps it."""

    alerts: dict[str, AlertRecord] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)
    mutes: dict[int, frozenset[str]] = field(default_factory=dict)

    async def open_alerts(self) -> list[AlertRecord]:
        return [a for a in self.alerts.values() if a.resolved_at is None]

    async def save_alert(self, record: AlertRecord) -> None:
        self.alerts[record.key] = record

    async def muted_kinds(self) -> dict[int, frozenset[str]]:
        return self.mutes

    async def get_cursor(self, name: str) -> int | None:
        return self.cursors.get(name)

    async def set_cursor(self, name: str, value: int) -> None:
        self.cursors[name] = value


@dataclass
class Outbox:
    """Records what would be posted."""

    posts: list[tuple[int, str]] = field(default_factory=list)

    async def post(
        self,
        chat_id: int,
        body: str,
        *,
        reply_to: int | None = None,
        task_id: int | None = None,
        photo_key: str | None = None,
    ) -> None:
        self.posts.append((chat_id, body))


def _render(notice: AlertNotice) -> str:
    return f"{notice.kind.value}:{notice.phase.value}:{notice.params.get('key', '')}"


@dataclass
class Rig:
    source: Source
    state: State
    outbox: Outbox
    clock: ManualClock

    def evaluator(self, chats: list[int] | None = None) -> AlertEvaluator:
        """Return a fresh evaluator over the same state, as a restarted process would build."""
        return AlertEvaluator(
            self.source,
            self.state,
            self.outbox,
            chats or [CHAT],
            _render,
            self.clock,
            AlertThresholds(cooldown_s=600, window_s=3600, stuck_s=300),
        )

    async def run(self) -> list[tuple[AlertKind, Phase]]:
        """Evaluate once; return what was told."""
        return [(n.kind, n.phase) for n in await self.evaluator().evaluate()]


@pytest.fixture
def rig() -> Rig:
    return Rig(Source(), State(), Outbox(), ManualClock(START))


def _errors(rig: Rig, ok: int, failed: int) -> None:
    at = rig.clock.now()
    rig.source.events = [HistoryEvent(i, 1, S.PROCESSING, S.PUBLISHED, at) for i in range(ok)] + [
        HistoryEvent(100 + i, 1, S.UPLOADING, S.RETRY_WAIT, at) for i in range(failed)
    ]


def _hold(rig: Rig, kind: AlertKind) -> None:
    now = rig.clock.now()
    if kind is AlertKind.ERROR_RATE:
        _errors(rig, 8, 2)
    elif kind is AlertKind.QUEUE_SIZE:
        rig.source.waiting = 101
    elif kind is AlertKind.ACCOUNT_STATUS:
        rig.source.accounts = [
            AccountState(1, "main", AccountStatus.NEEDS_AUTH, "invalid_grant", None, now)
        ]
    elif kind is AlertKind.QUOTA:
        rig.source.quota = [("client-1", 9600, 10000)]
    elif kind is AlertKind.SCHEDULER_STUCK:
        rig.source.stuck = [StuckTask(3, 1, now - timedelta(minutes=6))]


def _clear(rig: Rig, kind: AlertKind) -> None:
    now = rig.clock.now()
    if kind is AlertKind.ERROR_RATE:
        _errors(rig, 10, 1)  # 9.1%: under the threshold
    elif kind is AlertKind.QUEUE_SIZE:
        rig.source.waiting = 100
    elif kind is AlertKind.ACCOUNT_STATUS:
        rig.source.accounts = [AccountState(1, "main", AccountStatus.ACTIVE, None, None, now)]
    elif kind is AlertKind.QUOTA:
        rig.source.quota = [("client-1", 8000, 10000)]
    elif kind is AlertKind.SCHEDULER_STUCK:
        rig.source.stuck = []


CONDITION_KINDS = [k for k in AlertKind if k is not AlertKind.TASK_FAILED]


@pytest.mark.parametrize("kind", CONDITION_KINDS)
async def test_an_alert_fires_once_repeats_after_its_cooldown_and_resolves(
    rig: Rig, kind: AlertKind
) -> None:
    await rig.run()  # the first run starts the failure cursor; nothing holds yet
    _hold(rig, kind)
    assert await rig.run() == [(kind, Phase.FIRED)]
    rig.clock.advance(timedelta(seconds=599))
    _hold(rig, kind)
    assert await rig.run() == []
    rig.clock.advance(timedelta(seconds=1))
    _hold(rig, kind)
    assert await rig.run() == [(kind, Phase.REPEATED)]
    rig.clock.advance(timedelta(seconds=60))
    _clear(rig, kind)
    assert await rig.run() == [(kind, Phase.RESOLVED)]
    assert await rig.run() == []
    assert [body.split(":")[1] for _, body in rig.outbox.posts] == [
        "fired",
        "repeated",
        "resolved",
    ]


async def test_an_open_alert_survives_a_new_evaluator_as_after_a_restart(rig: Rig) -> None:
    rig.source.waiting = 500
    assert await rig.run() == [(AlertKind.QUEUE_SIZE, Phase.FIRED)]
    rig.clock.advance(timedelta(seconds=120))
    assert await rig.run() == []  # a new evaluator (restart) does not fire it again
    rig.source.waiting = 0
    assert await rig.run() == [(AlertKind.QUEUE_SIZE, Phase.RESOLVED)]


async def test_an_error_rate_needs_enough_attempts(rig: Rig) -> None:
    _errors(rig, 0, 4)  # 100% of 4 attempts: under the minimum of 5
    assert await rig.run() == []
    _errors(rig, 0, 5)
    assert await rig.run() == [(AlertKind.ERROR_RATE, Phase.FIRED)]


async def test_errors_older_than_the_window_do_not_count(rig: Rig) -> None:
    _errors(rig, 0, 10)
    assert await rig.run() == [(AlertKind.ERROR_RATE, Phase.FIRED)]
    rig.clock.advance(timedelta(seconds=3601))
    assert await rig.run() == [(AlertKind.ERROR_RATE, Phase.RESOLVED)]


async def test_an_account_moving_to_another_bad_status_is_one_new_alert(rig: Rig) -> None:
    now = rig.clock.now()
    rig.source.accounts = [AccountState(1, "main", AccountStatus.RATE_LIMITED, "x", None, now)]
    assert await rig.run() == [(AlertKind.ACCOUNT_STATUS, Phase.FIRED)]
    rig.source.accounts = [AccountState(1, "main", AccountStatus.SUSPENDED, "y", None, now)]
    assert await rig.run() == [(AlertKind.ACCOUNT_STATUS, Phase.FIRED)]
    [still_open] = await rig.state.open_alerts()  # the rate limit resolved without a notice
    assert still_open.key == "account_status:1:suspended"


async def test_an_account_status_whose_expiry_passed_resolves(rig: Rig) -> None:
    until = rig.clock.now() + timedelta(hours=1)
    rig.source.accounts = [
        AccountState(1, "main", AccountStatus.RATE_LIMITED, "uploadLimitExceeded", until, START)
    ]
    assert await rig.run() == [(AlertKind.ACCOUNT_STATUS, Phase.FIRED)]
    rig.clock.advance(timedelta(hours=1))
    assert await rig.run() == [(AlertKind.ACCOUNT_STATUS, Phase.RESOLVED)]


async def test_a_rule_that_cannot_be_read_neither_fires_nor_resolves(rig: Rig) -> None:
    rig.source.waiting = 500
    assert await rig.run() == [(AlertKind.QUEUE_SIZE, Phase.FIRED)]
    rig.source.broken = True
    rig.clock.advance(timedelta(hours=2))
    assert await rig.run() == []
    assert [a.kind for a in await rig.state.open_alerts()] == [AlertKind.QUEUE_SIZE]


async def test_a_task_failed_for_good_is_told_once_even_across_restarts(rig: Rig) -> None:
    old = FailureEvent(5, 1, "main", "old one", "invalidTitle", START)
    rig.source.failures = [old]
    assert await rig.run() == []  # failures from before monitoring started are not told
    assert rig.state.cursors[FAILED_CURSOR] == 5
    rig.source.failures.append(FailureEvent(9, 2, "main", "new", "invalidTitle", START))
    assert await rig.run() == [(AlertKind.TASK_FAILED, Phase.FIRED)]
    assert await rig.run() == []
    rig.clock.advance(timedelta(days=1))
    assert await rig.run() == []


async def test_a_muted_kind_is_not_posted_to_that_chat_only(rig: Rig) -> None:
    rig.state.mutes = {CHAT: frozenset({AlertKind.QUEUE_SIZE.value})}
    rig.source.waiting = 500
    notices = await rig.evaluator([CHAT, OTHER_CHAT]).evaluate()
    assert [n.phase for n in notices] == [Phase.FIRED]
    assert [chat for chat, _ in rig.outbox.posts] == [OTHER_CHAT]
