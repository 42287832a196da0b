"""The queries behind reports, live stats, the calendar, alerts and metrics; alert state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping

from core.alerts import AccountState, AlertKind, AlertRecord, FailureEvent, StuckTask
from core.models import Account, AccountStatus, TaskState
from core.reports import (
    ACTIVE_STATES,
    WAITING_STATES,
    HistoryEvent,
    OpenTask,
    TaskRecord,
    Transition,
    failure_class,
    is_error,
)
from core.retry import QUOTA_RESET_ZONE
from storage.schema import (
    account_events,
    accounts,
    alert_cursors,
    alert_mutes,
    alert_state,
    api_calls,
    media,
    publish_history,
    publish_tasks,
)
from storage.store import SqlStore

S = TaskState
_WAITING = [s.value for s in WAITING_STATES]
_ACTIVE = [s.value for s in ACTIVE_STATES]
_OUTCOMES = [S.PUBLISHED.value, S.FAILED.value]


@dataclass(frozen=True)
class MetricsSnapshot:
    """What /metrics shows, read in one go at scrape time."""

    tasks_by_state: dict[str, int]
    uploads_by_account: dict[str, int]
    failures_by_account_class: dict[tuple[str, str], int]
    upload_bytes_by_account: dict[str, int]
    quota: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def queue_length(self) -> int:
        """Return how many tasks wait (queued or retry_wait)."""
        return sum(self.tasks_by_state.get(s, 0) for s in _WAITING)


class ObserveStore:
    """Read-mostly queries over tasks, history, accounts and account events, and alert state.

    It shares the SqlStore's engine; it implements core.reports.ObserveSource,
    core.alerts.AlertSource and core.alerts.AlertStateStore.
    """

    def __init__(
        self,
        store: SqlStore,
        *,
        quota_units_per_upload: int = 1600,
        quota_daily_units: int = 10_000,
        max_parallel: int = 4,
    ) -> None:
        self._store = store
        self._engine = store.engine
        self._units_per_upload = quota_units_per_upload
        self._daily_units = quota_daily_units
        self._max_parallel = max_parallel

    # -- reports and stats --------------------------------------------------------------------

    async def report_records(self, start: datetime, end: datetime) -> list[TaskRecord]:
        """Return tasks with a published or failed transition in [start, end), with history."""
        h, t = publish_history, publish_tasks
        ids = (
            sa.select(h.c.task_id)
            .where(h.c.to_state.in_(_OUTCOMES), h.c.at >= start, h.c.at < end)
            .distinct()
            .scalar_subquery()
        )
        tasks = (
            sa.select(t.c.id, t.c.account_id, accounts.c.name, t.c.title, t.c.created_at)
            .add_columns(t.c.error)
            .select_from(t.outerjoin(accounts, t.c.account_id == accounts.c.id))
            .where(t.c.id.in_(ids))
            .order_by(t.c.id)
        )
        rows = sa.select(h).where(h.c.task_id.in_(ids)).order_by(h.c.task_id, h.c.id)
        async with self._engine.connect() as conn:
            task_rows = (await conn.execute(tasks)).all()
            history_rows = (await conn.execute(rows)).all()
        transitions: dict[int, list[Transition]] = {}
        for r in history_rows:
            transitions.setdefault(r.task_id, []).append(_transition(r._mapping))
        return [
            TaskRecord(
                task_id=r.id,
                account_id=r.account_id,
                account_name=r.name,
                title=r.title,
                created_at=r.created_at,
                error=r.error,
                transitions=tuple(transitions.get(r.id, [])),
            )
            for r in task_rows
        ]

    async def open_tasks(self) -> list[OpenTask]:
        """Return every waiting or in-flight task."""
        t = publish_tasks
        query = (
            sa.select(t.c.id, t.c.account_id, t.c.state, t.c.due_at, t.c.title)
            .where(t.c.state.in_(_WAITING + _ACTIVE))
            .order_by(t.c.due_at, t.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [OpenTask(r.id, r.account_id, S(r.state), r.due_at, r.title) for r in rows]

    async def history_since(self, since: datetime) -> list[HistoryEvent]:
        """Return history rows at or after `since` with each task's account, oldest first."""
        h, t = publish_history, publish_tasks
        query = (
            sa.select(h, t.c.account_id)
            .select_from(h.join(t, h.c.task_id == t.c.id))
            .where(h.c.at >= since)
            .order_by(h.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            HistoryEvent(
                r.task_id,
                r.account_id,
                S(r.from_state) if r.from_state else None,
                S(r.to_state),
                r.at,
                r.detail,
            )
            for r in rows
        ]

    async def accounts(self) -> list[Account]:
        """Return every account."""
        return await self._store.list_accounts()

    async def waiting_count(self) -> int:
        """Return how many tasks wait (queued or retry_wait)."""
        query = sa.select(sa.func.count()).where(publish_tasks.c.state.in_(_WAITING))
        async with self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    # -- alert sources ------------------------------------------------------------------------

    async def account_states(self) -> list[AccountState]:
        """Return each account's latest status change from account_events."""
        e = account_events
        latest = sa.select(sa.func.max(e.c.id)).group_by(e.c.account_id).scalar_subquery()
        query = (
            sa.select(e, accounts.c.name)
            .select_from(e.join(accounts, e.c.account_id == accounts.c.id))
            .where(e.c.id.in_(latest))
            .order_by(e.c.account_id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AccountState(r.account_id, r.name, AccountStatus(r.to_status), r.reason, r.until, r.at)
            for r in rows
        ]

    async def add_account_event(
        self,
        account_id: int,
        to_status: AccountStatus,
        *,
        at: datetime,
        from_status: AccountStatus | None = None,
        reason: str | None = None,
        until: datetime | None = None,
    ) -> None:
        """Append an account status change (the engine appends these; tests use this too)."""
        values = {
            "account_id": account_id,
            "from_status": from_status.value if from_status else None,
            "to_status": to_status.value,
            "reason": reason,
            "until": until,
            "at": at,
        }
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(account_events).values(values))

    async def project_quota_usage(self, now: datetime) -> list[tuple[str, int, int]]:
        """Return (project, units used today, daily units) for every project (OAuth client).

        The units are the quota ledger's: every API call charged on today's Pacific day.
        """
        today = now.astimezone(QUOTA_RESET_ZONE).date().isoformat()
        used = (
            sa.select(api_calls.c.client_id, sa.func.sum(api_calls.c.units))
            .where(api_calls.c.project_day == today)
            .group_by(api_calls.c.client_id)
        )
        projects = sa.select(accounts.c.client_id).distinct().order_by(accounts.c.client_id)
        async with self._engine.connect() as conn:
            counts = {r[0]: int(r[1] or 0) for r in (await conn.execute(used)).all()}
            names = [r[0] for r in (await conn.execute(projects)).all()]
        return [(p, counts.get(p, 0), self._daily_units) for p in names]

    async def stuck_tasks(self, now: datetime, older_than_s: float) -> list[StuckTask]:
        """Return tasks due for longer than `older_than_s` that nothing is dispatching.

        A due task legitimately waits while its account uploads another one, while its account
        is not active, or while this process already runs as many uploads as it may.
        """
        t = publish_tasks
        busy = (
            sa.select(t.c.account_id)
            .where(t.c.state.in_(_ACTIVE), t.c.account_id.is_not(None))
            .scalar_subquery()
        )
        in_flight = sa.select(sa.func.count()).where(t.c.state.in_(_ACTIVE))
        query = (
            sa.select(t.c.id, t.c.account_id, t.c.due_at)
            .select_from(t.outerjoin(accounts, t.c.account_id == accounts.c.id))
            .where(
                t.c.state.in_(_WAITING),
                t.c.due_at <= now - timedelta(seconds=older_than_s),
                sa.or_(t.c.account_id.is_(None), t.c.account_id.not_in(busy)),
                sa.or_(
                    accounts.c.status.is_(None), accounts.c.status == AccountStatus.ACTIVE.value
                ),
            )
            .order_by(t.c.due_at, t.c.id)
        )
        async with self._engine.connect() as conn:
            if int(await conn.scalar(in_flight) or 0) >= self._max_parallel:
                return []
            rows = (await conn.execute(query)).all()
        return [StuckTask(r.id, r.account_id, r.due_at) for r in rows]

    async def failures_after(self, history_id: int, limit: int) -> list[FailureEvent]:
        """Return transitions to failed recorded after a history id, oldest first."""
        h, t = publish_history, publish_tasks
        query = (
            sa.select(h.c.id, h.c.task_id, h.c.at, h.c.detail, t.c.title, t.c.error)
            .add_columns(accounts.c.name)
            .select_from(
                h.join(t, h.c.task_id == t.c.id).outerjoin(
                    accounts, t.c.account_id == accounts.c.id
                )
            )
            .where(h.c.id > history_id, h.c.to_state == S.FAILED.value)
            .order_by(h.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            FailureEvent(r.id, r.task_id, r.name, r.title, r.error or r.detail, r.at) for r in rows
        ]

    async def last_history_id(self) -> int:
        """Return the newest publish_history id (0 for none)."""
        async with self._engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.max(publish_history.c.id))) or 0)

    # -- alert state --------------------------------------------------------------------------

    async def open_alerts(self) -> list[AlertRecord]:
        """Return every alert that has not been resolved."""
        query = sa.select(alert_state).where(alert_state.c.resolved_at.is_(None))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(alert_state.c.fired_at))).all()
        return [_alert(r._mapping) for r in rows]

    async def save_alert(self, record: AlertRecord) -> None:
        """Insert or replace an alert's state."""
        values = {
            "key": record.key,
            "kind": record.kind.value,
            "params": record.params,
            "fired_at": record.fired_at,
            "last_sent_at": record.last_sent_at,
            "sent_count": record.sent_count,
            "resolved_at": record.resolved_at,
        }
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(alert_state).where(alert_state.c.key == record.key))
            await conn.execute(sa.insert(alert_state).values(values))

    async def muted_kinds(self) -> dict[int, frozenset[str]]:
        """Return the alert kinds each chat has muted."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(alert_mutes.c.chat_id, alert_mutes.c.kind))).all()
        found: dict[int, set[str]] = {}
        for chat_id, kind in rows:
            found.setdefault(int(chat_id), set()).add(kind)
        return {chat: frozenset(kinds) for chat, kinds in found.items()}

    async def set_muted(self, chat_id: int, kind: str, muted: bool, *, now: datetime) -> None:
        """Mute or unmute one kind of alert in one chat."""
        condition = sa.and_(alert_mutes.c.chat_id == chat_id, alert_mutes.c.kind == kind)
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(alert_mutes).where(condition))
            if muted:
                row = {"chat_id": chat_id, "kind": kind, "muted_at": now}
                await conn.execute(sa.insert(alert_mutes).values(row))

    async def get_cursor(self, name: str) -> int | None:
        """Return a stored position, or None."""
        query = sa.select(alert_cursors.c.position).where(alert_cursors.c.name == name)
        async with self._engine.connect() as conn:
            value = await conn.scalar(query)
        return None if value is None else int(value)

    async def set_cursor(self, name: str, value: int) -> None:
        """Store a position."""
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(alert_cursors).where(alert_cursors.c.name == name))
            await conn.execute(sa.insert(alert_cursors).values(name=name, position=value))

    # -- metrics ------------------------------------------------------------------------------

    async def metrics_snapshot(self, now: datetime) -> MetricsSnapshot:
        """Return every figure /metrics shows; counters are totals over the whole history."""
        h, t = publish_history, publish_tasks
        account = sa.func.coalesce(accounts.c.name, "none").label("account")
        joined = h.join(t, h.c.task_id == t.c.id).outerjoin(
            accounts, t.c.account_id == accounts.c.id
        )
        states = sa.select(t.c.state, sa.func.count()).group_by(t.c.state)
        uploads = (
            sa.select(account, sa.func.count())
            .select_from(joined)
            .where(h.c.to_state == S.PUBLISHED.value)
            .group_by(account)
        )
        failures = (
            sa.select(account, h.c.from_state, h.c.to_state, h.c.detail, sa.func.count())
            .select_from(joined)
            .where(h.c.to_state.in_([S.FAILED.value, S.RETRY_WAIT.value]))
            .group_by(account, h.c.from_state, h.c.to_state, h.c.detail)
        )
        sent = (
            sa.select(account, sa.func.sum(media.c.size))
            .select_from(joined.join(media, t.c.media_id == media.c.id))
            .where(h.c.to_state == S.PROCESSING.value)
            .group_by(account)
        )
        async with self._engine.connect() as conn:
            by_state = {r[0]: int(r[1]) for r in (await conn.execute(states)).all()}
            by_account = {r[0]: int(r[1]) for r in (await conn.execute(uploads)).all()}
            failure_rows = (await conn.execute(failures)).all()
            sizes = {r[0]: int(r[1] or 0) for r in (await conn.execute(sent)).all()}
        failed: Counter[tuple[str, str]] = Counter()
        for name, from_state, to_state, detail, count in failure_rows:
            event = HistoryEvent(0, None, S(from_state) if from_state else None, S(to_state), now)
            if is_error(event):
                failed[(name, failure_class(detail))] += int(count)
        return MetricsSnapshot(
            tasks_by_state={s.value: by_state.get(s.value, 0) for s in S},
            uploads_by_account=by_account,
            failures_by_account_class=dict(failed),
            upload_bytes_by_account=sizes,
            quota=await self.project_quota_usage(now),
        )


def _transition(m: RowMapping) -> Transition:
    from_state = m["from_state"]
    return Transition(
        to_state=S(m["to_state"]),
        at=m["at"],
        from_state=S(from_state) if from_state else None,
        detail=m["detail"],
    )


def _alert(m: RowMapping) -> AlertRecord:
    params: dict[str, Any] = dict(m["params"] or {})
    return AlertRecord(
        key=m["key"],
        kind=AlertKind(m["kind"]),
        params=params,
        fired_at=m["fired_at"],
        last_sent_at=m["last_sent_at"],
        sent_count=m["sent_count"],
        resolved_at=m["resolved_at"],
    )
