"""What people can do with tasks; the bot turns chat actions into these calls."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core.access import Actor, Role
from core.caption import parse_caption
from core.errors import InputError, MediaError, TaskStateError
from core.metadata import validate_metadata
from core.models import Account, AccountStatus, Media, Privacy, Task, TaskState
from core.ports import Clock, MediaStore, Prober, TaskStore
from core.states import EDITABLE
from core.timeparse import ResolvedTime, parse_when

logger = logging.getLogger(__name__)

S = TaskState
#: An upload session carries the metadata and privacy it was opened with, so a change to either
#: must open a new session (the old one is abandoned unfinished and never becomes a video).
FRESH_SESSION = {"upload_uri": None, "upload_offset": 0}
#: Tasks shown by the queue: everything not yet finished.
OPEN_STATES = (S.DRAFT, S.QUEUED, S.UPLOADING, S.PROCESSING, S.RETRY_WAIT, S.FAILED)


@dataclass(frozen=True)
class IncomingVideo:
    """A video file a person sent, ready to be streamed into the media store."""

    chunks: AsyncIterator[bytes]
    file_name: str
    mime_type: str
    file_unique_id: str | None


@dataclass(frozen=True)
class TaskView:
    """A task with what a card shows about it."""

    task: Task
    account: Account | None
    media: Media | None
    #: The channels the balancer may choose from (a task's /use list), by name.
    allowed: tuple[str, ...] = ()


class TaskService:
    """Creates tasks from received videos and applies people's decisions to them."""

    def __init__(
        self,
        store: TaskStore,
        media_store: MediaStore,
        probe: Prober,
        clock: Clock,
        *,
        default_privacy: Privacy = Privacy.PRIVATE,
        default_category_id: str = "22",
        on_change: Callable[[], None] | None = None,
        holds: Callable[[Account, datetime], Awaitable[tuple[datetime, str] | None]] | None = None,
    ) -> None:
        #: What keeps a channel from starting an upload at an instant: (until, reason key).
        self._holds = holds
        self._store = store
        self._media = media_store
        self._probe = probe
        self._clock = clock
        self._default_privacy = default_privacy
        self._default_category = default_category_id
        self._on_change = on_change

    async def held_until(self, task: Task) -> tuple[datetime, str] | None:
        """Return until when and why the task's channel cannot start it, or None if it can."""
        if self._holds is None or task.account_id is None:
            return None
        account = await self._store.get_account(task.account_id)
        if account is None:
            return None
        return await self._holds(account, max(task.due_at or self.now(), self.now()))

    def now(self) -> datetime:
        """Return the current instant of the service's clock."""
        return self._clock.now()

    async def receive_video(
        self, video: IncomingVideo, caption: str | None, chat_id: int, actor: Actor
    ) -> TaskView:
        """Store and probe a received video, then create a draft task from its caption."""
        self._require(actor, Role.OPERATOR)
        stem = video.file_name.rsplit(".", 1)[0] if "." in video.file_name else video.file_name
        meta = parse_caption(caption, fallback_title=stem or "video")
        meta = dataclasses.replace(meta, category_id=self._default_category)
        # Refuse a caption YouTube would refuse before fetching a file that may be large.
        validate_metadata(meta, self._default_privacy, None, self._clock.now())
        suffix = _suffix(video.file_name)
        key = self._media.new_key(suffix)
        size, sha256 = await self._media.write_stream(key, video.chunks)
        try:
            if size == 0:
                raise MediaError("media.empty")
            info = await self._probe(key)
        except InputError:
            self._media.delete(key)
            raise
        now = self._clock.now()
        media = await self._store.add_media(
            key=key,
            sha256=sha256,
            size=size,
            mime_type=video.mime_type if video.mime_type.startswith("video/") else "video/mp4",
            duration_s=info.duration_s,
            width=info.width,
            height=info.height,
            codec=info.codec,
            file_unique_id=video.file_unique_id,
            created_at=now,
        )
        account = await self._only_account()
        task = await self._store.create_task(
            media_id=media.id,
            account_id=account.id if account else None,
            chat_id=chat_id,
            user_id=actor.user_id,
            metadata=meta,
            privacy=self._default_privacy,
            now=now,
        )
        logger.info(
            "task %s draft from %s bytes",
            task.id,
            size,
            extra={"action": "created", "task_id": task.id, "account_id": task.account_id},
        )
        return TaskView(task, account, media)

    async def attach_card(self, task_id: int, message_id: int) -> None:
        """Remember which chat message is the task's card."""
        await self._store.update_task(
            task_id, expected=list(S), now=self._clock.now(), card_message_id=message_id
        )

    async def publish_now(self, task_id: int, actor: Actor) -> TaskView:
        """Queue a task to start as soon as its account is free."""
        return await self._queue(task_id, actor, self._clock.now(), "publish now")

    async def schedule(
        self, task_id: int, when: str, actor: Actor
    ) -> tuple[TaskView, ResolvedTime]:
        """Queue a task for a time a person typed, in their time zone."""
        await self._own_task(task_id, actor)
        resolved = parse_when(when, now=self._clock.now(), tz=ZoneInfo(actor.timezone))
        view = await self._queue(task_id, actor, resolved.instant, f"scheduled: {when}")
        return view, resolved

    async def set_privacy(self, task_id: int, privacy: Privacy, actor: Actor) -> TaskView:
        """Change how visible the video will be."""
        await self._own_task(task_id, actor, changes_upload=True)
        await self._store.update_task(
            task_id, expected=EDITABLE, now=self._clock.now(), privacy=privacy, **FRESH_SESSION
        )
        return await self.view(task_id, actor)

    async def edit_metadata(
        self,
        task_id: int,
        actor: Actor,
        *,
        title: str | None = None,
        description: str | None = None,
        tags: tuple[str, ...] | None = None,
    ) -> TaskView:
        """Change a task's title, description or tags, within YouTube's limits."""
        task = await self._own_task(task_id, actor, changes_upload=True)
        changes: dict[str, object] = {}
        if title is not None:
            changes["title"] = " ".join(title.split())
        if description is not None:
            changes["description"] = description.strip()
        if tags is not None:
            changes["tags"] = tags
        meta = dataclasses.replace(task.metadata, **changes)  # type: ignore[arg-type]
        validate_metadata(meta, task.privacy, task.publish_at, self._clock.now())
        await self._store.update_task(
            task_id, expected=EDITABLE, now=self._clock.now(), metadata=meta, **FRESH_SESSION
        )
        return await self.view(task_id, actor)

    async def retry(self, task_id: int, actor: Actor) -> TaskView:
        """Queue a failed task again, from the start of its retry allowance."""
        task = await self._own_task(task_id, actor)
        if task.state is not S.FAILED:
            raise InputError("task.not_failed", task_id=task_id)
        await self._store.update_task(
            task_id, expected={S.FAILED}, now=self._clock.now(), attempts=0
        )
        return await self._queue(task_id, actor, self._clock.now(), "retry")

    async def set_thumbnail(
        self, task_id: int, chunks: AsyncIterator[bytes], actor: Actor
    ) -> TaskView:
        """Store a picture as the task's thumbnail."""
        task = await self._own_task(task_id, actor)
        key = self._media.new_key(".jpg")
        await self._media.write_stream(key, chunks)
        try:
            await self._store.update_task(
                task_id, expected=EDITABLE, now=self._clock.now(), thumbnail_key=key
            )
        except TaskStateError:
            self._media.delete(key)
            raise
        if task.thumbnail_key:
            self._media.delete(task.thumbnail_key)
        return await self.view(task_id, actor)

    async def cancel(self, task_id: int, actor: Actor) -> TaskView:
        """Cancel a task that has not started uploading."""
        task = await self._own_task(task_id, actor)
        try:
            await self._store.transition(
                task_id,
                S.CANCELLED,
                now=self._clock.now(),
                actor=actor.label,
                expected={task.state} & EDITABLE,
                lease_owner=None,
            )
        except TaskStateError as exc:
            raise InputError("task.not_editable", task_id=task_id, state=exc.current) from exc
        _log_transition(task, S.CANCELLED, "cancelled")
        self._changed()
        return await self.view(task_id, actor)

    async def view(self, task_id: int, actor: Actor) -> TaskView:
        """Return a task with its account and file, if the person may see it."""
        task = await self._visible_task(task_id, actor)
        return await self._view(task)

    async def view_for_card(self, task_id: int) -> TaskView | None:
        """Return a task for the notifier, without access checks."""
        task = await self._store.get_task(task_id)
        return None if task is None else await self._view(task)

    async def _view(self, task: Task) -> TaskView:
        account = await self._store.get_account(task.account_id) if task.account_id else None
        allowed: tuple[str, ...] = ()
        if account is None and task.allowed_accounts:
            names = {a.id: a.name for a in await self._store.list_accounts()}
            allowed = tuple(names[i] for i in task.allowed_accounts if i in names)
        return TaskView(task, account, await self._store.get_media(task.media_id), allowed)

    async def task_by_card(self, chat_id: int, message_id: int) -> Task | None:
        """Return the task whose card is that chat message."""
        return await self._store.task_by_card(chat_id, message_id)

    async def queue(self, actor: Actor) -> list[Task]:
        """Return the person's unfinished tasks (all of them, for an admin)."""
        owner = None if actor.role is Role.ADMIN else actor.user_id
        return await self._store.list_tasks(OPEN_STATES, user_id=owner)

    async def account(self, account_id: int) -> Account | None:
        """Return one account, for the notifier."""
        return await self._store.get_account(account_id)

    async def accounts(self, actor: Actor) -> list[Account]:
        """Return every account."""
        self._require(actor, Role.VIEWER)
        return await self._store.list_accounts()

    async def _queue(self, task_id: int, actor: Actor, due: datetime, detail: str) -> TaskView:
        task = await self._own_task(task_id, actor)
        if task.account_id is None and not await self._store.list_accounts():
            raise InputError("task.no_account")
        validate_metadata(task.metadata, task.privacy, task.publish_at, self._clock.now())
        twin = await self._store.duplicate_of(task_id)
        if twin is not None:
            same_channel = task.account_id is not None and twin.account_id == task.account_id
            key = "task.duplicate" if same_channel else "task.duplicate_any"
            raise InputError(key, task_id=task_id, other=twin.id)
        try:
            await self._store.transition(
                task_id,
                S.QUEUED,
                now=self._clock.now(),
                actor=actor.label,
                detail=detail,
                expected={task.state},
                due_at=due,
                attempts=0,
                error=None,
            )
        except TaskStateError as exc:
            raise InputError("task.not_editable", task_id=task_id, state=exc.current) from exc
        _log_transition(task, S.QUEUED, detail)
        self._changed()
        return await self.view(task_id, actor)

    async def use_accounts(self, task_id: int, names: Sequence[str], actor: Actor) -> TaskView:
        """Name the task's channel, let the balancer choose among several, or leave it "auto"."""
        task = await self._own_task(task_id, actor, changes_upload=True)
        if task.upload_uri:
            raise InputError("use.session_open", task_id=task_id)
        accounts = await self._store.list_accounts()
        by_name = {a.name.lower(): a for a in accounts}
        wanted = [n.strip().lstrip("@") for n in names if n.strip().lstrip("@")]
        if [n.lower() for n in wanted] in (["auto"], ["*"]):
            fields: dict[str, object] = {"account_id": None, "allowed_accounts": None}
            fields["choice"] = None
        else:
            unknown = [n for n in wanted if n.lower() not in by_name]
            if unknown or not wanted:
                known = ", ".join(a.name for a in accounts) or "-"
                raise InputError("use.unknown", name=", ".join(unknown) or "?", known=known)
            chosen = list(dict.fromkeys(by_name[n.lower()].id for n in wanted))
            if len(chosen) == 1:
                if chosen[0] != task.account_id and await self._store.file_on_account(
                    task.media_id, chosen[0]
                ):
                    raise InputError("use.has_file", task_id=task_id, name=wanted[0])
                fields = {"account_id": chosen[0], "allowed_accounts": None}
                fields["choice"] = {"named": True}
            else:
                fields = {"account_id": None, "allowed_accounts": chosen, "choice": None}
        try:
            await self._store.update_task(
                task_id, expected=EDITABLE, now=self._clock.now(), **fields
            )
        except TaskStateError as exc:
            raise InputError("task.not_editable", task_id=task_id, state=exc.current) from exc
        self._changed()
        return await self.view(task_id, actor)

    async def _visible_task(self, task_id: int, actor: Actor) -> Task:
        task = await self._store.get_task(task_id)
        if task is None:
            raise InputError("task.not_found", task_id=task_id)
        if actor.role is not Role.ADMIN and task.user_id != actor.user_id:
            raise InputError("task.not_yours", task_id=task_id)
        return task

    async def _own_task(self, task_id: int, actor: Actor, *, changes_upload: bool = False) -> Task:
        self._require(actor, Role.OPERATOR)
        task = await self._visible_task(task_id, actor)
        if task.state not in EDITABLE:
            raise InputError("task.not_editable", task_id=task_id, state=task.state.value)
        if changes_upload and task.video_id is not None:
            # YouTube has the video already; what it was uploaded with can no longer change here.
            raise InputError("task.already_uploaded", task_id=task_id)
        return task

    async def _only_account(self) -> Account | None:
        """Return the team's one channel; with several, the balancer chooses when it starts."""
        accounts = [
            a for a in await self._store.list_accounts() if a.status is not AccountStatus.SUSPENDED
        ]
        return accounts[0] if len(accounts) == 1 else None

    def _require(self, actor: Actor, role: Role) -> None:
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        if order.index(actor.role) < order.index(role):
            raise InputError("access.denied")

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


def _log_transition(task: Task, state: TaskState, action: str) -> None:
    logger.info(
        "task %s %s (account %s)",
        task.id,
        state.value,
        task.account_id,
        extra={
            "action": action.split(":")[0].replace(" ", "_"),
            "task_id": task.id,
            "account_id": task.account_id,
        },
    )


def _suffix(file_name: str) -> str:
    return "." + file_name.rsplit(".", 1)[1] if "." in file_name else ".mp4"
