"""Scheduling from the chat: publish at an instant, and plans (interval, batch, best time).

A plan is worked out in full before anything changes: one line per task with its channel, its
instant, any DST note, where the quota forecast puts its upload and what the lead-time guard
moved. It waits in memory until the person who asked for it (or an admin) accepts it; only
then are tasks created or queued. A plan that is not accepted changes nothing, and a restart
forgets it.

A line's `slot` is the instant the plan is about. For a public task it is when YouTube makes the
video public (`publish_at`), and the upload starts early enough before it; for a private or
unlisted task it is when the upload starts, since YouTube only schedules a publish to public.
A slot at "now" (the first one of an interval) is uploaded at once and published as it lands.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from core.access import Actor, Role
from core.errors import InputError, TaskStateError
from core.ledger import AccountDefaults
from core.metadata import validate_metadata
from core.models import Account, AccountStatus, Media, Privacy, Task, TaskState, VideoMetadata
from core.planning import (
    AUDIENCE_SPACING_H,
    BEST_HORIZON_DAYS,
    LEAD_MARGIN_S,
    PlanAccount,
    Slot,
    check_lead_time,
    plan_best,
    plan_daily,
    plan_every,
    plan_interval,
)
from core.ports import Clock, MediaStore
from core.quota import Forecast, MoveReason, PlannedUpload
from core.states import EDITABLE
from core.timeparse import Note, ResolvedTime, format_local, parse_when

logger = logging.getLogger(__name__)

S = TaskState
#: One plan shows every line before it is accepted; more than this would not fit the chat.
MAX_PLAN_TASKS = 50
#: A plan not answered within this time is forgotten (its slots would be stale).
PLAN_TTL_S = 3600
#: Plans kept waiting for an answer at once; the oldest is forgotten first.
MAX_PENDING_PLANS = 500
#: An upload ahead of its publish instant starts this much earlier than the lead-time margin
#: asks, so the engine's own check when the upload starts (a moment later) still passes.
UPLOAD_AHEAD_SLACK_S = 300
#: The longest interval a plan takes between two uploads.
MAX_SPACING = timedelta(days=30)
#: Later peak slots tried on one account before best-time placement gives up on it.
MAX_BEST_TRIES = 64
#: Tasks read when looking for what is already planned.
SCAN_LIMIT = 100_000
#: Longer batch texts are not plans; the cap also bounds the parsers' work.
MAX_SPEC_CHARS = 300
#: Tasks whose upload is still ahead and that hold a place on their channel's quota.
WAITING = (S.QUEUED, S.RETRY_WAIT)


class PlanStore(Protocol):
    """What plans read and write (storage.store.SqlStore implements it)."""

    async def get_task(self, task_id: int) -> Task | None:
        """Return one task, or None."""
        ...

    async def get_media(self, media_id: int) -> Media | None:
        """Return one media record, or None."""
        ...

    async def list_accounts(self) -> list[Account]:
        """Return every account, oldest first."""
        ...

    async def list_tasks(
        self, states: Iterable[TaskState], *, user_id: int | None = None, limit: int = 50
    ) -> list[Task]:
        """Return tasks in the given states, soonest due first."""
        ...

    async def file_on_account(self, media_id: int, account_id: int) -> bool:
        """Tell whether the same file is live or published on an account."""
        ...

    async def duplicate_of(self, task_id: int) -> Task | None:
        """Return another live or published task with the same file on the same account."""
        ...

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
        """Create a draft task."""
        ...

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
        """Move a task to `to` in one transaction; raise TaskStateError if it cannot."""
        ...


class PlanLedger(Protocol):
    """The quota ledger as plans use it (core.ledger.QuotaLedger)."""

    @property
    def defaults(self) -> AccountDefaults:
        """Return what accounts use where they have no setting of their own."""
        ...

    async def forecast(
        self, plan: Sequence[PlannedUpload], accounts: Sequence[Account], now: datetime
    ) -> Forecast:
        """Place a plan's uploads against the ledger as it stands."""
        ...


class PlanKind(StrEnum):
    """How a plan spreads its tasks."""

    INTERVAL = "interval"
    DAILY = "daily"
    EVERY = "every"
    BEST = "best"


@dataclass(frozen=True)
class PlanLine:
    """One task of a plan: which channel, and when."""

    #: The task it schedules or, for a copy, the task whose file and metadata it copies.
    task_id: int
    copy: bool
    account: Account
    #: The zone the slot was worked out in (the account's, or its audience's peak zone).
    zone: ZoneInfo
    slot: datetime
    upload_at: datetime
    #: When YouTube makes the video public; None when it is published as it lands (or never).
    publish_at: datetime | None
    privacy: Privacy
    upload_s: float
    note: Note | None = None
    #: The wall time asked for in `zone`, when a DST change moved it.
    wall: datetime | None = None
    #: Why the quota forecast moved the upload later than planned.
    moved: MoveReason | None = None
    #: The publish instant first planned, when the lead-time guard moved it later.
    asked_publish_at: datetime | None = None

    @property
    def at(self) -> datetime:
        """Return the instant people see: the publish instant, or the upload's start."""
        return self.publish_at or self.upload_at


@dataclass(frozen=True)
class Plan:
    """A plan shown to a person, waiting for Accept or Cancel."""

    token: str
    kind: PlanKind
    user_id: int
    chat_id: int
    created_at: datetime
    lines: tuple[PlanLine, ...]
    #: The tasks as they were when planned (id, what the plan read of them); accepting refuses
    #: the plan if one of them changed since.
    seen: tuple[tuple[int, tuple[object, ...]], ...]
    every: timedelta | None = None
    clock: time | None = None
    start: ResolvedTime | None = None

    @property
    def plan_id(self) -> str:
        """Return the id stored on the plan's tasks."""
        return f"{self.kind.value}-{self.token}"

    @property
    def fitting(self) -> int:
        """Return how many uploads the quota forecast lets go as planned."""
        return sum(line.moved is None for line in self.lines)

    @property
    def accounts(self) -> tuple[Account, ...]:
        """Return the plan's accounts, in the order they first appear."""
        found = {line.account.id: line.account for line in self.lines}
        return tuple(found.values())


@dataclass(frozen=True)
class Scheduled:
    """A task that uploads now and that YouTube publishes at an instant."""

    task: Task
    resolved: ResolvedTime
    #: What was stored: later than asked when the upload could not finish in time.
    publish_at: datetime
    upload_s: float


@dataclass(frozen=True)
class Replanned:
    """A publish instant the lead-time guard moved later when a plan was accepted."""

    task_id: int
    asked: datetime
    at: datetime


@dataclass(frozen=True)
class Accepted:
    """What accepting a plan queued."""

    plan: Plan
    #: The queued tasks, in the plan's order (copies are new tasks).
    tasks: tuple[Task, ...]
    replanned: tuple[Replanned, ...]


@dataclass(frozen=True)
class BatchSpec:
    """What a person asked `/batch` for."""

    kind: PlanKind
    #: The tasks named; empty means the person's drafts in the chat.
    task_ids: tuple[int, ...] = ()
    #: The account names given; empty means every active account.
    accounts: tuple[str, ...] = ()
    clock: time | None = None
    every: timedelta | None = None
    start: ResolvedTime | None = None


class PlanService:
    """Works out plans, keeps them until they are answered, and queues accepted ones."""

    def __init__(
        self,
        store: PlanStore,
        ledger: PlanLedger,
        media: MediaStore,
        clock: Clock,
        *,
        upload_rate_bps: float,
        on_change: Callable[[], None] | None = None,
        ttl: timedelta = timedelta(seconds=PLAN_TTL_S),
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._media = media
        self._clock = clock
        self._rate_bps = upload_rate_bps
        self._on_change = on_change
        self._ttl = ttl
        self._pending: dict[str, Plan] = {}

    def now(self) -> datetime:
        """Return the current instant of the service's clock."""
        return self._clock.now()

    def upload_seconds(self, media: Media) -> float:
        """Return how long uploading a file is expected to take (PM_UPLOAD_RATE_MBPS)."""
        return media.size / self._rate_bps

    # -- publish at an instant -----------------------------------------------------------------

    async def publish_at(self, task_id: int, when: str, actor: Actor) -> Scheduled:
        """Upload a task now, private, for YouTube to make public at the time a person typed."""
        task = await self._editable(task_id, actor)
        now = self._clock.now()
        zone = ZoneInfo(actor.timezone)
        resolved = parse_when(when, now=now, tz=zone)
        if resolved.instant <= now:
            raise InputError("publishat.not_future", when=format_local(resolved.instant, zone))
        if task.account_id is None and not await self._store.list_accounts():
            raise InputError("task.no_account")
        media = await self._media_of(task)
        upload_s = self.upload_seconds(media)
        lead = check_lead_time(resolved.instant, upload_s, now)
        publish_at = lead.replanned_at or resolved.instant
        validate_metadata(task.metadata, Privacy.PUBLIC, publish_at, now)
        twin = await self._store.duplicate_of(task.id)
        if twin is not None:
            raise InputError("task.duplicate", task_id=task.id, other=twin.id)
        try:
            queued = await self._store.transition(
                task.id,
                S.QUEUED,
                now=now,
                actor=actor.label,
                detail=f"publish at {publish_at.isoformat()}",
                expected={task.state},
                due_at=now,
                publish_at=publish_at,
                privacy=Privacy.PUBLIC,
                attempts=0,
                error=None,
            )
        except TaskStateError as exc:
            raise InputError("task.not_editable", task_id=task_id, state=exc.current) from exc
        _log_queued(queued, "publish_at")
        self._changed()
        return Scheduled(queued, resolved, publish_at, upload_s)

    # -- making plans ----------------------------------------------------------------------

    async def interval(
        self, task_id: int, every: str, names: Sequence[str], actor: Actor, chat_id: int
    ) -> Plan:
        """Plan one video on several accounts: the first now, each next one `every` later."""
        task = await self._editable(task_id, actor)
        spacing = parse_span(every, default_unit="h")
        if spacing is None or not timedelta(0) < spacing <= MAX_SPACING:
            raise InputError("plan.bad_hours", text=every[:40])
        accounts = await self._accounts(names)
        if len(accounts) > MAX_PLAN_TASKS:
            raise InputError("plan.too_many", count=len(accounts), limit=MAX_PLAN_TASKS)
        media = await self._media_of(task)
        taken: set[tuple[str, int]] = set()
        for account in accounts:
            await self._claim_file(task, media, account, taken)
        now = self._clock.now()
        zones = [PlanAccount(a.id, ZoneInfo(a.timezone)) for a in accounts]
        lines = [
            self._line(task, media, accounts[n], slot.at, now, zone=zones[n].tz, copy=n > 0)
            for n, slot in enumerate(plan_interval(zones, spacing, now))
        ]
        return await self._finish(PlanKind.INTERVAL, lines, [task], actor, chat_id, every=spacing)

    async def best(self, task_id: int, names: Sequence[str], actor: Actor, chat_id: int) -> Plan:
        """Plan a task at the nearest peak slot with quota left that stacks on nothing of ours."""
        task = await self._editable(task_id, actor)
        accounts = await self._accounts(names)
        media = await self._media_of(task)
        lines = await self._best_lines([task], {task.id: media}, accounts)
        return await self._finish(PlanKind.BEST, lines, [task], actor, chat_id)

    async def batch(self, spec_text: str, actor: Actor, chat_id: int) -> Plan:
        """Spread several tasks (the person's drafts, or those named) as `/batch` asked."""
        now = self._clock.now()
        spec = parse_batch(spec_text, now=now, tz=ZoneInfo(actor.timezone))
        tasks = await self._batch_tasks(spec.task_ids, actor, chat_id)
        accounts = await self._accounts(spec.accounts)
        medias = {task.id: await self._media_of(task) for task in tasks}
        if spec.kind is PlanKind.BEST:
            lines = await self._best_lines(tasks, medias, accounts)
            return await self._finish(spec.kind, lines, tasks, actor, chat_id)
        zones = [PlanAccount(a.id, ZoneInfo(a.timezone)) for a in accounts]
        if spec.kind is PlanKind.DAILY:
            assert spec.clock is not None
            slots = plan_daily(len(tasks), zones, spec.clock, now)
        else:
            assert spec.every is not None and spec.start is not None
            slots = plan_every(len(tasks), zones, spec.start.instant, spec.every, now)
        by_id = {a.id: a for a in accounts}
        taken: set[tuple[str, int]] = set()
        lines = []
        for slot in slots:
            task, account = tasks[slot.item], by_id[slot.account_id]
            await self._claim_file(task, medias[task.id], account, taken)
            line = self._line(
                task, medias[task.id], account, slot.at, now, zone=ZoneInfo(account.timezone)
            )
            lines.append(dataclasses.replace(line, note=slot.note, wall=slot.wall))
        shown = {"clock": spec.clock, "every": spec.every, "start": spec.start}
        return await self._finish(spec.kind, lines, tasks, actor, chat_id, **shown)

    async def drafts(self, actor: Actor, chat_id: int) -> list[int]:
        """Return the ids of the person's drafts in a chat, oldest first."""
        found = await self._store.list_tasks((S.DRAFT,), user_id=actor.user_id, limit=SCAN_LIMIT)
        return sorted(t.id for t in found if t.chat_id == chat_id)

    # -- answering plans ---------------------------------------------------------------------

    def pending(self, token: str) -> Plan | None:
        """Return a plan still waiting for an answer, or None."""
        plan = self._pending.get(token)
        if plan is not None and self._clock.now() - plan.created_at > self._ttl:
            del self._pending[token]
            return None
        return plan

    async def accept(self, token: str, actor: Actor) -> Accepted:
        """Queue every task of a plan, after checking that nothing changed since it was made."""
        plan = self._decidable(token, actor)
        del self._pending[token]
        now = self._clock.now()
        sources = await self._recheck(plan, now)
        queued: list[Task] = []
        replanned: list[Replanned] = []
        for line in plan.lines:
            # Time passed while the plan was read: check each publish instant again.
            start = max(line.upload_at, now)
            final = _guard(dataclasses.replace(line, upload_at=start, asked_publish_at=None))
            try:
                task = await self._queue_line(plan, final, sources[line.task_id], actor, now)
            except TaskStateError as exc:
                # Someone changed a task after the checks: what was queued stays queued.
                self._changed()
                done = ", ".join(f"#{t.id}" for t in queued) or "-"
                raise InputError("plan.partly", task_id=exc.task_id, done=done) from exc
            queued.append(task)
            if final.asked_publish_at is not None and final.publish_at is not None:
                replanned.append(Replanned(task.id, final.asked_publish_at, final.publish_at))
        logger.info(
            "plan %s accepted: %s tasks",
            plan.plan_id,
            len(queued),
            extra={"action": "plan_accepted", "plan_id": plan.plan_id},
        )
        self._changed()
        return Accepted(plan, tuple(queued), tuple(replanned))

    def cancel(self, token: str, actor: Actor) -> Plan:
        """Forget a plan; nothing it planned changes."""
        plan = self._decidable(token, actor)
        del self._pending[token]
        logger.info(
            "plan %s cancelled",
            plan.plan_id,
            extra={"action": "plan_cancelled", "plan_id": plan.plan_id},
        )
        return plan

    def _decidable(self, token: str, actor: Actor) -> Plan:
        plan = self.pending(token)
        if plan is None:
            raise InputError("plan.gone")
        if actor.user_id != plan.user_id and actor.role is not Role.ADMIN:
            raise InputError("plan.not_yours")
        return plan

    async def _recheck(self, plan: Plan, now: datetime) -> dict[int, Task]:
        """Return the plan's tasks as they are now; refuse the plan if one changed."""
        sources: dict[int, Task] = {}
        for task_id, seen in plan.seen:
            task = await self._store.get_task(task_id)
            if task is None or _fingerprint(task) != seen or task.state not in EDITABLE:
                raise InputError("plan.stale", task_id=task_id)
            sources[task_id] = task
        taken: set[tuple[str, int]] = set()
        for line in plan.lines:
            source = sources[line.task_id]
            await self._claim_file(source, await self._media_of(source), line.account, taken)
            validate_metadata(source.metadata, source.privacy, line.publish_at, now)
        return sources

    async def _queue_line(
        self, plan: Plan, line: PlanLine, source: Task, actor: Actor, now: datetime
    ) -> Task:
        fields: dict[str, Any] = {
            "account_id": line.account.id,
            "allowed_accounts": None,
            # The plan chose the channel for its zone and audience: the balancer keeps it there.
            "choice": {"named": True, "plan": plan.kind.value},
            "plan_id": plan.plan_id,
            "due_at": line.upload_at,
            "publish_at": line.publish_at,
            "attempts": 0,
            "error": None,
        }
        task_id, expected = source.id, {source.state}
        if line.copy:
            created = await self._store.create_task(
                media_id=source.media_id,
                account_id=line.account.id,
                chat_id=source.chat_id,
                user_id=source.user_id,
                metadata=source.metadata,
                privacy=source.privacy,
                now=now,
            )
            thumbnail = await self._copy_thumbnail(source.thumbnail_key)
            if thumbnail is not None:
                fields["thumbnail_key"] = thumbnail
            task_id, expected = created.id, {S.DRAFT}
        queued = await self._store.transition(
            task_id,
            S.QUEUED,
            now=now,
            actor=actor.label,
            detail=f"plan {plan.plan_id}",
            expected=expected,
            **fields,
        )
        _log_queued(queued, f"plan_{plan.kind.value}")
        return queued

    async def _copy_thumbnail(self, key: str | None) -> str | None:
        """Give a copy its own thumbnail file, so replacing one task's leaves the other's."""
        if not key:
            return None
        suffix = "." + key.rsplit(".", 1)[1] if "." in key else ".jpg"
        new_key = self._media.new_key(suffix)

        async def chunks() -> AsyncIterator[bytes]:
            with self._media.open(key) as source:
                while block := source.read(1 << 20):
                    yield block

        try:
            await self._media.write_stream(new_key, chunks())
        except OSError:
            logger.warning("thumbnail %s could not be copied", key, exc_info=True)
            self._media.delete(new_key)
            return None
        return new_key

    # -- the parts of a plan -----------------------------------------------------------------

    def _line(
        self,
        task: Task,
        media: Media,
        account: Account,
        slot: datetime,
        now: datetime,
        *,
        zone: ZoneInfo,
        copy: bool = False,
    ) -> PlanLine:
        """Return a plan line for a slot: when the upload starts and when YouTube publishes."""
        upload_s = self.upload_seconds(media)
        line = PlanLine(task.id, copy, account, zone, slot, slot, None, task.privacy, upload_s)
        if slot <= now:
            return dataclasses.replace(line, upload_at=now)
        if task.privacy is not Privacy.PUBLIC:
            return line
        ahead = timedelta(seconds=upload_s + LEAD_MARGIN_S + UPLOAD_AHEAD_SLACK_S)
        start = max(now, (slot - ahead).replace(second=0, microsecond=0))
        return _guard(dataclasses.replace(line, upload_at=start, publish_at=slot))

    async def _finish(
        self,
        kind: PlanKind,
        lines: list[PlanLine],
        tasks: Sequence[Task],
        actor: Actor,
        chat_id: int,
        **shown: Any,
    ) -> Plan:
        """Move the lines the quota cannot take when planned, then keep the plan for an answer."""
        now = self._clock.now()
        accounts = await self._store.list_accounts()
        booked = await self._booked({t.id for t in tasks}, now)
        wanted = [PlannedUpload(ln.task_id, ln.account.id, ln.upload_at) for ln in lines]
        forecast = await self._ledger.forecast([*booked, *wanted], accounts, now)
        placed = []
        for line, item in zip(lines, forecast.items[len(booked) :], strict=True):
            if item.at is None:
                raise InputError("plan.never_fits", task_id=line.task_id)
            if not item.fits:
                line = _guard(dataclasses.replace(line, upload_at=item.at, moved=item.reason))
            placed.append(line)
        plan = Plan(
            token=secrets.token_urlsafe(6),
            kind=kind,
            user_id=actor.user_id,
            chat_id=chat_id,
            created_at=now,
            lines=tuple(placed),
            seen=tuple((t.id, _fingerprint(t)) for t in tasks),
            **shown,
        )
        self._remember(plan)
        logger.info(
            "plan %s made: %s lines, %s fit as planned",
            plan.plan_id,
            len(placed),
            plan.fitting,
            extra={"action": "plan_made", "plan_id": plan.plan_id},
        )
        return plan

    def _remember(self, plan: Plan) -> None:
        now = self._clock.now()
        for token, old in list(self._pending.items()):
            if now - old.created_at > self._ttl:
                del self._pending[token]
        while len(self._pending) >= MAX_PENDING_PLANS:
            del self._pending[next(iter(self._pending))]
        self._pending[plan.token] = plan

    async def _booked(self, exclude: set[int], now: datetime) -> list[PlannedUpload]:
        """Return the uploads already waiting on a channel (they take quota before or after)."""
        return [
            PlannedUpload(t.id, t.account_id, t.due_at or now)
            for t in await self._store.list_tasks(WAITING, limit=SCAN_LIMIT)
            if t.account_id is not None and t.id not in exclude
        ]

    async def _best_lines(
        self, tasks: Sequence[Task], medias: dict[int, Media], accounts: Sequence[Account]
    ) -> list[PlanLine]:
        """Place each task at the earliest best slot over the accounts, one after the other."""
        now = self._clock.now()
        exclude = {t.id for t in tasks}
        everyone = await self._store.list_accounts()
        search = _BestSearch(
            now,
            everyone,
            await self._audiences(exclude, everyone, now),
            await self._booked(exclude, now),
        )
        lines: list[PlanLine] = []
        for task in tasks:
            media = medias[task.id]
            account, audience, slot = await self._best_for(task, media, accounts, search)
            line = self._line(task, media, account, slot.at, now, zone=audience.tz)
            lines.append(dataclasses.replace(line, note=slot.note, wall=slot.wall))
            search.place(media, account, audience, slot, line.upload_at, task.id)
        return lines

    async def _best_for(
        self, task: Task, media: Media, accounts: Sequence[Account], search: _BestSearch
    ) -> tuple[Account, PlanAccount, Slot]:
        """Return the account and slot that come first; a tie goes to the least used account."""
        best: tuple[Account, PlanAccount, Slot] | None = None
        free = 0
        for account in accounts:
            if await self._file_taken(task, media, account, search.taken):
                continue
            free += 1
            audience = self._ledger.defaults.plan_account(account)
            slot = await self._best_slot(task, media, account, audience, search)
            if slot is not None and (best is None or search.before(slot, account, best)):
                best = (account, audience, slot)
        if best is None:
            key = "plan.no_best_slot" if free else "plan.has_file_everywhere"
            raise InputError(key, task_id=task.id, days=BEST_HORIZON_DAYS)
        return best

    async def _best_slot(
        self,
        task: Task,
        media: Media,
        account: Account,
        audience: PlanAccount,
        search: _BestSearch,
    ) -> Slot | None:
        """Return the account's first peak slot whose upload the quota forecast lets go."""
        now = search.now
        planned = search.audiences.get(audience.tz.key, [])
        floor = now
        for _ in range(MAX_BEST_TRIES):
            slot = plan_best(audience, now, planned=planned, has_room=_not_before(floor))
            if slot is None:
                return None
            line = self._line(task, media, account, slot.at, now, zone=audience.tz)
            wanted = PlannedUpload(task.id, account.id, line.upload_at)
            forecast = await self._ledger.forecast([*search.booked, wanted], search.everyone, now)
            item = forecast.items[-1]
            if item.fits:
                return slot
            if item.at is None:
                return None
            # The upload can start at item.at at the soonest: skip the slots before that.
            floor = max(slot.at + timedelta(minutes=1), item.at + (slot.at - line.upload_at))
        return None

    async def _audiences(
        self, exclude: set[int], accounts: Sequence[Account], now: datetime
    ) -> dict[str, list[datetime]]:
        """Return, per audience (the peak zone), when our own planned videos reach it."""
        by_id = {a.id: a for a in accounts}
        since = now - timedelta(hours=AUDIENCE_SPACING_H)
        states = (*WAITING, S.UPLOADING, S.PROCESSING, S.PUBLISHED)
        found: dict[str, list[datetime]] = {}
        for task in await self._store.list_tasks(states, limit=SCAN_LIMIT):
            account = by_id.get(task.account_id) if task.account_id is not None else None
            if account is None or task.id in exclude:
                continue
            published = task.updated_at if task.state is S.PUBLISHED else task.due_at
            seen_at = task.publish_at or published
            if seen_at is None or seen_at < since:
                continue
            zone = self._ledger.defaults.plan_account(account).tz.key
            found.setdefault(zone, []).append(seen_at)
        return found

    # -- checks ------------------------------------------------------------------------------

    async def _editable(self, task_id: int, actor: Actor) -> Task:
        """Return a task the person may schedule, or raise the reason they may not."""
        if actor.role is Role.VIEWER:
            raise InputError("access.denied")
        task = await self._store.get_task(task_id)
        if task is None:
            raise InputError("task.not_found", task_id=task_id)
        if actor.role is not Role.ADMIN and task.user_id != actor.user_id:
            raise InputError("task.not_yours", task_id=task_id)
        if task.state not in EDITABLE:
            raise InputError("task.not_editable", task_id=task_id, state=task.state.value)
        if task.video_id is not None:
            raise InputError("task.already_uploaded", task_id=task_id)
        if task.upload_uri:
            # An open session may have completed unseen; only its own channel may settle it.
            raise InputError("plan.session_open", task_id=task_id)
        return task

    async def _batch_tasks(
        self, task_ids: Sequence[int], actor: Actor, chat_id: int
    ) -> list[Task]:
        if not task_ids:
            task_ids = await self.drafts(actor, chat_id)
            if not task_ids:
                raise InputError("plan.no_drafts")
        if len(task_ids) > MAX_PLAN_TASKS:
            raise InputError("plan.too_many", count=len(task_ids), limit=MAX_PLAN_TASKS)
        return [await self._editable(task_id, actor) for task_id in dict.fromkeys(task_ids)]

    async def _accounts(self, names: Sequence[str]) -> list[Account]:
        """Return the accounts named (in that order), or every active one if none is."""
        accounts = await self._store.list_accounts()
        wanted = split_names(names)
        if not wanted:
            active = [a for a in accounts if a.status is AccountStatus.ACTIVE]
            if not active:
                raise InputError("plan.no_active")
            return active
        by_name = {a.name.lower(): a for a in accounts}
        unknown = [name for name in wanted if name.lower() not in by_name]
        if unknown:
            known = ", ".join(a.name for a in accounts) or "-"
            raise InputError("plan.unknown_account", name=", ".join(unknown), known=known)
        chosen: list[Account] = []
        for name in wanted:
            account = by_name[name.lower()]
            if account in chosen:
                raise InputError("plan.account_twice", name=account.name)
            chosen.append(account)
        return chosen

    async def _file_taken(
        self, task: Task, media: Media, account: Account, taken: set[tuple[str, int]]
    ) -> bool:
        """Tell whether the account has this file already (or gets it earlier in the plan)."""
        if (media.sha256, account.id) in taken:
            return True
        if account.id == task.account_id:
            # The task itself holds its own account: only another task with the file counts.
            twin = await self._store.duplicate_of(task.id)
            return twin is not None and twin.account_id == account.id
        return await self._store.file_on_account(media.id, account.id)

    async def _claim_file(
        self, task: Task, media: Media, account: Account, taken: set[tuple[str, int]]
    ) -> None:
        """Refuse a plan that would put one file twice on a channel; else note it is placed."""
        if await self._file_taken(task, media, account, taken):
            raise InputError("plan.has_file", task_id=task.id, name=account.name)
        taken.add((media.sha256, account.id))

    async def _media_of(self, task: Task) -> Media:
        media = await self._store.get_media(task.media_id)
        if media is None or media.purged_at is not None:
            raise InputError("plan.file_gone", task_id=task.id)
        return media

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


@dataclass
class _BestSearch:
    """What best-time placement has seen and booked so far while it places a plan's tasks."""

    now: datetime
    everyone: Sequence[Account]
    #: Per audience (peak zone): when our planned videos reach it.
    audiences: dict[str, list[datetime]]
    #: Uploads waiting on a channel, the plan's own included as they are placed.
    booked: list[PlannedUpload]
    #: (file, account) pairs the plan placed already.
    taken: set[tuple[str, int]] = field(default_factory=set)
    #: How many of the plan's tasks each account got.
    used: dict[int, int] = field(default_factory=dict)

    def before(
        self, slot: Slot, account: Account, best: tuple[Account, PlanAccount, Slot]
    ) -> bool:
        """Tell whether `slot` on `account` beats the best found so far."""
        mine = (slot.at, self.used.get(account.id, 0))
        return mine < (best[2].at, self.used.get(best[0].id, 0))

    def place(
        self,
        media: Media,
        account: Account,
        audience: PlanAccount,
        slot: Slot,
        upload_at: datetime,
        task_id: int,
    ) -> None:
        """Book a placed task, so the next ones keep clear of it."""
        self.taken.add((media.sha256, account.id))
        self.used[account.id] = self.used.get(account.id, 0) + 1
        self.audiences.setdefault(audience.tz.key, []).append(slot.at)
        self.booked.append(PlannedUpload(task_id, account.id, upload_at))


def _guard(line: PlanLine) -> PlanLine:
    """Move a publish instant the upload cannot beat later; never earlier (the lead time)."""
    if line.publish_at is None:
        return line
    check = check_lead_time(line.publish_at, line.upload_s, line.upload_at)
    if check.ok or check.replanned_at is None:
        return line
    asked = line.asked_publish_at or line.publish_at
    return dataclasses.replace(line, publish_at=check.replanned_at, asked_publish_at=asked)


def _fingerprint(task: Task) -> tuple[object, ...]:
    """Return what a plan depends on in a task (two edits can share one `updated_at`)."""
    return (
        task.updated_at,
        task.state,
        task.account_id,
        task.privacy,
        task.metadata,
        task.due_at,
        task.publish_at,
        task.upload_uri,
        task.video_id,
        task.thumbnail_key,
    )


def _not_before(floor: datetime) -> Callable[[datetime], bool]:
    """Return a test that an instant is at `floor` or later."""
    return lambda at: at >= floor


def _log_queued(task: Task, action: str) -> None:
    logger.info(
        "task %s queued by %s (account %s)",
        task.id,
        action,
        task.account_id,
        extra={"action": action, "task_id": task.id, "account_id": task.account_id},
    )


# -- what people type ----------------------------------------------------------------------

_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_ZH_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_ZH_NUMBER = "零一二两三四五六七八九十"
_UNITS: dict[str, timedelta] = {
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}
_UNIT_WORDS = {
    "days": "d", "day": "d", "d": "d", "天": "d", "日": "d",
    "hours": "h", "hour": "h", "hrs": "h", "hr": "h", "h": "h", "小时": "h", "钟头": "h",
    "minutes": "m", "minute": "m", "mins": "m", "min": "m", "m": "m", "分钟": "m", "分": "m",
}  # fmt: skip
_UNIT_PATTERN = "|".join(sorted((re.escape(w) for w in _UNIT_WORDS), key=len, reverse=True))
_SPAN_RE = re.compile(
    rf"(?P<n>\d+(?:\.\d+)?)?\s*(?P<unit>{_UNIT_PATTERN})?(?![a-z])", re.IGNORECASE
)
_EN_CLOCK_RE = re.compile(
    r"(?:at\s*)?(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?:(?P<ampm>[ap])\.?m\.?)?", re.IGNORECASE
)
_ZH_CLOCK_RE = re.compile(
    r"(?P<period>凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|今晚|夜里|夜间)?\s*"
    rf"(?P<h>\d{{1,2}}|[{_ZH_NUMBER}]+)\s*(?:点|时|:)\s*"
    r"(?:(?P<half>半)|(?P<m>\d{1,2})\s*分?|钟)?"
)
_AFTERNOON = frozenset({"下午", "傍晚", "晚上", "今晚", "夜里", "夜间"})
_BEST_RE = re.compile(
    r"(?:at\s+the\s+)?(?:best(?:\s+times?)?|peak(?:\s+hours?)?)|最佳(?:时间|时段)?|黄金时间|"
    r"高峰(?:时段|时间)?",
    re.IGNORECASE,
)
_DAILY_RE = re.compile(
    r"(?:daily|every\s*day|each\s*day|每天|每日|天天|每一天)\s*(?:at\s+|在\s*)?(?P<clock>.+)",
    re.IGNORECASE,
)
_EVERY_RE = re.compile(r"(?:every|each|每隔|每)\s*(?P<rest>.+)", re.IGNORECASE)
_FROM_RE = re.compile(
    r"^(?:from|starting(?:\s+(?:from|at|on))?|beginning|since|从|自|由)\s*", re.IGNORECASE
)
_FROM_TAIL_RE = re.compile(r"\s*(?:开始|起)$")
_ACCOUNTS_RE = re.compile(
    r"(?:(?:^|\s)(?:on|to|accounts?|channels?)(?:\s*:\s*|\s+)|"
    r"(?:发布到|发到|账号|频道|到)\s*[:：]?\s*)(?P<names>\S.*)$",
    re.IGNORECASE,
)
_MENTION_RE = re.compile(r"(?:^|\s)@(\S+)")
_ID_RE = re.compile(r"\s*#?(?P<a>\d{1,12})(?:\s*-\s*#?(?P<b>\d{1,12}))?(?=[\s,、]|$)[\s,、]*")
_NAME_SPLIT_RE = re.compile(r"[\s,、;]+")
_NOT_NAMES = frozenset({"and", "&", "和", "与", "及"})


def _zh_number(text: str) -> int | None:
    """Read a Chinese number up to 99 ("八", "十二", "二十", "二十三")."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _ZH_NUMBER for ch in text):
        return None
    if "十" not in text:
        return _ZH_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return None
    return (_ZH_DIGITS[tens] if tens else 1) * 10 + (_ZH_DIGITS[ones] if ones else 0)


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _zh_span(text: str) -> str:
    """Rewrite Chinese spans as digits and units: 三个小时 -> 3小时, 一个半小时 -> 1.5小时."""
    units = "小时|钟头|分钟|分|天"

    def digits(match: re.Match[str]) -> str:
        value = _zh_number(match[1])
        return str(value) if value is not None else match[1]

    text = re.sub(rf"([{_ZH_NUMBER}]+)(?=\s*个?\s*半?\s*(?:{units}))", digits, text)
    text = re.sub(r"(\d+)\s*个\s*半\s*(小时|钟头)", r"\1.5\2", text)
    text = re.sub(r"(?<![\d.])半\s*个?\s*(小时|钟头)", r"0.5\1", text)
    return re.sub(r"(\d+(?:\.\d+)?)\s*个\s*", r"\1", text)


def parse_span(text: str, *, default_unit: str | None = None) -> timedelta | None:
    """Read a span such as "3", "3h", "90 min", "1.5 hours", "3小时" or "半小时"; None if not one.

    A bare number takes `default_unit` ("h", "m" or "d"); without one it is not a span.
    """
    match, _ = _span_prefix(text)
    if match is None or match.end() != len(_zh_span(_clean(text))):
        return None
    return _span_value(match, default_unit)


def _span_prefix(text: str) -> tuple[re.Match[str] | None, str]:
    """Match a span at the start of `text`; return it and the text after it."""
    cleaned = _zh_span(_clean(text))
    match = _SPAN_RE.match(cleaned)
    if match is None or not (match["n"] or match["unit"]):
        return None, cleaned
    return match, cleaned[match.end() :].strip()


def _span_value(match: re.Match[str], default_unit: str | None) -> timedelta | None:
    unit = _UNIT_WORDS.get((match["unit"] or "").lower()) or default_unit
    if unit is None:
        return None
    try:
        return float(match["n"] or 1) * _UNITS[unit]
    except OverflowError:
        return None


def parse_clock(text: str) -> time | None:
    """Read a time of day: "20:00", "8pm", "at 8:30 pm", "20点", "晚上8点", "8点半"; else None."""
    cleaned = _clean(text).lower()
    match = _EN_CLOCK_RE.fullmatch(cleaned)
    if match is not None:
        hour, minute = int(match["h"]), int(match["m"] or 0)
        if match["ampm"]:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if match["ampm"] == "p" else 0)
        return time(hour, minute) if hour < 24 and minute < 60 else None
    match = _ZH_CLOCK_RE.fullmatch(cleaned)
    if match is None:
        return None
    found = _zh_number(match["h"])
    if found is None:
        return None
    hour, minute = found, 30 if match["half"] else int(match["m"] or 0)
    period = match["period"]
    if (period in _AFTERNOON and hour < 12) or (period == "中午" and hour < 11):
        hour += 12
    elif period == "凌晨" and hour == 12:
        hour = 0
    return time(hour, minute) if hour < 24 and minute < 60 else None


def split_names(names: Sequence[str] | str) -> list[str]:
    """Split account names given as "a b", "a, b", "@a @b" or "a、b" (and "and" dropped)."""
    raw = names if isinstance(names, str) else " ".join(names)
    parts = (p.strip().lstrip("@") for p in _NAME_SPLIT_RE.split(_clean(raw)))
    return [p for p in parts if p and p.lower() not in _NOT_NAMES]


def parse_batch(text: str, *, now: datetime, tz: ZoneInfo) -> BatchSpec:
    """Read what follows /batch: `[ids…] daily <time> | every <span> [from <when>] | best`,
    then `[on <account…>]`; Chinese forms too (每天 20:00, 每3小时 从明天 09:00, 最佳).
    """
    cleaned = _clean(text).replace("，", ",").replace("；", ";")
    if not cleaned or len(cleaned) > MAX_SPEC_CHARS:
        raise InputError("plan.bad_batch", text=cleaned[:60])
    body, accounts = _split_accounts(cleaned)
    task_ids, body = _leading_ids(body)
    if _BEST_RE.fullmatch(body):
        return BatchSpec(PlanKind.BEST, task_ids, accounts)
    if daily := _DAILY_RE.fullmatch(body):
        clock = parse_clock(daily["clock"])
        if clock is None:
            raise InputError("plan.bad_clock", text=daily["clock"][:40])
        return BatchSpec(PlanKind.DAILY, task_ids, accounts, clock=clock)
    if every := _EVERY_RE.fullmatch(body):
        span, rest = _span_prefix(every["rest"])
        spacing = _span_value(span, "h") if span is not None else None
        if spacing is None or not timedelta(0) < spacing <= MAX_SPACING:
            raise InputError("plan.bad_every", text=every["rest"][:40])
        when = _FROM_TAIL_RE.sub("", _FROM_RE.sub("", rest)).strip()
        start = parse_when(when, now=now, tz=tz) if when else parse_when("now", now=now, tz=tz)
        return BatchSpec(PlanKind.EVERY, task_ids, accounts, every=spacing, start=start)
    raise InputError("plan.bad_batch", text=body[:60])


def _split_accounts(text: str) -> tuple[str, tuple[str, ...]]:
    """Split "… on a, b" (or "… 发到 a b", "… @a @b") into the rest and the account names."""
    names: list[str] = [m[1] for m in _MENTION_RE.finditer(text)]
    text = _MENTION_RE.sub(" ", text).strip()
    match = _ACCOUNTS_RE.search(text)
    if match is not None:
        names = split_names(match["names"]) + names
        text = text[: match.start()].strip()
    return text, tuple(split_names(names))


def _leading_ids(text: str) -> tuple[tuple[int, ...], str]:
    """Take the task ids ("3 4 5", "#3,#4", "3-5") off the front of the text."""
    ids: list[int] = []
    while match := _ID_RE.match(text):
        first = int(match["a"])
        last = int(match["b"]) if match["b"] else first
        if last < first or last - first >= MAX_PLAN_TASKS:
            raise InputError("plan.too_many", count=last - first + 1, limit=MAX_PLAN_TASKS)
        ids.extend(range(first, last + 1))
        text = text[match.end() :]
    return tuple(ids), text.strip()
