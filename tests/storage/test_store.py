"""The SQLite store: migrations, encryption at rest, conditional transitions, history."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.errors import ConfigError, TaskStateError
from core.models import Credentials, Privacy, TaskState, VideoMetadata
from storage.crypto import SecretBox
from storage.store import DuplicateAccountError, SqlStore

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
KEY = "a-long-random-secret-key"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'pm.db'}", SecretBox(KEY))
    yield opened
    await opened.close()


async def _task(store: SqlStore, *, name: str = "main") -> int:
    account = await store.add_account(
        platform="youtube",
        name=name,
        credentials=Credentials("client", "client-secret-value", "refresh-token-value", "u"),
        channel_id="UC1",
        channel_title="Channel",
        timezone="Asia/Shanghai",
        now=NOW,
    )
    media = await store.add_media(
        key=f"{name}.mp4",
        sha256="0" * 64,
        size=10,
        mime_type="video/mp4",
        duration_s=3.0,
        width=320,
        height=240,
        codec="h264",
        file_unique_id=f"u-{name}",
        created_at=NOW,
    )
    task = await store.create_task(
        media_id=media.id,
        account_id=account.id,
        chat_id=5,
        user_id=7,
        metadata=VideoMetadata("标题 title", "desc", ("旅行", "vlog")),
        privacy=Privacy.UNLISTED,
        now=NOW,
    )
    return task.id


async def test_refresh_token_and_client_secret_are_not_stored_in_clear(
    store: SqlStore, tmp_path: Path
) -> None:
    await _task(store)
    raw = (tmp_path / "pm.db").read_bytes() + (tmp_path / "pm.db-wal").read_bytes()
    assert b"refresh-token-value" not in raw
    assert b"client-secret-value" not in raw
    creds = await store.credentials(1)
    assert creds.refresh_token == "refresh-token-value"
    assert "refresh-token-value" not in repr(creds)


async def test_a_different_secret_key_cannot_read_the_tokens(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pm.db'}"
    first = await SqlStore.open(url, SecretBox(KEY))
    await _task(first)
    await first.close()
    second = await SqlStore.open(url, SecretBox("another-secret-key-entirely"))
    with pytest.raises(ConfigError, match="PM_SECRET_KEY"):
        await second.credentials(1)
    await second.close()


async def test_reopening_keeps_data_and_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pm.db'}"
    first = await SqlStore.open(url, SecretBox(KEY))
    task_id = await _task(first)
    await first.close()
    second = await SqlStore.open(url, SecretBox(KEY))
    task = await second.get_task(task_id)
    await second.close()
    assert task is not None and task.metadata.tags == ("旅行", "vlog")
    tables = {
        r[0]
        for r in sqlite3.connect(tmp_path / "pm.db").execute(
            "select name from sqlite_master where type='table'"
        )
    }
    assert {"accounts", "media", "publish_tasks", "publish_history", "alembic_version"} <= tables


async def test_duplicate_account_names_are_refused(store: SqlStore) -> None:
    await _task(store)
    with pytest.raises(DuplicateAccountError):
        await _task(store)


async def test_instants_come_back_aware_utc(store: SqlStore) -> None:
    task_id = await _task(store)
    local_due = datetime(2026, 12, 5, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    task = await store.transition(task_id, TaskState.QUEUED, now=NOW, actor="t", due_at=local_due)
    assert task.due_at == local_due
    assert task.due_at is not None and task.due_at.utcoffset() == timedelta(0)


async def test_each_transition_appends_one_history_row(store: SqlStore) -> None:
    task_id = await _task(store)
    await store.transition(task_id, TaskState.QUEUED, now=NOW, actor="t", due_at=NOW)
    await store.transition(task_id, TaskState.CANCELLED, now=NOW, actor="t")
    history = await store.history(task_id)
    assert [(h[0], h[1]) for h in history] == [
        (None, "draft"),
        ("draft", "queued"),
        ("queued", "cancelled"),
    ]


async def test_a_transition_the_state_machine_forbids_changes_nothing(store: SqlStore) -> None:
    task_id = await _task(store)
    with pytest.raises(TaskStateError):
        await store.transition(task_id, TaskState.PUBLISHED, now=NOW, actor="t")
    task = await store.get_task(task_id)
    assert task is not None and task.state is TaskState.DRAFT
    assert len(await store.history(task_id)) == 1


async def test_two_concurrent_claims_of_one_task_have_one_winner(store: SqlStore) -> None:
    task_id = await _task(store)
    await store.transition(task_id, TaskState.QUEUED, now=NOW, actor="t", due_at=NOW)

    async def claim(owner: str) -> bool:
        try:
            await store.transition(
                task_id,
                TaskState.UPLOADING,
                now=NOW,
                actor=owner,
                expected={TaskState.QUEUED},
                lease_owner=owner,
            )
        except TaskStateError:
            return False
        return True

    results = await asyncio.gather(*(claim(f"w{i}") for i in range(5)))
    assert sorted(results) == [False] * 4 + [True]
    history = await store.history(task_id)
    assert [h[1] for h in history].count("uploading") == 1


async def test_progress_is_saved_only_by_the_lease_holder(store: SqlStore) -> None:
    task_id = await _task(store)
    await store.transition(task_id, TaskState.QUEUED, now=NOW, actor="t", due_at=NOW)
    await store.transition(task_id, TaskState.UPLOADING, now=NOW, actor="a", lease_owner="a")
    await store.save_progress(task_id, "b", "http://stolen", 99)
    await store.save_progress(task_id, "a", "http://session", 262144)
    task = await store.get_task(task_id)
    assert task is not None
    assert (task.upload_uri, task.upload_offset) == ("http://session", 262144)


async def test_due_tasks_come_earliest_first_and_only_when_due(store: SqlStore) -> None:
    first = await _task(store, name="a")
    second = await _task(store, name="b")
    await store.transition(
        first, TaskState.QUEUED, now=NOW, actor="t", due_at=NOW + timedelta(minutes=10)
    )
    await store.transition(
        second, TaskState.QUEUED, now=NOW, actor="t", due_at=NOW + timedelta(minutes=5)
    )
    assert await store.next_due_at() == NOW + timedelta(minutes=5)
    assert await store.due_tasks(NOW) == []
    due = await store.due_tasks(NOW + timedelta(minutes=10))
    assert [t.id for t in due] == [second, first]
