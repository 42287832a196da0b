"""The monitoring catalogue and the texts built from it: reports, stats, alerts, progress."""

from __future__ import annotations

import ast
import logging
import string
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import bot.messages
from bot.messages_observe import OBSERVE_MESSAGES
from bot.progress import duration_text, progress_bar, progress_text
from bot.reports import render_alert, render_report, render_stats
from core.alerts import AlertKind, AlertNotice, Phase
from core.models import AccountStatus
from core.reports import AccountFigures, AccountLive, FailedTask, Period, Report, Stats

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_has_chinese_and_english_with_the_same_placeholders() -> None:
    for key, entry in OBSERVE_MESSAGES.items():
        assert set(entry) == {"zh", "en"}, key
        assert _fields(entry["zh"]) == _fields(entry["en"]), key


def test_no_key_replaces_one_of_the_main_catalogue() -> None:
    tree = ast.parse(Path(bot.messages.__file__).read_text(encoding="utf-8"))
    main: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "MESSAGES":
            assert isinstance(node.value, ast.Dict)
            main = {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    assert main and not (main & set(OBSERVE_MESSAGES))
    assert set(OBSERVE_MESSAGES) <= bot.messages.all_keys()


def test_picture_texts_hold_no_markup() -> None:
    for key, entry in OBSERVE_MESSAGES.items():
        if key.startswith(("chart.", "weekday.")):
            assert not any(c in v for v in entry.values() for c in "<>&"), key


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [
        (None, "—", "—"),
        (45.4, "45 s", "45 秒"),
        (200, "3 min 20 s", "3 分 20 秒"),
        (7500, "2 h 5 min", "2 小时 5 分"),
        (100_000, "1 d 3 h", "1 天 3 小时"),
    ],
)
def test_durations_read_the_way_people_say_them(seconds: float | None, en: str, zh: str) -> None:
    assert (duration_text(seconds, "en"), duration_text(seconds, "zh")) == (en, zh)


def test_the_progress_text_has_bar_percent_speed_and_time_left() -> None:
    assert progress_bar(0, 100) == "░" * 12 and progress_bar(100, 100) == "█" * 12
    assert progress_bar(50, 100) == "█" * 6 + "░" * 6
    line = progress_text(30 * 2**20, 100 * 2**20, 2 * 2**20, "en")
    assert "<b>30%</b>" in line and "30.0 MB of 100.0 MB" in line
    assert "2.0 MB/s" in line and "35 s left" in line
    assert "正在测速" in progress_text(0, 10, None, "zh")


def _report() -> Report:
    period = Period(date(2026, 12, 1), date(2026, 12, 7), SHANGHAI)
    hours = [0] * 24
    hours[9], hours[20] = 4, 2
    return Report(
        period,
        6,
        1,
        6 / 7,
        3725.0,
        95.0,
        (AccountFigures(1, "main <b>", 6, 0), AccountFigures(2, "second", 0, 1)),
        tuple(hours),
        (FailedTask(9, "second", "Bad & title", AT, "invalidTitle: the title is refused"),),
    )


def test_a_report_text_shows_figures_hours_and_failures_escaped() -> None:
    body = render_report(_report(), "en")
    assert "Report 2026-12-01 – 2026-12-07" in body and "Asia/Shanghai" in body
    assert "Published: <b>6</b>" in body and "success rate: <b>85.7%</b>" in body
    assert "1 h 2 min" in body and "1 min 35 s" in body
    assert "main &lt;b&gt;: 6 published, 0 failed" in body
    assert "09 " + "█" * 12 + " 4" in body and "20 " + "█" * 6 + " 2" in body
    assert "#9 · second · Bad &amp; title" in body


def test_an_empty_report_says_so() -> None:
    empty = Report(
        Period(date(2026, 12, 1), date(2026, 12, 1), SHANGHAI),
        0,
        0,
        None,
        None,
        None,
        (),
        (0,) * 24,
        (),
    )
    assert "此期间没有发布或失败的任务" in render_report(empty, "zh")


def test_stats_text_names_every_figure() -> None:
    stats = Stats(
        AT,
        3600,
        12,
        3,
        1,
        5,
        1,
        5.0,
        1 / 6,
        90.0,
        200.0,
        (AccountLive(1, "main", AccountStatus.ACTIVE, 12, 1, 5, 1),),
    )
    body = render_stats(stats, "en", SHANGHAI)
    assert "2026-12-03 12:00 (Asia/Shanghai" in body
    assert "Waiting: <b>12</b> (due now: 3)" in body and "error rate 16.7%" in body
    assert "waited 1 min 30 s on average, the longest 3 min 20 s" in body
    assert "main (active): waiting 12, uploading 1, published 5" in body


NOTICES = {
    AlertKind.ERROR_RATE: {"rate": 0.25, "errors": 5, "attempts": 20, "window_s": 3600.0},
    AlertKind.QUEUE_SIZE: {"waiting": 130, "threshold": 100},
    AlertKind.ACCOUNT_STATUS: {
        "account_id": 1,
        "account": "main",
        "status": "rate_limited",
        "reason": "uploadLimitExceeded",
        "until": (AT + timedelta(hours=20)).isoformat(),
    },
    AlertKind.QUOTA: {"project": "client-1", "used": 9600, "limit": 10000, "ratio": 0.96},
    AlertKind.SCHEDULER_STUCK: {"count": 2, "task_id": 7, "late_s": 600},
    AlertKind.TASK_FAILED: {
        "task_id": 7,
        "account": "main",
        "title": "t",
        "error": "invalid_grant",
    },
}


@pytest.mark.parametrize("kind", list(AlertKind))
@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_alert_renders_in_both_languages(
    kind: AlertKind, phase: Phase, lang: str, caplog: pytest.LogCaptureFixture
) -> None:
    if kind is AlertKind.TASK_FAILED and phase is not Phase.FIRED:
        return
    notice = AlertNotice(kind, phase, dict(NOTICES[kind]), AT, AT + timedelta(minutes=75))
    with caplog.at_level(logging.ERROR, logger="bot.messages"):
        body = render_alert(notice, lang, SHANGHAI)
    assert not caplog.records and "{" not in body
    if phase is Phase.RESOLVED:
        assert "1 h 15 min" in body or "1 小时 15 分" in body


def test_alerts_say_what_happens_next() -> None:
    status = AlertNotice(
        AlertKind.ACCOUNT_STATUS, Phase.FIRED, dict(NOTICES[AlertKind.ACCOUNT_STATUS]), AT, AT
    )
    body = render_alert(status, "en", SHANGHAI)
    assert "Channel main is rate limited</b> until 2026-12-04 08:00 (Asia/Shanghai" in body
    assert "daily upload limit" in body and "the other channels go on" in body
    quota = AlertNotice(AlertKind.QUOTA, Phase.FIRED, dict(NOTICES[AlertKind.QUOTA]), AT, AT)
    assert "used 96.0% of its daily YouTube quota" in render_alert(quota, "en", SHANGHAI)
    assert "2026-12-03 16:00 (Asia/Shanghai" in render_alert(quota, "en", SHANGHAI)
    failed = AlertNotice(
        AlertKind.TASK_FAILED, Phase.FIRED, dict(NOTICES[AlertKind.TASK_FAILED]), AT, AT
    )
    assert "/publish 7 to try again" in render_alert(failed, "en", SHANGHAI)
    repeated = AlertNotice(AlertKind.QUEUE_SIZE, Phase.REPEATED, {"waiting": 130}, AT, AT)
    assert render_alert(repeated, "en", SHANGHAI).startswith("🔁 Still going on, since 2026-12-03")
