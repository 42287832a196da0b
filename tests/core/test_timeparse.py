from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.messages_input import INPUT_MESSAGES
from core.errors import TimeParseError
from core.timeparse import format_local, localize, parse_when, warm_up

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
#: Friday 2026-12-04, 14:30 in Shanghai.
FRIDAY_AFTERNOON = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _local(text: str, now: datetime = FRIDAY_AFTERNOON, tz: ZoneInfo = SHANGHAI) -> str:
    return f"{parse_when(text, now=now, tz=tz).local:%Y-%m-%d %H:%M}"


def _error(text: str, now: datetime = FRIDAY_AFTERNOON, tz: ZoneInfo = SHANGHAI) -> TimeParseError:
    with pytest.raises(TimeParseError) as info:
        parse_when(text, now=now, tz=tz)
    return info.value


# localize


def test_localize_an_ordinary_wall_time_has_no_note() -> None:
    result = localize(datetime(2026, 12, 5, 20, 0), SHANGHAI)
    assert result.instant == datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert result.note is None


def test_spring_forward_gap_in_new_york_moves_to_three_oclock() -> None:
    result = localize(datetime(2027, 3, 14, 2, 30), NEW_YORK)
    assert result.instant == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    assert result.instant.astimezone(NEW_YORK).hour == 3
    assert result.note == "gap"


def test_spring_forward_gap_in_berlin_moves_to_three_oclock() -> None:
    result = localize(datetime(2027, 3, 28, 2, 30), BERLIN)
    assert result.instant == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert f"{result.instant.astimezone(BERLIN):%H:%M}" == "03:00"
    assert result.note == "gap"


def test_a_skipped_calendar_day_moves_to_the_next_midnight() -> None:
    # Samoa skipped 2011-12-30 entirely when it crossed the date line.
    result = localize(datetime(2011, 12, 30, 12, 0), ZoneInfo("Pacific/Apia"))
    assert f"{result.instant.astimezone(ZoneInfo('Pacific/Apia')):%Y-%m-%d %H:%M}" == (
        "2011-12-31 00:00"
    )
    assert result.note == "gap"


def test_fall_back_hour_takes_the_first_occurrence() -> None:
    result = localize(datetime(2026, 11, 1, 1, 30), NEW_YORK)
    assert result.instant == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert result.note == "ambiguous"


def test_localize_refuses_an_aware_time() -> None:
    with pytest.raises(ValueError):
        localize(datetime(2026, 12, 5, 20, 0, tzinfo=UTC), SHANGHAI)


# format_local


def test_format_local_shows_date_time_zone_and_offset() -> None:
    instant = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert format_local(instant, SHANGHAI) == "2026-12-05 20:00 (Asia/Shanghai, UTC+08:00)"
    assert format_local(instant, NEW_YORK) == "2026-12-05 07:00 (America/New_York, UTC-05:00)"
    assert format_local(instant, ZoneInfo("Asia/Kathmandu")).endswith("UTC+05:45)")
    assert format_local(instant, ZoneInfo("UTC")) == "2026-12-05 12:00 (UTC, UTC+00:00)"


# parse_when: fixed forms


@pytest.mark.parametrize("text", ["now", "NOW", "现在", "立即", " now "])
def test_now_words_mean_the_current_instant(text: str) -> None:
    resolved = parse_when(text, now=FRIDAY_AFTERNOON, tz=SHANGHAI)
    assert resolved.instant == FRIDAY_AFTERNOON
    assert resolved.note is None


def test_iso_wall_time_is_read_in_the_persons_zone() -> None:
    resolved = parse_when("2026-12-05 20:00", now=FRIDAY_AFTERNOON, tz=SHANGHAI)
    assert resolved.instant == datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert resolved.local.tzinfo == SHANGHAI
    assert resolved.instant.tzinfo is UTC


def test_explicit_offset_wins_over_the_persons_zone() -> None:
    resolved = parse_when("2026-12-05T20:00+08:00", now=FRIDAY_AFTERNOON, tz=NEW_YORK)
    assert resolved.instant == datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert f"{resolved.local:%H:%M}" == "07:00"
    assert _local("2026-12-05T12:00Z", tz=SHANGHAI) == "2026-12-05 20:00"


def test_explicit_zone_in_english_wins_too() -> None:
    resolved = parse_when("tomorrow 8pm EST", now=FRIDAY_AFTERNOON, tz=SHANGHAI)
    assert resolved.instant == datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


# parse_when: English


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow 8pm", "2026-12-05 20:00"),
        ("in 2 hours", "2026-12-04 16:30"),
        ("in 30 minutes", "2026-12-04 15:00"),
        ("dec 5 20:00", "2026-12-05 20:00"),
        ("tonight 9pm", "2026-12-04 21:00"),
        ("9pm", "2026-12-04 21:00"),
        ("8am", "2026-12-05 08:00"),
        ("monday 9am", "2026-12-07 09:00"),
        ("next friday 9am", "2026-12-11 09:00"),
    ],
)
def test_english_phrases_resolve_against_now_in_the_persons_zone(text: str, expected: str) -> None:
    assert _local(text) == expected


# parse_when: Chinese


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明天 20:00", "2026-12-05 20:00"),
        ("今晚8点", "2026-12-04 20:00"),
        ("明天下午3点", "2026-12-05 15:00"),
        ("后天上午10点", "2026-12-06 10:00"),
        ("2小时后", "2026-12-04 16:30"),
        ("30分钟后", "2026-12-04 15:00"),
        ("下周一 9点", "2026-12-07 09:00"),
        ("明早8点", "2026-12-05 08:00"),
        ("明天 8pm", "2026-12-05 20:00"),
        ("明天 8:30 p.m.", "2026-12-05 20:30"),
        ("12月5日 20:00", "2026-12-05 20:00"),
        ("周6 9点", "2026-12-05 09:00"),
        ("明天　２０：００", "2026-12-05 20:00"),
    ],
)
def test_chinese_phrases_resolve_against_now_in_the_persons_zone(text: str, expected: str) -> None:
    assert _local(text) == expected


def test_jionlp_reads_time_base_as_the_persons_wall_clock() -> None:
    # 2026-12-04 06:30 UTC is 19:30 in Auckland; "2小时后" must be 21:30 there.
    auckland = ZoneInfo("Pacific/Auckland")
    assert _local("2小时后", tz=auckland) == "2026-12-04 21:30"
    assert _local("明天 20:00", tz=auckland) == "2026-12-05 20:00"
    assert _local("明天 20:00", tz=NEW_YORK) == "2026-12-05 20:00"


@pytest.fixture
def machine_in_sao_paulo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_in_sao_paulo")
def test_results_do_not_depend_on_the_machine_time_zone() -> None:
    assert _local("明天 20:00") == "2026-12-05 20:00"
    assert _local("2小时后") == "2026-12-04 16:30"
    assert _local("tomorrow 8pm") == "2026-12-05 20:00"
    assert _local("in 2 hours") == "2026-12-04 16:30"


# parse_when: weekdays


def test_same_weekday_before_the_hour_means_today_in_english() -> None:
    assert _local("friday 4pm") == "2026-12-04 16:00"
    assert _local("Fri 16:00") == "2026-12-04 16:00"


def test_same_weekday_before_the_hour_means_today_in_chinese() -> None:
    assert _local("周五 16点") == "2026-12-04 16:00"
    assert _local("星期五下午4点") == "2026-12-04 16:00"


def test_same_weekday_after_the_hour_means_next_week() -> None:
    assert _local("friday 9am") == "2026-12-11 09:00"
    assert _local("周五 9点") == "2026-12-11 09:00"


def test_weekday_early_in_the_morning_means_today() -> None:
    friday_morning = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)  # 08:00 Shanghai
    assert _local("friday 9am", now=friday_morning) == "2026-12-04 09:00"
    assert _local("周五 9点", now=friday_morning) == "2026-12-04 09:00"


def test_a_weekday_earlier_in_the_week_means_next_week() -> None:
    saturday = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # Saturday 10:00 Shanghai
    assert _local("周五 9点", now=saturday) == "2026-12-11 09:00"
    assert _local("friday 9am", now=saturday) == "2026-12-11 09:00"
    sunday = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    assert _local("周一 9点", now=sunday) == "2026-12-07 09:00"


def test_this_weeks_weekday_that_has_passed_is_refused() -> None:
    saturday = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    assert _error("本周五 9点", now=saturday).key == "time.past"


# parse_when: DST


def test_typed_time_in_a_spring_forward_gap_gets_a_note() -> None:
    now = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
    for text in ("2027-03-14 02:30", "2027年3月14日2点30分"):
        resolved = parse_when(text, now=now, tz=NEW_YORK)
        assert resolved.instant == datetime(2027, 3, 14, 7, 0, tzinfo=UTC), text
        assert resolved.note == "gap"
        assert resolved.wall == datetime(2027, 3, 14, 2, 30)


def test_typed_time_in_the_fall_back_hour_takes_the_first_one() -> None:
    now = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)
    resolved = parse_when("2026-11-01 01:30", now=now, tz=NEW_YORK)
    assert resolved.instant == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert resolved.note == "ambiguous"


def test_relative_hours_count_elapsed_time_across_fall_back() -> None:
    now = datetime(2026, 11, 1, 4, 30, tzinfo=UTC)  # 00:30 EDT
    for text in ("in 2 hours", "2小时后"):
        resolved = parse_when(text, now=now, tz=NEW_YORK)
        assert resolved.instant == now + timedelta(hours=2), text
        assert resolved.note is None


def test_relative_days_keep_the_wall_clock_time_across_spring_forward() -> None:
    now = datetime(2027, 3, 13, 14, 0, tzinfo=UTC)  # Saturday 09:00 EST
    assert _local("tomorrow 9am", now=now, tz=NEW_YORK) == "2027-03-14 09:00"


def test_note_params_fill_the_catalogue_messages() -> None:
    now = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
    gap = parse_when("2027-03-14 02:30", now=now, tz=NEW_YORK)
    params = gap.note_params(NEW_YORK)
    assert params == {
        "wall": "2027-03-14 02:30",
        "zone": "America/New_York",
        "actual": "2027-03-14 03:00 (America/New_York, UTC-04:00)",
    }
    fold = parse_when("2027-11-07 01:30", now=now, tz=NEW_YORK)
    assert fold.note == "ambiguous"
    for resolved in (gap, fold):
        entry = INPUT_MESSAGES[f"time.note_{resolved.note}"]
        for lang in ("en", "zh"):
            shown = entry[lang].format(**resolved.note_params(NEW_YORK))
            assert "{" not in shown
            assert "America/New_York" in shown


# parse_when: refusals


@pytest.mark.parametrize("text", ["", "   ", "hello", "a", "12", "may", "每天8点", "x" * 500])
def test_text_that_is_no_time_is_unparsed(text: str) -> None:
    error = _error(text)
    assert error.key == "time.unparsed"
    assert error.params["text"] == text.strip()[:100]


@pytest.mark.parametrize("text", ["yesterday 8am", "2 hours ago", "今天8点", "昨天 20:00"])
def test_a_time_in_the_past_is_refused_with_the_time_shown(text: str) -> None:
    error = _error(text)
    assert error.key == "time.past"
    assert "(Asia/Shanghai, UTC+08:00)" in error.params["when"]


def test_a_time_less_than_a_minute_ago_is_accepted() -> None:
    resolved = parse_when("2026-12-04 14:29:30", now=FRIDAY_AFTERNOON, tz=SHANGHAI)
    assert resolved.instant == FRIDAY_AFTERNOON - timedelta(seconds=30)


def test_time_errors_fill_their_messages_in_both_languages() -> None:
    for error in (_error("hello"), _error("yesterday 8am")):
        for lang in ("en", "zh"):
            assert "{" not in INPUT_MESSAGES[error.key][lang].format(**error.params)


_TOKENS = [
    "明天", "后天", "今晚", "周五", "下周一", "星期", "点", "半", "下午", "上午", "小时后",
    "分钟后", "8", "20:00", "2026-12-05", "T", "+08:00", "tomorrow", "friday", "in", "2",
    "hours", "pm", "am", "next", "dec", "5", "ago", "now", "现在", " ", "年", "月", "日",
    "99999", "-", ":", "0", "号", "每天", "以后", "到",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(_TOKENS)).map("".join)))
def test_parse_when_raises_nothing_but_time_parse_error(text: str) -> None:
    try:
        resolved = parse_when(text, now=FRIDAY_AFTERNOON, tz=SHANGHAI)
    except TimeParseError as error:
        assert error.key in ("time.unparsed", "time.past")
    else:
        assert resolved.instant.utcoffset() == timedelta(0)
        assert resolved.instant >= FRIDAY_AFTERNOON - timedelta(seconds=60)


def test_parsing_is_fast_after_the_first_call() -> None:
    warm_up()
    texts = ["明天 20:00", "今晚8点", "tomorrow 8pm", "in 2 hours", "周五 16点", "friday 4pm"]
    started = time.perf_counter()
    for _ in range(5):
        for text in texts:
            parse_when(text, now=FRIDAY_AFTERNOON, tz=SHANGHAI)
    average_s = (time.perf_counter() - started) / (5 * len(texts))
    assert average_s < 0.05


def test_jionlp_neither_prints_nor_configures_logging() -> None:
    # "每天0号" makes jionlp call logging.error(), which would set up a root stderr handler.
    code = (
        "import logging\n"
        "from datetime import datetime, UTC\n"
        "from zoneinfo import ZoneInfo\n"
        "from core.errors import TimeParseError\n"
        "from core.timeparse import parse_when\n"
        "now, tz = datetime(2026, 12, 4, tzinfo=UTC), ZoneInfo('UTC')\n"
        "parse_when('明天 20:00', now=now, tz=tz)\n"
        "try:\n"
        "    parse_when('每天0号', now=now, tz=tz)\n"
        "except TimeParseError:\n"
        "    pass\n"
        "assert not logging.getLogger().handlers\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("said", "meant"),
    [
        ("at 8", "2026-12-04 08:00"),
        ("tomorrow at 8", "2026-12-04 08:00"),
        ("tomorrow at 8:30", "2026-12-04 08:30"),
        ("the 5th at 8pm", "2026-12-05 20:00"),
        ("the 31st 9am", "2026-12-31 09:00"),
    ],
)
def test_everyday_english_hours_and_days_of_the_month_are_read_as_meant(
    said: str, meant: str
) -> None:
    now = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    shanghai = ZoneInfo("Asia/Shanghai")
    local = parse_when(said, now=now, tz=shanghai).local
    assert local.strftime("%Y-%m-%d %H:%M") == meant
