"""Scheduling plans: interval, batch and best-time placement, and the lead-time guard.

Every function takes `now` and returns planned slots as aware UTC instants with their local
reading in the account's zone. Local wall times go through core.timeparse.localize, so a time
that does not exist (a spring-forward gap) moves to the first instant after it and an ambiguous
one takes its first occurrence; the slot carries the note so the bot can say what happened.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.timeparse import Note, localize

#: Default peak window (the seed's config): 20:00 to 22:00 in Asia/Shanghai.
DEFAULT_PEAK_ZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_PEAK_START_H = 20
DEFAULT_PEAK_END_H = 22
#: Best-time slots start on this grid inside the peak window.
PEAK_SLOT_MIN = 30
#: Our own uploads to one audience closer than this stack on each other.
AUDIENCE_SPACING_H = 1.0
#: How far ahead best-time placement looks before giving up.
BEST_HORIZON_DAYS = 14
#: Left between the expected end of an upload and the instant it is to be published.
LEAD_MARGIN_S = 300


@dataclass(frozen=True)
class PlanAccount:
    """An account as planning sees it: its zone and its peak hours (end may pass midnight)."""

    account_id: int
    tz: ZoneInfo = DEFAULT_PEAK_ZONE
    peak_start_h: int = DEFAULT_PEAK_START_H
    peak_end_h: int = DEFAULT_PEAK_END_H


@dataclass(frozen=True)
class Slot:
    """One planned upload: what (an index into the plan's items), where and when."""

    item: int
    account_id: int
    at: datetime
    #: The instant read in the account's zone.
    local: datetime
    #: Set when a wall time fell in a DST gap or fold; `wall` is what was asked.
    note: Note | None = None
    wall: datetime | None = None

    def describe(self) -> str:
        """Return a plain English line for logs and tests."""
        text = f"item {self.item} -> account {self.account_id} at {self.local:%Y-%m-%d %H:%M %Z}"
        if self.note is not None and self.wall is not None:
            what = "skipped by DST" if self.note == "gap" else "repeated, first taken"
            text += f" ({self.wall:%H:%M} was {what})"
        return text


def _slot(
    item: int,
    account: PlanAccount,
    at: datetime,
    note: Note | None = None,
    wall: datetime | None = None,
) -> Slot:
    return Slot(item, account.account_id, at, at.astimezone(account.tz), note, wall)


def plan_interval(
    accounts: Sequence[PlanAccount], every: timedelta, now: datetime, *, item: int = 0
) -> list[Slot]:
    """Plan one video on several accounts: the first at `now`, each next one `every` later.

    The spacing is elapsed time, so a DST change between two slots does not stretch or
    shrink it; each slot is read in its own account's zone.
    """
    _check_aware(now)
    if every <= timedelta(0):
        raise ValueError("the interval must be positive")
    start = now.astimezone(UTC)
    return [_slot(item, acc, start + every * n) for n, acc in enumerate(accounts)]


def plan_daily(items: int, accounts: Sequence[PlanAccount], at: time, now: datetime) -> list[Slot]:
    """Plan `items` videos as one a day per account at the local time `at` in each zone.

    Videos are dealt to the accounts in turn; each account starts on the first day its local
    `at` is still ahead of `now`.
    """
    _check_aware(now)
    if not accounts:
        raise ValueError("a plan needs at least one account")
    slots: list[Slot] = []
    for index in range(items):
        account = accounts[index % len(accounts)]
        round_ = index // len(accounts)
        first = _first_day(account.tz, at, now)
        wall = datetime.combine(first + timedelta(days=round_), at)
        placed = localize(wall, account.tz)
        slots.append(_slot(index, account, placed.instant, placed.note, wall))
    return slots


def _first_day(tz: ZoneInfo, at: time, now: datetime) -> date:
    today = now.astimezone(tz).date()
    if localize(datetime.combine(today, at), tz).instant > now:
        return today
    return today + timedelta(days=1)


def plan_every(
    items: int, accounts: Sequence[PlanAccount], start: datetime, every: timedelta, now: datetime
) -> list[Slot]:
    """Plan `items` videos `every` apart (elapsed time) from `start`, dealt to the accounts.

    `start` is an instant already resolved from what the person typed ("tomorrow 09:00");
    one in the past starts now.
    """
    _check_aware(now)
    _check_aware(start)
    if every <= timedelta(0) or not accounts:
        raise ValueError("a plan needs a positive interval and at least one account")
    first = max(start, now).astimezone(UTC)
    return [_slot(n, accounts[n % len(accounts)], first + every * n) for n in range(items)]


def peak_slots(account: PlanAccount, day: date) -> list[Slot]:
    """Return the slot starts inside an account's peak window that opens on local `day`."""
    end_h = (
        account.peak_end_h
        if account.peak_end_h > account.peak_start_h
        else (account.peak_end_h + 24)
    )
    slots: list[Slot] = []
    opens = datetime.combine(day, time(account.peak_start_h))
    for step in range((end_h - account.peak_start_h) * 60 // PEAK_SLOT_MIN):
        wall = opens + timedelta(minutes=step * PEAK_SLOT_MIN)
        placed = localize(wall, account.tz)
        if slots and placed.instant <= slots[-1].at:
            continue  # two wall times of a DST gap can resolve to the same instant
        slots.append(_slot(0, account, placed.instant, placed.note, wall))
    return slots


def plan_best(
    account: PlanAccount,
    now: datetime,
    *,
    planned: Sequence[datetime] = (),
    has_room: Callable[[datetime], bool] | None = None,
    spacing: timedelta = timedelta(hours=AUDIENCE_SPACING_H),
    item: int = 0,
) -> Slot | None:
    """Return the nearest peak slot after `now` that has quota and keeps clear of `planned`.

    `planned` holds our own uploads already planned on the same audience; a slot closer than
    `spacing` to one of them stacks on it and is skipped. `has_room` says whether the quota
    ledger still has room at an instant (core.quota.forecast answers that). None when no slot
    fits within BEST_HORIZON_DAYS.
    """
    _check_aware(now)
    today = now.astimezone(account.tz).date()
    # The window that opened yesterday may still be open now when it passes midnight.
    for offset in range(-1, BEST_HORIZON_DAYS + 1):
        for slot in peak_slots(account, today + timedelta(days=offset)):
            if slot.at <= now:
                continue
            if any(abs(slot.at - other) < spacing for other in planned):
                continue
            if has_room is not None and not has_room(slot.at):
                continue
            return Slot(item, slot.account_id, slot.at, slot.local, slot.note, slot.wall)
    return None


@dataclass(frozen=True)
class LeadTime:
    """Whether an upload started now ends in time for its publish instant, and if not, when."""

    ok: bool
    publish_at: datetime
    finishes_at: datetime
    #: The publish instant to use instead, never earlier than asked; None when `ok`.
    replanned_at: datetime | None

    def describe(self) -> str:
        """Return a plain English line for logs and tests."""
        if self.ok:
            return f"upload ends {self.finishes_at:%H:%M} UTC, before {self.publish_at:%H:%M} UTC"
        assert self.replanned_at is not None
        return (
            f"upload would end {self.finishes_at:%H:%M} UTC, after {self.publish_at:%H:%M} UTC;"
            f" publish moved to {self.replanned_at:%Y-%m-%d %H:%M} UTC"
        )


def check_lead_time(
    publish_at: datetime,
    estimated_upload_s: float,
    now: datetime,
    *,
    margin: timedelta = timedelta(seconds=LEAD_MARGIN_S),
) -> LeadTime:
    """Check at submit time that an upload ends `margin` before its publish instant.

    When it would not, the publish instant moves later to the next whole minute that leaves
    the margin; a video is never published earlier than asked.
    """
    _check_aware(now)
    _check_aware(publish_at)
    if estimated_upload_s < 0 or math.isnan(estimated_upload_s):
        raise ValueError("the upload estimate must be a non-negative number of seconds")
    finishes = now + timedelta(seconds=estimated_upload_s)
    if finishes + margin <= publish_at:
        return LeadTime(True, publish_at, finishes, None)
    earliest = (finishes + margin).astimezone(UTC)
    whole = earliest.replace(second=0, microsecond=0)
    if whole < earliest:
        whole += timedelta(minutes=1)
    return LeadTime(False, publish_at, finishes, max(whole, publish_at))


def _check_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("planning needs aware instants")
