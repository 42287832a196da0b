"""Scheduling plans: interval, batch, best time, and the lead-time guard."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from core.planning import (
    PlanAccount,
    check_lead_time,
    peak_slots,
    plan_best,
    plan_daily,
    plan_every,
    plan_interval,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def test_an_interval_plan_spaces_three_accounts_in_different_zones_by_elapsed_hours() -> None:
    now = datetime(2026, 3, 7, 23, 0, tzinfo=UTC)
    accounts = [PlanAccount(1, SHANGHAI), PlanAccount(2, NEW_YORK), PlanAccount(3, LONDON)]
    slots = plan_interval(accounts, timedelta(hours=4), now)
    assert [s.account_id for s in slots] == [1, 2, 3]
    assert [s.at for s in slots] == [now, now + timedelta(hours=4), now + timedelta(hours=8)]
    assert [f"{s.local:%m-%d %H:%M %Z}" for s in slots] == [
        "03-08 07:00 CST",
        "03-07 22:00 EST",
        "03-08 07:00 GMT",
    ]


def test_an_interval_plan_keeps_its_spacing_across_a_dst_change() -> None:
    now = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST; clocks jump at 02:00
    slots = plan_interval(
        [PlanAccount(1, NEW_YORK), PlanAccount(2, NEW_YORK)], timedelta(hours=3), now
    )
    assert slots[1].at - slots[0].at == timedelta(hours=3)
    assert f"{slots[1].local:%H:%M %Z}" == "04:00 EDT"


def test_one_a_day_at_20_local_keeps_the_wall_time_across_the_spring_change() -> None:
    now = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # 07:00 EST on Friday
    slots = plan_daily(4, [PlanAccount(1, NEW_YORK)], time(20, 0), now)
    assert [f"{s.local:%m-%d %H:%M}" for s in slots] == [
        "03-06 20:00",
        "03-07 20:00",
        "03-08 20:00",
        "03-09 20:00",
    ]
    assert [s.at.hour for s in slots] == [1, 1, 0, 0]  # EST is UTC-5, EDT UTC-4
    assert all(s.note is None for s in slots)


def test_a_daily_time_inside_the_gap_moves_to_the_first_valid_instant_and_says_so() -> None:
    now = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    slots = plan_daily(2, [PlanAccount(1, NEW_YORK)], time(2, 30), now)
    assert f"{slots[0].local:%m-%d %H:%M}" == "03-08 03:00"
    assert slots[0].note == "gap" and slots[0].wall == datetime(2026, 3, 8, 2, 30)
    assert "02:30 was skipped by DST" in slots[0].describe()
    assert f"{slots[1].local:%m-%d %H:%M}" == "03-09 02:30" and slots[1].note is None


def test_a_daily_time_in_the_repeated_hour_takes_its_first_occurrence() -> None:
    now = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    [slot] = plan_daily(1, [PlanAccount(1, NEW_YORK)], time(1, 30), now)
    assert slot.note == "ambiguous"
    assert slot.at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first one


def test_daily_plans_deal_videos_to_accounts_each_in_its_own_zone() -> None:
    now = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai, 08:00 in New York
    accounts = [PlanAccount(1, SHANGHAI), PlanAccount(2, NEW_YORK)]
    slots = plan_daily(3, accounts, time(20, 0), now)
    assert [(s.item, s.account_id, f"{s.local:%m-%d %H:%M}") for s in slots] == [
        (0, 1, "01-16 20:00"),  # today's 20:00 in Shanghai has passed
        (1, 2, "01-15 20:00"),
        (2, 1, "01-17 20:00"),
    ]


def test_every_three_hours_from_tomorrow_morning() -> None:
    now = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)
    start = datetime(2026, 1, 16, 1, 0, tzinfo=UTC)  # "tomorrow 09:00" in Shanghai
    slots = plan_every(
        3, [PlanAccount(1, SHANGHAI), PlanAccount(2, SHANGHAI)], start, timedelta(hours=3), now
    )
    assert [(s.account_id, f"{s.local:%d %H:%M}") for s in slots] == [
        (1, "16 09:00"),
        (2, "16 12:00"),
        (1, "16 15:00"),
    ]


def test_best_time_takes_the_nearest_default_peak_slot_in_shanghai() -> None:
    account = PlanAccount(1)
    noon = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    slot = plan_best(account, noon)
    assert slot is not None and f"{slot.local:%d %H:%M}" == "15 20:00"
    late = datetime(2026, 1, 15, 13, 10, tzinfo=UTC)  # 21:10
    slot = plan_best(account, late)
    assert slot is not None and f"{slot.local:%d %H:%M}" == "15 21:30"


def test_best_time_does_not_stack_on_our_own_planned_uploads() -> None:
    noon = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)
    planned = [datetime(2026, 1, 15, 12, 0, tzinfo=UTC)]  # 20:00 in Shanghai
    slot = plan_best(PlanAccount(1), noon, planned=planned)
    assert slot is not None and f"{slot.local:%H:%M}" == "21:00"


def test_best_time_skips_days_without_quota() -> None:
    noon = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)
    tomorrow = datetime(2026, 1, 16, tzinfo=UTC)
    slot = plan_best(PlanAccount(1), noon, has_room=lambda at: at >= tomorrow)
    assert slot is not None and f"{slot.local:%m-%d %H:%M}" == "01-16 20:00"
    assert plan_best(PlanAccount(1), noon, has_room=lambda at: False) is None


def test_a_peak_window_may_pass_midnight() -> None:
    night = PlanAccount(1, LONDON, peak_start_h=23, peak_end_h=1)
    slots = peak_slots(night, datetime(2026, 1, 15).date())
    assert [f"{s.local:%d %H:%M}" for s in slots] == [
        "15 23:00",
        "15 23:30",
        "16 00:00",
        "16 00:30",
    ]
    slot = plan_best(night, datetime(2026, 1, 16, 0, 10, tzinfo=UTC))
    assert slot is not None and f"{slot.local:%d %H:%M}" == "16 00:30"


def test_the_lead_time_guard_passes_an_upload_that_ends_in_time() -> None:
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    check = check_lead_time(now + timedelta(hours=1), 600, now)
    assert check.ok and check.replanned_at is None


def test_the_lead_time_guard_replans_an_upload_that_would_end_too_late() -> None:
    now = datetime(2026, 1, 15, 12, 0, 30, tzinfo=UTC)
    publish = now + timedelta(minutes=10)
    check = check_lead_time(publish, 900, now)
    assert not check.ok
    assert check.replanned_at == datetime(2026, 1, 15, 12, 21, tzinfo=UTC)
    assert "publish moved to 2026-01-15 12:21 UTC" in check.describe()


@given(st.floats(0, 86_400), st.integers(-3_600, 86_400))
def test_the_lead_time_guard_never_publishes_earlier_than_asked(
    upload_s: float, lead_s: int
) -> None:
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    publish = now + timedelta(seconds=lead_s)
    check = check_lead_time(publish, upload_s, now)
    chosen = publish if check.ok else check.replanned_at
    assert chosen is not None and chosen >= publish
    assert chosen >= check.finishes_at + timedelta(minutes=5)
