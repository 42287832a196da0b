"""Report maths: outcomes, rates, durations, per-hour buckets and the coming schedule.

Everything here is a pure function over plain records that storage.observe reads, plus a small
service (`Reports`) that fetches those records through the `ObserveSource` protocol. Days and
hours are the person's: periods start at local midnight and publish instants are bucketed by
their local hour with zoneinfo, so a day with a DST change has 23 or 25 hours and a repeated hour
counts in one bucket.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Protocol
from zoneinfo import ZoneInfo

from core.errors import InputError
from core.models import Account, AccountStatus, TaskState
from core.ports import Clock
from core.timeparse import localize

S = TaskState
HOURS_PER_DAY = 24
#: The longest period a report may cover, so one command cannot read years of history.
MAX_REPORT_DAYS = 92
#: States of a task that waits for its turn.
WAITING_STATES = (S.QUEUED, S.RETRY_WAIT)
#: States of a task a process works on.
ACTIVE_STATES = (S.UPLOADING, S.PROCESSING)
#: Platform reasons grouped into the classes that metrics and stats show.
FAILURE_CLASSES = {
    "quotaExceeded": "quota",
    "dailyLimitExceeded": "quota",
    "uploadLimitExceeded": "upload_limit",
    "invalid_grant": "auth",
    "authError": "auth",
    "unauthorized_client": "auth",
    "forbidden": "auth",
    "rateLimitExceeded": "transient",
    "userRateLimitExceeded": "transient",
    "backendError": "transient",
    "network": "transient",
    "no_progress": "transient",
    "token_endpoint": "transient",
    "unknown": "transient",
    "invalidTitle": "content",
    "invalidTags": "content",
    "invalidDescription": "content",
    "invalidPublishAt": "content",
    "invalidCategoryId": "content",
    "mediaBodyRequired": "content",
    "uploadTooLarge": "content",
    "client": "content",
    "missing": "content",
    "no_account": "content",
}
_DATE = r"\d{4}-\d{1,2}-\d{1,2}"
_RANGE = re.compile(rf"^({_DATE})(?:\s*(?:\.\.|~|～|—|to)\s*({_DATE}))?$")


def failure_class(reason: str | None) -> str:
    """Return the class of a failure reason: quota, upload_limit, auth, transient, content."""
    if not reason:
        return "other"
    if reason in FAILURE_CLASSES:
        return FAILURE_CLASSES[reason]
    if reason.isdigit():
        return "transient" if int(reason) >= 500 or int(reason) == 429 else "content"
    if reason.startswith(("meta.", "media.", "task.")):
        return "content"
    return "other"


# -- records read from the store ----------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One row of a task's history."""

    to_state: TaskState
    at: datetime
    from_state: TaskState | None = None
    detail: str | None = None


@dataclass(frozen=True)
class TaskRecord:
    """A task with its whole history, oldest transition first."""

    task_id: int
    account_id: int | None
    account_name: str | None
    title: str
    created_at: datetime
    error: str | None
    transitions: tuple[Transition, ...]


@dataclass(frozen=True)
class OpenTask:
    """A task that is not finished: waiting, or being worked on."""

    task_id: int
    account_id: int | None
    state: TaskState
    due_at: datetime | None
    title: str = ""


@dataclass(frozen=True)
class HistoryEvent:
    """A history row with the task's account, for rates over a recent window."""

    task_id: int
    account_id: int | None
    from_state: TaskState | None
    to_state: TaskState
    at: datetime
    detail: str | None = None


class ObserveSource(Protocol):
    """What reports, stats and the calendar read (storage.observe.ObserveStore)."""

    async def report_records(self, start: datetime, end: datetime) -> list[TaskRecord]:
        """Return tasks with a published or failed transition in [start, end)."""
        ...

    async def open_tasks(self) -> list[OpenTask]:
        """Return every waiting or in-flight task."""
        ...

    async def history_since(self, since: datetime) -> list[HistoryEvent]:
        """Return history rows at or after `since`, oldest first."""
        ...

    async def accounts(self) -> list[Account]:
        """Return every account."""
        ...


# -- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Local days from `first` to `last`, both included, in a time zone."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        """Return the instant the period starts (local midnight of `first`), aware UTC."""
        return local_midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        """Return the instant after the period (local midnight after `last`), aware UTC."""
        return local_midnight(self.last + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        """Return how many local days the period covers."""
        return (self.last - self.first).days + 1


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """Return the first instant of a local day as aware UTC (DST-safe, even at midnight)."""
    return local_instant(day, time(0), zone)


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Return a local wall time as aware UTC: a missing time moves on, a repeated one is first."""
    return localize(datetime.combine(day, at), zone).instant


def parse_period(raw: str, today: date, zone: ZoneInfo) -> Period:
    """Read `today`, `yesterday`, `week`, `month`, a date or `<date>..<date>` (local days).

    `week` is the last 7 days and `month` the last 30, today included. Raises InputError
    (`report.bad_period`) for anything else, and `report.period_too_long` past the maximum.
    """
    word = " ".join(raw.split()).casefold()
    named = {
        "": (today, today),
        "today": (today, today),
        "今天": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "昨天": (today - timedelta(days=1), today - timedelta(days=1)),
        "week": (today - timedelta(days=6), today),
        "本周": (today - timedelta(days=6), today),
        "month": (today - timedelta(days=29), today),
        "本月": (today - timedelta(days=29), today),
    }
    if word in named:
        first, last = named[word]
        return Period(first, last, zone)
    match = _RANGE.match(word)
    if match is None:
        raise InputError("report.bad_period", text=raw[:50])
    try:
        first = date.fromisoformat(_pad(match.group(1)))
        last = date.fromisoformat(_pad(match.group(2))) if match.group(2) else first
    except ValueError:
        raise InputError("report.bad_period", text=raw[:50]) from None
    first, last = min(first, last), max(first, last)
    if first.year < REPORT_YEARS[0] or last.year > REPORT_YEARS[1]:
        # Far dates overflow when their local day is turned into instants; none has tasks.
        raise InputError("report.bad_period", text=raw[:50])
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise InputError("report.period_too_long", days=MAX_REPORT_DAYS)
    return Period(first, last, zone)


#: The years a report may cover.
REPORT_YEARS = (2000, 2999)


def _pad(text: str) -> str:
    year, month, day = text.split("-")
    return f"{year}-{int(month):02d}-{int(day):02d}"


# -- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountFigures:
    """What one account did in a period."""

    account_id: int | None
    name: str | None
    published: int = 0
    failed: int = 0


@dataclass(frozen=True)
class FailedTask:
    """A task whose last outcome in the period was a failure."""

    task_id: int
    account_name: str | None
    title: str
    at: datetime
    error: str | None


@dataclass(frozen=True)
class Report:
    """Figures of a period: counts, rates, durations, per account and per local hour."""

    period: Period
    published: int
    failed: int
    success_rate: float | None
    avg_processing_s: float | None
    avg_upload_s: float | None
    by_account: tuple[AccountFigures, ...]
    #: Published tasks per local hour of day, 0 to 23.
    by_hour: tuple[int, ...]
    failures: tuple[FailedTask, ...]


def uploading_seconds(transitions: Sequence[Transition]) -> float | None:
    """Return the time a task spent in the uploading state, over every attempt."""
    spent = [
        (after.at - before.at).total_seconds()
        for before, after in pairwise(transitions)
        if before.to_state is S.UPLOADING
    ]
    return sum(spent) if spent else None


def build_report(records: Iterable[TaskRecord], period: Period) -> Report:
    """Count each task once, by its last outcome (published or failed) within the period."""
    start, end = period.start, period.end
    published: list[tuple[TaskRecord, Transition]] = []
    failures: list[FailedTask] = []
    per_account: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    names: dict[int | None, str | None] = {}
    for record in records:
        outcomes = [
            t
            for t in record.transitions
            if t.to_state in (S.PUBLISHED, S.FAILED) and start <= t.at < end
        ]
        if not outcomes:
            continue
        final = outcomes[-1]
        names[record.account_id] = record.account_name
        if final.to_state is S.PUBLISHED:
            published.append((record, final))
            per_account[record.account_id][0] += 1
        else:
            reason = record.error or final.detail
            failures.append(
                FailedTask(record.task_id, record.account_name, record.title, final.at, reason)
            )
            per_account[record.account_id][1] += 1
    hours = Counter(t.at.astimezone(period.zone).hour for _, t in published)
    processing = [(t.at - r.created_at).total_seconds() for r, t in published]
    uploads = [u for r, t in published if (u := _upload_before(r, t)) is not None]
    decided = len(published) + len(failures)
    accounts = sorted(
        (AccountFigures(a, names.get(a), p, f) for a, (p, f) in per_account.items()),
        key=lambda fig: (-fig.published, -fig.failed, fig.name or ""),
    )
    return Report(
        period=period,
        published=len(published),
        failed=len(failures),
        success_rate=len(published) / decided if decided else None,
        avg_processing_s=_mean(processing),
        avg_upload_s=_mean(uploads),
        by_account=tuple(accounts),
        by_hour=tuple(hours.get(h, 0) for h in range(HOURS_PER_DAY)),
        failures=tuple(sorted(failures, key=lambda f: (f.at, f.task_id))),
    )


def _upload_before(record: TaskRecord, final: Transition) -> float | None:
    upto = [t for t in record.transitions if t.at <= final.at]
    return uploading_seconds(upto)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# -- live figures ------------------------------------------------------------------------------


def is_error(event: HistoryEvent) -> bool:
    """Tell whether a transition ends an attempt in failure (a retry wait, or failed)."""
    if event.to_state is S.FAILED:
        return True
    return event.to_state is S.RETRY_WAIT and event.from_state in ACTIVE_STATES


def outcome_counts(events: Iterable[HistoryEvent]) -> tuple[int, int]:
    """Return (attempts that published, attempts that failed) among the events."""
    ok = errors = 0
    for event in events:
        if event.to_state is S.PUBLISHED:
            ok += 1
        elif is_error(event):
            errors += 1
    return ok, errors


def error_rate(ok: int, errors: int) -> float | None:
    """Return the share of attempts that failed, or None without attempts."""
    total = ok + errors
    return errors / total if total else None


@dataclass(frozen=True)
class AccountLive:
    """One account's live figures."""

    account_id: int | None
    name: str | None
    status: AccountStatus | None
    waiting: int = 0
    active: int = 0
    published: int = 0
    errors: int = 0


@dataclass(frozen=True)
class Stats:
    """Live figures over the recent window."""

    now: datetime
    window_s: float
    waiting: int
    due: int
    active: int
    published: int
    errors: int
    #: Published tasks per hour over the window.
    rate_per_hour: float
    error_rate: float | None
    #: How long tasks that are due now have waited past their time, on average.
    avg_wait_s: float | None
    oldest_wait_s: float | None
    accounts: tuple[AccountLive, ...] = field(default_factory=tuple)


def build_stats(
    open_tasks: Iterable[OpenTask],
    events: Iterable[HistoryEvent],
    accounts: Iterable[Account],
    now: datetime,
    window_s: float,
) -> Stats:
    """Compute the live figures from the open tasks and the recent history."""
    since = now - timedelta(seconds=window_s)
    tasks = list(open_tasks)
    recent = [e for e in events if e.at >= since]
    ok, errors = outcome_counts(recent)
    waits = [
        (now - t.due_at).total_seconds()
        for t in tasks
        if t.state in WAITING_STATES and t.due_at is not None and t.due_at <= now
    ]
    rows: dict[int | None, dict[str, int]] = defaultdict(Counter)
    for task in tasks:
        bucket = "waiting" if task.state in WAITING_STATES else "active"
        rows[task.account_id][bucket] += 1
    for event in recent:
        if event.to_state is S.PUBLISHED:
            rows[event.account_id]["published"] += 1
        elif is_error(event):
            rows[event.account_id]["errors"] += 1
    known: dict[int | None, Account] = {a.id: a for a in accounts}
    ids = list(known) + [a for a in rows if a not in known]
    return Stats(
        now=now,
        window_s=window_s,
        waiting=sum(1 for t in tasks if t.state in WAITING_STATES),
        due=len(waits),
        active=sum(1 for t in tasks if t.state in ACTIVE_STATES),
        published=ok,
        errors=errors,
        rate_per_hour=ok * 3600 / window_s if window_s > 0 else 0.0,
        error_rate=error_rate(ok, errors),
        avg_wait_s=_mean(waits),
        oldest_wait_s=max(waits) if waits else None,
        accounts=tuple(_account_live(a, known.get(a), rows.get(a, {})) for a in ids),
    )


def _account_live(
    account_id: int | None, account: Account | None, row: dict[str, int]
) -> AccountLive:
    return AccountLive(
        account_id,
        account.name if account else None,
        account.status if account else None,
        waiting=row.get("waiting", 0),
        active=row.get("active", 0),
        published=row.get("published", 0),
        errors=row.get("errors", 0),
    )


# -- the coming schedule -----------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarCell:
    """What is scheduled for one account on one local day."""

    count: int = 0
    #: Local times of the scheduled tasks, earliest first.
    times: tuple[str, ...] = ()


@dataclass(frozen=True)
class CalendarRow:
    """One account's days."""

    account_id: int | None
    name: str | None
    cells: tuple[CalendarCell, ...]


@dataclass(frozen=True)
class Calendar:
    """The coming schedule: one column a local day, one row an account."""

    days: tuple[date, ...]
    zone: ZoneInfo
    rows: tuple[CalendarRow, ...]

    @property
    def total(self) -> int:
        """Return how many tasks the calendar shows."""
        return sum(c.count for r in self.rows for c in r.cells)


def build_calendar(
    open_tasks: Iterable[OpenTask],
    accounts: Iterable[Account],
    first: date,
    days: int,
    zone: ZoneInfo,
) -> Calendar:
    """Lay the waiting tasks due in the coming local days out by account and day."""
    span = tuple(first + timedelta(days=i) for i in range(days))
    index = {d: i for i, d in enumerate(span)}
    grid: dict[int | None, list[list[datetime]]] = defaultdict(lambda: [[] for _ in span])
    for task in open_tasks:
        if task.state not in WAITING_STATES or task.due_at is None:
            continue
        local = task.due_at.astimezone(zone)
        if local.date() in index:
            grid[task.account_id][index[local.date()]].append(local)
    named: list[tuple[int | None, str | None]] = [(a.id, a.name) for a in accounts]
    known = {a for a, _ in named}
    named += [(a, None) for a in grid if a not in known]
    rows = tuple(
        CalendarRow(
            account_id,
            name,
            tuple(
                CalendarCell(len(day), tuple(f"{t:%H:%M}" for t in sorted(day)))
                for day in grid[account_id]
            )
            if account_id in grid
            else tuple(CalendarCell() for _ in span),
        )
        for account_id, name in named
    )
    return Calendar(span, zone, rows)


# -- the service -------------------------------------------------------------------------------


class Reports:
    """Builds reports, live stats and the calendar from what the store holds."""

    def __init__(self, source: ObserveSource, clock: Clock, *, window_s: float = 3600.0) -> None:
        self._source = source
        self._clock = clock
        self._window_s = window_s

    def today(self, zone: ZoneInfo) -> date:
        """Return the local date now in `zone`."""
        return self._clock.now().astimezone(zone).date()

    async def report(self, period: Period) -> Report:
        """Return the report of a period."""
        records = await self._source.report_records(period.start, period.end)
        return build_report(records, period)

    async def stats(self) -> Stats:
        """Return the live figures."""
        now = self._clock.now()
        since = now - timedelta(seconds=self._window_s)
        return build_stats(
            await self._source.open_tasks(),
            await self._source.history_since(since),
            await self._source.accounts(),
            now,
            self._window_s,
        )

    async def calendar(self, zone: ZoneInfo, days: int = 7) -> Calendar:
        """Return the coming `days` local days' schedule, today first."""
        return build_calendar(
            await self._source.open_tasks(),
            await self._source.accounts(),
            self.today(zone),
            days,
            zone,
        )
