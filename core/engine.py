"""The engine: starts due tasks on time, one upload at a time per account, and records outcomes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.assign import Assigner, Waiting, choice_record, waiting_for
from core.errors import (
    AuthError,
    ContentError,
    InputError,
    LeaseLostError,
    PublishError,
    QuotaExceededError,
    SessionExpiredError,
    TaskStateError,
    UploadLimitError,
)
from core.ledger import QuotaLedger
from core.metadata import effective_privacy, validate_metadata
from core.models import Account, AccountStatus, Credentials, Task, TaskState
from core.planning import check_lead_time
from core.ports import (
    Clock,
    MediaStore,
    Notifier,
    ProgressCallback,
    Publisher,
    TaskStore,
    UploadRequest,
    UploadResult,
)
from core.problems import encode_problem
from core.retry import (
    QUOTA_RESET_MARGIN_S,
    UPLOAD_LIMIT_WAIT_H,
    RetryPolicy,
    next_quota_reset,
)

logger = logging.getLogger(__name__)

S = TaskState
NEXT_DUE_TIMER = "engine:next-due"
SWEEP_TIMER = "engine:sweep"
HEARTBEAT_TIMER = "engine:heartbeat"


@dataclass(frozen=True)
class EngineConfig:
    """How the engine runs."""

    worker_id: str
    max_parallel: int = 4
    lease_s: float = 300.0
    sweep_s: float = 30.0
    #: With one process over SQLite every in-flight task found at start was this process's.
    single_process: bool = True
    #: How long a channel that hit its own daily upload cap waits.
    upload_limit_wait_h: float = UPLOAD_LIMIT_WAIT_H
    #: Retries for failures nobody has classified; transient ones follow the retry policy.
    unknown_retries: int = 3
    #: Hours a file is kept after every task using it is published or cancelled.
    media_retention_h: float = 72.0
    #: Upload speed assumed by the lead-time guard (bytes a second).
    upload_rate_bps: float = 2_000_000.0
    #: How often the health rules look at every account, besides after each attempt.
    health_every_s: float = 60.0


class Engine:
    """Dispatches due tasks to publishers and turns each outcome into a state transition."""

    def __init__(
        self,
        store: TaskStore,
        publishers: Mapping[str, Publisher],
        media_store: MediaStore,
        notifier: Notifier,
        clock: Clock,
        config: EngineConfig,
        retry: RetryPolicy | None = None,
        ledger: QuotaLedger | None = None,
    ) -> None:
        self._store = store
        self._publishers = publishers
        self._media = media_store
        self._notifier = notifier
        self._clock = clock
        self._config = config
        self._retry = retry or RetryPolicy()
        self.ledger = ledger
        self._assigner = Assigner(ledger) if ledger is not None else None
        self._health_at: datetime | None = None
        self._accounts_seen: int | None = None
        self._running: dict[int, asyncio.Task[None]] = {}
        self._busy_accounts: set[int] = set()
        self._dispatching: asyncio.Task[None] | None = None
        self._again = False
        self._stopping = False

    @property
    def actor(self) -> str:
        """Return how this engine signs history rows."""
        return f"engine:{self._config.worker_id}"

    async def start(self) -> None:
        """Recover in-flight tasks, arm the timers and dispatch what is due."""
        await self._recover()
        self._arm_sweep()
        self._arm_heartbeat()
        await self.dispatch()

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop taking work; interrupt uploads after their chunk in flight, wait `timeout_s`."""
        self._stopping = True
        for key in (NEXT_DUE_TIMER, SWEEP_TIMER, HEARTBEAT_TIMER):
            self._clock.cancel(key)
        running = list(self._running.values())
        # A cancelled upload stops after the chunk in flight; its task goes back to the queue
        # with its session, so the next start resumes where the platform says it stands.
        for upload in running:
            upload.cancel()
        if running:
            await asyncio.wait(running, timeout=timeout_s)

    def wake(self) -> None:
        """Ask for a dispatch soon; calls made while one runs coalesce into one more."""
        if self._stopping:
            return
        if self._dispatching is not None and not self._dispatching.done():
            self._again = True
            return
        self._dispatching = asyncio.get_running_loop().create_task(self._dispatch_loop())

    async def idle(self) -> None:
        """Wait until no dispatch and no upload is running (for tests and shutdown)."""
        while True:
            pending = [t for t in [self._dispatching, *self._running.values()] if t]
            pending = [t for t in pending if not t.done()]
            if not pending:
                return
            await asyncio.wait(pending)

    async def _dispatch_loop(self) -> None:
        while True:
            self._again = False
            try:
                await self.dispatch()
            except Exception:
                logger.exception("dispatch failed", extra={"action": "dispatch_error"})
            if not self._again:
                return

    async def dispatch(self) -> None:
        """Start every due task that has a free account, then arm the timer for the next one."""
        if self._stopping:
            return
        await self._lift_expired_limits()
        now = self._clock.now()
        accounts: list[Account] | None = None
        for task in await self._store.due_tasks(now):
            if len(self._running) >= self._config.max_parallel:
                break
            if task.id in self._running or task.account_id in self._busy_accounts:
                continue
            if task.account_id is None:
                if accounts is None:
                    accounts = await self._store.list_accounts()
                assigned = await self._assign(task, accounts, now)
                if assigned is None or assigned.account_id in self._busy_accounts:
                    continue
                task = assigned
            if await self._must_wait(task, now):
                continue
            await self._claim_and_run(task, now)
        await self._arm_next_due()

    async def _assign(self, task: Task, accounts: list[Account], now: datetime) -> Task | None:
        """Let the balancer choose the task's account; None when it has to wait."""
        if self._assigner is None:
            await self._fail(task, "no account is assigned", reason="no_account")
            return None
        media = await self._store.get_media(task.media_id)
        if media is None:
            await self._fail(task, "the task's file is gone", reason="missing")
            return None
        twin = await self._store.duplicate_of(task.id)
        if twin is not None:
            # The same file was given a channel since this task was queued: never twice.
            problem = encode_problem("task.duplicate_any", {"task_id": task.id, "other": twin.id})
            await self._fail(task, problem, reason="duplicate")
            return None
        choice, waiting = await self._assigner.pick(task, media.sha256, accounts, now)
        record = choice_record(choice, now)
        if waiting is not None:
            await self._postpone(task, waiting, now, record)
            return None
        try:
            assigned = await self._store.update_task(
                task.id,
                expected={S.QUEUED, S.RETRY_WAIT},
                now=now,
                account_id=choice.account_id,
                choice=record,
                error=None,
            )
        except TaskStateError:
            return None
        logger.info(
            "task %s: balancer chose account %s",
            task.id,
            choice.account_id,
            extra={"action": "assigned", "task_id": task.id, "account_id": choice.account_id},
        )
        return assigned

    async def _must_wait(self, task: Task, now: datetime) -> bool:
        """Postpone a task whose account may not start an upload now (quota, cap, spacing)."""
        if self._assigner is None or task.account_id is None or task.video_id is not None:
            return False
        if task.upload_uri:
            return False  # its session is open and its insert already paid: let it finish
        account = await self._store.get_account(task.account_id)
        if account is None:
            return False
        block = await self._assigner.block(account, now)
        if block is None:
            return False
        await self._postpone(task, waiting_for(block), now, task.choice)
        return True

    async def _postpone(
        self, task: Task, waiting: Waiting, now: datetime, choice: dict[str, object] | None
    ) -> None:
        """Move a due task to when it can start, keeping the instant it was wanted."""
        record = dict(choice or {})
        record.setdefault("wanted_at", (task.due_at or now).isoformat())
        record["waiting"] = waiting.reason
        problem = encode_problem(waiting.reason, waiting.params)
        try:
            await self._store.update_task(
                task.id,
                expected={S.QUEUED, S.RETRY_WAIT},
                now=now,
                due_at=waiting.until,
                choice=record,
                error=problem,
            )
        except TaskStateError:
            return
        logger.info(
            "task %s waits until %s (%s)",
            task.id,
            waiting.until.isoformat(),
            waiting.reason,
            extra={"action": "waits", "task_id": task.id, "account_id": task.account_id},
        )
        if task.error != problem:
            await self._notify(task.id)

    async def accounts_changed(self) -> None:
        """An account was added or changed: rebuild the balancer and look at waiting tasks."""
        if self._assigner is not None:
            self._assigner.invalidate()
        await self._store.recall_waiting(self._clock.now())
        self.wake()

    async def _claim_and_run(self, task: Task, now: datetime) -> None:
        account_id = task.account_id
        assert account_id is not None
        task = await self._guard_lead_time(task, now)
        try:
            claimed = await self._store.transition(
                task.id,
                S.UPLOADING,
                now=now,
                actor=self.actor,
                expected={S.QUEUED, S.RETRY_WAIT},
                lease_owner=self._config.worker_id,
                lease_until=now + timedelta(seconds=self._config.lease_s),
            )
        except TaskStateError:
            return  # another process or a person changed it first
        self._log(claimed, "upload_started")
        if self.ledger is not None and claimed.upload_uri is None and claimed.video_id is None:
            account = await self._store.get_account(account_id)
            if account is not None:
                self.ledger.reserve(task.id, account.client_id)
        self._busy_accounts.add(account_id)
        self._running[task.id] = asyncio.get_running_loop().create_task(self._run(claimed))
        await self._notify(claimed.id)

    async def _guard_lead_time(self, task: Task, now: datetime) -> Task:
        """Move a publish instant the upload cannot beat later, and say so; never earlier.

        Only before the upload session opens: YouTube holds the instant sent with it.
        """
        if task.publish_at is None or task.video_id is not None or task.upload_uri:
            return task
        media = await self._store.get_media(task.media_id)
        if media is None:
            return task
        left_s = max(0, media.size - task.upload_offset) / self._config.upload_rate_bps
        check = check_lead_time(task.publish_at, left_s, now)
        if check.ok or check.replanned_at is None:
            return task
        try:
            moved = await self._store.update_task(
                task.id,
                expected={S.QUEUED, S.RETRY_WAIT},
                now=now,
                publish_at=check.replanned_at,
            )
        except TaskStateError:
            return task
        logger.warning(
            "task %s: %s",
            task.id,
            check.describe(),
            extra=self._extra(task, "replanned"),
        )
        await self._tell(
            task.id,
            "note.replanned",
            {"asked": task.publish_at.isoformat(), "at": check.replanned_at.isoformat()},
        )
        return moved

    async def _tell(self, task_id: int, key: str, params: dict[str, str]) -> None:
        try:
            await self._notifier.task_note(task_id, key, params)
        except Exception:
            logger.exception("task %s: note not sent", task_id, extra={"task_id": task_id})

    async def _after_attempt(self, task: Task, *, ok: bool, reason: str | None = None) -> None:
        """Record the attempt and apply the account's health rules."""
        if self.ledger is None or task.account_id is None:
            return
        try:
            await self.ledger.record_attempt(task.id, task.account_id, ok=ok, reason=reason)
            account = await self._store.get_account(task.account_id)
            if account is not None:
                await self._apply_health(account)
        except Exception:
            logger.exception("account %s: health rules not applied", task.account_id)

    async def _apply_health(self, account: Account) -> None:
        assert self.ledger is not None
        change = await self.ledger.health_of(account, self._clock.now())
        if change is not None:
            await self._set_status(account.id, change.status, change.reason, change.until)

    async def _health_sweep(self) -> None:
        """Apply the health rules to every active account (on a timer, besides each attempt)."""
        if self.ledger is None:
            return
        now = self._clock.now()
        if self._health_at is not None and (now - self._health_at).total_seconds() < (
            self._config.health_every_s
        ):
            return
        self._health_at = now
        try:
            accounts = await self._store.list_accounts()
            signature = hash(tuple((a.id, a.status, a.status_until) for a in accounts))
            if self._accounts_seen is not None and signature != self._accounts_seen:
                # Another process (the command line, say) added or changed an account.
                await self.accounts_changed()
            self._accounts_seen = signature
            for account, change in await self.ledger.health_all(accounts, now):
                await self._set_status(account.id, change.status, change.reason, change.until)
        except Exception:
            logger.exception("health sweep failed")

    async def _arm_next_due(self) -> None:
        due = await self._store.next_due_at()
        if due is None:
            self._clock.cancel(NEXT_DUE_TIMER)
            return
        self._clock.call_at(max(due, self._clock.now()), self.wake, NEXT_DUE_TIMER)

    def _arm_sweep(self) -> None:
        when = self._clock.now() + timedelta(seconds=self._config.sweep_s)

        def sweep() -> None:
            self._arm_sweep()
            asyncio.get_running_loop().create_task(self._purge_media())
            asyncio.get_running_loop().create_task(self._health_sweep())
            if not self._config.single_process:
                # Another worker may have died holding leases; take its tasks over.
                asyncio.get_running_loop().create_task(self._recover(every=False))
            self.wake()

        if not self._stopping:
            self._clock.call_at(when, sweep, SWEEP_TIMER)

    async def _purge_media(self) -> None:
        """Delete files kept past their retention; a failed or waiting task keeps its file."""
        cutoff = self._clock.now() - timedelta(hours=self._config.media_retention_h)
        try:
            for media in await self._store.media_to_purge(cutoff):
                for key in [media.key, *await self._store.thumbnails_of(media.id)]:
                    self._media.delete(key)
                await self._store.mark_purged(media.id, self._clock.now())
                logger.info(
                    "media %s deleted after retention", media.id, extra={"action": "purged"}
                )
        except Exception:
            logger.exception("media retention sweep failed")

    def _arm_heartbeat(self) -> None:
        when = self._clock.now() + timedelta(seconds=self._config.lease_s / 3)

        def beat() -> None:
            self._arm_heartbeat()
            if self._running:
                asyncio.get_running_loop().create_task(self._renew_leases())

        if not self._stopping:
            self._clock.call_at(when, beat, HEARTBEAT_TIMER)

    async def _renew_leases(self) -> None:
        until = self._clock.now() + timedelta(seconds=self._config.lease_s)
        await self._store.renew_lease(list(self._running), self._config.worker_id, until)

    async def _recover(self, *, every: bool | None = None) -> None:
        now = self._clock.now()
        take_all = self._config.single_process if every is None else every
        for task in await self._store.stale_active_tasks(now, every=take_all):
            target = S.QUEUED if task.state is S.UPLOADING else S.RETRY_WAIT
            try:
                recovered = await self._store.transition(
                    task.id,
                    target,
                    now=now,
                    actor=self.actor,
                    detail="resumed after restart",
                    expected={task.state},
                    due_at=task.due_at or now,  # keeps its place in the queue
                    lease_owner=None,
                    lease_until=None,
                )
            except TaskStateError:
                continue  # its owner finished it or another worker took it first
            self._log(recovered, "recovered")

    async def _run(self, task: Task) -> None:
        try:
            await self._publish(task)
        except asyncio.CancelledError:
            await asyncio.shield(self._release(task))
            raise
        except LeaseLostError:
            logger.warning(
                "task %s: lease lost, left to its new owner",
                task.id,
                extra=self._extra(task, "lease_lost"),
            )
        except PublishError as exc:
            await self._handle_failure(task, exc)
        except InputError as exc:
            await self._fail(task, encode_problem(exc.key, exc.params), reason=exc.key)
        except Exception as exc:
            logger.exception(
                "task %s: unexpected error", task.id, extra=self._extra(task, "task_error")
            )
            await self._handle_failure(task, PublishError(type(exc).__name__, reason="unknown"))
        finally:
            self._running.pop(task.id, None)
            if self.ledger is not None:
                self.ledger.release(task.id)
            if task.account_id is not None:
                self._busy_accounts.discard(task.account_id)
            self.wake()

    async def _publish(self, task: Task) -> None:
        assert task.account_id is not None
        account = await self._store.get_account(task.account_id)
        media = await self._store.get_media(task.media_id)
        if account is None or media is None:
            raise ContentError("the task's account or file is gone", reason="missing")
        now = self._clock.now()
        if task.video_id is None:
            validate_metadata(task.metadata, task.privacy, task.publish_at, now)
        publisher = self._publishers[account.platform]
        credentials = await self._store.credentials(account.id)
        owner = self._config.worker_id

        async def on_progress(uri: str, offset: int, total: int) -> None:
            if not await self._store.save_progress(task.id, owner, uri, offset):
                # Another worker took the task over (our lease lapsed): stop before sending more.
                raise LeaseLostError(task.id)
            try:
                await self._notifier.task_progress(task.id, offset, total)
            except Exception:
                logger.exception("task %s: progress not shown", task.id)

        request = UploadRequest(
            task_id=task.id,
            account_id=account.id,
            credentials=credentials,
            metadata=task.metadata,
            privacy=effective_privacy(task.privacy, task.publish_at),
            publish_at=task.publish_at,
            media_key=media.key,
            media_size=media.size,
            mime_type=media.mime_type,
            session_uri=task.upload_uri,
        )
        try:
            result = await self._upload(task, request, publisher, on_progress)
        except SessionExpiredError:
            logger.warning(
                "task %s: upload session expired, starting over",
                task.id,
                extra=self._extra(task, "session_expired"),
            )
            await self._store.save_progress(task.id, owner, "", 0)
            fresh = dataclasses.replace(request, session_uri=None)
            result = await publisher.upload(fresh, on_progress)
        await self._activate(account.id, now)
        note = None
        if result.privacy is not request.privacy and task.video_id is None:
            # Unaudited API projects get their uploads forced to private: say so, never hide it.
            note = encode_problem("note.forced_private", {"asked": request.privacy.value})
        done = await self._store.transition(
            task.id,
            S.PROCESSING,
            now=self._clock.now(),
            actor=self.actor,
            owned_by=owner,
            video_id=result.video_id,
            upload_offset=media.size,
            privacy=result.privacy if note else task.privacy,
            error=note,
        )
        self._log(done, "uploaded")
        thumbnail_problem = await self._set_thumbnail(
            done, credentials, publisher, result.video_id
        )
        published = await self._store.transition(
            task.id,
            S.PUBLISHED,
            now=self._clock.now(),
            actor=self.actor,
            owned_by=owner,
            detail=thumbnail_problem,
            lease_owner=None,
            lease_until=None,
            error=done.error or thumbnail_problem,
        )
        self._log(published, "published")
        await self._notify(task.id)
        await self._after_attempt(published, ok=True)

    async def _upload(
        self,
        task: Task,
        request: UploadRequest,
        publisher: Publisher,
        on_progress: ProgressCallback,
    ) -> UploadResult:
        if task.video_id is not None:
            # The upload finished before a restart; only the steps after it remain.
            return UploadResult(task.video_id, "", request.privacy)
        return await publisher.upload(request, on_progress)

    async def _release(self, task: Task) -> None:
        """Hand an interrupted task back to the queue, keeping its upload session."""
        try:
            released = await self._store.transition(
                task.id,
                S.QUEUED,
                now=self._clock.now(),
                actor=self.actor,
                detail="interrupted by shutdown",
                owned_by=self._config.worker_id,
                due_at=self._clock.now(),
                lease_owner=None,
                lease_until=None,
            )
        except Exception:
            logger.exception("task %s: could not hand back on shutdown", task.id)
            return
        self._log(released, "released")

    async def _set_thumbnail(
        self, task: Task, credentials: Credentials, publisher: Publisher, video_id: str
    ) -> str | None:
        if task.thumbnail_key is None:
            return None
        try:
            with self._media.open(task.thumbnail_key) as image:
                await publisher.set_thumbnail(
                    credentials,
                    video_id,
                    image,
                    "image/jpeg",
                    account_id=task.account_id,
                    task_id=task.id,
                )
        except PublishError as exc:
            logger.warning(
                "task %s: thumbnail not set: %s",
                task.id,
                exc.reason,
                extra=self._extra(task, "thumbnail_failed"),
            )
            return encode_problem("note.thumbnail_failed", {"reason": exc.reason or str(exc)})
        return None

    async def _handle_failure(self, task: Task, exc: PublishError) -> None:
        now = self._clock.now()
        reason = exc.reason or type(exc).__name__
        problem = f"{reason}: {exc}" if exc.reason and str(exc) != exc.reason else reason
        if not isinstance(exc, ContentError | AuthError | QuotaExceededError | UploadLimitError):
            await self._after_attempt(task, ok=False, reason=reason)
        if isinstance(exc, ContentError):
            await self._fail(task, problem, reason=reason)
        elif isinstance(exc, AuthError):
            await self._hold(task, problem, reason)
        elif isinstance(exc, QuotaExceededError):
            reset = next_quota_reset(now) + timedelta(seconds=QUOTA_RESET_MARGIN_S)
            await self._limit_project(task, reset, reason)
            if not await self._rebalance(task, problem, reason):
                await self._wait(task, reset, problem, reason, count_attempt=False)
        elif isinstance(exc, UploadLimitError):
            until = now + timedelta(hours=self._config.upload_limit_wait_h)
            await self._set_status(task.account_id, AccountStatus.RATE_LIMITED, reason, until)
            if not await self._rebalance(task, problem, reason):
                await self._wait(task, until, problem, reason, count_attempt=False)
            await self._move_waiting_tasks(task, now)
        else:
            retries = task.attempts
            limit = (
                self._retry.max_retries if reason != "unknown" else self._config.unknown_retries
            )
            delay = self._retry.delay_s(retries) if retries < limit else None
            if delay is None:
                await self._fail(task, problem, reason=reason)
            else:
                retry_at = now + timedelta(seconds=delay)
                await self._wait(task, retry_at, problem, reason, count_attempt=True)

    async def _wait(
        self, task: Task, due: datetime, problem: str, reason: str, *, count_attempt: bool
    ) -> None:
        waiting = await self._store.transition(
            task.id,
            S.RETRY_WAIT,
            now=self._clock.now(),
            actor=self.actor,
            detail=reason,
            due_at=due,
            attempts=task.attempts + (1 if count_attempt else 0),
            error=problem,
            lease_owner=None,
            lease_until=None,
        )
        self._log(waiting, "retry_wait")
        await self._notify(task.id)

    async def _rebalance(self, task: Task, problem: str, reason: str) -> bool:
        """Give a task that did not name its channel back to the balancer, to go elsewhere now.

        Only before its upload session exists: a session belongs to its channel.
        """
        if self._assigner is None or _named(task) or task.upload_uri:
            return False
        if not await self._another_account_for(task):
            return False
        try:
            released = await self._store.transition(
                task.id,
                S.QUEUED,
                now=self._clock.now(),
                actor=self.actor,
                detail=f"to the balancer: {reason}",
                owned_by=self._config.worker_id,
                account_id=None,
                due_at=self._clock.now(),
                error=problem,
                choice=None,
                lease_owner=None,
                lease_until=None,
            )
        except TaskStateError:
            return False
        self._log(released, "rebalanced")
        await self._notify(task.id)
        return True

    async def _another_account_for(self, task: Task) -> bool:
        """Return whether another active account may take the task (it lacks the same file)."""
        for account in await self._store.list_accounts():
            if account.id == task.account_id or account.status is not AccountStatus.ACTIVE:
                continue
            allowed = task.allowed_accounts
            if allowed is not None and account.id not in allowed:
                continue
            if not await self._store.file_on_account(task.media_id, account.id):
                return True
        return False

    async def _move_waiting_tasks(self, failed: Task, now: datetime) -> None:
        """Move a paused channel's waiting tasks to another active channel that may take them.

        A task moves only before it opened an upload session, and never to a channel that has
        the same file already; the one that hit the cap may go at once on its new channel.
        """
        if failed.account_id is None:
            return
        paused = await self._store.get_account(failed.account_id)
        if paused is None:
            return
        if self._assigner is not None:
            await self._release_to_balancer(paused.id, now)
            return
        others = [
            a
            for a in await self._store.list_accounts()
            if a.status is AccountStatus.ACTIVE and a.platform == paused.platform
        ]
        for task in await self._store.movable_tasks(paused.id):
            for other in others:
                if await self._store.file_on_account(task.media_id, other.id):
                    continue
                due = now if task.id == failed.id else task.due_at
                try:
                    moved = await self._store.update_task(
                        task.id,
                        expected={S.QUEUED, S.RETRY_WAIT},
                        now=now,
                        account_id=other.id,
                        due_at=due,
                    )
                except TaskStateError:
                    break
                logger.info(
                    "task %s moved from account %s to %s",
                    task.id,
                    paused.id,
                    other.id,
                    extra={"action": "moved", "task_id": task.id, "account_id": other.id},
                )
                await self._notify(moved.id)
                break

    async def _release_to_balancer(self, account_id: int, now: datetime) -> None:
        """Hand a paused channel's waiting tasks that did not name it back to the balancer."""
        for task in await self._store.movable_tasks(account_id):
            if _named(task):
                continue
            try:
                moved = await self._store.update_task(
                    task.id,
                    expected={S.QUEUED, S.RETRY_WAIT},
                    now=now,
                    account_id=None,
                    choice=None,
                )
            except TaskStateError:
                continue
            logger.info(
                "task %s: account %s paused, back to the balancer",
                task.id,
                account_id,
                extra={"action": "moved", "task_id": task.id, "account_id": account_id},
            )
            await self._notify(moved.id)

    async def _hold(self, task: Task, problem: str, reason: str) -> None:
        """Keep the task queued, neither failed nor retried, until the account is re-authorised."""
        held = await self._store.transition(
            task.id,
            S.QUEUED,
            now=self._clock.now(),
            actor=self.actor,
            detail=f"held: {reason}",
            error=problem,
            lease_owner=None,
            lease_until=None,
        )
        self._log(held, "held")
        await self._set_status(task.account_id, AccountStatus.NEEDS_AUTH, reason, None)
        await self._notify(task.id)

    async def _limit_project(self, task: Task, until: datetime, reason: str) -> None:
        """Rate-limit every account that shares the task's Google Cloud project."""
        if task.account_id is None:
            return
        account = await self._store.get_account(task.account_id)
        if account is None:
            return
        for sharing in await self._store.accounts_of_project(account.client_id):
            if sharing.status is AccountStatus.RATE_LIMITED and (
                sharing.status_until is None or sharing.status_until >= until
            ):
                continue  # a longer limit of its own (its upload cap) stays as it is
            if sharing.status in (AccountStatus.ACTIVE, AccountStatus.RATE_LIMITED):
                await self._set_status(sharing.id, AccountStatus.RATE_LIMITED, reason, until)

    async def _set_status(
        self, account_id: int | None, status: AccountStatus, reason: str, until: datetime | None
    ) -> None:
        if account_id is None:
            return
        previous = await self._store.set_account_status(
            account_id, status, now=self._clock.now(), reason=reason, until=until
        )
        if self._assigner is not None:
            self._assigner.invalidate()
        if previous is None:
            return
        logger.warning(
            "account %s: %s -> %s (%s)",
            account_id,
            previous.value,
            status.value,
            reason,
            extra={"action": "account_status", "account_id": account_id},
        )
        try:
            await self._notifier.account_changed(account_id, previous)
        except Exception:
            logger.exception("account %s: status change not announced", account_id)

    async def _activate(self, account_id: int, now: datetime) -> None:
        """Lift a rate limit an upload outlived (one that was in flight when it was set)."""
        account = await self._store.get_account(account_id)
        if account is None or account.status is not AccountStatus.RATE_LIMITED:
            return
        if account.status_until is not None and account.status_until > self._clock.now():
            return  # the limit still holds: the upload only finished a session opened before it
        await self._set_status(account_id, AccountStatus.ACTIVE, "limit lifted", None)

    async def _lift_expired_limits(self) -> None:
        for account in await self._store.expired_limits(self._clock.now()):
            await self._set_status(account.id, AccountStatus.ACTIVE, "limit lifted", None)

    async def _fail(self, task: Task, message: str, *, reason: str) -> None:
        failed = await self._store.transition(
            task.id,
            S.FAILED,
            now=self._clock.now(),
            actor=self.actor,
            detail=reason,
            error=message,
            lease_owner=None,
            lease_until=None,
        )
        self._log(failed, "failed")
        await self._notify(task.id)

    async def _notify(self, task_id: int) -> None:
        try:
            await self._notifier.task_changed(task_id)
        except Exception:
            logger.exception("task %s: notification failed", task_id, extra={"task_id": task_id})

    def _extra(self, task: Task, action: str) -> dict[str, object]:
        return {"action": action, "task_id": task.id, "account_id": task.account_id}

    def _log(self, task: Task, action: str) -> None:
        logger.info(
            "task %s %s (account %s)",
            task.id,
            task.state.value,
            task.account_id,
            extra=self._extra(task, action),
        )


def _named(task: Task) -> bool:
    """Return whether a person chose the task's channel (the balancer must not move it)."""
    return bool(task.choice and task.choice.get("named"))
