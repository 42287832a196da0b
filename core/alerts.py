"""Alert rules, and the state machine that fires, repeats and resolves each alert.

Every evaluation turns the rules into the set of conditions that hold now, each under a stable
key (`quota:<project>`, `account_status:<id>:<status>`, ...). A condition without an open alert
fires; an open alert whose condition still holds repeats once its cooldown has passed; an open
alert whose condition no longer holds is resolved. Open alerts are stored, so a restart neither
fires them again nor forgets to resolve them. A task that failed for good is an event, not a
condition: it is told once (a stored cursor over the history remembers which were told) and has
nothing to resolve.

An account's status change is told once. A change made in this process (by the engine, its
health rules or a person) runs an evaluation at once; one made elsewhere (the command line,
another process) is found by the next check on the timer. Evaluations never overlap. An account
that moves from one alerting status to another gets one notice, for the new status; the old
alert resolves without one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from core.models import AccountStatus
from core.ports import ChatOutbox, Clock
from core.reports import HistoryEvent, error_rate, outcome_counts

logger = logging.getLogger(__name__)

Params = dict[str, str | int | float | None]
#: The cursor over publish_history ids of failures already told.
FAILED_CURSOR = "alerts:task_failed"
#: At most this many failures are told per evaluation; the rest wait for the next one.
MAX_FAILURES_PER_CHECK = 20
#: Account statuses that raise an alert.
ALERTING_STATUSES = frozenset(
    {
        AccountStatus.ERROR,
        AccountStatus.RATE_LIMITED,
        AccountStatus.NEEDS_AUTH,
        AccountStatus.SUSPENDED,
    }
)


class AlertKind(StrEnum):
    """The kinds of alert; a chat can mute each one."""

    ERROR_RATE = "error_rate"
    QUEUE_SIZE = "queue_size"
    ACCOUNT_STATUS = "account_status"
    QUOTA = "quota"
    SCHEDULER_STUCK = "scheduler_stuck"
    TASK_FAILED = "task_failed"


class Phase(StrEnum):
    """What a notice says about its alert."""

    FIRED = "fired"
    REPEATED = "repeated"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class AlertThresholds:
    """When the rules hold, and how often a holding alert repeats."""

    error_rate: float = 0.10
    error_min_attempts: int = 5
    window_s: float = 3600.0
    queue_size: int = 100
    quota_ratio: float = 0.90
    stuck_s: float = 300.0
    cooldown_s: float = 3600.0


@dataclass(frozen=True)
class Condition:
    """A rule that holds now, under a key that stays the same while it holds."""

    key: str
    kind: AlertKind
    params: Params


@dataclass(frozen=True)
class AlertRecord:
    """The stored state of an open (or just resolved) alert."""

    key: str
    kind: AlertKind
    params: Params
    fired_at: datetime
    last_sent_at: datetime
    sent_count: int = 1
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class AlertNotice:
    """One message to the alert chats: an alert fired, still holds, or was resolved."""

    kind: AlertKind
    phase: Phase
    params: Params
    since: datetime
    at: datetime


@dataclass(frozen=True)
class AccountState:
    """An account's latest status change (from account_events)."""

    account_id: int
    name: str
    status: AccountStatus
    reason: str | None
    until: datetime | None
    at: datetime


@dataclass(frozen=True)
class StuckTask:
    """A task due for a while whose account is idle: nothing has dispatched it."""

    task_id: int
    account_id: int | None
    due_at: datetime


@dataclass(frozen=True)
class FailureEvent:
    """A publish_history row that moved a task to failed."""

    history_id: int
    task_id: int
    account_name: str | None
    title: str
    error: str | None
    at: datetime


class AlertSource(Protocol):
    """What the rules read (storage.observe.ObserveStore)."""

    async def history_since(self, since: datetime) -> list[HistoryEvent]:
        """Return history rows at or after `since`, oldest first."""
        ...

    async def waiting_count(self) -> int:
        """Return how many tasks wait (queued or retry_wait)."""
        ...

    async def account_states(self) -> list[AccountState]:
        """Return each account's latest status change."""
        ...

    async def project_quota_usage(self, now: datetime) -> list[tuple[str, int, int]]:
        """Return (project, units used today, daily units) for every project."""
        ...

    async def stuck_tasks(self, now: datetime, older_than_s: float) -> list[StuckTask]:
        """Return tasks due for longer than `older_than_s` whose account has nothing in flight."""
        ...

    async def failures_after(self, history_id: int, limit: int) -> list[FailureEvent]:
        """Return failures recorded after a history id, oldest first."""
        ...

    async def last_history_id(self) -> int:
        """Return the newest publish_history id (0 for none)."""
        ...


class AlertStateStore(Protocol):
    """Where alert state, cursors and chat mutes are kept (storage.observe.ObserveStore)."""

    async def open_alerts(self) -> list[AlertRecord]:
        """Return every alert that has not been resolved."""
        ...

    async def save_alert(self, record: AlertRecord) -> None:
        """Insert or replace an alert's state."""
        ...

    async def muted_kinds(self) -> dict[int, frozenset[str]]:
        """Return the kinds each chat has muted."""
        ...

    async def get_cursor(self, name: str) -> int | None:
        """Return a stored position, or None."""
        ...

    async def set_cursor(self, name: str, value: int) -> None:
        """Store a position."""
        ...


#: Renders a notice as the Telegram HTML posted to the alert chats.
Renderer = Callable[[AlertNotice], str]
Rule = Callable[[datetime], Awaitable[list[Condition]]]


class AlertEvaluator:
    """Evaluates the rules and posts what fired, repeated or resolved to the alert chats."""

    def __init__(
        self,
        source: AlertSource,
        state: AlertStateStore,
        outbox: ChatOutbox,
        chat_ids: list[int],
        render: Renderer,
        clock: Clock,
        thresholds: AlertThresholds | None = None,
    ) -> None:
        self._source = source
        self._state = state
        self._outbox = outbox
        self._chats = list(chat_ids)
        self._render = render
        self._clock = clock
        self._limits = thresholds or AlertThresholds()
        # An evaluation on the timer and one run for a status change must not both fire.
        self._lock = asyncio.Lock()
        self._rules: Mapping[AlertKind, Rule] = {
            AlertKind.ERROR_RATE: self._error_rate,
            AlertKind.QUEUE_SIZE: self._queue_size,
            AlertKind.ACCOUNT_STATUS: self._account_status,
            AlertKind.QUOTA: self._quota,
            AlertKind.SCHEDULER_STUCK: self._stuck,
        }

    async def evaluate(self) -> list[AlertNotice]:
        """Run every rule once; post and return the notices that came of it."""
        async with self._lock:
            return await self._evaluate()

    async def _evaluate(self) -> list[AlertNotice]:
        now = self._clock.now()
        holding: dict[str, Condition] = {}
        checked: set[AlertKind] = set()
        for kind, rule in self._rules.items():
            try:
                conditions = await rule(now)
            except Exception:
                # A rule that cannot be read neither fires nor resolves anything.
                logger.exception("alert rule %s failed", kind, extra={"action": "alert_error"})
                continue
            checked.add(kind)
            holding.update((c.key, c) for c in conditions)
        notices = await self._transitions(holding, checked, now)
        notices += await self._failures(now)
        await self._deliver(notices)
        return notices

    async def _transitions(
        self, holding: dict[str, Condition], checked: set[AlertKind], now: datetime
    ) -> list[AlertNotice]:
        cooldown = timedelta(seconds=self._limits.cooldown_s)
        notices: list[AlertNotice] = []
        open_alerts = {r.key: r for r in await self._state.open_alerts()}
        for key, condition in holding.items():
            record = open_alerts.get(key)
            if record is None:
                record = AlertRecord(key, condition.kind, condition.params, now, now)
                notices.append(self._notice(record, Phase.FIRED, now))
            elif now - record.last_sent_at >= cooldown:
                record = replace(
                    record,
                    params=condition.params,
                    last_sent_at=now,
                    sent_count=record.sent_count + 1,
                )
                notices.append(self._notice(record, Phase.REPEATED, now))
            elif record.params != condition.params:
                record = replace(record, params=condition.params)
            else:
                continue
            await self._state.save_alert(record)
        for key, record in open_alerts.items():
            if key in holding or record.kind not in checked:
                continue
            resolved = replace(record, resolved_at=now, last_sent_at=now)
            await self._state.save_alert(resolved)
            notices.append(self._notice(resolved, Phase.RESOLVED, now))
        return _one_per_account_change(notices)

    async def _failures(self, now: datetime) -> list[AlertNotice]:
        cursor = await self._state.get_cursor(FAILED_CURSOR)
        if cursor is None:
            # The first evaluation ever starts from now: old failures were told by their cards.
            await self._state.set_cursor(FAILED_CURSOR, await self._source.last_history_id())
            return []
        failures = await self._source.failures_after(cursor, MAX_FAILURES_PER_CHECK)
        if not failures:
            return []
        await self._state.set_cursor(FAILED_CURSOR, failures[-1].history_id)
        return [
            AlertNotice(
                AlertKind.TASK_FAILED,
                Phase.FIRED,
                {
                    "task_id": f.task_id,
                    "account": f.account_name,
                    "title": f.title,
                    "error": f.error,
                },
                f.at,
                now,
            )
            for f in failures
        ]

    async def _deliver(self, notices: list[AlertNotice]) -> None:
        if not notices or not self._chats:
            return
        muted = await self._state.muted_kinds()
        for notice in notices:
            body = self._render(notice)
            logger.info(
                "alert %s %s",
                notice.kind.value,
                notice.phase.value,
                extra={"action": f"alert_{notice.phase.value}", "alert": notice.kind.value},
            )
            for chat_id in self._chats:
                if notice.kind.value in muted.get(chat_id, frozenset()):
                    continue
                try:
                    await self._outbox.post(chat_id, body)
                except Exception:
                    logger.exception("alert not posted to chat %s", chat_id)

    def _notice(self, record: AlertRecord, phase: Phase, now: datetime) -> AlertNotice:
        return AlertNotice(record.kind, phase, dict(record.params), record.fired_at, now)

    # -- rules ----------------------------------------------------------------------------------

    async def _error_rate(self, now: datetime) -> list[Condition]:
        since = now - timedelta(seconds=self._limits.window_s)
        ok, errors = outcome_counts(await self._source.history_since(since))
        rate = error_rate(ok, errors)
        if rate is None or ok + errors < self._limits.error_min_attempts:
            return []
        if rate <= self._limits.error_rate:
            return []
        params: Params = {
            "rate": round(rate, 4),
            "errors": errors,
            "attempts": ok + errors,
            "window_s": self._limits.window_s,
            "threshold": self._limits.error_rate,
        }
        return [Condition("error_rate", AlertKind.ERROR_RATE, params)]

    async def _queue_size(self, now: datetime) -> list[Condition]:
        waiting = await self._source.waiting_count()
        if waiting <= self._limits.queue_size:
            return []
        params: Params = {"waiting": waiting, "threshold": self._limits.queue_size}
        return [Condition("queue_size", AlertKind.QUEUE_SIZE, params)]

    async def _account_status(self, now: datetime) -> list[Condition]:
        found = []
        for state in await self._source.account_states():
            if state.status not in ALERTING_STATUSES:
                continue
            if state.until is not None and state.until <= now:
                continue  # the status has expired: the account is usable again
            params: Params = {
                "account_id": state.account_id,
                "account": state.name,
                "status": state.status.value,
                "reason": state.reason,
                "until": state.until.isoformat() if state.until else None,
            }
            key = f"account_status:{state.account_id}:{state.status.value}"
            found.append(Condition(key, AlertKind.ACCOUNT_STATUS, params))
        return found

    async def _quota(self, now: datetime) -> list[Condition]:
        found = []
        for project, used, limit in await self._source.project_quota_usage(now):
            if limit <= 0 or used / limit <= self._limits.quota_ratio:
                continue
            params: Params = {
                "project": project,
                "used": used,
                "limit": limit,
                "ratio": round(used / limit, 4),
            }
            found.append(Condition(f"quota:{project}", AlertKind.QUOTA, params))
        return found

    async def _stuck(self, now: datetime) -> list[Condition]:
        stuck = await self._source.stuck_tasks(now, self._limits.stuck_s)
        if not stuck:
            return []
        oldest = min(stuck, key=lambda t: t.due_at)
        params: Params = {
            "count": len(stuck),
            "task_id": oldest.task_id,
            "late_s": int((now - oldest.due_at).total_seconds() // 60 * 60),
            "threshold_s": self._limits.stuck_s,
        }
        return [Condition("scheduler_stuck", AlertKind.SCHEDULER_STUCK, params)]


def _one_per_account_change(notices: list[AlertNotice]) -> list[AlertNotice]:
    """Drop the resolved notice of an account whose new alerting status fires now."""
    fired = {
        n.params.get("account_id")
        for n in notices
        if n.kind is AlertKind.ACCOUNT_STATUS and n.phase is Phase.FIRED
    }
    return [
        n
        for n in notices
        if not (
            n.kind is AlertKind.ACCOUNT_STATUS
            and n.phase is Phase.RESOLVED
            and n.params.get("account_id") in fired
        )
    ]
