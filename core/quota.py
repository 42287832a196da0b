"""The quota ledger's rules: per-account daily uploads and per-project YouTube API units.

Two layers, both pure arithmetic over usage records the store keeps:

- an account may start `uploads_per_day` uploads in its own time zone's day, at least
  `min_interval` apart;
- a Google Cloud project (one OAuth client id, shared by every account using that client) has
  `daily_units` API units a day, reset at midnight America/Los_Angeles. `videos.insert` costs
  either 1,600 of those units or one call from its own bucket of 100 a day, depending on the
  cost model. Failed calls are charged like successful ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.retry import QUOTA_RESET_MARGIN_S, QUOTA_RESET_ZONE
from core.timeparse import localize

#: YouTube's default daily units per Google Cloud project.
DAILY_UNITS = 10_000
#: `videos.insert` under the unit cost model.
INSERT_UNITS = 1_600
#: `videos.insert` calls a day under the bucket cost model.
INSERT_BUCKET_CALLS = 100
THUMBNAIL_UNITS = 50
PLAYLIST_ITEM_UNITS = 50
LIST_UNITS = 1
#: Default per-account cap and spacing (settings override them per account).
UPLOADS_PER_DAY = 10
MIN_INTERVAL_H = 2.0
UTC_ZONE = ZoneInfo("UTC")
#: The forecast gives up on a task after this many moves (only reached by contradictory limits).
MAX_FORECAST_STEPS = 10_000


class ApiCall(StrEnum):
    """A YouTube Data API call the ledger charges."""

    VIDEOS_INSERT = "videos.insert"
    THUMBNAILS_SET = "thumbnails.set"
    PLAYLIST_ITEMS_INSERT = "playlistItems.insert"
    LIST = "list"


class InsertCost(StrEnum):
    """How `videos.insert` is charged: from the shared units, or from its own call bucket."""

    UNITS = "units"
    BUCKET = "bucket"


@dataclass(frozen=True)
class Cost:
    """What one or more calls take from a project's day."""

    units: int = 0
    insert_calls: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.units + other.units, self.insert_calls + other.insert_calls)


@dataclass(frozen=True)
class CostModel:
    """The price of each call and the size of a project's day (a setting)."""

    insert: InsertCost = InsertCost.UNITS
    daily_units: int = DAILY_UNITS
    insert_units: int = INSERT_UNITS
    insert_bucket_calls: int = INSERT_BUCKET_CALLS
    thumbnail_units: int = THUMBNAIL_UNITS
    playlist_item_units: int = PLAYLIST_ITEM_UNITS
    list_units: int = LIST_UNITS
    #: A project stops taking uploads once this share of its day is spent (the rest is kept
    #: for thumbnails and list calls); 1 uses the whole day.
    stop_ratio: float = 1.0

    def cost(self, call: ApiCall) -> Cost:
        """Return what one call takes, whether it succeeds or fails."""
        if call is ApiCall.VIDEOS_INSERT:
            if self.insert is InsertCost.BUCKET:
                return Cost(insert_calls=1)
            return Cost(units=self.insert_units)
        if call is ApiCall.THUMBNAILS_SET:
            return Cost(units=self.thumbnail_units)
        if call is ApiCall.PLAYLIST_ITEMS_INSERT:
            return Cost(units=self.playlist_item_units)
        return Cost(units=self.list_units)

    def upload_cost(self, *, thumbnail: bool = False) -> Cost:
        """Return what publishing one video takes (the insert, and its thumbnail if any)."""
        cost = self.cost(ApiCall.VIDEOS_INSERT)
        return cost + self.cost(ApiCall.THUMBNAILS_SET) if thumbnail else cost

    def fits(self, used: Cost, extra: Cost) -> bool:
        """Return whether `extra` still fits in a day that already spent `used`."""
        if extra.units and used.units >= self.stop_ratio * self.daily_units:
            return False
        if extra.insert_calls and used.insert_calls >= self.stop_ratio * self.insert_bucket_calls:
            return False
        return (
            used.units + extra.units <= self.daily_units
            and used.insert_calls + extra.insert_calls <= self.insert_bucket_calls
        )

    def exhausted(self, used: Cost) -> bool:
        """Return whether a day that spent `used` has reached the share where uploads stop."""
        return (
            used.units >= self.stop_ratio * self.daily_units
            or used.insert_calls >= self.stop_ratio * self.insert_bucket_calls
        )


@dataclass(frozen=True)
class AccountLimits:
    """One account's own cap: uploads per local day and the spacing between them."""

    uploads_per_day: int = UPLOADS_PER_DAY
    min_interval: timedelta = timedelta(hours=MIN_INTERVAL_H)


@dataclass(frozen=True)
class ProjectUsage:
    """What one Google Cloud project spent on one Pacific day."""

    client_id: str
    day: date
    units: int = 0
    insert_calls: int = 0

    @property
    def spent(self) -> Cost:
        """Return the usage as a Cost."""
        return Cost(self.units, self.insert_calls)


@dataclass(frozen=True)
class AccountUsage:
    """How many uploads one account started on one day of its own zone, and the last one."""

    account_id: int
    day: date
    uploads: int = 0
    last_upload_at: datetime | None = None


@dataclass(frozen=True)
class ProjectRemaining:
    """What is left of a project's day, and when it is renewed."""

    units: int
    insert_calls: int
    #: Whole uploads (at the given upload cost) that still fit today.
    uploads: int
    resets_at: datetime


def project_day(now: datetime) -> date:
    """Return the quota day `now` falls in: the date in America/Los_Angeles."""
    return account_day(now, QUOTA_RESET_ZONE)


def account_day(now: datetime, tz: ZoneInfo) -> date:
    """Return the date `now` falls on in the account's zone."""
    _check_aware(now)
    return now.astimezone(tz).date()


def next_reset(now: datetime, tz: ZoneInfo = QUOTA_RESET_ZONE) -> datetime:
    """Return the next local midnight in `tz` after `now` (Pacific, the project reset, by default).

    A midnight that does not exist (a DST gap at 00:00 in some zones) resolves to the first
    instant after it, as core.timeparse.localize does.
    """
    day = account_day(now, tz) + timedelta(days=1)
    return localize(datetime.combine(day, time(0)), tz).instant


def charge(usage: ProjectUsage, call: ApiCall, model: CostModel, now: datetime) -> ProjectUsage:
    """Return the project's usage after one call made at `now`; failed calls are charged too.

    A call on a later Pacific day than the record's starts that day's record from zero.
    """
    today = project_day(now)
    base = usage if usage.day == today else ProjectUsage(usage.client_id, today)
    cost = model.cost(call)
    return replace(
        base, units=base.units + cost.units, insert_calls=base.insert_calls + cost.insert_calls
    )


def count_upload(usage: AccountUsage, now: datetime, tz: ZoneInfo) -> AccountUsage:
    """Return the account's usage after it started an upload at `now` (in its zone's day)."""
    today = account_day(now, tz)
    uploads = usage.uploads + 1 if usage.day == today else 1
    return AccountUsage(usage.account_id, today, uploads, now)


def remaining(
    usage: ProjectUsage, model: CostModel, now: datetime, upload: Cost | None = None
) -> ProjectRemaining:
    """Return what is left of the project's quota at `now` (all of it once the day rolled)."""
    spent = usage.spent if usage.day == project_day(now) else Cost()
    per_upload = upload or model.upload_cost()
    units = max(0, model.daily_units - spent.units)
    calls = max(0, model.insert_bucket_calls - spent.insert_calls)
    counts = [units // per_upload.units] if per_upload.units else []
    counts += [calls // per_upload.insert_calls] if per_upload.insert_calls else []
    # Never more than whole uploads left, and no more once the stop share is reached.
    uploads, used = 0, spent
    for _ in range(min(counts, default=0)):
        if not model.fits(used, per_upload):
            break
        uploads, used = uploads + 1, used + per_upload
    return ProjectRemaining(units, calls, uploads, next_reset(now))


def uploads_left(usage: AccountUsage, limits: AccountLimits, now: datetime, tz: ZoneInfo) -> int:
    """Return how many more uploads the account may start on its current local day."""
    used = usage.uploads if usage.day == account_day(now, tz) else 0
    return max(0, limits.uploads_per_day - used)


def upload_capacity(model: CostModel, upload: Cost | None = None) -> int:
    """Return how many uploads a project's whole day holds at the given upload cost."""
    empty = ProjectUsage("", date.min)
    return remaining(empty, model, datetime(2000, 1, 1, tzinfo=UTC), upload).uploads


# --- forecast -----------------------------------------------------------------------------


class MoveReason(StrEnum):
    """Why a planned upload cannot go at the instant asked."""

    PROJECT_QUOTA = "project_quota"
    ACCOUNT_CAP = "account_cap"
    MIN_INTERVAL = "min_interval"


@dataclass(frozen=True)
class PlannedUpload:
    """One upload of a plan: which task, on which account, when it is wanted."""

    task_id: int
    account_id: int
    wanted_at: datetime


@dataclass(frozen=True)
class AccountQuota:
    """What the forecast needs to know about one account's ledger."""

    account_id: int
    client_id: str
    tz: ZoneInfo
    usage: AccountUsage
    limits: AccountLimits = field(default_factory=AccountLimits)


@dataclass(frozen=True)
class ForecastItem:
    """Where one planned upload lands: as asked, moved (with why), or nowhere."""

    task_id: int
    account_id: int
    wanted_at: datetime
    #: The first instant it fits; None when it can never fit (a cost above a whole day).
    at: datetime | None
    reason: MoveReason | None = None

    @property
    def fits(self) -> bool:
        """Return whether it goes at the instant asked (or now, if that has passed)."""
        return self.at is not None and self.reason is None


@dataclass(frozen=True)
class Forecast:
    """A plan checked against the ledger, in the plan's order."""

    items: tuple[ForecastItem, ...]

    @property
    def fitting(self) -> int:
        """Return how many go when asked."""
        return sum(item.fits for item in self.items)

    @property
    def moved(self) -> tuple[ForecastItem, ...]:
        """Return the items that go later than asked, or never."""
        return tuple(item for item in self.items if not item.fits)

    def describe(self, tz: ZoneInfo = UTC_ZONE) -> str:
        """Return a plain English summary for logs and tests (the bot renders its own)."""
        head = f"{self.fitting} of {len(self.items)} fit when asked"
        parts = [head]
        for item in self.moved:
            if item.at is None:
                parts.append(f"#{item.task_id} never fits: it costs more than a whole day")
                continue
            local = item.at.astimezone(tz)
            when = f"{local:%Y-%m-%d %H:%M} {tz.key}"
            parts.append(f"#{item.task_id} goes at {when}, {_REASON_TEXT[item.reason]}")
        return "; ".join(parts)


_REASON_TEXT: Mapping[MoveReason | None, str] = {
    MoveReason.PROJECT_QUOTA: "after YouTube's quota reset",
    MoveReason.ACCOUNT_CAP: "when the channel's daily upload cap renews",
    MoveReason.MIN_INTERVAL: "to keep the channel's minimum interval between uploads",
    None: "as asked",
}


def forecast(
    plan: Sequence[PlannedUpload],
    accounts: Mapping[int, AccountQuota],
    projects: Mapping[str, ProjectUsage],
    model: CostModel,
    now: datetime,
    *,
    upload: Cost | None = None,
    reset_margin: timedelta = timedelta(seconds=QUOTA_RESET_MARGIN_S),
) -> Forecast:
    """Place each planned upload at the first instant both quota layers allow.

    Uploads are placed earliest-wanted first (ties in plan order), each charging the day it
    lands on, so a later one sees the room the earlier ones took. `reset_margin` is added
    after the Pacific reset, as the engine waits it too.
    """
    _check_aware(now)
    ledger = _Ledger(accounts, projects, model, upload or model.upload_cost(), reset_margin)
    order = sorted(range(len(plan)), key=lambda i: plan[i].wanted_at)
    placed: dict[int, ForecastItem] = {}
    for index in order:
        wanted = plan[index]
        placed[index] = ledger.place(wanted, max(wanted.wanted_at, now))
    return Forecast(tuple(placed[i] for i in range(len(plan))))


class _Ledger:
    """Simulated usage per (project, Pacific day) and (account, local day) during a forecast."""

    def __init__(
        self,
        accounts: Mapping[int, AccountQuota],
        projects: Mapping[str, ProjectUsage],
        model: CostModel,
        upload: Cost,
        reset_margin: timedelta,
    ) -> None:
        self._accounts = accounts
        self._model = model
        self._upload = upload
        self._margin = reset_margin
        self._project_days: dict[tuple[str, date], Cost] = {
            (u.client_id, u.day): u.spent for u in projects.values()
        }
        self._account_days: dict[tuple[int, date], int] = {
            (a.account_id, a.usage.day): a.usage.uploads for a in accounts.values()
        }
        self._starts: dict[int, list[datetime]] = {
            a.account_id: [a.usage.last_upload_at] if a.usage.last_upload_at else []
            for a in accounts.values()
        }

    def place(self, wanted: PlannedUpload, at: datetime) -> ForecastItem:
        account = self._accounts[wanted.account_id]
        if not self._model.fits(Cost(), self._upload):
            return ForecastItem(wanted.task_id, wanted.account_id, wanted.wanted_at, None)
        first_reason: MoveReason | None = None
        for _ in range(MAX_FORECAST_STEPS):
            moved = self._project_block(account, at) or self._account_block(account, at)
            if moved is None:
                break
            later, reason = moved
            first_reason = first_reason or reason
            at = later
        else:
            return ForecastItem(wanted.task_id, wanted.account_id, wanted.wanted_at, None)
        self._book(account, at)
        return ForecastItem(wanted.task_id, wanted.account_id, wanted.wanted_at, at, first_reason)

    def _project_block(
        self, account: AccountQuota, at: datetime
    ) -> tuple[datetime, MoveReason] | None:
        used = self._project_days.get((account.client_id, project_day(at)), Cost())
        if self._model.fits(used, self._upload):
            return None
        return next_reset(at) + self._margin, MoveReason.PROJECT_QUOTA

    def _account_block(
        self, account: AccountQuota, at: datetime
    ) -> tuple[datetime, MoveReason] | None:
        day = account_day(at, account.tz)
        if self._account_days.get((account.account_id, day), 0) >= account.limits.uploads_per_day:
            return next_reset(at, account.tz), MoveReason.ACCOUNT_CAP
        gap = account.limits.min_interval
        clashes = [s for s in self._starts[account.account_id] if abs(at - s) < gap]
        if clashes:
            return max(clashes) + gap, MoveReason.MIN_INTERVAL
        return None

    def _book(self, account: AccountQuota, at: datetime) -> None:
        key = (account.client_id, project_day(at))
        self._project_days[key] = self._project_days.get(key, Cost()) + self._upload
        day_key = (account.account_id, account_day(at, account.tz))
        self._account_days[day_key] = self._account_days.get(day_key, 0) + 1
        self._starts[account.account_id].append(at)


def _check_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("quota arithmetic needs aware instants")


def total_cost(calls: Iterable[ApiCall], model: CostModel) -> Cost:
    """Return what a sequence of calls takes."""
    cost = Cost()
    for call in calls:
        cost = cost + model.cost(call)
    return cost
