"""The quota ledger's rules: both layers, resets, and the forecast of a plan."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from core.quota import (
    AccountLimits,
    AccountQuota,
    AccountUsage,
    ApiCall,
    Cost,
    CostModel,
    InsertCost,
    MoveReason,
    PlannedUpload,
    ProjectUsage,
    account_day,
    charge,
    count_upload,
    forecast,
    next_reset,
    project_day,
    remaining,
    upload_capacity,
    uploads_left,
)
from core.retry import next_quota_reset

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
UNITS = CostModel()


def test_quota_resets_at_pacific_midnight_in_winter_standard_time() -> None:
    before = datetime(2026, 1, 15, 7, 59, tzinfo=UTC)  # 23:59 PST
    assert next_reset(before) == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    assert project_day(before) == date(2026, 1, 14)
    assert project_day(before + timedelta(minutes=1)) == date(2026, 1, 15)
    assert next_reset(before) == next_quota_reset(before)


def test_quota_resets_at_pacific_midnight_in_summer_daylight_time() -> None:
    before = datetime(2026, 7, 15, 6, 59, tzinfo=UTC)  # 23:59 PDT
    assert next_reset(before) == datetime(2026, 7, 15, 7, 0, tzinfo=UTC)
    assert project_day(before) == date(2026, 7, 14)
    assert project_day(before + timedelta(minutes=1)) == date(2026, 7, 15)


def test_the_reset_on_the_day_daylight_saving_starts_is_still_midnight() -> None:
    # 2026-03-08: the Pacific clock jumps at 02:00, after that day's midnight (PST).
    assert next_reset(datetime(2026, 3, 8, 12, 0, tzinfo=UTC)) == datetime(
        2026, 3, 9, 7, 0, tzinfo=UTC
    )


@settings(max_examples=200)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
def test_next_reset_agrees_with_the_engine_and_starts_a_new_pacific_day(naive: datetime) -> None:
    now = naive.replace(tzinfo=UTC)
    reset = next_reset(now)
    assert reset == next_quota_reset(now)
    assert now < reset <= now + timedelta(hours=25)
    assert project_day(reset) == project_day(now) + timedelta(days=1)


def test_an_account_day_follows_its_own_zone() -> None:
    now = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)
    assert account_day(now, SHANGHAI) == date(2026, 1, 16)
    assert account_day(now, NEW_YORK) == date(2026, 1, 15)
    assert next_reset(now, SHANGHAI) == datetime(2026, 1, 16, 16, 0, tzinfo=UTC)


def test_every_call_is_charged_and_a_new_pacific_day_starts_from_zero() -> None:
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    usage = ProjectUsage("client-a", project_day(now))
    for call in (ApiCall.VIDEOS_INSERT, ApiCall.THUMBNAILS_SET, ApiCall.LIST):
        usage = charge(usage, call, UNITS, now)  # failed or not, each one counts
    assert (usage.units, usage.insert_calls) == (1_651, 0)
    left = remaining(usage, UNITS, now)
    assert (left.units, left.uploads) == (8_349, 5)
    assert left.resets_at == datetime(2026, 1, 16, 8, 0, tzinfo=UTC)
    tomorrow = left.resets_at + timedelta(seconds=1)
    assert remaining(usage, UNITS, tomorrow).units == 10_000
    assert charge(usage, ApiCall.LIST, UNITS, tomorrow).units == 1


def test_the_bucket_cost_model_takes_inserts_from_their_own_hundred() -> None:
    bucket = CostModel(insert=InsertCost.BUCKET)
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    usage = charge(ProjectUsage("c", project_day(now)), ApiCall.VIDEOS_INSERT, bucket, now)
    assert (usage.units, usage.insert_calls) == (0, 1)
    assert remaining(usage, bucket, now).uploads == 99
    assert upload_capacity(UNITS) == 6
    assert upload_capacity(bucket, bucket.upload_cost(thumbnail=True)) == 100
    assert UNITS.upload_cost(thumbnail=True) == Cost(units=1_650)


def test_an_account_counts_uploads_in_its_own_day() -> None:
    limits = AccountLimits(uploads_per_day=2)
    evening = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    usage = AccountUsage(1, account_day(evening, SHANGHAI))
    usage = count_upload(
        count_upload(usage, evening - timedelta(hours=3), SHANGHAI), evening, SHANGHAI
    )
    assert uploads_left(usage, limits, evening, SHANGHAI) == 0
    assert uploads_left(usage, limits, evening + timedelta(hours=1), SHANGHAI) == 2
    assert usage.last_upload_at == evening


def _accounts(n: int, *, tz: ZoneInfo = SHANGHAI, client: str = "c") -> dict[int, AccountQuota]:
    return {
        i: AccountQuota(i, client, tz, AccountUsage(i, date(2026, 1, 15))) for i in range(1, n + 1)
    }


def test_seven_uploads_against_a_six_upload_budget_move_the_seventh_past_the_reset() -> None:
    now = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 18:00 PST the day before
    accounts = _accounts(7)
    plan = [PlannedUpload(100 + i, i, now) for i in range(1, 8)]
    result = forecast(plan, accounts, {}, UNITS, now, reset_margin=timedelta(0))
    assert result.fitting == 6
    [moved] = result.moved
    assert moved.task_id == 107 and moved.reason is MoveReason.PROJECT_QUOTA
    assert moved.at == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    assert result.describe(SHANGHAI) == (
        "6 of 7 fit when asked; "
        "#107 goes at 2026-01-15 16:00 Asia/Shanghai, after YouTube's quota reset"
    )


def test_the_forecast_counts_what_the_project_already_spent_and_keeps_the_engine_margin() -> None:
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    spent = {"c": ProjectUsage("c", project_day(now), units=8_000)}
    plan = [PlannedUpload(1, 1, now), PlannedUpload(2, 2, now)]
    result = forecast(plan, _accounts(2), spent, UNITS, now)
    assert [item.fits for item in result.items] == [True, False]
    # 00:00 PDT is 07:00 UTC; the engine waits one more minute after the reset.
    assert result.items[1].at == datetime(2026, 7, 2, 7, 1, tzinfo=UTC)


def test_a_channel_at_its_daily_cap_pauses_alone_while_the_others_go_on() -> None:
    now = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)  # 09:00 in New York
    accounts = _accounts(3, tz=NEW_YORK)
    full = accounts[2]
    accounts[2] = AccountQuota(2, "c", NEW_YORK, AccountUsage(2, date(2026, 1, 15), 10, None))
    assert full.limits.uploads_per_day == 10
    plan = [PlannedUpload(i, i, now) for i in (1, 2, 3)]
    result = forecast(plan, accounts, {}, UNITS, now)
    assert [item.fits for item in result.items] == [True, False, True]
    paused = result.items[1]
    assert paused.reason is MoveReason.ACCOUNT_CAP
    assert paused.at == datetime(2026, 1, 16, 5, 0, tzinfo=UTC)  # midnight in New York


def test_uploads_on_one_account_keep_the_minimum_interval() -> None:
    now = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    last = now - timedelta(minutes=30)
    accounts = {1: AccountQuota(1, "c", SHANGHAI, AccountUsage(1, date(2026, 1, 15), 1, last))}
    plan = [PlannedUpload(1, 1, now), PlannedUpload(2, 1, now)]
    result = forecast(plan, accounts, {}, UNITS, now)
    assert [item.at for item in result.items] == [
        last + timedelta(hours=2),
        last + timedelta(hours=4),
    ]
    assert {item.reason for item in result.items} == {MoveReason.MIN_INTERVAL}


def test_a_past_wish_goes_now_and_a_cost_above_a_whole_day_never_fits() -> None:
    now = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    result = forecast(
        [PlannedUpload(1, 1, now - timedelta(hours=5))], _accounts(1), {}, UNITS, now
    )
    assert result.items[0].at == now and result.items[0].fits
    tiny = CostModel(daily_units=1_000)
    never = forecast([PlannedUpload(1, 1, now)], _accounts(1), {}, tiny, now)
    assert never.items[0].at is None
    assert "never fits" in never.describe()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.integers(0, 72 * 60)), min_size=1, max_size=25),
    st.sampled_from([CostModel(), CostModel(insert=InsertCost.BUCKET, insert_bucket_calls=3)]),
)
def test_a_forecast_never_goes_early_nor_over_either_layer(
    wishes: list[tuple[int, int]], model: CostModel
) -> None:
    now = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # spans the US daylight saving change
    zones = [SHANGHAI, NEW_YORK, ZoneInfo("America/Los_Angeles"), ZoneInfo("Europe/London")]
    limits = AccountLimits(uploads_per_day=3)
    accounts = {
        i: AccountQuota(i, "c", zones[i - 1], AccountUsage(i, date(2026, 3, 7)), limits)
        for i in range(1, 5)
    }
    plan = [PlannedUpload(n, acc, now + timedelta(minutes=m)) for n, (acc, m) in enumerate(wishes)]
    result = forecast(plan, accounts, {}, model, now)
    per_project: dict[date, int] = {}
    per_account: dict[tuple[int, date], list[datetime]] = {}
    for item in result.items:
        assert item.at is not None and item.at >= max(item.wanted_at, now)
        per_project[project_day(item.at)] = per_project.get(project_day(item.at), 0) + 1
        key = (item.account_id, account_day(item.at, accounts[item.account_id].tz))
        per_account.setdefault(key, []).append(item.at)
    assert all(n <= upload_capacity(model) for n in per_project.values())
    assert all(len(starts) <= 3 for starts in per_account.values())
    by_account: dict[int, list[datetime]] = {}
    for item in result.items:
        assert item.at is not None
        by_account.setdefault(item.account_id, []).append(item.at)
    for starts in by_account.values():
        starts.sort()
        assert all(b - a >= timedelta(hours=2) for a, b in itertools.pairwise(starts))
