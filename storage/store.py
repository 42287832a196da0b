"""The task store on SQLAlchemy async Core (SQLite by default, PostgreSQL to scale out)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping, event
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.errors import StorageError, TaskStateError
from core.models import (
    Account,
    AccountStatus,
    Credentials,
    Media,
    Privacy,
    Task,
    TaskState,
    VideoMetadata,
)
from core.states import sources_of
from storage import migrate
from storage.crypto import SecretBox
from storage.schema import (
    account_events,
    accounts,
    media,
    outbox,
    people,
    publish_history,
    publish_tasks,
)

logger = logging.getLogger(__name__)

DUE_STATES = (TaskState.QUEUED.value, TaskState.RETRY_WAIT.value)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class DuplicateAccountError(StorageError):
    """An account with that name exists already."""


class SqlStore:
    """Persists accounts, media and tasks; every task transition is one transaction."""

    def __init__(self, engine: AsyncEngine, box: SecretBox) -> None:
        self.engine = engine
        self._box = box

    @classmethod
    async def open(cls, url: str, box: SecretBox) -> SqlStore:
        """Connect to `url`, apply migrations and return the store."""
        engine = create_async_engine(url)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        try:
            await migrate.upgrade(engine)
        except SQLAlchemyError as exc:
            await engine.dispose()
            raise StorageError(f"cannot open the database: {exc.__class__.__name__}") from exc
        return cls(engine, box)

    async def close(self) -> None:
        """Release every connection."""
        await self.engine.dispose()

    # -- accounts -----------------------------------------------------------------------------

    async def add_account(
        self,
        *,
        platform: str,
        name: str,
        credentials: Credentials,
        channel_id: str | None,
        channel_title: str | None,
        timezone: str,
        now: datetime,
    ) -> Account:
        """Store a new account with its secrets encrypted."""
        values = {
            "platform": platform,
            "name": name,
            "status": AccountStatus.ACTIVE.value,
            "channel_id": channel_id,
            "channel_title": channel_title,
            "client_id": credentials.client_id,
            "client_secret_enc": self._box.seal(credentials.client_secret),
            "refresh_token_enc": self._box.seal(credentials.refresh_token),
            "token_uri": credentials.token_uri,
            "timezone": timezone,
            "created_at": now,
        }
        try:
            async with self.engine.begin() as conn:
                result = await conn.execute(sa.insert(accounts).values(values))
                account_id = result.inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError as exc:
            raise DuplicateAccountError(f"an account named {name!r} exists already") from exc
        account = await self.get_account(account_id)
        assert account is not None
        return account

    async def get_account(self, account_id: int) -> Account | None:
        """Return one account, or None."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(accounts).where(accounts.c.id == account_id))
            ).first()
        return _account(row._mapping) if row else None

    async def list_accounts(self) -> list[Account]:
        """Return every account, oldest first."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(accounts).order_by(accounts.c.id))).all()
        return [_account(r._mapping) for r in rows]

    async def credentials(self, account_id: int) -> Credentials:
        """Return an account's decrypted credentials."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(accounts).where(accounts.c.id == account_id))
            ).first()
        if row is None:
            raise StorageError(f"account {account_id} does not exist")
        m = row._mapping
        return Credentials(
            client_id=m["client_id"],
            client_secret=self._box.open(m["client_secret_enc"]),
            refresh_token=self._box.open(m["refresh_token_enc"]),
            token_uri=m["token_uri"],
        )

    # -- media --------------------------------------------------------------------------------

    async def add_media(self, **values: Any) -> Media:
        """Record a received file."""
        async with self.engine.begin() as conn:
            result = await conn.execute(sa.insert(media).values(**values))
            media_id = result.inserted_primary_key[0]  # type: ignore[index]
            row = (await conn.execute(sa.select(media).where(media.c.id == media_id))).one()
        return _media(row._mapping)

    async def get_media(self, media_id: int) -> Media | None:
        """Return one media record, or None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(media).where(media.c.id == media_id))).first()
        return _media(row._mapping) if row else None

    # -- tasks --------------------------------------------------------------------------------

    async def create_task(
        self,
        *,
        media_id: int,
        account_id: int | None,
        chat_id: int,
        user_id: int,
        metadata: VideoMetadata,
        privacy: Privacy,
        now: datetime,
    ) -> Task:
        """Create a draft task and its first history row."""
        values = {
            "media_id": media_id,
            "account_id": account_id,
            "chat_id": chat_id,
            "user_id": user_id,
            **_metadata_values(metadata),
            "privacy": privacy.value,
            "state": TaskState.DRAFT.value,
            "created_at": now,
            "updated_at": now,
        }
        async with self.engine.begin() as conn:
            result = await conn.execute(sa.insert(publish_tasks).values(values))
            task_id = result.inserted_primary_key[0]  # type: ignore[index]
            await _history(conn, task_id, None, TaskState.DRAFT, now, f"user:{user_id}", None)
            return await _get_task(conn, task_id)

    async def get_task(self, task_id: int) -> Task | None:
        """Return one task, or None."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(publish_tasks).where(publish_tasks.c.id == task_id))
            ).first()
        return _task(row._mapping) if row else None

    async def task_by_card(self, chat_id: int, message_id: int) -> Task | None:
        """Return the task whose card is that message."""
        query = sa.select(publish_tasks).where(
            publish_tasks.c.chat_id == chat_id, publish_tasks.c.card_message_id == message_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _task(row._mapping) if row else None

    async def movable_tasks(self, account_id: int) -> list[Task]:
        """Return an account's waiting tasks that have not opened an upload session yet."""
        query = (
            sa.select(publish_tasks)
            .where(
                publish_tasks.c.account_id == account_id,
                publish_tasks.c.state.in_(DUE_STATES),
                publish_tasks.c.upload_uri.is_(None),
                publish_tasks.c.video_id.is_(None),
            )
            .order_by(publish_tasks.c.id)
        )
        async with self.engine.connect() as conn:
            return [_task(r._mapping) for r in (await conn.execute(query)).all()]

    async def file_on_account(self, media_id: int, account_id: int) -> bool:
        """Tell whether the same file (by content) is live or published on an account."""
        this_media = media.alias("this_media")
        query = (
            sa.select(publish_tasks.c.id)
            .join(media, media.c.id == publish_tasks.c.media_id)
            .join(this_media, this_media.c.sha256 == media.c.sha256)
            .where(
                this_media.c.id == media_id,
                publish_tasks.c.account_id == account_id,
                publish_tasks.c.state.in_(
                    [
                        s.value
                        for s in TaskState
                        if s not in (TaskState.FAILED, TaskState.CANCELLED, TaskState.DRAFT)
                    ]
                ),
            )
            .limit(1)
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def duplicate_of(self, task_id: int) -> Task | None:
        """Return another live or published task that puts the same file on the same account.

        A task left to the balancer (no account) is a twin of any task with the same file, and
        the other way round: spreading one file over several channels is done only when asked
        (/use, /interval), and the balancer may not give it a channel a person named meanwhile.
        """
        this = publish_tasks.alias("this")
        this_media = media.alias("this_media")
        query = (
            sa.select(publish_tasks)
            .join(media, media.c.id == publish_tasks.c.media_id)
            .join(this_media, this_media.c.sha256 == media.c.sha256)
            .join(this, this.c.media_id == this_media.c.id)
            .where(
                this.c.id == task_id,
                publish_tasks.c.id != task_id,
                sa.or_(
                    publish_tasks.c.account_id == this.c.account_id,
                    this.c.account_id.is_(None),
                    publish_tasks.c.account_id.is_(None),
                ),
                publish_tasks.c.state.in_(
                    [
                        TaskState.QUEUED.value,
                        TaskState.UPLOADING.value,
                        TaskState.PROCESSING.value,
                        TaskState.RETRY_WAIT.value,
                        TaskState.PUBLISHED.value,
                    ]
                ),
            )
            .order_by(publish_tasks.c.id)
            .limit(1)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _task(row._mapping) if row else None

    async def transition(
        self,
        task_id: int,
        to: TaskState,
        *,
        now: datetime,
        actor: str,
        detail: str | None = None,
        expected: Iterable[TaskState] | None = None,
        owned_by: str | None = None,
        **fields: Any,
    ) -> Task:
        """Move a task to `to` in one transaction, with a history row.

        The update is conditional on the current state (and on the lease being held by
        `owned_by`, if given), so two processes can never both win the same transition.
        """
        allowed = set(expected) if expected is not None else set(sources_of(to))
        allowed &= set(sources_of(to))
        values = _field_values(fields) | {"state": to.value, "updated_at": now}
        condition = sa.and_(
            publish_tasks.c.id == task_id,
            publish_tasks.c.state.in_([s.value for s in allowed]),
        )
        if owned_by is not None:
            condition = sa.and_(condition, publish_tasks.c.lease_owner == owned_by)
        async with self.engine.begin() as conn:
            current = await _get_task_or_none(conn, task_id)
            if current is None:
                raise StorageError(f"task {task_id} does not exist")
            result = await conn.execute(sa.update(publish_tasks).where(condition).values(values))
            if result.rowcount != 1:
                raise TaskStateError(task_id, current.state.value, to.value)
            await _history(conn, task_id, current.state, to, now, actor, detail)
            # The chat hears of the change through the outbox, committed with the change itself:
            # a crash right after it cannot lose the message.
            await conn.execute(
                sa.insert(outbox).values(
                    chat_id=current.chat_id,
                    kind="task",
                    task_id=task_id,
                    body=to.value,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
            return await _get_task(conn, task_id)

    async def update_task(
        self, task_id: int, *, expected: Iterable[TaskState], now: datetime, **fields: Any
    ) -> Task:
        """Change fields of a task that is in one of the `expected` states."""
        states = [s.value for s in expected]
        values = _field_values(fields) | {"updated_at": now}
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(publish_tasks)
                .where(publish_tasks.c.id == task_id, publish_tasks.c.state.in_(states))
                .values(values)
            )
            if result.rowcount != 1:
                current = await _get_task_or_none(conn, task_id)
                if current is None:
                    raise StorageError(f"task {task_id} does not exist")
                raise TaskStateError(task_id, current.state.value, "edit")
            return await _get_task(conn, task_id)

    async def save_progress(self, task_id: int, owner: str, uri: str, offset: int) -> bool:
        """Record a resumable session and its confirmed offset; False if `owner` lost the lease."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(publish_tasks)
                .where(publish_tasks.c.id == task_id, publish_tasks.c.lease_owner == owner)
                .values(upload_uri=uri, upload_offset=offset)
            )
        return result.rowcount == 1

    async def renew_lease(self, task_ids: Sequence[int], owner: str, until: datetime) -> None:
        """Extend the leases this process holds."""
        if not task_ids:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(publish_tasks)
                .where(publish_tasks.c.id.in_(task_ids), publish_tasks.c.lease_owner == owner)
                .values(lease_until=until)
            )

    async def next_due_at(self) -> datetime | None:
        """Return the earliest instant a waiting task can start.

        A task of a rate-limited account waits for the limit to lift; tasks of accounts that
        need a person (suspended, needs_auth, error) are held and do not count.
        """
        # The earliest of: the soonest limit to lift of a rate-limited account with a task due
        # before it, and in each state the first task waiting for no limit. A query per state
        # walks the (state, due_at) index to its first row; one over both would sort them all.
        task, account = publish_tasks.c, accounts.c
        limited = (
            sa.select(task.id)
            .where(
                task.account_id == account.id,
                task.state.in_(DUE_STATES),
                task.due_at.is_not(None),
                task.due_at < account.status_until,
            )
            .exists()
        )
        queries = [
            sa.select(sa.func.min(account.status_until)).where(
                account.status == AccountStatus.RATE_LIMITED.value, limited
            )
        ]
        for state in DUE_STATES:
            queries.append(
                sa.select(task.due_at)
                .select_from(publish_tasks.outerjoin(accounts))
                .where(
                    task.state == state,
                    task.due_at.is_not(None),
                    sa.or_(
                        task.account_id.is_(None),
                        account.status == AccountStatus.ACTIVE.value,
                        sa.and_(
                            account.status == AccountStatus.RATE_LIMITED.value,
                            sa.or_(
                                account.status_until.is_(None), account.status_until <= task.due_at
                            ),
                        ),
                    ),
                )
                .order_by(task.due_at)
                .limit(1)
            )
        async with self.engine.connect() as conn:
            found = [await conn.scalar(query) for query in queries]
        instants: list[datetime] = [value for value in found if value is not None]
        return min(instants, default=None)

    async def due_tasks(self, now: datetime, limit: int = 200) -> list[Task]:
        """Return waiting tasks whose instant has come on an active account, earliest first."""
        found: list[Task] = []
        async with self.engine.connect() as conn:
            # One query per state, so each reads its (state, due_at) index in order and stops
            # after `limit` rows instead of sorting every waiting task.
            for state in DUE_STATES:
                query = (
                    sa.select(publish_tasks)
                    .select_from(publish_tasks.outerjoin(accounts))
                    .where(
                        publish_tasks.c.state == state,
                        publish_tasks.c.due_at <= now,
                        sa.or_(
                            publish_tasks.c.account_id.is_(None),
                            accounts.c.status == AccountStatus.ACTIVE.value,
                        ),
                    )
                    .order_by(publish_tasks.c.due_at, publish_tasks.c.id)
                    .limit(limit)
                )
                found += [_task(r._mapping) for r in (await conn.execute(query)).all()]
        found.sort(key=lambda t: (t.due_at, t.id))
        return found[:limit]

    async def recall_waiting(self, now: datetime) -> int:
        """Bring tasks postponed for quota or spacing back to the instant they were wanted.

        Called when an account changed (a limit raised, a channel resumed or added): the
        engine then looks at them again and postpones those that still have to wait.
        """
        query = sa.select(publish_tasks.c.id, publish_tasks.c.choice).where(
            publish_tasks.c.state.in_(DUE_STATES),
            publish_tasks.c.due_at > now,
            publish_tasks.c.choice.is_not(None),
        )
        recalled = 0
        async with self.engine.begin() as conn:
            for task_id, choice in (await conn.execute(query)).all():
                if not isinstance(choice, dict) or not choice.get("waiting"):
                    continue
                wanted = datetime.fromisoformat(str(choice.get("wanted_at") or now.isoformat()))
                kept = {k: v for k, v in choice.items() if k not in ("waiting", "wanted_at")}
                await conn.execute(
                    sa.update(publish_tasks)
                    .where(publish_tasks.c.id == task_id, publish_tasks.c.state.in_(DUE_STATES))
                    .values(due_at=max(wanted, now), choice=kept or None, error=None)
                )
                recalled += 1
        return recalled

    async def set_account_status(
        self,
        account_id: int,
        status: AccountStatus,
        *,
        now: datetime,
        reason: str | None,
        until: datetime | None = None,
    ) -> AccountStatus | None:
        """Change an account's status and record why; return the previous status if it changed."""
        async with self.engine.begin() as conn:
            previous = await conn.scalar(
                sa.select(accounts.c.status).where(accounts.c.id == account_id)
            )
            if previous is None:
                raise StorageError(f"account {account_id} does not exist")
            await conn.execute(
                sa.update(accounts)
                .where(accounts.c.id == account_id)
                .values(
                    status=status.value,
                    status_until=until,
                    status_reason=reason,
                    status_changed_at=now,
                )
            )
            if previous == status.value:
                return None
            await conn.execute(
                sa.insert(account_events).values(
                    account_id=account_id,
                    from_status=previous,
                    to_status=status.value,
                    until=until,
                    at=now,
                    reason=reason,
                )
            )
        return AccountStatus(previous)

    async def expired_limits(self, now: datetime) -> list[Account]:
        """Return rate-limited accounts whose limit has lifted."""
        query = sa.select(accounts).where(
            accounts.c.status == AccountStatus.RATE_LIMITED.value, accounts.c.status_until <= now
        )
        async with self.engine.connect() as conn:
            return [_account(r._mapping) for r in (await conn.execute(query)).all()]

    async def accounts_of_project(self, client_id: str) -> list[Account]:
        """Return the accounts that share a Google Cloud project (one OAuth client)."""
        query = sa.select(accounts).where(accounts.c.client_id == client_id)
        async with self.engine.connect() as conn:
            return [_account(r._mapping) for r in (await conn.execute(query)).all()]

    async def update_credentials(self, account_id: int, credentials: Credentials) -> None:
        """Replace an account's OAuth credentials (after a person re-authorised it)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(accounts)
                .where(accounts.c.id == account_id)
                .values(
                    client_id=credentials.client_id,
                    client_secret_enc=self._box.seal(credentials.client_secret),
                    refresh_token_enc=self._box.seal(credentials.refresh_token),
                    token_uri=credentials.token_uri,
                )
            )

    async def account_by_name(self, name: str) -> Account | None:
        """Return the account with that name, or None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(accounts).where(accounts.c.name == name))).first()
        return _account(row._mapping) if row else None

    async def stale_active_tasks(self, now: datetime, *, every: bool = False) -> list[Task]:
        """Return uploading or processing tasks whose lease has expired (or all, if `every`)."""
        query = sa.select(publish_tasks).where(
            publish_tasks.c.state.in_([TaskState.UPLOADING.value, TaskState.PROCESSING.value])
        )
        if not every:
            query = query.where(
                sa.or_(publish_tasks.c.lease_until.is_(None), publish_tasks.c.lease_until < now)
            )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_task(r._mapping) for r in rows]

    async def list_tasks(
        self, states: Iterable[TaskState], *, user_id: int | None = None, limit: int = 50
    ) -> list[Task]:
        """Return tasks in the given states, soonest due first."""
        query = sa.select(publish_tasks).where(
            publish_tasks.c.state.in_([s.value for s in states])
        )
        if user_id is not None:
            query = query.where(publish_tasks.c.user_id == user_id)
        query = query.order_by(
            publish_tasks.c.due_at.is_(None), publish_tasks.c.due_at, publish_tasks.c.id
        ).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_task(r._mapping) for r in rows]

    async def history(self, task_id: int) -> list[tuple[str | None, str, datetime, str | None]]:
        """Return a task's transitions, oldest first: (from, to, at, detail)."""
        query = (
            sa.select(
                publish_history.c.from_state,
                publish_history.c.to_state,
                publish_history.c.at,
                publish_history.c.detail,
            )
            .where(publish_history.c.task_id == task_id)
            .order_by(publish_history.c.id)
        )
        async with self.engine.connect() as conn:
            return [(r[0], r[1], r[2], r[3]) for r in (await conn.execute(query)).all()]

    # -- media retention --------------------------------------------------------------------

    async def media_to_purge(self, finished_before: datetime, limit: int = 100) -> list[Media]:
        """Return files whose every task is published or cancelled since before the cutoff."""
        open_states = [
            s.value for s in TaskState if s not in (TaskState.PUBLISHED, TaskState.CANCELLED)
        ]
        unfinished = sa.select(publish_tasks.c.id).where(
            publish_tasks.c.media_id == media.c.id,
            sa.or_(
                publish_tasks.c.state.in_(open_states),
                publish_tasks.c.updated_at >= finished_before,
            ),
        )
        used = sa.select(publish_tasks.c.id).where(publish_tasks.c.media_id == media.c.id)
        query = (
            sa.select(media)
            .where(media.c.purged_at.is_(None), sa.exists(used), ~sa.exists(unfinished))
            .order_by(media.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [_media(r._mapping) for r in (await conn.execute(query)).all()]

    async def thumbnails_of(self, media_id: int) -> list[str]:
        """Return the thumbnail keys of a file's tasks."""
        query = sa.select(publish_tasks.c.thumbnail_key).where(
            publish_tasks.c.media_id == media_id, publish_tasks.c.thumbnail_key.is_not(None)
        )
        async with self.engine.connect() as conn:
            return [r[0] for r in (await conn.execute(query)).all()]

    async def mark_purged(self, media_id: int, at: datetime) -> None:
        """Record that a file was deleted."""
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(media).where(media.c.id == media_id).values(purged_at=at))

    # -- people -------------------------------------------------------------------------------

    async def languages(self) -> dict[int, str]:
        """Return each known person's language."""
        query = sa.select(people.c.user_id, people.c.language).where(
            people.c.language.is_not(None)
        )
        async with self.engine.connect() as conn:
            return {r[0]: r[1] for r in (await conn.execute(query)).all()}

    async def set_language(self, user_id: int, language: str, now: datetime) -> None:
        """Remember the language a person's Telegram uses."""
        await self._set_person(user_id, now, language=language)

    async def timezones(self) -> dict[int, str]:
        """Return each person's own time zone, where they set one."""
        query = sa.select(people.c.user_id, people.c.timezone).where(
            people.c.timezone.is_not(None)
        )
        async with self.engine.connect() as conn:
            return {r[0]: r[1] for r in (await conn.execute(query)).all()}

    async def set_timezone(self, user_id: int, timezone: str, now: datetime) -> None:
        """Remember the time zone a person reads and types times in."""
        await self._set_person(user_id, now, timezone=timezone)

    async def _set_person(self, user_id: int, now: datetime, **values: str) -> None:
        async with self.engine.begin() as conn:
            updated = await conn.execute(
                sa.update(people)
                .where(people.c.user_id == user_id)
                .values(**values, updated_at=now)
            )
            if updated.rowcount == 0:
                await conn.execute(
                    sa.insert(people).values(user_id=user_id, **values, updated_at=now)
                )

    # -- outbox -------------------------------------------------------------------------------

    async def outbox_add(self, **values: Any) -> int:
        """Queue a chat message; a card refresh supersedes the task's pending older ones."""
        async with self.engine.begin() as conn:
            if values.get("kind") == "card":
                await conn.execute(
                    sa.update(outbox)
                    .where(
                        outbox.c.sent_at.is_(None),
                        outbox.c.kind == "card",
                        outbox.c.task_id == values["task_id"],
                    )
                    .values(sent_at=values["created_at"], last_error="superseded")
                )
            result = await conn.execute(sa.insert(outbox).values(**values))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def outbox_pending(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return unsent messages, oldest first."""
        query = (
            sa.select(outbox).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id).limit(limit)
        )
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in (await conn.execute(query)).all()]

    async def outbox_done(self, row_id: int, at: datetime, error: str | None = None) -> None:
        """Mark a message delivered (or given up, with the reason)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(outbox).where(outbox.c.id == row_id).values(sent_at=at, last_error=error)
            )

    async def outbox_retry(self, row_id: int, at: datetime, error: str) -> None:
        """Record a failed delivery attempt and when to try again."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == row_id)
                .values(next_attempt_at=at, attempts=outbox.c.attempts + 1, last_error=error)
            )

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Follow a group that became a supergroup: its tasks and pending messages move."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(outbox)
                .where(outbox.c.chat_id == old_chat_id, outbox.c.sent_at.is_(None))
                .values(chat_id=new_chat_id)
            )
            await conn.execute(
                sa.update(publish_tasks)
                .where(publish_tasks.c.chat_id == old_chat_id)
                .values(chat_id=new_chat_id)
            )


async def _history(
    conn: AsyncConnection,
    task_id: int,
    from_state: TaskState | None,
    to_state: TaskState,
    at: datetime,
    actor: str,
    detail: str | None,
) -> None:
    await conn.execute(
        sa.insert(publish_history).values(
            task_id=task_id,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
            at=at,
            actor=actor,
            detail=detail,
        )
    )


async def _get_task_or_none(conn: AsyncConnection, task_id: int) -> Task | None:
    row = (
        await conn.execute(sa.select(publish_tasks).where(publish_tasks.c.id == task_id))
    ).first()
    return _task(row._mapping) if row else None


async def _get_task(conn: AsyncConnection, task_id: int) -> Task:
    task = await _get_task_or_none(conn, task_id)
    if task is None:
        raise StorageError(f"task {task_id} does not exist")
    return task


def _metadata_values(meta: VideoMetadata) -> dict[str, Any]:
    return {
        "title": meta.title,
        "description": meta.description,
        "tags": list(meta.tags),
        "category_id": meta.category_id,
        "language": meta.language,
        "made_for_kids": meta.made_for_kids,
    }


def _field_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(fields)
    meta = values.pop("metadata", None)
    if meta is not None:
        values |= _metadata_values(meta)
    for name in ("privacy", "state"):
        if name in values and values[name] is not None:
            values[name] = str(values[name])
    return values


def _account(m: RowMapping) -> Account:
    return Account(
        id=m["id"],
        platform=m["platform"],
        name=m["name"],
        status=AccountStatus(m["status"]),
        channel_id=m["channel_id"],
        channel_title=m["channel_title"],
        client_id=m["client_id"],
        timezone=m["timezone"],
        created_at=m["created_at"],
        status_until=m["status_until"],
        status_reason=m["status_reason"],
        uploads_per_day=m["uploads_per_day"],
        min_interval_h=m["min_interval_h"],
        priority=float(m["priority"]),
        peak_start_h=m["peak_start_h"],
        peak_end_h=m["peak_end_h"],
        peak_timezone=m["peak_timezone"],
    )


def _media(m: RowMapping) -> Media:
    return Media(**{k: m[k] for k in Media.__dataclass_fields__})


def _task(m: RowMapping) -> Task:
    return Task(
        id=m["id"],
        media_id=m["media_id"],
        account_id=m["account_id"],
        chat_id=m["chat_id"],
        user_id=m["user_id"],
        metadata=VideoMetadata(
            title=m["title"],
            description=m["description"],
            tags=tuple(m["tags"]),
            category_id=m["category_id"],
            language=m["language"],
            made_for_kids=bool(m["made_for_kids"]),
        ),
        privacy=Privacy(m["privacy"]),
        state=TaskState(m["state"]),
        due_at=m["due_at"],
        publish_at=m["publish_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        card_message_id=m["card_message_id"],
        thumbnail_key=m["thumbnail_key"],
        attempts=m["attempts"],
        upload_uri=m["upload_uri"],
        upload_offset=m["upload_offset"],
        video_id=m["video_id"],
        error=m["error"],
        lease_owner=m["lease_owner"],
        lease_until=m["lease_until"],
        allowed_accounts=(
            tuple(m["allowed_accounts"]) if m["allowed_accounts"] is not None else None
        ),
        choice=m["choice"],
        plan_id=m["plan_id"],
    )
