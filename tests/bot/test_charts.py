"""Pictures: valid PNG of the expected size, large type, the zone on the axis, no overlaps."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from PIL import Image

from bot import charts
from core.models import Account, AccountStatus, TaskState
from core.reports import AccountFigures, OpenTask, Period, Report, build_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The smallest type on a picture, in points at 100 dpi: readable on a phone at full width.
MIN_POINTS = 16


def _report(hours: list[int], accounts: int = 5) -> Report:
    names = ["旅行频道 Travel", "main", "美食日记", "a-very-long-channel-name", "news", "x", "y"]
    figures = tuple(
        AccountFigures(i + 1, names[i % len(names)], 40 - i * 5, i % 3) for i in range(accounts)
    )
    period = Period(date(2026, 12, 1), date(2026, 12, 7), SHANGHAI)
    return Report(period, sum(hours), 3, 0.97, 3600.0, 90.0, figures, tuple(hours), ())


def _calendar(accounts: int) -> charts.Calendar:
    now = datetime(2026, 12, 3, 4, tzinfo=UTC)
    rows = [
        Account(i, "youtube", f"频道{i}", AccountStatus.ACTIVE, None, None, "c", "UTC", now)
        for i in range(1, accounts + 1)
    ]
    tasks = [
        OpenTask(k, k % accounts + 1, TaskState.QUEUED, now + timedelta(hours=3 * k))
        for k in range(40)
    ]
    return build_calendar(tasks, rows, date(2026, 12, 3), 7, SHANGHAI)


def _texts(figure: Figure) -> list[Text]:
    """Return every text the picture shows (tick labels only inside the axes' limits)."""
    figure.canvas.draw()
    found: list[Text] = [*figure.texts]  # the suptitle is one of them
    for ax in figure.axes:
        found += [*ax.texts, ax.title, ax.xaxis.label, ax.yaxis.label]
        legend = ax.get_legend()
        found += legend.get_texts() if legend else []
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = min(lo, hi), max(lo, hi)
            found += [t.label1 for t in axis.get_major_ticks() if lo <= t.get_loc() <= hi]
    return [t for t in found if t.get_visible() and t.get_text().strip()]


def _boxes(figure: Figure) -> list[tuple[str, Bbox]]:
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(figure)]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_the_report_picture_is_a_valid_png_1080_by_1500() -> None:
    data = charts.report_png(_report([0, 0, 1, 2, 5, 9, 12, 7] * 3), "zh")
    assert _png_size(data) == (charts.WIDTH_PX, charts.REPORT_HEIGHT_PX)


@pytest.mark.parametrize("accounts", [1, 9])
def test_the_calendar_picture_has_one_row_an_account_at_the_expected_size(accounts: int) -> None:
    calendar = _calendar(accounts)
    data = charts.calendar_png(calendar, "en")
    assert _png_size(data) == charts.calendar_size(calendar)
    assert charts.calendar_size(calendar)[1] == (
        charts.CALENDAR_HEADER_PX + charts.CALENDAR_ROW_PX * accounts
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_text_on_a_busy_report_overlaps_another_and_all_of_it_is_large(lang: str) -> None:
    figure = charts.report_figure(_report([999, 88, 7] * 8, accounts=8), lang)
    boxes = _boxes(figure)
    width, height = figure.canvas.get_width_height()
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"
    for label, box in boxes:
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, label
    assert min(t.get_fontsize() for t in _texts(figure)) >= MIN_POINTS


def test_no_text_on_the_calendar_overlaps_another() -> None:
    figure = charts.calendar_figure(_calendar(4), "zh")
    boxes = _boxes(figure)
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"
    assert min(t.get_fontsize() for t in _texts(figure)) >= MIN_POINTS


def test_the_hour_axis_names_the_time_zone() -> None:
    figure = charts.report_figure(_report([1] * 24), "en")
    labels = [t.get_text() for t in _texts(figure)]
    assert "Hour of day (Asia/Shanghai)" in labels
    assert {"00", "03", "21"} <= set(labels) and "01" not in labels


def test_chinese_is_drawn_only_with_a_cjk_font_and_never_as_boxes() -> None:
    if charts.cjk_font() is None:
        assert charts.picture_language("zh") == "en"
        assert charts.account_label(3, "美食日记", "zh") == "#3"
        assert charts.label("chart.hourly_title", "zh") == "Uploads by hour"
    else:
        assert charts.picture_language("zh") == "zh"
        assert charts.account_label(3, "美食日记", "zh") == "美食日记"
        assert charts.label("chart.hourly_title", "zh") == "按时段上传数"
    assert charts.account_label(4, "\U000f0000 private", "en") == "#4"
    assert charts.account_label(5, "x" * 30, "en") == "x" * 13 + "…"
    assert charts.account_label(None, None, "en") == "no account"
