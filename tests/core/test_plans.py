"""Plans from the chat: what people type, and PlanService over a real SQLite store and ledger.

The store, the quota ledger and the media folder are the real ones (a SQLite file and a folder
in tmp_path); only the clock is a ManualClock.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.access import Actor, Role
from core.clock import ManualClock
from core.errors import InputError
from core.ledger import AccountDefaults, QuotaLedger
from core.models import Account, Credentials, Privacy, TaskState, VideoMetadata
from core.plans import (
    PlanKind,
    PlanService,
    parse_batch,
    parse_clock,
    parse_span,
    split_names,
)
from core.quota import CostModel, MoveReason
from media.store import LocalMediaStore
from storage.crypto import SecretBox
from storage.ledger import SqlLedger
from storage.store import SqlStore

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
#: 12:00 in Shanghai.
NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
OPERATOR = Actor(7, Role.OPERATOR, "en", "Asia/Shanghai")
OTHER = Actor(8, Role.OPERATOR, "en", "Asia/Shanghai")
ADMIN = Actor(1, Role.ADMIN, "zh", "Asia/Shanghai")
VIEWER = Actor(9, Role.VIEWER, "en", "Asia/Shanghai")
CHAT = 7
#: 1 MB a second: a 600 KB file uploads in 0.6 s.
RATE_BPS = 1_000_000


# -- what people type ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "hours"),
    [
        ("3", 3),
        ("3h", 3),
        ("1.5", 1.5),
        ("90m", 1.5),
        ("90 min", 1.5),
        ("2 hours", 2),
        ("3小时", 3),
        ("三个小时", 3),
        ("半小时", 0.5),
        ("一个半小时", 1.5),
        ("1d", 24),
    ],
)
def test_a_span_is_read_in_english_and_chinese(typed: str, hours: float) -> None:
    assert parse_span(typed, default_unit="h") == timedelta(hours=hours)


@pytest.mark.parametrize("typed", ["", "soon", "-2", "3 apples", "h3"])
def test_what_is_not_a_span_is_none(typed: str) -> None:
    assert parse_span(typed, default_unit="h") is None


@pytest.mark.parametrize(
    ("typed", "clock"),
    [
        ("20:00", time(20)),
        ("8pm", time(20)),
        ("at 8:30 p.m.", time(20, 30)),
        ("12am", time(0)),
        ("20点", time(20)),
        ("晚上8点", time(20)),
        ("8点半", time(8, 30)),
        ("下午三点", time(15)),
        ("中午12点", time(12)),
    ],
)
def test_a_time_of_day_is_read_in_english_and_chinese(typed: str, clock: time) -> None:
    assert parse_clock(typed) == clock


@pytest.mark.parametrize("typed", ["25:00", "13pm", "20:61", "tonight", "8m"])
def test_what_is_not_a_time_of_day_is_none(typed: str) -> None:
    assert parse_clock(typed) is None


def test_batch_daily_takes_ids_ranges_and_accounts_in_any_usual_spelling() -> None:
    spec = parse_batch("#3-#5, 9 daily 8pm on main, second", now=NOW, tz=SHANGHAI)
    assert (spec.kind, spec.task_ids, spec.clock) == (PlanKind.DAILY, (3, 4, 5, 9), time(20))
    assert spec.accounts == ("main", "second")
    assert parse_batch("每天晚上8点 发到 main、second", now=NOW, tz=SHANGHAI).accounts == (
        "main",
        "second",
    )
    assert parse_batch("every day at 20:00 @main @b", now=NOW, tz=SHANGHAI).accounts == (
        "main",
        "b",
    )


def test_batch_every_starts_now_or_from_a_time_read_in_the_persons_zone() -> None:
    spec = parse_batch("every 3h from tomorrow 09:00 on main", now=NOW, tz=SHANGHAI)
    assert spec.kind is PlanKind.EVERY and spec.every == timedelta(hours=3)
    assert spec.start is not None and spec.start.instant == datetime(2026, 12, 4, 1, tzinfo=UTC)
    chinese = parse_batch("每隔三个小时 从明天早上9点开始", now=NOW, tz=SHANGHAI)
    assert chinese.every == timedelta(hours=3) and chinese.start == spec.start
    now = parse_batch("每30分钟", now=NOW, tz=SHANGHAI)
    assert now.every == timedelta(minutes=30)
    assert now.start is not None and now.start.instant == NOW


@pytest.mark.parametrize("typed", ["best", "best time", "peak", "最佳", "黄金时间", "12 13 最佳"])
def test_batch_best_has_english_and_chinese_words(typed: str) -> None:
    assert parse_batch(typed, now=NOW, tz=SHANGHAI).kind is PlanKind.BEST


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("", "plan.bad_batch"),
        ("sometime", "plan.bad_batch"),
        ("3 4", "plan.bad_batch"),
        ("daily 25:00", "plan.bad_clock"),
        ("every 0h", "plan.bad_every"),
        ("every 40d", "plan.bad_every"),
        ("1-500 best", "plan.too_many"),
        ("every 3h from yesterday 09:00", "time.past"),
    ],
)
def test_batch_text_that_is_no_plan_is_refused_with_the_reason(typed: str, key: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_batch(typed, now=NOW, tz=SHANGHAI)
    assert caught.value.key == key


@given(st.text(max_size=120))
def test_any_batch_text_is_a_plan_or_a_refusal(typed: str) -> None:
    try:
        spec = parse_batch(typed, now=NOW, tz=SHANGHAI)
    except InputError:
        return
    assert spec.kind in PlanKind


def test_account_names_split_on_commas_spaces_and_chinese_marks() -> None:
    assert split_names(["@main,", "second", "and", "三号、four"]) == [
        "main",
        "second",
        "三号",
        "four",
    ]


# -- the service ---------------------------------------------------------------------------


@dataclass
class Rig:
    """A PlanService over a real store, ledger and media folder, with a ManualClock."""

    service: PlanService
    store: SqlStore
    media: LocalMediaStore
    clock: ManualClock
    ledger: QuotaLedger
    changed: list[int]

    async def account(self, name: str, zone: str = "Asia/Shanghai", **fields: object) -> Account:
        found = await self.store.add_account(
            platform="youtube",
            name=name,
            credentials=Credentials("client-1", "secret", f"refresh-{name}", "u"),
            channel_id=f"UC{name}",
            channel_title=name,
            timezone=zone,
            now=self.clock.now(),
        )
        if fields:
            await SqlLedger(self.store.engine).update_account(found.id, **fields)
        return found

    async def draft(
        self,
        seed: int,
        *,
        user: Actor = OPERATOR,
        size: int = 600_000,
        privacy: Privacy = Privacy.PRIVATE,
        thumbnail: bool = False,
    ) -> int:
        data = bytes([seed % 256]) * size
        key = self.media.new_key(".mp4")
        self.media.path(key).write_bytes(data)
        media = await self.store.add_media(
            key=key,
            sha256=hashlib.sha256(data).hexdigest(),
            size=size,
            mime_type="video/mp4",
            duration_s=3.0,
            width=320,
            height=240,
            codec="h264",
            file_unique_id=None,
            created_at=self.clock.now(),
        )
        task = await self.store.create_task(
            media_id=media.id,
            account_id=None,
            chat_id=CHAT,
            user_id=user.user_id,
            metadata=VideoMetadata(f"Video {seed}", "about it", ("tag",)),
            privacy=privacy,
            now=self.clock.now(),
        )
        if thumbnail:
            self.media.path(f"thumb-{task.id}.jpg").write_bytes(b"\xff\xd8\xff picture")
            await self.store.update_task(
                task.id,
                expected={TaskState.DRAFT},
                now=self.clock.now(),
                thumbnail_key=f"thumb-{task.id}.jpg",
            )
        return task.id

    async def state(self, task_id: int) -> TaskState:
        task = await self.store.get_task(task_id)
        assert task is not None
        return task.state


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'pm.db'}", SecretBox("k" * 20))
    media = LocalMediaStore(tmp_path / "media")
    clock = ManualClock(NOW)
    # YouTube's default day (10,000 units, 1,600 an upload, new uploads stop at 90 %): six
    # uploads; each channel's own cap and spacing out of the way.
    ledger = QuotaLedger(
        SqlLedger(store.engine),
        clock,
        CostModel(daily_units=10_000, stop_ratio=0.9),
        AccountDefaults(uploads_per_day=1000, min_interval_h=0),
    )
    changed: list[int] = []
    service = PlanService(
        store,
        ledger,
        media,
        clock,
        upload_rate_bps=RATE_BPS,
        on_change=lambda: changed.append(1),
    )
    yield Rig(service, store, media, clock, ledger, changed)
    await store.close()


async def test_an_interval_is_only_a_plan_until_accepted_then_copies_share_the_file(
    rig: Rig,
) -> None:
    main = await rig.account("main")
    ny = await rig.account("ny", "America/New_York")
    task_id = await rig.draft(1, thumbnail=True)
    plan = await rig.service.interval(task_id, "2h", ["main", "ny"], OPERATOR, CHAT)
    assert [(ln.account.id, ln.copy, ln.upload_at) for ln in plan.lines] == [
        (main.id, False, NOW),
        (ny.id, True, NOW + timedelta(hours=2)),
    ]
    assert f"{plan.lines[1].at.astimezone(NEW_YORK):%H:%M %Z}" == "01:00 EST"
    assert await rig.state(task_id) is TaskState.DRAFT
    assert await rig.store.get_task(task_id + 1) is None
    assert rig.changed == []

    accepted = await rig.service.accept(plan.token, OPERATOR)
    original, copy = accepted.tasks
    assert (original.id, original.account_id) == (task_id, main.id)
    assert original.state is TaskState.QUEUED
    assert (copy.account_id, copy.due_at, copy.media_id) == (
        ny.id,
        NOW + timedelta(hours=2),
        original.media_id,
    )
    assert copy.metadata == original.metadata and copy.plan_id == original.plan_id
    assert copy.choice == {"named": True, "plan": "interval"}
    # The copy has its own thumbnail file, so replacing one task's leaves the other's.
    assert copy.thumbnail_key and copy.thumbnail_key != original.thumbnail_key
    assert rig.media.path(copy.thumbnail_key).read_bytes() == b"\xff\xd8\xff picture"
    assert rig.changed == [1]
    with pytest.raises(InputError) as again:
        await rig.service.accept(plan.token, OPERATOR)
    assert again.value.key == "plan.gone"


async def test_a_cancelled_or_forgotten_plan_changes_nothing(rig: Rig) -> None:
    await rig.account("main")
    await rig.account("ny", "America/New_York")
    task_id = await rig.draft(1)
    plan = await rig.service.interval(task_id, "3", ["main", "ny"], OPERATOR, CHAT)
    rig.service.cancel(plan.token, OPERATOR)
    late = await rig.service.interval(task_id, "3", ["main", "ny"], OPERATOR, CHAT)
    rig.clock.advance(timedelta(hours=1, seconds=1))
    for token in (plan.token, late.token):
        with pytest.raises(InputError) as caught:
            await rig.service.accept(token, OPERATOR)
        assert caught.value.key == "plan.gone"
    assert await rig.state(task_id) is TaskState.DRAFT
    assert await rig.store.get_task(task_id + 1) is None


async def test_only_the_planner_or_an_admin_may_decide_and_a_viewer_may_not_plan(
    rig: Rig,
) -> None:
    await rig.account("main")
    task_id = await rig.draft(1)
    plan = await rig.service.best(task_id, [], OPERATOR, CHAT)
    with pytest.raises(InputError) as caught:
        rig.service.cancel(plan.token, OTHER)
    assert caught.value.key == "plan.not_yours"
    assert rig.service.pending(plan.token) is plan
    assert (await rig.service.accept(plan.token, ADMIN)).tasks[0].state is TaskState.QUEUED
    with pytest.raises(InputError) as viewer:
        await rig.service.best(task_id, [], VIEWER, CHAT)
    assert viewer.value.key == "access.denied"
    with pytest.raises(InputError) as other:
        await rig.service.best(task_id, [], OTHER, CHAT)
    assert other.value.key == "task.not_yours"


async def test_a_task_changed_after_planning_makes_the_plan_refuse_to_change_anything(
    rig: Rig,
) -> None:
    await rig.account("main")
    await rig.account("ny", "America/New_York")
    first, second = await rig.draft(1), await rig.draft(2)
    plan = await rig.service.batch("daily 20:00 on main, ny", OPERATOR, CHAT)
    await rig.store.update_task(
        second, expected={TaskState.DRAFT}, now=rig.clock.now(), privacy=Privacy.PUBLIC
    )
    with pytest.raises(InputError) as caught:
        await rig.service.accept(plan.token, OPERATOR)
    assert (caught.value.key, caught.value.params) == ("plan.stale", {"task_id": second})
    assert [await rig.state(first), await rig.state(second)] == [TaskState.DRAFT] * 2


async def test_one_file_never_goes_twice_on_one_channel(rig: Rig) -> None:
    await rig.account("main")
    first = await rig.draft(1)
    same = await rig.draft(1)  # the same bytes sent again
    await rig.service.accept(
        (await rig.service.best(first, ["main"], OPERATOR, CHAT)).token, OPERATOR
    )
    for make in (
        rig.service.interval(same, "2", ["main"], OPERATOR, CHAT),
        rig.service.batch(f"{same} daily 20:00 on main", OPERATOR, CHAT),
    ):
        with pytest.raises(InputError) as caught:
            await make
        assert caught.value.key == "plan.has_file"
    with pytest.raises(InputError) as best:
        await rig.service.best(same, ["main"], OPERATOR, CHAT)
    assert best.value.key == "plan.has_file_everywhere"
    # The queued one keeps its own channel; the same file again in the same plan is refused.
    with pytest.raises(InputError) as in_plan:
        await rig.service.batch(f"{first} {same} every 1h on main", OPERATOR, CHAT)
    assert (in_plan.value.key, in_plan.value.params) == (
        "plan.has_file",
        {"task_id": same, "name": "main"},
    )


async def test_daily_slots_keep_the_wall_time_and_say_the_spring_gap(rig: Rig) -> None:
    rig.clock.set(datetime(2027, 3, 12, 12, 0, tzinfo=UTC))  # Friday 07:00 in New York
    await rig.account("ny", "America/New_York")
    for seed in (1, 2, 3):
        await rig.draft(seed)
    plan = await rig.service.batch("daily 02:30 on ny", OPERATOR, CHAT)
    assert [(ln.note, f"{ln.at.astimezone(NEW_YORK):%m-%d %H:%M}") for ln in plan.lines] == [
        (None, "03-13 02:30"),
        ("gap", "03-14 03:00"),
        (None, "03-15 02:30"),
    ]
    assert plan.lines[1].wall == datetime(2027, 3, 14, 2, 30)
    assert plan.lines[1].at == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)


async def test_a_public_task_uploads_ahead_of_its_publish_instant(rig: Rig) -> None:
    await rig.account("main")
    task_id = await rig.draft(1, privacy=Privacy.PUBLIC)
    plan = await rig.service.best(task_id, [], OPERATOR, CHAT)
    [line] = plan.lines
    assert line.publish_at == datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    # 0.6 s of upload, the five-minute margin and five minutes of slack, on a whole minute.
    assert line.upload_at == datetime(2026, 12, 3, 11, 49, tzinfo=UTC)
    assert line.asked_publish_at is None


async def test_accepting_late_moves_a_publish_instant_the_upload_can_no_longer_beat(
    rig: Rig,
) -> None:
    await rig.account("main")
    task_id = await rig.draft(1, privacy=Privacy.PUBLIC, size=120_000_000)  # 2 min upload
    plan = await rig.service.batch(f"{task_id} every 1h from in 30 minutes", OPERATOR, CHAT)
    [line] = plan.lines
    assert line.publish_at == NOW + timedelta(minutes=30) and line.asked_publish_at is None
    rig.clock.advance(timedelta(minutes=26))
    accepted = await rig.service.accept(plan.token, OPERATOR)
    [moved] = accepted.replanned
    assert moved.asked == NOW + timedelta(minutes=30)
    # Now (04:26) plus two minutes of upload plus the five-minute margin, on the next minute.
    assert moved.at == datetime(2026, 12, 3, 4, 33, tzinfo=UTC)
    assert accepted.tasks[0].publish_at == moved.at


async def test_publish_at_uploads_now_as_public_later_and_refuses_the_past(rig: Rig) -> None:
    await rig.account("main")
    task_id = await rig.draft(1)
    done = await rig.service.publish_at(task_id, "tomorrow 20:00", OPERATOR)
    assert done.publish_at == datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert (done.task.state, done.task.due_at, done.task.privacy) == (
        TaskState.QUEUED,
        NOW,
        Privacy.PUBLIC,
    )
    other = await rig.draft(2)
    for when, key in (("yesterday 20:00", "time.past"), ("now", "publishat.not_future")):
        with pytest.raises(InputError) as caught:
            await rig.service.publish_at(other, when, OPERATOR)
        assert caught.value.key == key
    assert await rig.state(other) is TaskState.DRAFT


async def test_best_time_skips_slots_stacking_on_our_planned_videos_to_the_same_audience(
    rig: Rig,
) -> None:
    main = await rig.account("main")
    await rig.account("twin")
    await rig.account("ny", "America/New_York", peak_timezone="America/New_York")
    planned = await rig.draft(1)
    await rig.store.update_task(
        planned, expected={TaskState.DRAFT}, now=rig.clock.now(), account_id=main.id
    )
    await rig.service.publish_at(planned, "today 20:15", OPERATOR)  # main's audience, 20:15
    plan = await rig.service.batch(
        f"{await rig.draft(2)} {await rig.draft(3)} best on twin", OPERATOR, CHAT
    )
    # twin shares main's peak zone. Its slots are 20:00-21:30 every half hour: 20:00 to 21:00
    # are within an hour of 20:15, so the first goes at 21:30; the second finds every slot of
    # the evening within an hour of one of the two, and goes at 20:00 the next day.
    assert [f"{ln.at.astimezone(SHANGHAI):%m-%d %H:%M}" for ln in plan.lines] == [
        "12-03 21:30",
        "12-04 20:00",
    ]
    other_audience = await rig.service.best(await rig.draft(4), ["ny"], OPERATOR, CHAT)
    assert f"{other_audience.lines[0].at.astimezone(NEW_YORK):%m-%d %H:%M}" == "12-03 20:00"


async def test_a_plan_past_the_projects_quota_moves_the_uploads_that_do_not_fit(
    rig: Rig,
) -> None:
    await rig.account("main")
    ids = [await rig.draft(n) for n in range(1, 8)]
    plan = await rig.service.batch(" ".join(map(str, ids)) + " every 10m", OPERATOR, CHAT)
    assert plan.fitting == 6
    last = plan.lines[-1]
    assert (last.moved, last.upload_at) == (
        MoveReason.PROJECT_QUOTA,
        datetime(2026, 12, 3, 8, 1, tzinfo=UTC),  # Pacific midnight and the engine's minute
    )


async def test_a_batch_without_ids_takes_the_persons_drafts_in_the_chat(rig: Rig) -> None:
    await rig.account("main")
    mine = [await rig.draft(1), await rig.draft(2)]
    await rig.draft(3, user=OTHER)
    plan = await rig.service.batch("every 2h", OPERATOR, CHAT)
    assert [line.task_id for line in plan.lines] == mine
    with pytest.raises(InputError) as caught:
        await rig.service.batch("best", ADMIN, CHAT)
    assert caught.value.key == "plan.no_drafts"
