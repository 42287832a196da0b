"""The quota ledger's rows: every API call charged, every attempt's outcome, account limits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import StorageError
from core.models import TaskState
from core.quota import ApiCall, Cost
from storage.schema import accounts, api_calls, attempts, media, publish_tasks

#: Tasks whose file counts as being on their account (planned, running or published).
_HOLDS_FILE = [
    s.value for s in TaskState if s not in (TaskState.FAILED, TaskState.CANCELLED, TaskState.DRAFT)
]
#: Account columns a person may change from the chat.
ACCOUNT_SETTINGS = frozenset(
    {
        "uploads_per_day",
        "min_interval_h",
        "priority",
        "peak_start_h",
        "peak_end_h",
        "peak_timezone",
        "timezone",
    }
)


class SqlLedger:
    """Implements core.ledger.LedgerStore over the same database as SqlStore."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_call(
        self,
        *,
        at: datetime,
        client_id: str,
        project_day: date,
        account_id: int | None,
        account_day: date | None,
        task_id: int | None,
        call: ApiCall,
        cost: Cost,
    ) -> None:
        """Record one API call and what it cost."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.insert(api_calls).values(
                    at=at,
                    client_id=client_id,
                    project_day=project_day.isoformat(),
                    account_id=account_id,
                    account_day=account_day.isoformat() if account_day else None,
                    task_id=task_id,
                    call=call.value,
                    units=cost.units,
                    insert_calls=cost.insert_calls,
                )
            )

    async def project_spent(
        self, day: date, client_ids: Sequence[str] | None = None
    ) -> dict[str, Cost]:
        """Return what each project (OAuth client) spent on one Pacific day."""
        query = (
            sa.select(
                api_calls.c.client_id,
                sa.func.sum(api_calls.c.units),
                sa.func.sum(api_calls.c.insert_calls),
            )
            .where(api_calls.c.project_day == day.isoformat())
            .group_by(api_calls.c.client_id)
        )
        if client_ids is not None:
            query = query.where(api_calls.c.client_id.in_(list(client_ids)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {r[0]: Cost(int(r[1] or 0), int(r[2] or 0)) for r in rows}

    async def uploads_by_day(
        self, since: date, account_ids: Sequence[int] | None = None
    ) -> dict[int, dict[date, int]]:
        """Return, per account and local day from `since`, how many uploads it started.

        An upload is one task's insert calls: an insert retried for the same task counts once
        towards the channel's cap (its units are charged every time).
        """
        c = api_calls.c
        started = sa.func.count(sa.distinct(sa.func.coalesce(c.task_id, -c.id)))
        query = (
            sa.select(c.account_id, c.account_day, started)
            .where(
                c.call == ApiCall.VIDEOS_INSERT.value,
                c.account_id.is_not(None),
                c.account_day >= since.isoformat(),
            )
            .group_by(c.account_id, c.account_day)
        )
        if account_ids is not None:
            query = query.where(c.account_id.in_(list(account_ids)))
        found: dict[int, dict[date, int]] = defaultdict(dict)
        async with self._engine.connect() as conn:
            for account_id, day, count in (await conn.execute(query)).all():
                found[int(account_id)][date.fromisoformat(day)] = int(count)
        return dict(found)

    async def last_uploads(self, account_ids: Sequence[int] | None = None) -> dict[int, datetime]:
        """Return when each account last started an upload."""
        c = api_calls.c
        query = (
            sa.select(c.account_id, sa.func.max(c.at))
            .where(c.call == ApiCall.VIDEOS_INSERT.value, c.account_id.is_not(None))
            .group_by(c.account_id)
        )
        if account_ids is not None:
            query = query.where(c.account_id.in_(list(account_ids)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {int(r[0]): _aware(r[1]) for r in rows}

    async def add_attempt(
        self, *, task_id: int, account_id: int, at: datetime, ok: bool, reason: str | None
    ) -> None:
        """Record how one upload attempt ended."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.insert(attempts).values(
                    task_id=task_id, account_id=account_id, at=at, ok=ok, reason=reason
                )
            )

    async def attempt_counts(self, since: datetime) -> dict[int, tuple[int, int]]:
        """Return (succeeded, failed) attempts per account since an instant."""
        c = attempts.c
        query = (
            sa.select(
                c.account_id,
                sa.func.sum(sa.case((c.ok, 1), else_=0)),
                sa.func.sum(sa.case((c.ok, 0), else_=1)),
            )
            .where(c.at >= since)
            .group_by(c.account_id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {int(r[0]): (int(r[1] or 0), int(r[2] or 0)) for r in rows}

    async def file_hashes(self) -> dict[int, set[str]]:
        """Return the sha256 of every file planned, running or published on each account."""
        t = publish_tasks.c
        query = (
            sa.select(t.account_id, media.c.sha256)
            .select_from(publish_tasks.join(media, media.c.id == t.media_id))
            .where(t.account_id.is_not(None), t.state.in_(_HOLDS_FILE))
            .distinct()
        )
        found: dict[int, set[str]] = defaultdict(set)
        async with self._engine.connect() as conn:
            for account_id, sha in (await conn.execute(query)).all():
                found[int(account_id)].add(sha)
        return dict(found)

    async def update_account(self, account_id: int, **values: Any) -> None:
        """Change an account's limits, priority, peak hours or zone."""
        unknown = set(values) - ACCOUNT_SETTINGS
        if unknown:
            raise StorageError(f"not an account setting: {', '.join(sorted(unknown))}")
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(accounts).where(accounts.c.id == account_id).values(**values)
            )
        if result.rowcount == 0:
            raise StorageError(f"account {account_id} does not exist")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
