"""Account administration: who may look at or change a channel, which values are allowed, and
applying a change so that the engine and the alert chats hear of it at once.

The bot turns /accounts, /account and /quota into calls here. Storage implements the small
protocols below; nothing here knows Telegram or the database.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
import zoneinfo
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from core.access import Actor, Role
from core.alerts import AccountState
from core.errors import InputError, TaskStateError
from core.ledger import AccountDefaults, AccountLine, ProjectLine, QuotaLedger
from core.models import Account, AccountStatus, Task, TaskState
from core.ports import Clock
from core.problems import encode_problem
from core.quota import MoveReason

logger = logging.getLogger(__name__)

#: The balancer's priority weight a person may give (1 is neutral; see core.balancer).
PRIORITY_MIN = 0.0
PRIORITY_MAX = 100.0
DEFAULT_PRIORITY = 1.0
#: One step of the priority buttons.
PRIORITY_STEP = 1.0
#: A channel's own cap, uploads a day.
UPLOADS_PER_DAY_MIN = 1
UPLOADS_PER_DAY_MAX = 1000
#: Hours between two uploads on one channel.
INTERVAL_MAX_H = 168.0
#: Words that put a setting back to the settings' default.
DEFAULT_WORDS = frozenset({"default", "reset", "默认", "默认值"})
#: Statuses a person's resume ends; needs_auth ends only with new credentials (/reauth).
RESUMABLE = frozenset({AccountStatus.SUSPENDED, AccountStatus.ERROR, AccountStatus.RATE_LIMITED})
#: The status reason core.ledger's health rules give a channel that reached its own cap.
CAP_REASON = "account_cap"
#: A zone name is at most this long (the longest IANA name has 32 characters).
ZONE_MAX_CHARS = 64
_NUMBER = re.compile(r"^\d{1,6}(?:\.\d{1,4})?$")
_WHOLE = re.compile(r"^\d{1,6}$")
_PEAK = re.compile(r"^(\d{1,2})-(\d{1,2})$")
#: Dashes and tildes people type between two hours.
_DASHES = str.maketrans({"–": "-", "—": "-", "~": "-", "～": "-", "至": "-", "到": "-"})


class Setting(StrEnum):
    """What `/account <name> <setting> <value>` changes."""

    PRIORITY = "priority"
    QUOTA = "quota"
    INTERVAL = "interval"
    PEAK = "peak"
    TZ = "tz"


#: What `/account <name> <action>` may say, in either language, and the action it means.
ACTIONS = {
    "pause": "pause",
    "暂停": "pause",
    "resume": "resume",
    "恢复": "resume",
    "priority": Setting.PRIORITY.value,
    "优先级": Setting.PRIORITY.value,
    "quota": Setting.QUOTA.value,
    "配额": Setting.QUOTA.value,
    "interval": Setting.INTERVAL.value,
    "间隔": Setting.INTERVAL.value,
    "peak": Setting.PEAK.value,
    "高峰": Setting.PEAK.value,
    "tz": Setting.TZ.value,
    "timezone": Setting.TZ.value,
    "时区": Setting.TZ.value,
}


@dataclass(frozen=True)
class SettingChange:
    """A validated change: the account columns to write (None: the settings' default)."""

    setting: Setting
    values: dict[str, Any]


class AccountStore(Protocol):
    """The accounts and their tasks (storage.store.SqlStore)."""

    async def get_account(self, account_id: int) -> Account | None:
        """Return one account, or None."""
        ...

    async def list_accounts(self) -> list[Account]:
        """Return every account."""
        ...

    async def set_account_status(
        self,
        account_id: int,
        status: AccountStatus,
        *,
        now: datetime,
        reason: str | None,
        until: datetime | None = None,
    ) -> AccountStatus | None:
        """Change an account's status and record why; return the previous one if it changed."""
        ...

    async def movable_tasks(self, account_id: int) -> list[Task]:
        """Return an account's waiting tasks that have not opened an upload session yet."""
        ...

    async def update_task(
        self, task_id: int, *, expected: Iterable[TaskState], now: datetime, **fields: Any
    ) -> Task:
        """Change fields of a task that is in one of the `expected` states."""
        ...


class AccountSettingsStore(Protocol):
    """Where an account's own limits are kept (storage.ledger.SqlLedger)."""

    async def update_account(self, account_id: int, **values: Any) -> None:
        """Change an account's limits, priority, peak hours or zone."""
        ...


class StatusHistory(Protocol):
    """The accounts' recorded status changes (storage.observe.ObserveStore)."""

    async def account_states(self) -> list[AccountState]:
        """Return each account's latest status change."""
        ...


class AccountListener(Protocol):
    """Who hears of a change (bot.notifier.TelegramNotifier)."""

    async def account_changed(self, account_id: int, previous: AccountStatus) -> None:
        """Tell the admins and the alert chats that an account's status changed."""
        ...

    async def task_changed(self, task_id: int) -> None:
        """Refresh a task's card after the change moved it."""
        ...


@dataclass(frozen=True)
class AccountDetail:
    """One channel in full, for /account."""

    line: AccountLine
    project: ProjectLine | None
    #: When the current status began (None: not recorded).
    since: datetime | None
    defaults: AccountDefaults

    @property
    def account(self) -> Account:
        """Return the account."""
        return self.line.account


@dataclass(frozen=True)
class QuotaView:
    """Every project's and every channel's day, for /quota."""

    projects: list[ProjectLine]
    accounts: list[AccountLine]


@dataclass(frozen=True)
class StatusOutcome:
    """What a pause or resume did."""

    account: Account
    previous: AccountStatus
    #: Waiting tasks handed back to the balancer (a pause only).
    moved: int = 0


@dataclass(frozen=True)
class Applied:
    """What `/account <name> <action> ...` did: the action, and the account as it is now."""

    action: str
    account: Account
    moved: int = 0


# -- validation -----------------------------------------------------------------------------------


def _clean(raw: str) -> str:
    """Return what a person typed with full-width characters and case folded."""
    return unicodedata.normalize("NFKC", raw).strip().casefold()


def is_default(raw: str) -> bool:
    """Return whether the person asked for the settings' default."""
    return _clean(raw) in DEFAULT_WORDS


def parse_priority(raw: str) -> float:
    """Return a priority weight from 0 to 100 (`default` is the neutral 1)."""
    if is_default(raw):
        return DEFAULT_PRIORITY
    value = _number(raw)
    if value is None or not PRIORITY_MIN <= value <= PRIORITY_MAX:
        raise InputError("admin.bad_priority", text=raw[:40])
    return value


def parse_quota(raw: str) -> int | None:
    """Return a channel's own uploads a day, 1 to 1000; None for the settings' default."""
    if is_default(raw):
        return None
    cleaned = _clean(raw)
    if not _WHOLE.match(cleaned) or not (
        UPLOADS_PER_DAY_MIN <= int(cleaned) <= UPLOADS_PER_DAY_MAX
    ):
        raise InputError("admin.bad_quota", text=raw[:40])
    return int(cleaned)


def parse_interval(raw: str) -> float | None:
    """Return hours between two uploads, 0 to 168 (`2`, `1.5`, `2h`); None for the default."""
    if is_default(raw):
        return None
    cleaned = _clean(raw)
    for unit in ("hours", "hour", "h", "小时"):
        if cleaned.endswith(unit):
            cleaned = cleaned.removesuffix(unit).strip()
            break
    value = _number(cleaned)
    if value is None or not 0 <= value <= INTERVAL_MAX_H:
        raise InputError("admin.bad_interval", text=raw[:40])
    return value


def parse_peak(raw: str) -> tuple[int, int] | None:
    """Return local peak hours `H-H` (start 0-23, end 0-24, may pass midnight); None: default.

    The end is kept modulo 24, as the settings keep it; `0-24` is the whole day.
    """
    if is_default(raw):
        return None
    match = _PEAK.match(_clean(raw).translate(_DASHES).replace(" ", ""))
    if match is None:
        raise InputError("admin.bad_peak", text=raw[:40])
    start, end = int(match[1]), int(match[2])
    if not (0 <= start <= 23 and 0 <= end <= 24) or start == end:
        raise InputError("admin.bad_peak", text=raw[:40])
    return start, end % 24


def resolve_zone(raw: str) -> str | None:
    """Return the IANA zone a person named, in any letter case, or None."""
    wanted = unicodedata.normalize("NFKC", raw).strip()
    if not wanted or len(wanted) > ZONE_MAX_CHARS:
        return None
    names = zoneinfo.available_timezones()
    if wanted in names:
        return wanted
    return {name.casefold(): name for name in names}.get(wanted.casefold())


def parse_zone(raw: str, team_zone: str) -> str:
    """Return an account's zone (`default` is the team's)."""
    if is_default(raw):
        return team_zone
    zone = resolve_zone(raw)
    if zone is None:
        raise InputError("admin.bad_zone", text=raw[:ZONE_MAX_CHARS])
    return zone


def parse_action(word: str) -> str:
    """Return the action a word names (`pause`, `resume` or a Setting's value)."""
    action = ACTIONS.get(_clean(word))
    if action is None:
        raise InputError("admin.unknown_action", text=word[:40])
    return action


def parse_setting(setting: str, args: Sequence[str], team_zone: str) -> SettingChange:
    """Return the validated change `setting args...`; raise InputError naming what is wrong."""
    try:
        which = Setting(parse_action(setting))
    except ValueError:
        raise InputError("admin.unknown_action", text=setting[:40]) from None
    if not args:
        raise InputError("admin.value_needed", action=which.value)
    raw = " ".join(args)
    if which is Setting.PRIORITY:
        return SettingChange(which, {"priority": parse_priority(raw)})
    if which is Setting.QUOTA:
        return SettingChange(which, {"uploads_per_day": parse_quota(raw)})
    if which is Setting.INTERVAL:
        return SettingChange(which, {"min_interval_h": parse_interval(raw)})
    if which is Setting.TZ:
        return SettingChange(which, {"timezone": parse_zone(raw, team_zone)})
    return _peak_change(args)


def _peak_change(args: Sequence[str]) -> SettingChange:
    """Return `peak H-H [zone]` or `peak default` as a change."""
    if len(args) == 1 and is_default(args[0]):
        return SettingChange(
            Setting.PEAK, {"peak_start_h": None, "peak_end_h": None, "peak_timezone": None}
        )
    # "20 - 22 Asia/Shanghai" and "20-22 Asia/Shanghai" both name hours, then a zone.
    hours, zone_words = list(args), []
    if len(args) > 1 and resolve_zone(args[-1]) is not None:
        hours, zone_words = list(args[:-1]), [args[-1]]
    peak = parse_peak("".join(hours))
    if peak is None:
        raise InputError("admin.bad_peak", text=" ".join(args)[:40])
    values: dict[str, Any] = {"peak_start_h": peak[0], "peak_end_h": peak[1]}
    if zone_words:
        values["peak_timezone"] = resolve_zone(zone_words[0])
    return SettingChange(Setting.PEAK, values)


def _number(raw: str) -> float | None:
    cleaned = _clean(raw).replace(",", ".")
    if not _NUMBER.match(cleaned):
        return None
    value = float(cleaned)
    return value if math.isfinite(value) else None


def split_target(words: Sequence[str], accounts: Sequence[Account]) -> tuple[Account, list[str]]:
    """Return the account named by the first words (names may hold spaces) and the rest.

    The longest name that matches wins; an exact match goes before one in another letter case.
    """
    by_name = {a.name: a for a in accounts}
    by_folded: dict[str, list[Account]] = {}
    for a in accounts:
        by_folded.setdefault(a.name.casefold(), []).append(a)
    for k in range(len(words), 0, -1):
        wanted = " ".join(words[:k])
        if wanted in by_name:
            return by_name[wanted], list(words[k:])
        folded = by_folded.get(wanted.casefold(), [])
        if len(folded) == 1:
            return folded[0], list(words[k:])
    known = ", ".join(a.name for a in accounts[:20]) or "—"
    raise InputError("admin.unknown_account", name=" ".join(words)[:64], known=known)


# -- the service ----------------------------------------------------------------------------------


class AccountService:
    """Shows the channels to everyone with a role and lets admins pause, resume and tune them."""

    def __init__(
        self,
        store: AccountStore,
        settings: AccountSettingsStore,
        ledger: QuotaLedger,
        clock: Clock,
        *,
        team_timezone: str,
        history: StatusHistory | None = None,
        listener: AccountListener | None = None,
        on_change: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._ledger = ledger
        self._clock = clock
        self.team_timezone = team_timezone
        self._history = history
        self._listener = listener
        #: The engine's accounts_changed: rebuild the balancer, look at waiting tasks again.
        self._on_change = on_change

    @property
    def defaults(self) -> AccountDefaults:
        """Return what accounts use where they have no setting of their own."""
        return self._ledger.defaults

    def now(self) -> datetime:
        """Return the current instant."""
        return self._clock.now()

    # -- reading ----------------------------------------------------------------------------------

    async def overview(self, actor: Actor) -> list[AccountLine]:
        """Return every channel's day: status, uploads against its cap, next free slot."""
        _require(actor, Role.VIEWER)
        accounts = await self._store.list_accounts()
        return await self._ledger.lines(accounts, self._clock.now())

    async def target(self, words: Sequence[str], actor: Actor) -> tuple[Account, list[str]]:
        """Return the account the first words name, and the words after its name."""
        _require(actor, Role.VIEWER)
        return split_target(words, await self._store.list_accounts())

    async def detail(self, account_id: int, actor: Actor) -> AccountDetail:
        """Return one channel in full, with its project's quota."""
        _require(actor, Role.VIEWER)
        account = await self._account(account_id)
        now = self._clock.now()
        [line] = await self._ledger.lines([account], now)
        sharing = [
            a for a in await self._store.list_accounts() if a.client_id == account.client_id
        ]
        projects = await self._ledger.projects(sharing or [account], now)
        project = next((p for p in projects if p.client_id == account.client_id), None)
        return AccountDetail(line, project, await self._since(account), self.defaults)

    async def quota(self, actor: Actor) -> QuotaView:
        """Return what every project and every channel has used and has left today."""
        _require(actor, Role.VIEWER)
        accounts = await self._store.list_accounts()
        now = self._clock.now()
        return QuotaView(
            await self._ledger.projects(accounts, now), await self._ledger.lines(accounts, now)
        )

    async def _since(self, account: Account) -> datetime | None:
        if self._history is None:
            return None
        for state in await self._history.account_states():
            if state.account_id == account.id:
                return state.at if state.status is account.status else None
        return account.created_at  # never changed: as it has been since it was added

    # -- changing ---------------------------------------------------------------------------------

    async def pause(self, account_id: int, actor: Actor, by: str) -> StatusOutcome:
        """Suspend a channel: it takes no upload until resumed; its free tasks go elsewhere."""
        _require(actor, Role.ADMIN)
        account = await self._account(account_id)
        if account.status is AccountStatus.SUSPENDED:
            raise InputError("admin.already_paused", name=account.name)
        if account.status is AccountStatus.NEEDS_AUTH:
            raise InputError("admin.pause_needs_auth", name=account.name)
        reason = encode_problem("account.reason.paused", {"by": by})
        previous = await self._set_status(account, AccountStatus.SUSPENDED, reason, actor)
        moved = await self._release_waiting(account.id)
        await self._changed(account.id, previous)
        return StatusOutcome(await self._account(account_id), previous, moved)

    async def resume(self, account_id: int, actor: Actor, by: str) -> StatusOutcome:
        """Make a suspended, failing or rate-limited channel active again."""
        _require(actor, Role.ADMIN)
        account = await self._account(account_id)
        if account.status is AccountStatus.ACTIVE:
            raise InputError("admin.already_active", name=account.name)
        if account.status not in RESUMABLE:
            raise InputError("admin.resume_needs_auth", name=account.name)
        reason = encode_problem("account.reason.resumed", {"by": by})
        previous = await self._set_status(account, AccountStatus.ACTIVE, reason, actor)
        await self._changed(account.id, previous)
        return StatusOutcome(await self._account(account_id), previous)

    async def apply(
        self, account_id: int, words: Sequence[str], actor: Actor, *, by: str
    ) -> Applied:
        """Do what the words after an account's name ask: pause, resume or change a setting.

        The role is checked before the words, so an operator hears that the role does not
        allow it rather than what is wrong with the value.
        """
        _require(actor, Role.ADMIN)
        action = parse_action(words[0]) if words else ""
        if action == "pause":
            paused = await self.pause(account_id, actor, by)
            return Applied(action, paused.account, paused.moved)
        if action == "resume":
            resumed = await self.resume(account_id, actor, by)
            return Applied(action, resumed.account)
        change = parse_setting(words[0] if words else "", words[1:], self.team_timezone)
        changed = await self.change(account_id, change, actor, by=by)
        return Applied(change.setting.value, changed)

    async def change(
        self, account_id: int, change: SettingChange, actor: Actor, *, by: str | None = None
    ) -> Account:
        """Write a validated setting and let the engine look at the waiting tasks again."""
        _require(actor, Role.ADMIN)
        account = await self._account(account_id)
        await self._settings.update_account(account.id, **change.values)
        logger.info(
            "account %s: %s set by %s",
            account.id,
            change.setting.value,
            actor.label,
            extra={"action": "account_setting", "account_id": account.id},
        )
        previous = await self._lift_cap(account.id, by or actor.label)
        await self._changed(account.id, previous)
        return await self._account(account_id)

    async def _lift_cap(self, account_id: int, by: str) -> AccountStatus | None:
        """End a rate limit the channel's own cap set, once its new settings no longer hold it.

        The health rules limit a channel that reached its cap until its local midnight; a
        raised cap (or another zone's day) lets it go on now.
        """
        account = await self._account(account_id)
        if account.status is not AccountStatus.RATE_LIMITED or account.status_reason != CAP_REASON:
            return None
        now = self._clock.now()
        [line] = await self._ledger.lines([account], now)
        if line.block is not None and line.block.reason is MoveReason.ACCOUNT_CAP:
            return None
        reason = encode_problem("account.reason.cap_raised", {"by": by})
        return await self._store.set_account_status(
            account.id, AccountStatus.ACTIVE, now=now, reason=reason
        )

    async def nudge_priority(self, account_id: int, steps: int, actor: Actor) -> Account:
        """Raise or lower a channel's priority by whole steps, within 0 to 100."""
        _require(actor, Role.ADMIN)
        account = await self._account(account_id)
        raised = round(account.priority + steps * PRIORITY_STEP, 4)
        value = min(PRIORITY_MAX, max(PRIORITY_MIN, raised))
        return await self.change(
            account_id, SettingChange(Setting.PRIORITY, {"priority": value}), actor
        )

    async def _set_status(
        self, account: Account, status: AccountStatus, reason: str, actor: Actor
    ) -> AccountStatus:
        previous = await self._store.set_account_status(
            account.id, status, now=self._clock.now(), reason=reason
        )
        logger.info(
            "account %s: %s -> %s by %s",
            account.id,
            account.status.value,
            status.value,
            actor.label,
            extra={"action": "account_status", "account_id": account.id},
        )
        return previous or account.status

    async def _release_waiting(self, account_id: int) -> int:
        """Hand a paused channel's waiting tasks that did not name it back to the balancer."""
        moved = 0
        for task in await self._store.movable_tasks(account_id):
            if task.choice and task.choice.get("named"):
                continue  # a person chose this channel: it waits for the channel
            try:
                await self._store.update_task(
                    task.id,
                    expected={TaskState.QUEUED, TaskState.RETRY_WAIT},
                    now=self._clock.now(),
                    account_id=None,
                    choice=None,
                )
            except TaskStateError:
                continue  # it started meanwhile
            moved += 1
            if self._listener is not None:
                await self._listener.task_changed(task.id)
        return moved

    async def _changed(self, account_id: int, previous: AccountStatus | None) -> None:
        if self._on_change is not None:
            await self._on_change()
        if previous is not None and self._listener is not None:
            try:
                await self._listener.account_changed(account_id, previous)
            except Exception:
                logger.exception("account %s: status change not announced", account_id)

    async def _account(self, account_id: int) -> Account:
        account = await self._store.get_account(account_id)
        if account is None:
            raise InputError("admin.unknown_account", name=f"#{account_id}", known="—")
        return account


def _require(actor: Actor, role: Role) -> None:
    order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
    if order.index(actor.role) < order.index(role):
        raise InputError("access.denied")
