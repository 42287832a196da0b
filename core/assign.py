"""Gives tasks left to the balancer an account, and says when a task must wait for quota.

The engine asks, for every due task: which account (if the task named none), and may that
account start an upload now. The balancer's pool is built from the ledger once and kept up to
date after each pick; it is rebuilt when accounts change and every `POOL_MAX_AGE`. The projects'
spending is read once a dispatch round (all its picks share one `now`), see QuotaLedger.spent_at.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from core.balancer import (
    BalanceTask,
    Candidate,
    CandidatePool,
    Choice,
    Exclusion,
    ProjectRoom,
    Weights,
    judge,
    pick_account,
)
from core.ledger import Block, QuotaLedger
from core.models import Account, AccountStatus, Task
from core.quota import MoveReason

logger = logging.getLogger(__name__)

#: A task limited to at most this many accounts has each of them judged directly.
FEW_ALLOWED = 64
#: The pool is rebuilt from the database at least this often.
POOL_MAX_AGE = timedelta(minutes=10)
#: A task no account can take waits at most this long before it is looked at again.
NO_ACCOUNT_RECHECK = timedelta(hours=1)

#: An account of the pool and the first instant it may start an upload.
_Free = tuple[datetime, Candidate]


@dataclass(frozen=True)
class Waiting:
    """A task that cannot start now, the instant it is looked at again, and why."""

    until: datetime
    reason: str
    params: dict[str, Any]


def choice_record(choice: Choice, now: datetime) -> dict[str, Any]:
    """Return what is kept of a choice for `/why` (JSON-safe)."""
    record: dict[str, Any] = {
        "at": now.isoformat(),
        "account_id": choice.account_id,
        "examined": choice.examined,
        "excluded": {k.value: n for k, n in choice.excluded.items()},
    }
    f = choice.factors
    if f is not None:
        record["factors"] = {
            "score": round(f.score, 4),
            "idle_h": None if f.idle_h is None else round(f.idle_h, 2),
            "idle": round(f.idle, 4),
            "uploads_left": f.uploads_left,
            "project_uploads_left": f.project_uploads_left,
            "quota": round(f.quota, 4),
            "success_rate": round(f.success_rate, 4),
            "success": round(f.success, 4),
            "priority_weight": f.priority_weight,
            "priority": round(f.priority, 4),
        }
    return record


class Assigner:
    """The balancer's pool over the ledger, for the engine."""

    def __init__(self, ledger: QuotaLedger, weights: Weights | None = None) -> None:
        self.ledger = ledger
        self.weights = weights or Weights()
        self._pool: CandidatePool | None = None
        self._built_at: datetime | None = None
        self._accounts: dict[int, Account] = {}
        self._clients: set[str] = set()
        self._signature = 0
        #: The account list last checked against the signature.
        self._listed: Sequence[Account] | None = None
        #: Moves whenever the pool's accounts change (built, or updated after a pick).
        self._version = 0
        #: Rate-limited accounts of the pool's list by the instant their limit lifts.
        self._limited: list[tuple[datetime, int]] = []
        #: (now, version, rooms, the pool's accounts by the instant they are free) for _wait_for.
        self._free: tuple[datetime, int, dict[str, ProjectRoom], list[_Free]] | None = None

    def invalidate(self) -> None:
        """Drop the pool: an account was added, changed or changed status."""
        self._pool = None

    async def pool(self, accounts: Sequence[Account], now: datetime) -> CandidatePool:
        """Return the pool, building it from the ledger when it is missing or old.

        The engine passes one list to every pick of a dispatch round; the same list object
        again is taken as unchanged (a caller must not change it in place).
        """
        fresh = self._built_at is not None and now - self._built_at < POOL_MAX_AGE
        if self._pool is not None and fresh and accounts is self._listed:
            return self._pool
        signature = hash(tuple(_signature(a) for a in accounts))
        if self._pool is not None and fresh and signature == self._signature:
            self._listed = accounts
            return self._pool
        self._signature = signature
        self.ledger.know(accounts)
        self._accounts = {a.id: a for a in accounts}
        self._clients = {a.client_id for a in accounts}
        self._limited = sorted(
            (a.status_until, a.id)
            for a in accounts
            if a.status is AccountStatus.RATE_LIMITED and a.status_until is not None
        )
        candidates = await self.ledger.candidates(accounts, now)
        self._pool = CandidatePool(candidates, self.weights)
        self._built_at = now
        self._listed = accounts
        self._version += 1
        return self._pool

    async def rooms(self, now: datetime) -> dict[str, ProjectRoom]:
        """Return how many uploads each known project still holds today."""
        spent = await self.ledger.spent_at(now)
        rooms = self.ledger.project_rooms(spent, now)
        fresh = self.ledger.fresh_room()
        return {client_id: rooms.get(client_id, fresh) for client_id in self._clients}

    async def pick(
        self, task: Task, sha256: str, accounts: Sequence[Account], now: datetime
    ) -> tuple[Choice, Waiting | None]:
        """Choose an account for a task; when none fits, say until when it waits."""
        pool = await self.pool(accounts, now)
        rooms = await self.rooms(now)
        allowed = frozenset(task.allowed_accounts) if task.allowed_accounts is not None else None
        wanted = BalanceTask(task.id, "youtube", sha256, allowed)
        if allowed is not None and len(allowed) <= FEW_ALLOWED:
            choice = self._pick_among(pool, wanted, now, rooms)
        else:
            # pick_account first rolls the pool past any account's local midnight.
            choice = pick_account(pool, wanted, now, rooms, self.weights)
        if choice.account_id is not None:
            picked = pool.get(choice.account_id)
            if picked is not None:
                pool.update(
                    replace(
                        picked,
                        uploads_left=max(0, picked.uploads_left - 1),
                        last_upload_at=now,
                        file_hashes=picked.file_hashes | {sha256},
                    )
                )
                self._version += 1
            return choice, None
        return choice, self._wait_for(pool, rooms, allowed, sha256, now)

    def _pick_among(
        self,
        pool: CandidatePool,
        task: BalanceTask,
        now: datetime,
        rooms: dict[str, ProjectRoom],
    ) -> Choice:
        """Judge only the few accounts a task is limited to (walking the rankings costs more)."""
        if pool.stale_at is not None and now >= pool.stale_at:
            pool.roll(now)
        assert task.allowed is not None
        excluded: Counter[Exclusion] = Counter()
        best = None
        for allowed_id in sorted(task.allowed):
            candidate = pool.get(allowed_id)
            if candidate is None:
                excluded[Exclusion.INACTIVE] += 1
                continue
            verdict = judge(candidate, task, now, rooms, self.weights)
            if verdict.factors is None:
                assert verdict.excluded is not None
                excluded[verdict.excluded] += 1
            elif best is None or verdict.factors.score > best.score:
                best = verdict.factors
        chosen = None if best is None else best.account_id
        return Choice(task.task_id, chosen, best, len(task.allowed), dict(excluded))

    def _wait_for(
        self,
        pool: CandidatePool,
        rooms: dict[str, ProjectRoom],
        allowed: frozenset[int] | None,
        sha256: str,
        now: datetime,
    ) -> Waiting:
        """Return the first instant one of the task's possible accounts frees up."""
        soonest: datetime | None = None
        if allowed is None:
            for at, c in self._free_order(pool, rooms, now):
                if sha256 not in c.file_hashes:
                    soonest = at
                    break
        else:
            reset = self.ledger.project_reset(now)
            for account_id in allowed:
                one = pool.get(account_id)
                if one is None or sha256 in one.file_hashes:
                    continue
                at = self._free_at(one, rooms, now, reset)
                if soonest is None or at < soonest:
                    soonest = at
        # A rate-limited account comes back by itself when its limit lifts.
        for until, account_id in self._limited:
            if allowed is not None and account_id not in allowed:
                continue
            if soonest is None or until < soonest:
                soonest = until
            break
        if soonest is None:
            return Waiting(now + NO_ACCOUNT_RECHECK, "wait.no_account", {})
        return Waiting(max(soonest, now + timedelta(seconds=1)), "wait.all_busy", {})

    def _free_order(
        self, pool: CandidatePool, rooms: dict[str, ProjectRoom], now: datetime
    ) -> list[_Free]:
        """Return the pool's accounts soonest free first (kept while pool, rooms and now hold)."""
        kept = self._free
        if kept is not None and kept[0] == now and kept[1] == self._version and kept[2] == rooms:
            return kept[3]
        reset = self.ledger.project_reset(now)
        order = [(self._free_at(c, rooms, now, reset), c) for c in pool.candidates()]
        order.sort(key=lambda free: free[0])
        self._free = (now, self._version, dict(rooms), order)
        return order

    def _free_at(
        self, c: Candidate, rooms: dict[str, ProjectRoom], now: datetime, reset: datetime
    ) -> datetime:
        at = now
        room = rooms.get(c.client_id)
        if room is not None and room.uploads_left <= 0:
            at = max(at, reset)
        if c.uploads_left <= 0 and now < c.day_ends_at:
            at = max(at, c.day_ends_at)
        if c.last_upload_at is not None:
            at = max(at, c.last_upload_at + c.min_interval)
        return at

    async def block(self, account: Account, now: datetime) -> Block | None:
        """Return what stops a named account from starting an upload now."""
        self.ledger.know([account])
        return await self.ledger.block(account, now)

    def account(self, account_id: int) -> Account | None:
        """Return an account the pool was built from."""
        return self._accounts.get(account_id)


def _signature(a: Account) -> tuple[object, ...]:
    """What of an account the pool depends on (another process may change it)."""
    return (
        a.id,
        a.status,
        a.client_id,
        a.timezone,
        a.uploads_per_day,
        a.min_interval_h,
        a.priority,
    )


def waiting_for(block: Block) -> Waiting:
    """Return a named account's block as a wait the card can show."""
    reason = {
        MoveReason.PROJECT_QUOTA: "wait.project_quota",
        MoveReason.ACCOUNT_CAP: "wait.account_cap",
        MoveReason.MIN_INTERVAL: "wait.min_interval",
    }[block.reason]
    return Waiting(block.until, reason, {"until": block.until.isoformat()})
