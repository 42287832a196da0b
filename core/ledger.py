"""The quota ledger at work: charges calls, answers "may this account upload now", feeds the
balancer and the forecast, and applies the accounts' health rules.

core.quota holds the arithmetic; this module reads and writes the records through a small
protocol (LedgerStore) so it imports no database code.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from core.balancer import Candidate, ProjectRoom
from core.models import Account, AccountStatus
from core.planning import PlanAccount
from core.ports import Clock
from core.quota import (
    AccountLimits,
    AccountQuota,
    AccountUsage,
    ApiCall,
    Cost,
    CostModel,
    Forecast,
    MoveReason,
    PlannedUpload,
    ProjectUsage,
    account_day,
    forecast,
    next_reset,
    project_day,
    remaining,
    upload_capacity,
)
from core.retry import QUOTA_RESET_MARGIN_S

logger = logging.getLogger(__name__)

#: Up to this many accounts, usage queries name them; beyond, one query reads every account.
FEW_ACCOUNTS = 50
#: How many (cost model, spending) -> uploads left answers project_rooms keeps.
ROOMS_KEPT = 4096
#: Any instant: how many uploads a day's spending leaves does not depend on the hour.
_SOME_INSTANT = datetime(2000, 1, 1, 12, tzinfo=UTC)


class LedgerStore(Protocol):
    """The ledger's records (storage.ledger.SqlLedger implements it)."""

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
        """Record one API call and its cost."""
        ...

    async def project_spent(
        self, day: date, client_ids: Sequence[str] | None = None
    ) -> dict[str, Cost]:
        """Return each project's spending on one Pacific day (all projects, or those named)."""
        ...

    async def uploads_by_day(
        self, since: date, account_ids: Sequence[int] | None = None
    ) -> dict[int, dict[date, int]]:
        """Return uploads started per account and local day."""
        ...

    async def last_uploads(self, account_ids: Sequence[int] | None = None) -> dict[int, datetime]:
        """Return each account's last upload start."""
        ...

    async def add_attempt(
        self, *, task_id: int, account_id: int, at: datetime, ok: bool, reason: str | None
    ) -> None:
        """Record how an attempt ended."""
        ...

    async def attempt_counts(self, since: datetime) -> dict[int, tuple[int, int]]:
        """Return (succeeded, failed) per account since an instant."""
        ...

    async def file_hashes(self) -> dict[int, set[str]]:
        """Return the files (sha256) each account holds or will hold."""
        ...


@dataclass(frozen=True)
class AccountDefaults:
    """What an account uses where it has no setting of its own."""

    uploads_per_day: int = 10
    min_interval_h: float = 2.0
    peak_start_h: int = 20
    peak_end_h: int = 22
    peak_timezone: str = "Asia/Shanghai"

    def limits(self, account: Account) -> AccountLimits:
        """Return an account's daily cap and spacing."""
        per_day = account.uploads_per_day
        interval = account.min_interval_h
        return AccountLimits(
            uploads_per_day=self.uploads_per_day if per_day is None else per_day,
            min_interval=timedelta(hours=self.min_interval_h if interval is None else interval),
        )

    def plan_account(self, account: Account) -> PlanAccount:
        """Return an account as planning sees it: its audience's zone and peak hours."""
        return PlanAccount(
            account.id,
            ZoneInfo(account.peak_timezone or self.peak_timezone),
            self.peak_start_h if account.peak_start_h is None else account.peak_start_h,
            self.peak_end_h if account.peak_end_h is None else account.peak_end_h,
        )


@dataclass(frozen=True)
class HealthRules:
    """When an account stops taking uploads on its own."""

    #: More than `max_errors` failed attempts within `window` put the account in error.
    max_errors: int = 5
    window: timedelta = timedelta(hours=1)
    #: The success rate the balancer uses is measured over this window.
    success_window: timedelta = timedelta(days=1)


@dataclass(frozen=True)
class Block:
    """Why an account cannot start an upload now, and the first instant it can."""

    until: datetime
    reason: MoveReason


@dataclass(frozen=True)
class StatusChange:
    """A status the health rules want an account to take."""

    status: AccountStatus
    reason: str
    until: datetime | None = None


@dataclass(frozen=True)
class ProjectLine:
    """One project's day for /quota."""

    client_id: str
    spent: Cost
    model: CostModel
    uploads_left: int
    resets_at: datetime
    accounts: tuple[str, ...]


@dataclass(frozen=True)
class AccountLine:
    """One account's day for /quota and /accounts."""

    account: Account
    uploads: int
    limits: AccountLimits
    last_upload_at: datetime | None
    day_ends_at: datetime
    #: When the account may start its next upload (now or later).
    next_free_at: datetime
    block: Block | None

    @property
    def uploads_left(self) -> int:
        """Return how many uploads the account may still start today."""
        return max(0, self.limits.uploads_per_day - self.uploads)


@dataclass
class QuotaLedger:
    """Charges every API call and answers the engine's and the bot's quota questions."""

    store: LedgerStore
    clock: Clock
    model: CostModel = field(default_factory=CostModel)
    defaults: AccountDefaults = field(default_factory=AccountDefaults)
    health: HealthRules = field(default_factory=HealthRules)
    reset_margin: timedelta = timedelta(seconds=QUOTA_RESET_MARGIN_S)
    #: Accounts by id, so a charge knows the account's zone (refreshed by `know`).
    _zones: dict[int, ZoneInfo] = field(default_factory=dict)
    #: Uploads started whose insert call is not charged yet: task id -> project.
    _reserved: dict[int, str] = field(default_factory=dict)
    #: How many of those each project has.
    _reserved_by_project: Counter[str] = field(default_factory=Counter)
    #: Charges begun and not ended, and charges ended: a read of the spending during which
    #: neither moved holds every call this process charged.
    _charging: int = 0
    _charged: int = 0
    #: Every project's stored spending as last read: (the instant asked for, its Pacific day,
    #: the spending), kept up to date with this process's charges since.
    _stored_spent: tuple[datetime, date, dict[str, Cost]] | None = None

    # -- charging ---------------------------------------------------------------------------

    def know(self, accounts: Sequence[Account]) -> None:
        """Remember the accounts' zones (their own day is in their zone)."""
        for account in accounts:
            self._zones[account.id] = ZoneInfo(account.timezone)

    async def charge(
        self, client_id: str, call: ApiCall, *, account_id: int | None, task_id: int | None
    ) -> None:
        """Record one call at its cost (core.ports.CallMeter); failed calls are charged too."""
        now = self.clock.now()
        zone = self._zones.get(account_id) if account_id is not None else None
        if call is ApiCall.VIDEOS_INSERT and task_id is not None:
            self.release(task_id)
        day, cost = project_day(now), self.model.cost(call)
        self._charging += 1
        try:
            await self.store.add_call(
                at=now,
                client_id=client_id,
                project_day=day,
                account_id=account_id,
                account_day=account_day(now, zone) if zone is not None else None,
                task_id=task_id,
                call=call,
                cost=cost,
            )
        except BaseException:
            self._stored_spent = None  # the call may or may not be recorded: read again
            raise
        finally:
            self._charging -= 1
            self._charged += 1
        kept = self._stored_spent
        if kept is not None and kept[1] == day:
            kept[2][client_id] = kept[2].get(client_id, Cost()) + cost

    def reserve(self, task_id: int, client_id: str) -> None:
        """Count an upload that is about to open a session, until its insert is charged."""
        self.release(task_id)
        self._reserved[task_id] = client_id
        self._reserved_by_project[client_id] += 1

    def release(self, task_id: int) -> None:
        """Forget a reservation whose upload ended without an insert call."""
        client_id = self._reserved.pop(task_id, None)
        if client_id is not None:
            self._reserved_by_project[client_id] -= 1
            if not self._reserved_by_project[client_id]:
                del self._reserved_by_project[client_id]

    async def record_attempt(
        self, task_id: int, account_id: int, *, ok: bool, reason: str | None = None
    ) -> None:
        """Record how an upload attempt on an account ended."""
        await self.store.add_attempt(
            task_id=task_id, account_id=account_id, at=self.clock.now(), ok=ok, reason=reason
        )

    # -- what is spent ------------------------------------------------------------------------

    async def project_spent(
        self, now: datetime, client_ids: Sequence[str] | None = None
    ) -> dict[str, Cost]:
        """Return each project's spending today, counting reserved uploads."""
        spent = await self.store.project_spent(project_day(now), client_ids)
        return self._with_reserved(spent, client_ids)

    async def spent_at(self, now: datetime) -> dict[str, Cost]:
        """Return every project's spending today as project_spent does, reading once per `now`.

        The engine asks at one `now` for every task of a dispatch round: the store is read
        for the first, and what this process charges meanwhile is added to what was read.
        """
        kept = self._stored_spent
        if kept is None or kept[0] != now:
            charged, idle = self._charged, not self._charging
            stored = await self.store.project_spent(project_day(now))
            if not (idle and not self._charging and self._charged == charged):
                # A charge ran during the read, which may hold its call or not: not kept.
                return self._with_reserved(stored)
            kept = self._stored_spent = (now, project_day(now), stored)
        return self._with_reserved(kept[2])

    def _with_reserved(
        self, stored: Mapping[str, Cost], client_ids: Sequence[str] | None = None
    ) -> dict[str, Cost]:
        spent = dict(stored)
        insert = self.model.cost(ApiCall.VIDEOS_INSERT)
        for client_id, count in self._reserved_by_project.items():
            if client_ids is not None and client_id not in client_ids:
                continue
            reserved = Cost(insert.units * count, insert.insert_calls * count)
            spent[client_id] = spent.get(client_id, Cost()) + reserved
        return spent

    async def account_usage(
        self, accounts: Sequence[Account], now: datetime
    ) -> dict[int, AccountUsage]:
        """Return each account's uploads on its current local day and its last upload."""
        earliest = min(
            (now.astimezone(ZoneInfo(a.timezone)).date() for a in accounts), default=None
        )
        if earliest is None:
            return {}
        ids = [a.id for a in accounts] if len(accounts) <= FEW_ACCOUNTS else None
        by_day = await self.store.uploads_by_day(earliest, ids)
        last = await self.store.last_uploads(ids)
        usage: dict[int, AccountUsage] = {}
        for a in accounts:
            today = account_day(now, ZoneInfo(a.timezone))
            count = by_day.get(a.id, {}).get(today, 0)
            usage[a.id] = AccountUsage(a.id, today, count, last.get(a.id))
        return usage

    def project_rooms(self, spent: Mapping[str, Cost], now: datetime) -> dict[str, ProjectRoom]:
        """Return, for every project that spent anything, how many uploads it still holds."""
        capacity = _capacity(self.model)
        return {
            client_id: ProjectRoom(_uploads_left(self.model, c.units, c.insert_calls), capacity)
            for client_id, c in spent.items()
        }

    def fresh_room(self) -> ProjectRoom:
        """Return the room of a project that spent nothing today."""
        capacity = _capacity(self.model)
        return ProjectRoom(capacity, capacity)

    # -- may it upload now --------------------------------------------------------------------

    def project_reset(self, now: datetime) -> datetime:
        """Return when the projects' quota comes back (with the safety margin)."""
        return next_reset(now) + self.reset_margin

    def block_of(
        self, account: Account, usage: AccountUsage, spent: Cost, now: datetime
    ) -> Block | None:
        """Return what stops the account from starting an upload at `now`, or None."""
        if not self.model.fits(spent, self.model.upload_cost()):
            return Block(self.project_reset(now), MoveReason.PROJECT_QUOTA)
        limits = self.defaults.limits(account)
        zone = ZoneInfo(account.timezone)
        today = account_day(now, zone)
        used = usage.uploads if usage.day == today else 0
        if used >= limits.uploads_per_day:
            return Block(next_reset(now, zone), MoveReason.ACCOUNT_CAP)
        last = usage.last_upload_at
        # A spacing of 0 never blocks, even for an upload charged a moment after `now`.
        if last is not None and limits.min_interval and now - last < limits.min_interval:
            return Block(last + limits.min_interval, MoveReason.MIN_INTERVAL)
        return None

    async def block(self, account: Account, now: datetime) -> Block | None:
        """Return what stops one account from starting an upload now, or None."""
        spent = (await self.project_spent(now, [account.client_id])).get(account.client_id, Cost())
        usage = (await self.account_usage([account], now))[account.id]
        return self.block_of(account, usage, spent, now)

    async def lines(self, accounts: Sequence[Account], now: datetime) -> list[AccountLine]:
        """Return each account's day: uploads, limits, next free instant."""
        spent = await self.project_spent(now)
        usage = await self.account_usage(accounts, now)
        found: list[AccountLine] = []
        for a in accounts:
            u = usage[a.id]
            block = self.block_of(a, u, spent.get(a.client_id, Cost()), now)
            found.append(
                AccountLine(
                    a,
                    u.uploads,
                    self.defaults.limits(a),
                    u.last_upload_at,
                    next_reset(now, ZoneInfo(a.timezone)),
                    block.until if block else now,
                    block,
                )
            )
        return found

    async def projects(self, accounts: Sequence[Account], now: datetime) -> list[ProjectLine]:
        """Return each project's day for /quota."""
        spent = await self.project_spent(now)
        names: dict[str, list[str]] = {}
        for a in accounts:
            names.setdefault(a.client_id, []).append(a.name)
        today = project_day(now)
        lines = []
        for client_id in sorted(names):
            c = spent.get(client_id, Cost())
            left = remaining(
                ProjectUsage(client_id, today, c.units, c.insert_calls), self.model, now
            )
            lines.append(
                ProjectLine(
                    client_id, c, self.model, left.uploads, left.resets_at, tuple(names[client_id])
                )
            )
        return lines

    # -- balancer and forecast ----------------------------------------------------------------

    async def candidates(self, accounts: Sequence[Account], now: datetime) -> list[Candidate]:
        """Return every account as the balancer sees it now."""
        usage = await self.account_usage(accounts, now)
        counts = await self.store.attempt_counts(now - self.health.success_window)
        hashes = await self.store.file_hashes()
        found = []
        for a in accounts:
            limits = self.defaults.limits(a)
            zone = ZoneInfo(a.timezone)
            u = usage[a.id]
            ok, failed = counts.get(a.id, (0, 0))
            found.append(
                Candidate(
                    account_id=a.id,
                    platform=a.platform,
                    status=a.status,
                    client_id=a.client_id,
                    uploads_left=max(0, limits.uploads_per_day - u.uploads),
                    uploads_per_day=limits.uploads_per_day,
                    day_ends_at=next_reset(now, zone),
                    last_upload_at=u.last_upload_at,
                    min_interval=limits.min_interval,
                    success_rate=ok / (ok + failed) if ok + failed else 1.0,
                    priority=a.priority,
                    file_hashes=frozenset(hashes.get(a.id, ())),
                    tz=zone,
                )
            )
        return found

    async def forecast(
        self, plan: Sequence[PlannedUpload], accounts: Sequence[Account], now: datetime
    ) -> Forecast:
        """Place a plan's uploads against the ledger as it stands (core.quota.forecast)."""
        usage = await self.account_usage(accounts, now)
        spent = await self.project_spent(now)
        today = project_day(now)
        quotas = {
            a.id: AccountQuota(
                a.id, a.client_id, ZoneInfo(a.timezone), usage[a.id], self.defaults.limits(a)
            )
            for a in accounts
        }
        projects = {
            client_id: ProjectUsage(client_id, today, c.units, c.insert_calls)
            for client_id, c in spent.items()
        }
        return forecast(plan, quotas, projects, self.model, now, reset_margin=self.reset_margin)

    # -- health -------------------------------------------------------------------------------

    async def health_all(
        self, accounts: Sequence[Account], now: datetime
    ) -> list[tuple[Account, StatusChange]]:
        """Apply the health rules to many accounts with one query per record kind."""
        active = [a for a in accounts if a.status is AccountStatus.ACTIVE]
        if not active:
            return []
        counts = await self.store.attempt_counts(now - self.health.window)
        spent = await self.project_spent(now)
        usage = await self.account_usage(active, now)
        changes = []
        for account in active:
            change = self._rules(
                account,
                now,
                counts.get(account.id, (0, 0))[1],
                spent.get(account.client_id, Cost()),
                usage[account.id],
            )
            if change is not None:
                changes.append((account, change))
        return changes

    def _rules(
        self, account: Account, now: datetime, failed: int, spent: Cost, usage: AccountUsage
    ) -> StatusChange | None:
        if failed > self.health.max_errors:
            minutes = round(self.health.window.total_seconds() / 60)
            return StatusChange(AccountStatus.ERROR, f"errors:{failed}:{minutes}")
        if self.model.exhausted(spent):
            return StatusChange(
                AccountStatus.RATE_LIMITED, "project_quota", self.project_reset(now)
            )
        zone = ZoneInfo(account.timezone)
        used = usage.uploads if usage.day == account_day(now, zone) else 0
        if used >= self.defaults.limits(account).uploads_per_day:
            return StatusChange(AccountStatus.RATE_LIMITED, "account_cap", next_reset(now, zone))
        return None

    async def health_of(
        self, account: Account, now: datetime, *, spent: Cost | None = None
    ) -> StatusChange | None:
        """Return the status the health rules give an active account now, or None to keep it.

        More than `max_errors` failed attempts in the window: error. Its project at the stop
        share of its day: rate-limited until the Pacific reset. Its own daily cap reached:
        rate-limited until its local midnight.
        """
        if account.status is not AccountStatus.ACTIVE:
            return None
        counts = await self.store.attempt_counts(now - self.health.window)
        if spent is None:
            spent = (await self.project_spent(now, [account.client_id])).get(
                account.client_id, Cost()
            )
        usage = (await self.account_usage([account], now))[account.id]
        return self._rules(account, now, counts.get(account.id, (0, 0))[1], spent, usage)


# remaining() counts the uploads left one at a time; the balancer asks for every project at
# every pick, so the answers are kept.
@functools.lru_cache(maxsize=ROOMS_KEPT)
def _uploads_left(model: CostModel, units: int, insert_calls: int) -> int:
    """Return how many uploads a project that spent this much today still holds."""
    usage = ProjectUsage("", project_day(_SOME_INSTANT), units, insert_calls)
    return remaining(usage, model, _SOME_INSTANT).uploads


@functools.lru_cache(maxsize=16)
def _capacity(model: CostModel) -> int:
    return upload_capacity(model)
