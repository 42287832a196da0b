"""Report maths: periods, counts, rates, durations and local-hour buckets across DST changes."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.errors import InputError
from core.models import Account, AccountStatus, TaskState
from core.reports import (
    HistoryEvent,
    OpenTask,
    Period,
    TaskRecord,
    Transition,
    build_calendar,
    build_report,
    build_stats,
    failure_class,
    local_midnight,
    parse_period,
    uploading_seconds,
)

S = TaskState
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _published(
    task_id: int,
    created: datetime,
    upload_s: float,
    published: datetime,
    *,
    account: int = 1,
    name: str = "main",
) -> TaskRecord:
    started = published - timedelta(seconds=upload_s + 30)
    return TaskRecord(
        task_id,
        account,
        name,
        f"video {task_id}",
        created,
        None,
        (
            Transition(S.DRAFT, created),
            Transition(S.QUEUED, created + timedelta(seconds=1), S.DRAFT),
            Transition(S.UPLOADING, started, S.QUEUED),
            Transition(S.PROCESSING, started + timedelta(seconds=upload_s), S.UPLOADING),
            Transition(S.PUBLISHED, published, S.PROCESSING),
        ),
    )


def _failed(task_id: int, at: datetime, *, account: int = 3, name: str = "third") -> TaskRecord:
    return TaskRecord(
        task_id,
        account,
        name,
        f"video {task_id}",
        at - timedelta(hours=1),
        "invalidTitle: bad title",
        (
            Transition(S.DRAFT, at - timedelta(hours=1)),
            Transition(S.QUEUED, at - timedelta(minutes=30), S.DRAFT),
            Transition(S.UPLOADING, at - timedelta(minutes=1), S.QUEUED),
            Transition(S.FAILED, at, S.UPLOADING, "invalidTitle"),
        ),
    )


# -- periods -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "first", "last"),
    [
        ("", date(2026, 12, 3), date(2026, 12, 3)),
        ("today", date(2026, 12, 3), date(2026, 12, 3)),
        ("昨天", date(2026, 12, 2), date(2026, 12, 2)),
        ("yesterday", date(2026, 12, 2), date(2026, 12, 2)),
        ("week", date(2026, 11, 27), date(2026, 12, 3)),
        ("month", date(2026, 11, 4), date(2026, 12, 3)),
        ("2026-11-01", date(2026, 11, 1), date(2026, 11, 1)),
        ("2026-11-01..2026-11-07", date(2026, 11, 1), date(2026, 11, 7)),
        ("2026-11-7..2026-11-1", date(2026, 11, 1), date(2026, 11, 7)),
        ("2026-11-01 ~ 2026-11-02", date(2026, 11, 1), date(2026, 11, 2)),
    ],
)
def test_periods_are_read_as_local_days(raw: str, first: date, last: date) -> None:
    period = parse_period(raw, date(2026, 12, 3), SHANGHAI)
    assert (period.first, period.last) == (first, last)


@pytest.mark.parametrize(
    "raw", ["fortnight", "2026-13-01", "2026-02-30", "12..13", "9999-12-31", "0001-01-01"]
)
def test_an_unreadable_period_is_refused_with_a_catalogue_key(raw: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_period(raw, date(2026, 12, 3), SHANGHAI)
    assert caught.value.key == "report.bad_period"


def test_a_period_over_the_maximum_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        parse_period("2025-01-01..2026-01-01", date(2026, 12, 3), SHANGHAI)
    assert caught.value.key == "report.period_too_long"


def test_a_day_that_ends_dst_has_25_hours_and_one_that_starts_it_23() -> None:
    autumn = Period(date(2026, 11, 1), date(2026, 11, 1), NEW_YORK)
    assert (autumn.start, autumn.end) == (_at(2026, 11, 1, 4), _at(2026, 11, 2, 5))
    spring = Period(date(2026, 3, 29), date(2026, 3, 29), BERLIN)
    assert spring.end - spring.start == timedelta(hours=23)


def test_a_midnight_that_does_not_exist_starts_the_day_at_the_first_valid_instant() -> None:
    havana = ZoneInfo("America/Havana")  # clocks jump from 00:00 to 01:00 on 2026-03-08
    start = local_midnight(date(2026, 3, 8), havana)
    assert start.astimezone(havana).hour == 1
    assert start == _at(2026, 3, 8, 5)


# -- the report --------------------------------------------------------------------------------


def test_a_report_matches_a_known_set_of_tasks_exactly() -> None:
    period = Period(date(2026, 12, 1), date(2026, 12, 2), SHANGHAI)  # 11-30 16:00Z .. 12-02 16:00Z
    records = [
        _published(1, _at(2026, 12, 1, 0), 120, _at(2026, 12, 1, 1)),  # 09:xx local
        _published(2, _at(2026, 12, 1, 0), 60, _at(2026, 12, 1, 3)),  # 11:xx local
        _published(3, _at(2026, 12, 2, 1), 300, _at(2026, 12, 2, 1, 30), account=2, name="b"),
        _failed(4, _at(2026, 12, 2, 5)),
        _published(5, _at(2026, 11, 30, 10), 60, _at(2026, 11, 30, 15, 59)),  # before the start
        _published(6, _at(2026, 12, 2, 10), 60, _at(2026, 12, 2, 16)),  # the first instant after
    ]
    report = build_report(records, period)
    assert (report.published, report.failed) == (3, 1)
    assert report.success_rate == pytest.approx(0.75)
    assert report.avg_processing_s == pytest.approx((3600 + 3 * 3600 + 1800) / 3)
    assert report.avg_upload_s == pytest.approx((120 + 60 + 300) / 3)
    assert [(a.name, a.published, a.failed) for a in report.by_account] == [
        ("main", 2, 0),
        ("b", 1, 0),
        ("third", 0, 1),
    ]
    assert report.by_hour[9] == 2 and report.by_hour[11] == 1 and sum(report.by_hour) == 3
    [failure] = report.failures
    assert (failure.task_id, failure.error) == (4, "invalidTitle: bad title")


def test_hours_are_bucketed_in_the_zone_across_the_autumn_dst_change() -> None:
    # New York, 2026-11-01: 01:00-02:00 happens twice (EDT, then EST).
    period = Period(date(2026, 10, 31), date(2026, 11, 1), NEW_YORK)
    publishes = {
        10: _at(2026, 11, 1, 5, 30),  # 01:30 EDT
        11: _at(2026, 11, 1, 6, 30),  # 01:30 EST, the same wall hour again
        12: _at(2026, 11, 1, 7, 30),  # 02:30 EST
        13: _at(2026, 11, 2, 4, 59),  # 23:59 EST, the last minute of the 25-hour day
        14: _at(2026, 11, 2, 5, 0),  # 00:00 on 11-02: outside
        15: _at(2026, 10, 31, 3, 59),  # 23:59 EDT on 10-30: outside
        16: _at(2026, 10, 31, 4, 0),  # 00:00 EDT on 10-31: the first instant inside
    }
    records = [_published(i, at - timedelta(hours=2), 60, at) for i, at in publishes.items()]
    report = build_report(records, period)
    assert report.published == 5
    expected = [0] * 24
    expected[0], expected[1], expected[2], expected[23] = 1, 2, 1, 1
    assert list(report.by_hour) == expected


def test_the_hour_that_spring_skips_has_no_uploads() -> None:
    period = Period(date(2026, 3, 29), date(2026, 3, 29), BERLIN)
    records = [
        _published(1, _at(2026, 3, 29, 0), 60, _at(2026, 3, 29, 0, 59)),  # 01:59 CET
        _published(2, _at(2026, 3, 29, 0), 60, _at(2026, 3, 29, 1, 0)),  # 03:00 CEST
    ]
    report = build_report(records, period)
    assert report.by_hour[1:4] == (1, 0, 1)


def test_a_task_that_failed_then_published_counts_once_by_its_last_outcome() -> None:
    base = _at(2026, 12, 1, 2)
    record = TaskRecord(
        7,
        1,
        "main",
        "again",
        base,
        None,
        (
            Transition(S.DRAFT, base),
            Transition(S.QUEUED, base + timedelta(minutes=1)),
            Transition(S.UPLOADING, base + timedelta(minutes=2)),
            Transition(S.FAILED, base + timedelta(minutes=4), detail="invalidTitle"),
            Transition(S.QUEUED, base + timedelta(minutes=10)),
            Transition(S.UPLOADING, base + timedelta(minutes=11)),
            Transition(S.PROCESSING, base + timedelta(minutes=14)),
            Transition(S.PUBLISHED, base + timedelta(minutes=15)),
        ),
    )
    day = build_report([record], Period(date(2026, 12, 1), date(2026, 12, 1), SHANGHAI))
    assert (day.published, day.failed, day.success_rate) == (1, 0, 1.0)
    assert day.avg_upload_s == pytest.approx(5 * 60)
    assert uploading_seconds(record.transitions) == pytest.approx(5 * 60)


def test_an_empty_period_has_no_rates() -> None:
    report = build_report([], Period(date(2026, 12, 1), date(2026, 12, 1), SHANGHAI))
    assert (report.published, report.success_rate, report.avg_processing_s) == (0, None, None)
    assert report.by_hour == (0,) * 24


@pytest.mark.parametrize(
    ("reason", "cls"),
    [
        ("quotaExceeded", "quota"),
        ("uploadLimitExceeded", "upload_limit"),
        ("invalid_grant", "auth"),
        ("503", "transient"),
        ("429", "transient"),
        ("400", "content"),
        ("invalidTitle", "content"),
        ("meta.title_too_long", "content"),
        (None, "other"),
        ("somethingNew", "other"),
    ],
)
def test_failure_reasons_fall_into_classes(reason: str | None, cls: str) -> None:
    assert failure_class(reason) == cls


# -- live figures and the calendar ---------------------------------------------------------------


def _account(account_id: int, name: str) -> Account:
    return Account(
        account_id, "youtube", name, AccountStatus.ACTIVE, None, None, "c", "UTC", _at(2026, 1, 1)
    )


def test_stats_count_the_queue_rates_and_waits_per_account() -> None:
    now = _at(2026, 12, 3, 12)
    tasks = [
        OpenTask(1, 1, S.QUEUED, now - timedelta(minutes=10)),
        OpenTask(2, 1, S.RETRY_WAIT, now - timedelta(minutes=20)),
        OpenTask(3, 2, S.QUEUED, now + timedelta(hours=1)),
        OpenTask(4, 2, S.UPLOADING, now - timedelta(minutes=1)),
    ]
    events = [
        HistoryEvent(9, 1, S.PROCESSING, S.PUBLISHED, now - timedelta(minutes=5)),
        HistoryEvent(8, 2, S.PROCESSING, S.PUBLISHED, now - timedelta(minutes=50)),
        HistoryEvent(7, 2, S.UPLOADING, S.RETRY_WAIT, now - timedelta(minutes=30)),
        HistoryEvent(6, 2, S.UPLOADING, S.QUEUED, now - timedelta(minutes=20)),  # a restart
        HistoryEvent(5, 1, S.PROCESSING, S.PUBLISHED, now - timedelta(hours=2)),  # too old
    ]
    stats = build_stats(tasks, events, [_account(1, "a"), _account(2, "b")], now, 3600)
    assert (stats.waiting, stats.due, stats.active) == (3, 2, 1)
    assert (stats.published, stats.errors, stats.rate_per_hour) == (2, 1, 2.0)
    assert stats.error_rate == pytest.approx(1 / 3)
    assert stats.avg_wait_s == pytest.approx(15 * 60)
    assert stats.oldest_wait_s == pytest.approx(20 * 60)
    by_name = {a.name: (a.waiting, a.active, a.published, a.errors) for a in stats.accounts}
    assert by_name == {"a": (2, 0, 1, 0), "b": (1, 1, 1, 1)}


def test_the_calendar_lays_waiting_tasks_out_by_local_day_and_account() -> None:
    now = _at(2026, 12, 3, 4)  # 12:00 in Shanghai
    tasks = [
        OpenTask(1, 1, S.QUEUED, _at(2026, 12, 3, 15, 59)),  # 23:59 on 12-03
        OpenTask(2, 1, S.QUEUED, _at(2026, 12, 3, 16, 0)),  # 00:00 on 12-04
        OpenTask(3, 2, S.RETRY_WAIT, _at(2026, 12, 9, 1)),  # 09:00 on 12-09, the last day
        OpenTask(4, 2, S.QUEUED, _at(2026, 12, 9, 16)),  # 12-10: beyond the week
        OpenTask(5, 2, S.UPLOADING, now),  # not waiting
        OpenTask(6, None, S.QUEUED, _at(2026, 12, 5, 2)),
    ]
    calendar = build_calendar(
        tasks, [_account(1, "a"), _account(2, "b")], date(2026, 12, 3), 7, SHANGHAI
    )
    assert calendar.days[0] == date(2026, 12, 3) and len(calendar.days) == 7
    rows = {r.name: [(c.count, c.times) for c in r.cells] for r in calendar.rows}
    assert rows["a"][0] == (1, ("23:59",)) and rows["a"][1] == (1, ("00:00",))
    assert rows["b"][6] == (1, ("09:00",))
    assert rows[None][2] == (1, ("10:00",))
    assert calendar.total == 4


def test_core_monitoring_imports_no_driver_or_client_library() -> None:
    code = (
        "import sys, core.reports, core.alerts; "
        "bad = {'telegram', 'googleapiclient', 'sqlalchemy', 'aiosqlite', 'asyncpg'}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in bad))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "[]"
