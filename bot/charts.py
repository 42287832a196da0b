"""Pictures for phones: uploads by hour and by account, and the coming schedule (PNG).

Drawn with matplotlib's Agg canvas (no display, no pyplot state), in large type, 1080 px wide,
which a phone shows at full width. Chinese needs a CJK font on the machine (Debian's
fonts-noto-cjk, for example); without one, pictures for a Chinese reader fall back to the
English labels and names that cannot be drawn are shown as `#<id>`, so nothing renders as boxes.
"""

from __future__ import annotations

import functools
import html
import io
from collections.abc import Sequence

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from bot.messages import text
from core.reports import Calendar, Report

#: Pixels per inch of the pictures; sizes below are in inches at this density.
DPI = 100
WIDTH_PX = 1080
REPORT_HEIGHT_PX = 1500
CALENDAR_HEADER_PX = 260
CALENDAR_ROW_PX = 170
#: At most this many accounts are drawn; the rest are summed into one bar or left out.
MAX_ACCOUNTS = 8
MIN_ACCOUNT_ROWS = 4
NAME_CHARS = 14
BASE_PT = 22
TITLE_PT = 30
#: CJK fonts tried in order; the first one matplotlib knows is used.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "Noto Serif CJK SC",
)
LATIN_FONT = "DejaVu Sans"
PUBLISHED_COLOUR = "#2e7d32"
FAILED_COLOUR = "#c62828"
EMPTY_COLOUR = "#f2f2f2"
GRID_COLOUR = "#9e9e9e"


@functools.cache
def cjk_font() -> str | None:
    """Return the name of a CJK-capable font matplotlib can use, or None."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in names), None)


@functools.cache
def _drawable_codepoints() -> frozenset[int]:
    families = [LATIN_FONT] + ([cjk] if (cjk := cjk_font()) else [])
    points: set[int] = set()
    for family in families:
        path = font_manager.findfont(font_manager.FontProperties(family=family))
        points.update(FT2Font(path).get_charmap())
    return frozenset(points)


def can_draw(label: str) -> bool:
    """Tell whether every character of a label has a glyph in the fonts the pictures use."""
    points = _drawable_codepoints()
    return all(ord(c) in points or c.isspace() for c in label)


def picture_language(lang: str) -> str:
    """Return the language pictures use: Chinese only when a CJK font is there."""
    return lang if lang != "zh" or cjk_font() is not None else "en"


def label(key: str, lang: str, **params: object) -> str:
    """Return a catalogue text as plain text for a picture."""
    return html.unescape(text(key, picture_language(lang), **params))


def account_label(account_id: int | None, name: str | None, lang: str) -> str:
    """Return how a picture names an account: short, and drawable."""
    if account_id is None:
        return label("chart.unassigned", lang)
    shown = name or f"#{account_id}"
    if not can_draw(shown):
        return f"#{account_id}"
    return shown if len(shown) <= NAME_CHARS else shown[: NAME_CHARS - 1] + "…"


def to_png(figure: Figure) -> bytes:
    """Render a figure to PNG bytes at the pictures' density."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _figure(height_px: int) -> Figure:
    # Fonts are given per text, never through rcParams: those are shared by every thread.
    layout = ConstrainedLayoutEngine(h_pad=0.15, w_pad=0.15)
    figure = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def _font(size: float = BASE_PT, bold: bool = False) -> font_manager.FontProperties:
    families = [f for f in (cjk_font(), LATIN_FONT) if f]
    return font_manager.FontProperties(
        family=families, size=size, weight="bold" if bold else "normal"
    )


# -- uploads by hour and by account ------------------------------------------------------------


def report_figure(report: Report, lang: str) -> Figure:
    """Draw a report's uploads by local hour (top) and by account (bottom)."""
    figure = _figure(REPORT_HEIGHT_PX)
    hours_ax, accounts_ax = figure.subplots(2, 1, height_ratios=(1, 1.1))
    period = _period_text(report)
    zone = report.period.zone.key
    figure.suptitle(
        f"{label('chart.hourly_title', lang)} · {period}", fontproperties=_font(TITLE_PT, True)
    )
    _hours_panel(hours_ax, report.by_hour, zone, lang)
    _accounts_panel(accounts_ax, report, lang)
    return figure


def report_png(report: Report, lang: str) -> bytes:
    """Return the report's picture as PNG bytes."""
    return to_png(report_figure(report, lang))


def _period_text(report: Report) -> str:
    first, last = report.period.first, report.period.last
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%m-%d} – {last:%m-%d}"


def _hours_panel(ax: Axes, by_hour: Sequence[int], zone: str, lang: str) -> None:
    hours = list(range(len(by_hour)))
    bars = ax.bar(hours, by_hour, color=PUBLISHED_COLOUR, width=0.8)
    peak = max(by_hour, default=0)
    ax.set_ylim(0, max(1, peak) * 1.25)
    ax.set_xlim(-0.7, len(by_hour) - 0.3)
    ax.set_xticks(hours[::3], [f"{h:02d}" for h in hours[::3]])
    ax.set_xlabel(label("chart.hour_axis", lang, zone=zone), fontproperties=_font())
    ax.set_ylabel(label("chart.count_axis", lang), fontproperties=_font())
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.bar_label(
        bars,
        labels=[str(v) if v else "" for v in by_hour],
        fontproperties=_font(BASE_PT - 6),
        padding=3,
    )
    _style(ax)
    if peak == 0:
        ax.text(
            0.5,
            0.5,
            label("chart.no_data", lang),
            transform=ax.transAxes,
            ha="center",
            fontproperties=_font(),
            color=GRID_COLOUR,
        )


def _accounts_panel(ax: Axes, report: Report, lang: str) -> None:
    rows = list(report.by_account[:MAX_ACCOUNTS])
    names = [account_label(r.account_id, r.name, lang) for r in rows]
    published = [r.published for r in rows]
    failed = [r.failed for r in rows]
    positions = list(range(len(rows)))
    ax.barh(positions, published, color=PUBLISHED_COLOUR, label=label("chart.published", lang))
    ax.barh(
        positions, failed, left=published, color=FAILED_COLOUR, label=label("chart.failed", lang)
    )
    ax.set_yticks(positions, names)
    # Room for at least four rows, so one account is a bar and not a block; first on top.
    ax.set_ylim(max(len(rows), MIN_ACCOUNT_ROWS) - 0.5, -0.5)
    widest = max((p + f for p, f in zip(published, failed, strict=True)), default=0)
    ax.set_xlim(0, max(1, widest) * 1.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    for y, (p, f) in enumerate(zip(published, failed, strict=True)):
        shown = f"{p}" if not f else f"{p} + {f}"
        ax.text(p + f, y, f"  {shown}", va="center", fontproperties=_font(BASE_PT - 2))
    ax.set_title(label("chart.accounts_title", lang), fontproperties=_font(TITLE_PT - 4, True))
    ax.set_xlabel(label("chart.count_axis", lang), fontproperties=_font())
    # Under the axis, never over a bar.
    ax.legend(
        prop=_font(BASE_PT - 4),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncols=2,
        frameon=False,
    )
    if not rows:
        ax.set_yticks([])
        ax.text(
            0.5,
            0.5,
            label("chart.no_data", lang),
            transform=ax.transAxes,
            ha="center",
            fontproperties=_font(),
            color=GRID_COLOUR,
        )
    _style(ax)


def _style(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for tick in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        tick.set_fontproperties(_font())


# -- the coming schedule -----------------------------------------------------------------------


def calendar_size(calendar: Calendar) -> tuple[int, int]:
    """Return the (width, height) in pixels of the calendar's picture."""
    return WIDTH_PX, CALENDAR_HEADER_PX + CALENDAR_ROW_PX * max(1, len(calendar.rows))


def calendar_figure(calendar: Calendar, lang: str) -> Figure:
    """Draw one column a local day and one row an account, with counts and first times."""
    _, height = calendar_size(calendar)
    figure = _figure(height)
    ax = figure.subplots()
    days, rows = len(calendar.days), max(1, len(calendar.rows))
    for y, row in enumerate(calendar.rows):
        for x, cell in enumerate(row.cells):
            _calendar_cell(ax, x, y, cell.count, cell.times[0] if cell.times else "")
    ax.set_xlim(0, days)
    ax.set_ylim(rows, 0)
    ax.xaxis.tick_top()
    heads = [f"{label(f'weekday.{d.weekday()}', lang)}\n{d:%m-%d}" for d in calendar.days]
    ax.set_xticks([x + 0.5 for x in range(days)], heads)
    names = [account_label(r.account_id, r.name, lang) for r in calendar.rows]
    ax.set_yticks([y + 0.5 for y in range(len(names))], names)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for tick in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        tick.set_fontproperties(_font(BASE_PT - 2))
    ax.set_title(
        label("chart.calendar_title", lang, zone=calendar.zone.key),
        fontproperties=_font(TITLE_PT, True),
        pad=16,
    )
    return figure


def _calendar_cell(ax: Axes, x: int, y: int, count: int, first: str) -> None:
    colour = PUBLISHED_COLOUR if count else EMPTY_COLOUR
    alpha = 0.25 + min(count, 6) * 0.1 if count else 1.0
    ax.add_patch(
        Rectangle((x + 0.04, y + 0.06), 0.92, 0.88, color=colour, alpha=alpha, linewidth=0)
    )
    if not count:
        return
    ax.text(
        x + 0.5,
        y + 0.42,
        str(count),
        ha="center",
        va="center",
        fontproperties=_font(34, True),
    )
    ax.text(x + 0.5, y + 0.78, first, ha="center", va="center", fontproperties=_font(BASE_PT - 5))


def calendar_png(calendar: Calendar, lang: str) -> bytes:
    """Return the calendar's picture as PNG bytes."""
    return to_png(calendar_figure(calendar, lang))
