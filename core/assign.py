"""Gives tasks left to the balancer an account, and says when a task must wait for quota.

The engine asks, for every due task: which account (if the task named none), and may that
account start an upload now. The balancer's pool is built from the ledger once and kept up to
date after each pick; it is rebuilt when accounts change and every `POOL_MAX_AGE`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from core.balancer import BalanceTask, Candidate, CandidatePool, Choice, ProjectRoom, Weights
from core.ledger import Block, QuotaLedger
from core.models import Account, AccountStatus, Task
from core.quota import MoveReason

logger = logging.getLogger(__name__)

#: The pool is rebuilt from the database at least this often.
POOL_MAX_AGE = timedelta(minutes=10)
#: A task no account can take waits at most this long before it is looked at again.
NO_ACCOUNT_RECHECK = timedelta(hours=1)


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

    def invalidate(self) -> None:
        """Drop the pool: an account was added, changed or changed status."""
        self._pool = None

    async def pool(self, accounts: Sequence[Account], now: datetime) -> CandidatePool:
        """Return the pool, building it from the ledger when it is missing or old."""
        fresh = self._built_at is not None and now - self._built_at < POOL_MAX_AGE
        signature = hash(tuple(_signature(a) for a in accounts))
        if self._pool is not None and fresh and signature == self._signature:
            return self._pool
        self._signature = signature
        self.ledger.know(accounts)
        self._accounts = {a.id: a for a in accounts}
        self._clients = {a.client_id for a in accounts}
        candidates = await self.ledger.candidates(accounts, now)
        self._pool = CandidatePool(candidates, self.weights)
        self._built_at = now
        return self._pool

    async def rooms(self, now: datetime) -> dict[str, ProjectRoom]:
        """Return how many uploads each known project still holds today."""
        spent = await self.ledger.project_spent(now)
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
        choice = pool.pick(BalanceTask(task.id, "youtube", sha256, allowed), now, rooms)
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
            return choice, None
        return choice, self._wait_for(pool, rooms, allowed, sha256, now)

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
        for c in pool.candidates():
            if allowed is not None and c.account_id not in allowed:
                continue
            if sha256 in c.file_hashes:
                continue
            at = self._free_at(c, rooms, now)
            if soonest is None or at < soonest:
                soonest = at
        for a in self._accounts.values():
            # A rate-limited account comes back by itself when its limit lifts.
            if a.status is not AccountStatus.RATE_LIMITED or a.status_until is None:
                continue
            if allowed is not None and a.id not in allowed:
                continue
            if soonest is None or a.status_until < soonest:
                soonest = a.status_until
        if soonest is None:
            return Waiting(now + NO_ACCOUNT_RECHECK, "wait.no_account", {})
        return Waiting(max(soonest, now + timedelta(seconds=1)), "wait.all_busy", {})

    def _free_at(self, c: Candidate, rooms: dict[str, ProjectRoom], now: datetime) -> datetime:
        at = now
        room = rooms.get(c.client_id)
        if room is not None and room.uploads_left <= 0:
            at = max(at, self.ledger.project_reset(now))
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
