"""The quota ledger over SQLite: what each project spent, each channel's uploads and day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.ledger import AccountDefaults, QuotaLedger
from core.models import Account, AccountStatus, Credentials
from core.quota import ApiCall, CostModel, InsertCost, MoveReason
from storage.crypto import SecretBox
from storage.ledger import SqlLedger
from storage.store import SqlStore

#: 23:30 in Los Angeles on 2026-12-02, 15:30 on 2026-12-03 in Shanghai.
NOW = datetime(2026, 12, 3, 7, 30, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'pm.db'}", SecretBox("k" * 20))
    yield opened
    await opened.close()


async def _account(store: SqlStore, name: str, client: str, zone: str) -> Account:
    return await store.add_account(
        platform="youtube",
        name=name,
        credentials=Credentials(client, "secret", f"refresh-{name}", "http://token"),
        channel_id=f"UC{name}",
        channel_title=name,
        timezone=zone,
        now=NOW,
    )


def _ledger(store: SqlStore, clock: ManualClock, **model: object) -> QuotaLedger:
    return QuotaLedger(
        SqlLedger(store.engine),
        clock,
        CostModel(**model),  # type: ignore[arg-type]
        AccountDefaults(uploads_per_day=3, min_interval_h=1.0),
    )


async def test_a_retried_insert_costs_units_each_time_but_is_one_upload_of_the_channel(
    store: SqlStore,
) -> None:
    clock = ManualClock(NOW)
    main = await _account(store, "main", "client-1", "Asia/Shanghai")
    ledger = _ledger(store, clock)
    ledger.know([main])
    for _ in range(2):
        await ledger.charge("client-1", ApiCall.VIDEOS_INSERT, account_id=main.id, task_id=7)
    await ledger.charge("client-1", ApiCall.THUMBNAILS_SET, account_id=main.id, task_id=7)
    spent = await ledger.project_spent(clock.now())
    assert spent["client-1"].units == 2 * 1600 + 50
    usage = (await ledger.account_usage([main], clock.now()))[main.id]
    assert (usage.uploads, usage.last_upload_at) == (1, NOW)


async def test_the_project_day_is_pacific_and_the_channel_day_is_its_own_zone(
    store: SqlStore,
) -> None:
    clock = ManualClock(NOW)
    main = await _account(store, "main", "client-1", "Asia/Shanghai")
    ledger = _ledger(store, clock)
    ledger.know([main])
    await ledger.charge("client-1", ApiCall.VIDEOS_INSERT, account_id=main.id, task_id=1)
    # 08:00 UTC: midnight in Los Angeles; still 16:00 the same day in Shanghai.
    clock.set(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    assert await ledger.project_spent(clock.now()) == {}
    assert (await ledger.account_usage([main], clock.now()))[main.id].uploads == 1
    # 16:00 UTC: midnight in Shanghai.
    clock.set(datetime(2026, 12, 3, 16, 0, tzinfo=UTC))
    assert (await ledger.account_usage([main], clock.now()))[main.id].uploads == 0


async def test_a_channel_is_blocked_by_its_spacing_its_cap_then_its_project(
    store: SqlStore,
) -> None:
    clock = ManualClock(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))  # 17:00 in Shanghai
    main = await _account(store, "main", "client-1", "Asia/Shanghai")
    ledger = _ledger(store, clock, insert=InsertCost.BUCKET, insert_bucket_calls=4)
    ledger.know([main])
    for task_id in (1, 2, 3):
        assert await ledger.block(main, clock.now()) is None
        await ledger.charge("client-1", ApiCall.VIDEOS_INSERT, account_id=main.id, task_id=task_id)
        block = await ledger.block(main, clock.now())
        assert block is not None
        if task_id < 3:
            assert (block.reason, block.until) == (
                MoveReason.MIN_INTERVAL,
                clock.now() + timedelta(hours=1),
            )
        clock.advance(timedelta(hours=1))
    block = await ledger.block(main, clock.now())
    assert block is not None and block.reason is MoveReason.ACCOUNT_CAP
    assert block.until == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    # Another channel of the same project: 3 of 4 bucket calls spent, stop share 90% reached.
    other = await _account(store, "other", "client-1", "Asia/Shanghai")
    ledger = _ledger(
        store, clock, insert=InsertCost.BUCKET, insert_bucket_calls=4, stop_ratio=0.75
    )
    block = await ledger.block(other, clock.now())
    assert block is not None and block.reason is MoveReason.PROJECT_QUOTA
    change = await ledger.health_of(other, clock.now())
    assert change is not None and change.status is AccountStatus.RATE_LIMITED
    assert change.until == datetime(2026, 12, 4, 8, 1, tzinfo=UTC)  # Pacific midnight + margin


async def test_failed_attempts_beyond_the_allowance_put_the_channel_in_error(
    store: SqlStore,
) -> None:
    clock = ManualClock(NOW)
    main = await _account(store, "main", "client-1", "Asia/Shanghai")
    ledger = _ledger(store, clock)
    for n in range(6):
        assert await ledger.health_of(main, clock.now()) is None
        await ledger.record_attempt(n, main.id, ok=False, reason="backendError")
    change = await ledger.health_of(main, clock.now())
    assert change is not None and change.status is AccountStatus.ERROR
    clock.advance(timedelta(hours=1, seconds=1))  # the window has moved past them
    assert await ledger.health_of(main, clock.now()) is None
