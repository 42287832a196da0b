"""What a person may type after /account <name>, and who may change a channel at all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.access import Actor, Role
from core.accounts import (
    AccountService,
    Setting,
    parse_interval,
    parse_peak,
    parse_priority,
    parse_quota,
    parse_setting,
    parse_zone,
    resolve_zone,
    split_target,
)
from core.clock import ManualClock
from core.errors import InputError
from core.ledger import QuotaLedger
from core.models import Account, AccountStatus

TEAM_ZONE = "Asia/Shanghai"
START = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


def _refused(key: str, call: Any, *args: Any) -> None:
    with pytest.raises(InputError) as caught:
        call(*args)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("raw", "weight"),
    [("0", 0.0), ("100", 100.0), ("2.5", 2.5), ("3,5", 3.5), ("１０", 10.0), ("DEFAULT", 1.0)],
)
def test_a_priority_is_a_number_from_0_to_100(raw: str, weight: float) -> None:
    assert parse_priority(raw) == weight


@pytest.mark.parametrize("raw", ["-1", "100.5", "101", "nan", "inf", "1e2", "", "high", "1.23456"])
def test_a_priority_outside_0_to_100_or_not_a_number_is_refused(raw: str) -> None:
    _refused("admin.bad_priority", parse_priority, raw)


def test_a_daily_cap_is_a_whole_number_from_1_to_1000_or_the_default() -> None:
    assert [parse_quota(raw) for raw in ("1", "1000", "25", "default", "默认")] == [
        1,
        1000,
        25,
        None,
        None,
    ]
    for raw in ("0", "1001", "2.5", "-3", "ten", ""):
        _refused("admin.bad_quota", parse_quota, raw)


def test_an_interval_is_hours_from_0_to_168_or_the_default() -> None:
    parsed = [
        parse_interval(raw) for raw in ("0", "168", "1.5", "2h", "2 hours", "3小时", "Reset")
    ]
    assert parsed == [0.0, 168.0, 1.5, 2.0, 2.0, 3.0, None]
    for raw in ("169", "-1", "1e1", "h", "soon"):
        _refused("admin.bad_interval", parse_interval, raw)


def test_peak_hours_may_pass_midnight_and_end_at_24() -> None:
    assert parse_peak("20-22") == (20, 22)
    assert parse_peak("22-2") == (22, 2)
    assert parse_peak("20–24") == (20, 0)  # an en dash, and 24 kept as midnight
    assert parse_peak("0-24") == (0, 0)  # the whole day
    assert parse_peak(" 8 - 11 ") == (8, 11)
    assert parse_peak("default") is None
    for raw in ("24-2", "20-25", "20-20", "20", "a-b", "20-22-23", ""):
        _refused("admin.bad_peak", parse_peak, raw)


def test_a_zone_is_any_iana_name_in_any_letter_case() -> None:
    assert resolve_zone("asia/shanghai") == "Asia/Shanghai"
    assert resolve_zone("AMERICA/NEW_YORK") == "America/New_York"
    assert resolve_zone("Mars/Olympus") is None
    assert resolve_zone("x" * 500) is None
    assert parse_zone("default", TEAM_ZONE) == TEAM_ZONE
    _refused("admin.bad_zone", parse_zone, "Mars/Olympus", TEAM_ZONE)


def test_settings_name_their_columns_and_default_to_null() -> None:
    assert parse_setting("quota", ["5"], TEAM_ZONE).values == {"uploads_per_day": 5}
    assert parse_setting("Interval", ["default"], TEAM_ZONE).values == {"min_interval_h": None}
    assert parse_setting("优先级", ["3"], TEAM_ZONE).values == {"priority": 3.0}
    assert parse_setting("tz", ["europe/berlin"], TEAM_ZONE).values == {
        "timezone": "Europe/Berlin"
    }
    peak = parse_setting("peak", ["21-1", "america/new_york"], TEAM_ZONE)
    assert (peak.setting, peak.values) == (
        Setting.PEAK,
        {"peak_start_h": 21, "peak_end_h": 1, "peak_timezone": "America/New_York"},
    )
    assert parse_setting("peak", ["20", "-", "22"], TEAM_ZONE).values == {
        "peak_start_h": 20,
        "peak_end_h": 22,
    }
    assert parse_setting("peak", ["default"], TEAM_ZONE).values == {
        "peak_start_h": None,
        "peak_end_h": None,
        "peak_timezone": None,
    }


def test_a_setting_without_a_value_or_an_unknown_one_is_refused() -> None:
    _refused("admin.value_needed", parse_setting, "quota", [], TEAM_ZONE)
    _refused("admin.unknown_action", parse_setting, "colour", ["red"], TEAM_ZONE)
    _refused("admin.bad_peak", parse_setting, "peak", ["default", "Asia/Shanghai"], TEAM_ZONE)


def _account(account_id: int, name: str) -> Account:
    return Account(
        account_id,
        "youtube",
        name,
        AccountStatus.ACTIVE,
        None,
        None,
        "client",
        TEAM_ZONE,
        START,
    )


def test_the_longest_account_name_that_matches_wins_and_the_rest_is_the_action() -> None:
    accounts = [_account(1, "main"), _account(2, "main backup"), _account(3, "Travel Vlog")]
    account, rest = split_target(["main", "backup", "pause"], accounts)
    assert (account.id, rest) == (2, ["pause"])
    account, rest = split_target(["main", "quota", "5"], accounts)
    assert (account.id, rest) == (1, ["quota", "5"])
    account, rest = split_target(["travel", "vlog"], accounts)
    assert (account.id, rest) == (3, [])
    with pytest.raises(InputError) as caught:
        split_target(["nobody", "pause"], accounts)
    assert caught.value.key == "admin.unknown_account"
    assert caught.value.params["known"] == "main, main backup, Travel Vlog"


class Untouchable:
    """A store that fails the test if anything reads or writes it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the store was touched: {name}")


@pytest.mark.parametrize(
    "words", [["pause"], ["resume"], ["quota", "5"], ["quota", "not a number"], ["tz", "x"]]
)
async def test_an_operator_is_refused_before_anything_is_read_or_checked(
    words: list[str],
) -> None:
    clock = ManualClock(START)
    service = AccountService(
        Untouchable(),  # type: ignore[arg-type]
        Untouchable(),  # type: ignore[arg-type]
        QuotaLedger(Untouchable(), clock),  # type: ignore[arg-type]
        clock,
        team_timezone=TEAM_ZONE,
    )
    operator = Actor(5001, Role.OPERATOR, "en", TEAM_ZONE)
    with pytest.raises(InputError) as caught:
        await service.apply(1, words, operator, by="Olga (5001)")
    assert caught.value.key == "access.denied"
