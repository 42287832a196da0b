"""The monitoring queries and the alert state, on a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from core.alerts import AlertKind, AlertRecord
from core.models import AccountStatus, Credentials, Privacy, TaskState, VideoMetadata
from core.quota import ApiCall, CostModel, project_day
from storage.crypto import SecretBox
from storage.ledger import SqlLedger
from storage.observe import ObserveStore
from storage.store import SqlStore

S = TaskState
#: 2026-12-03 04:00 UTC is 2026-12-02 20:00 in Los Angeles (PST).
NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
KEYS = count(1)


@dataclass
class Db:
    store: SqlStore
    observe: ObserveStore
    accounts: dict[str, int]

    async def task(
        self, account: str | None = "main", *, size: int = 1000, now: datetime = NOW
    ) -> int:
        """Create a draft task on an account."""
        media = await self.store.add_media(
            key=f"m{next(KEYS)}.mp4",
            sha256="0" * 64,
            size=size,
            mime_type="video/mp4",
            duration_s=3.0,
            width=320,
            height=240,
            codec="h264",
            file_unique_id=None,
            created_at=now,
        )
        task = await self.store.create_task(
            media_id=media.id,
            account_id=self.accounts[account] if account else None,
            chat_id=5,
            user_id=7,
            metadata=VideoMetadata("标题 title"),
            privacy=Privacy.PRIVATE,
            now=now,
        )
        return task.id

    async def move(self, task_id: int, *states: TaskState, at: datetime, **fields: object) -> None:
        """Walk a task through states, one second apart."""
        for i, state in enumerate(states):
            extra: dict[str, object] = dict(fields)
            if state is S.UPLOADING:
                extra["lease_owner"] = "w"
            await self.store.transition(
                task_id,
                state,
                now=at + timedelta(seconds=i),
                actor="test",
                detail="invalidTitle" if state is S.FAILED else None,
                **extra,
            )

    async def publish(self, task_id: int, at: datetime) -> None:
        """Take a task from draft to published."""
        await self.move(task_id, S.QUEUED, S.UPLOADING, S.PROCESSING, S.PUBLISHED, at=at)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Db]:
    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'pm.db'}", SecretBox("k" * 20))
    ids = {}
    for name, client in (("main", "client-1"), ("second", "client-1"), ("other", "client-2")):
        account = await store.add_account(
            platform="youtube",
            name=name,
            credentials=Credentials(client, "s", "r", "u"),
            channel_id=None,
            channel_title=None,
            timezone="Asia/Shanghai",
            now=NOW,
        )
        ids[name] = account.id
    yield Db(store, ObserveStore(store, quota_daily_units=10_000, max_parallel=2), ids)
    await store.close()


async def test_report_records_hold_tasks_with_an_outcome_in_the_range_and_their_history(
    db: Db,
) -> None:
    published = await db.task()
    await db.publish(published, NOW)
    failed = await db.task("second")
    await db.move(failed, S.QUEUED, S.UPLOADING, S.FAILED, at=NOW, error="invalidTitle: x")
    outside = await db.task()
    await db.publish(outside, NOW - timedelta(days=2))
    draft = await db.task()
    records = await db.observe.report_records(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert [r.task_id for r in records] == [published, failed]
    first = records[0]
    assert first.account_name == "main" and first.title == "标题 title"
    assert [t.to_state for t in first.transitions] == [
        S.DRAFT,
        S.QUEUED,
        S.UPLOADING,
        S.PROCESSING,
        S.PUBLISHED,
    ]
    assert records[1].error == "invalidTitle: x"
    assert draft not in [r.task_id for r in records]


async def test_open_tasks_waiting_count_and_history(db: Db) -> None:
    queued = await db.task()
    await db.move(queued, S.QUEUED, at=NOW, due_at=NOW)
    uploading = await db.task("second")
    await db.move(uploading, S.QUEUED, S.UPLOADING, at=NOW, due_at=NOW)
    await db.task()  # a draft is not open work
    assert {(t.task_id, t.state) for t in await db.observe.open_tasks()} == {
        (queued, S.QUEUED),
        (uploading, S.UPLOADING),
    }
    assert await db.observe.waiting_count() == 1
    events = await db.observe.history_since(NOW)
    assert (uploading, S.UPLOADING) in [(e.task_id, e.to_state) for e in events]
    assert all(e.account_id is not None for e in events)


async def test_account_states_are_each_accounts_latest_event(db: Db) -> None:
    main = db.accounts["main"]
    await db.observe.add_account_event(main, AccountStatus.NEEDS_AUTH, at=NOW, reason="grant")
    await db.observe.add_account_event(
        main, AccountStatus.ACTIVE, at=NOW + timedelta(minutes=5), from_status=AccountStatus.ERROR
    )
    until = NOW + timedelta(hours=24)
    await db.observe.add_account_event(
        db.accounts["other"], AccountStatus.RATE_LIMITED, at=NOW, reason="cap", until=until
    )
    states = {s.name: s for s in await db.observe.account_states()}
    assert set(states) == {"main", "other"}
    assert states["main"].status is AccountStatus.ACTIVE
    assert (states["other"].status, states["other"].until) == (AccountStatus.RATE_LIMITED, until)


async def _charge(db: Db, client_id: str, call: ApiCall, at: datetime) -> None:
    model = CostModel()
    await SqlLedger(db.store.engine).add_call(
        at=at,
        client_id=client_id,
        project_day=project_day(at),
        account_id=None,
        account_day=None,
        task_id=None,
        call=call,
        cost=model.cost(call),
    )


async def test_quota_usage_is_the_ledgers_calls_of_the_pacific_day_per_project(db: Db) -> None:
    # Pacific midnight of 2026-12-02 is 08:00 UTC that day.
    for call, at in (
        (ApiCall.VIDEOS_INSERT, datetime(2026, 12, 2, 8, 0, tzinfo=UTC)),
        (ApiCall.THUMBNAILS_SET, NOW - timedelta(hours=1)),
        (ApiCall.VIDEOS_INSERT, datetime(2026, 12, 2, 7, 59, tzinfo=UTC)),  # yesterday, Pacific
    ):
        await _charge(db, "client-1", call, at)
    usage = await db.observe.project_quota_usage(NOW)
    assert usage == [("client-1", 1600 + 50, 10_000), ("client-2", 0, 10_000)]


async def test_stuck_tasks_are_due_a_while_on_an_idle_active_account(db: Db) -> None:
    late = await db.task()
    await db.move(late, S.QUEUED, at=NOW, due_at=NOW - timedelta(minutes=10))
    recent = await db.task("other")
    await db.move(recent, S.QUEUED, at=NOW, due_at=NOW - timedelta(minutes=1))
    busy_wait = await db.task("second")
    await db.move(busy_wait, S.QUEUED, at=NOW, due_at=NOW - timedelta(minutes=10))
    running = await db.task("second")
    await db.move(running, S.QUEUED, S.UPLOADING, at=NOW, due_at=NOW)
    assert [t.task_id for t in await db.observe.stuck_tasks(NOW, 300)] == [late]
    await db.store.set_account_status(
        db.accounts["main"], AccountStatus.NEEDS_AUTH, now=NOW, reason="grant"
    )
    assert await db.observe.stuck_tasks(NOW, 300) == []


async def test_failures_after_a_cursor_come_oldest_first(db: Db) -> None:
    start = await db.observe.last_history_id()
    first = await db.task()
    await db.move(first, S.QUEUED, S.UPLOADING, S.FAILED, at=NOW, error="invalidTitle: t")
    second = await db.task(None)
    await db.move(second, S.QUEUED, S.UPLOADING, S.FAILED, at=NOW)
    failures = await db.observe.failures_after(start, 10)
    assert [(f.task_id, f.account_name) for f in failures] == [(first, "main"), (second, None)]
    assert failures[0].error == "invalidTitle: t" and failures[1].error == "invalidTitle"
    assert await db.observe.failures_after(failures[-1].history_id, 10) == []


async def test_alert_state_mutes_and_cursors_are_stored(db: Db) -> None:
    record = AlertRecord("quota:client-1", AlertKind.QUOTA, {"used": 9600}, NOW, NOW)
    await db.observe.save_alert(record)
    assert await db.observe.open_alerts() == [record]
    await db.observe.save_alert(AlertRecord(**{**record.__dict__, "resolved_at": NOW}))
    assert await db.observe.open_alerts() == []
    await db.observe.set_muted(-100, "quota", True, now=NOW)
    await db.observe.set_muted(-100, "quota", True, now=NOW)
    await db.observe.set_muted(-100, "queue_size", True, now=NOW)
    await db.observe.set_muted(-100, "queue_size", False, now=NOW)
    assert await db.observe.muted_kinds() == {-100: frozenset({"quota"})}
    assert await db.observe.get_cursor("x") is None
    await db.observe.set_cursor("x", 4)
    await db.observe.set_cursor("x", 9)
    assert await db.observe.get_cursor("x") == 9


async def test_the_metrics_snapshot_totals_uploads_failures_and_bytes(db: Db) -> None:
    await db.publish(await db.task(size=5000), NOW)
    await _charge(db, "client-1", ApiCall.VIDEOS_INSERT, NOW)
    retried = await db.task("second", size=7000)
    await db.move(retried, S.QUEUED, S.UPLOADING, S.RETRY_WAIT, at=NOW, due_at=NOW)
    failed = await db.task("second")
    await db.move(failed, S.QUEUED, S.UPLOADING, S.FAILED, at=NOW)
    await db.move(await db.task(), S.QUEUED, at=NOW, due_at=NOW + timedelta(days=1))
    snap = await db.observe.metrics_snapshot(NOW)
    assert snap.queue_length == 2
    assert snap.tasks_by_state["published"] == 1 and snap.tasks_by_state["failed"] == 1
    assert snap.uploads_by_account == {"main": 1}
    assert snap.failures_by_account_class == {("second", "other"): 1, ("second", "content"): 1}
    assert snap.upload_bytes_by_account == {"main": 5000}
    assert ("client-1", 1600, 10_000) in snap.quota
