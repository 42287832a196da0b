"""Turn what a person types ("明天 20:00", "tomorrow 8pm") into an aware UTC instant."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import re
import sys
import types
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import dateparser

from core.errors import TimeParseError

logger = logging.getLogger(__name__)

Note = Literal["gap", "ambiguous"]

#: A resolved instant this far before `now` still counts as "now" (typing takes time).
PAST_TOLERANCE_S = 60
#: Longer texts are not time expressions; the cap also bounds the parsers' work.
MAX_TEXT_CHARS = 100

_NOW_WORDS = frozenset({"now", "right now", "immediately", "现在", "立即", "立刻", "马上"})
_ISO_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?",
    re.IGNORECASE,
)
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_EN_WEEKDAY_RE = re.compile(
    r"\b(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)"
    r"(?:day|sday|nesday|rsday|urday)?\b",
    re.IGNORECASE,
)
_EN_WEEK_QUALIFIER_RE = re.compile(r"\b(?:next|last|this|coming|previous)\b", re.IGNORECASE)
# dateparser reads a lone "a", "12" or "may" as a date a year away; demand a digit or a time word.
_EN_TIME_WORD_RE = re.compile(
    r"\b(?:today|tonight|tomorrow|yesterday|noon|midnight|morning|afternoon|evening|week|hours?|"
    r"minutes?|mins?|hrs?)\b",
    re.IGNORECASE,
)
_EN_RELATIVE_RE = re.compile(
    r"in\s+(?:\d+|an?|one)\s*(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)"
    r"|(?:\d+|an?|one)\s*(?:secs?|seconds?|mins?|minutes?|hrs?|hours?)\s+from\s+now",
    re.IGNORECASE,
)
_ZH_WEEKDAY_RE = re.compile(r"(?:周|星期|礼拜)[一二三四五六日天]")
_ZH_WEEK_QUALIFIER_RE = re.compile(r"(?:上|下|本|这|这个|上个|下个)(?:周|星期|礼拜)")
_ZH_RELATIVE_RE = re.compile(
    r"[\d一二两三四五六七八九十百半]+\s*个?\s*半?\s*(?:秒钟?|分钟?|小时|钟头)\s*(?:以后|之后|后)"
)
_ZH_WEEKDAY_DIGIT_RE = re.compile(r"(周|星期|礼拜)([1-7])")
_ZH_WEEKDAY_DIGITS = {"1": "一", "2": "二", "3": "三", "4": "四", "5": "五", "6": "六", "7": "日"}
_AM_PM_RE = re.compile(
    r"(?<!\d)(1[0-2]|0?[1-9])(?::(\d{2}))?\s*([ap])\.?m\.?(?![a-z])", re.IGNORECASE
)
# jionlp reads "明早8点" as this morning; spelling the day out gives the right answer.
_ZH_REWRITES = (("明早", "明天早上"), ("明晨", "明天早上"))
_JIONLP_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Localized:
    """A wall-clock time placed on the UTC timeline, and whether DST moved it."""

    instant: datetime
    note: Note | None = None


@dataclass(frozen=True)
class ResolvedTime:
    """The instant a person meant, its local reading, and any DST note."""

    instant: datetime
    local: datetime
    note: Note | None = None
    #: The naive wall-clock time that was asked for, when the instant came from one.
    wall: datetime | None = None

    def note_params(self, tz: ZoneInfo) -> dict[str, str]:
        """Return the params of the `time.note_<note>` message: wall, zone and actual time."""
        wall = self.wall if self.wall is not None else self.local.replace(tzinfo=None)
        return {
            "wall": f"{wall:%Y-%m-%d %H:%M}",
            "zone": tz.key,
            "actual": format_local(self.instant, tz),
        }


def localize(wall: datetime, tz: ZoneInfo) -> Localized:
    """Place a naive local wall time on the UTC timeline, resolving DST gaps and folds."""
    if wall.tzinfo is not None:
        raise ValueError("localize() takes a naive wall-clock time")
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return Localized(first)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return Localized(first, "ambiguous")
    return Localized(_transition(min(first, second), max(first, second), tz), "gap")


def _transition(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """Return the first instant in (before, after] that has the offset `after` has."""
    target = after.astimezone(tz).utcoffset()
    lo, hi = math.floor(before.timestamp()), math.ceil(after.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def format_local(instant: datetime, tz: ZoneInfo) -> str:
    """Format an instant as local date, time, zone and offset for people to check."""
    local = instant.astimezone(tz)
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{local:%Y-%m-%d %H:%M} ({tz.key}, UTC{sign}{minutes // 60:02d}:{minutes % 60:02d})"


def parse_when(text: str, *, now: datetime, tz: ZoneInfo) -> ResolvedTime:
    """Resolve a typed time expression against `now` in `tz`; raise TimeParseError if unusable."""
    if now.tzinfo is None:
        raise ValueError("parse_when() needs an aware `now`")
    cleaned = " ".join(unicodedata.normalize("NFKC", text).split())
    shown = cleaned[:MAX_TEXT_CHARS]
    try:
        resolved = _resolve(cleaned, now, tz) if len(cleaned) <= MAX_TEXT_CHARS else None
        if resolved is None:
            raise TimeParseError("time.unparsed", text=shown)
        if resolved.instant < now - timedelta(seconds=PAST_TOLERANCE_S):
            raise TimeParseError("time.past", when=format_local(resolved.instant, tz))
    except TimeParseError:
        raise
    # dateparser and jionlp raise TypeError, ValueError, OverflowError... on odd input.
    except Exception as exc:
        logger.debug("time expression %r broke a parser", shown, exc_info=True)
        raise TimeParseError("time.unparsed", text=shown) from exc
    return resolved


def _resolve(text: str, now: datetime, tz: ZoneInfo) -> ResolvedTime | None:
    """Resolve cleaned text, or return None when no parser understands it."""
    if text.casefold() in _NOW_WORDS:
        return ResolvedTime(now.astimezone(UTC), now.astimezone(tz))
    base = now.astimezone(tz).replace(tzinfo=None, microsecond=0)
    if _ISO_RE.fullmatch(text):
        parsed: datetime | None = datetime.fromisoformat(text.upper())
        relative = False
    elif _CJK_RE.search(text):
        parsed = _parse_chinese(text, base)
        relative = _ZH_RELATIVE_RE.fullmatch(text) is not None
    else:
        parsed = _parse_english(text, base)
        relative = _EN_RELATIVE_RE.fullmatch(text) is not None
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        instant = parsed.astimezone(UTC)
        return ResolvedTime(instant, instant.astimezone(tz))
    if relative:
        # "in 2 hours" is elapsed time: wall-clock arithmetic would be off by an hour across DST.
        instant = now.replace(microsecond=0).astimezone(UTC) + (parsed - base)
        return ResolvedTime(instant, instant.astimezone(tz))
    localized = localize(parsed, tz)
    return ResolvedTime(
        localized.instant, localized.instant.astimezone(tz), localized.note, parsed
    )


#: "at 8", "tomorrow at 8:30": dateparser reads a bare number after "at" as a month or a day.
_EN_AT_HOUR_RE = re.compile(
    r"\bat\s+(\d{1,2})(?::(\d{2}))?(?!\s*(?:am|pm|a\.m\.|p\.m\.|:|\d))\b", re.I
)
#: A result further away than this, from text that names no year, month or span, is a misreading.
_EN_FAR_DAYS = 40
_EN_SPAN_RE = re.compile(
    r"\b(?:in\s+\d|\d+\s*(?:day|week|month|year)s?\b|next\s+(?:month|year))", re.I
)
#: "the 5th": dateparser takes a day of the month said alone for a month.
_EN_ORDINAL_DAY_RE = re.compile(r"\b(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b", re.I)
_EN_YEAR_OR_MONTH_RE = re.compile(
    r"\b(?:\d{4}|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\d{1,2}[/.-]\d{1,2}",
    re.I,
)


def _parse_english(text: str, base: datetime) -> datetime | None:
    """Read English with dateparser; naive results are wall times in the person's zone."""
    text = _EN_AT_HOUR_RE.sub(lambda m: f"at {int(m.group(1)):02d}:{m.group(2) or '00'}", text)
    named = _EN_YEAR_OR_MONTH_RE.search(text) is not None
    if not named:
        text = _EN_ORDINAL_DAY_RE.sub(lambda m: _next_day_of_month(base, int(m.group(1))), text)
    parsed = _dateparser_english(text, base)
    if parsed is None or parsed.tzinfo is not None:
        return parsed
    far = parsed - base > timedelta(days=_EN_FAR_DAYS)
    if far and not (named or _EN_SPAN_RE.search(text) or _ISO_DATE_RE.search(text)):
        return None
    return parsed


_ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _next_day_of_month(base: datetime, day: int) -> str:
    """Return the next date with that day of the month, as ISO text (the day itself if ahead)."""
    year, month = base.year, base.month
    for _ in range(13):
        try:
            candidate = base.replace(year=year, month=month, day=day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate.date() >= base.date():
            return candidate.strftime("%Y-%m-%d")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"the {day}th"


def _dateparser_english(text: str, base: datetime) -> datetime | None:
    if text.isdigit() or not (
        re.search(r"\d", text) or _EN_TIME_WORD_RE.search(text) or _EN_WEEKDAY_RE.search(text)
    ):
        return None
    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "future",
        "PARSERS": ["relative-time", "absolute-time"],
    }
    parsed = dateparser.parse(text, languages=["en"], settings=settings)
    if parsed is None or parsed.tzinfo is not None:
        return parsed
    # dateparser sends "friday 4pm", said on a Friday at 14:30, to next week.
    if _EN_WEEKDAY_RE.search(text) and not _EN_WEEK_QUALIFIER_RE.search(text):
        same_day = parsed - timedelta(days=7)
        if same_day.date() == base.date() and same_day >= base - timedelta(
            seconds=PAST_TOLERANCE_S
        ):
            return same_day
    return parsed


def _parse_chinese(text: str, base: datetime) -> datetime | None:
    """Read Chinese with jionlp, taking the start of the range it returns."""
    for old, new in _ZH_REWRITES:
        text = text.replace(old, new)
    text = _ZH_WEEKDAY_DIGIT_RE.sub(lambda m: m[1] + _ZH_WEEKDAY_DIGITS[m[2]], text)
    # jionlp ignores "8pm" and returns the whole day, so write such times as 24-hour clock.
    text = _AM_PM_RE.sub(_to_24h, text)
    try:
        # time_base is read as a naive wall-clock time, which is what we pass.
        result = _jionlp().parse_time(text, time_base=base)
    except Exception:
        logger.debug("jionlp could not parse %r", text, exc_info=True)
        return None
    if not isinstance(result, dict) or result.get("type") not in ("time_point", "time_span"):
        return None
    span = result.get("time")
    if not isinstance(span, list) or not span or not isinstance(span[0], str):
        return None
    parsed = datetime.strptime(span[0], _JIONLP_FORMAT)
    # jionlp reads a bare "周五" as this week's Friday even when that has passed.
    if (
        _ZH_WEEKDAY_RE.search(text)
        and not _ZH_WEEK_QUALIFIER_RE.search(text)
        and parsed < base - timedelta(seconds=PAST_TOLERANCE_S)
    ):
        parsed += timedelta(days=7)
    return parsed


def _to_24h(match: re.Match[str]) -> str:
    """Rewrite one "8pm" / "8:30 am" match as "20:00" / "08:30"."""
    hour, minute = int(match[1]) % 12, int(match[2] or 0)
    if match[3].lower() == "p":
        hour += 12
    return f"{hour:02d}:{minute:02d}"


def warm_up() -> None:
    """Load both parsers' data now, so the first person to type a time does not wait for it."""
    base = datetime(2026, 1, 1, 12, 0)
    _parse_english("tomorrow 8pm", base)
    _parse_chinese("明天 20:00", base)


@functools.cache
def _jionlp() -> Any:
    """Import jionlp once, hiding the banner it prints on import."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import jionlp
    time_parser: Any = sys.modules.get("jionlp.gadget.time_parser")
    if time_parser is not None:
        # jionlp reports some unreadable texts with logging.error() on the root logger, which
        # logs a traceback per typo and, before logging is configured, calls basicConfig().
        quiet = types.SimpleNamespace(error=_jionlp_log, warning=_jionlp_log, info=_jionlp_log)
        time_parser.logging = quiet
    return jionlp


def _jionlp_log(message: object, *args: object, **kwargs: object) -> None:
    """Keep what jionlp's time parser wanted to log, at DEBUG level under our logger."""
    logger.debug("jionlp: %s", message)
