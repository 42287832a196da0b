"""Read a video's title, description and tags from the caption a person sent with it."""

from __future__ import annotations

import re
import unicodedata

from core.models import VideoMetadata

_URL_RE = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.)\S+", re.IGNORECASE)
# A hashtag starts after a non-word character, though right after CJK text is fine: Chinese
# writers put no space before "#" ("今天去海边#旅行").
_HASHTAG_RE = re.compile(r"(?<![A-Za-z0-9_#&/])[#＃](\w+)")
_TAG_SEPARATORS = " \t,，、;；|·#＃"
_NEWLINES = str.maketrans({"\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x85": "\n", "\u2028": "\n"})
# Invisible characters that can reorder or hide text: bidi embeddings, overrides and isolates,
# zero-width space and the byte order mark (ZWJ stays: emoji sequences need it).
_INVISIBLE = frozenset("\u200b\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


def parse_caption(caption: str | None, *, fallback_title: str) -> VideoMetadata:
    """Split a caption into title (first line), description (the rest) and #hashtag tags."""
    text = _clean(caption or "")
    lines = text.split("\n")
    title_index = _title_line(lines)
    if title_index is None:
        title = _one_line(fallback_title)
        rest = lines
    else:
        title = _one_line(lines[title_index])
        rest = lines[:title_index] + lines[title_index + 1 :]
    return VideoMetadata(title=title, description=_paragraphs(rest), tags=hashtags(text))


def hashtags(text: str) -> tuple[str, ...]:
    """Return the #hashtags outside URLs, unique regardless of case, first spelling kept."""
    seen: set[str] = set()
    tags: list[str] = []
    for match in _HASHTAG_RE.finditer(_URL_RE.sub(" ", text)):
        tag = match[1]
        key = tag.casefold()
        if tag.strip("_") and key not in seen:
            seen.add(key)
            tags.append(tag)
    return tuple(tags)


def _title_line(lines: list[str]) -> int | None:
    """Return the index of the first line with words other than hashtags, or None."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if _is_hashtags_only(line):
            continue
        return index
    return None


def _is_hashtags_only(line: str) -> bool:
    """Tell whether a line holds nothing but hashtags and separators."""
    if not _HASHTAG_RE.search(line):
        return False
    return not _HASHTAG_RE.sub("", line).strip(_TAG_SEPARATORS + "\u3000\xa0")


def _clean(text: str) -> str:
    """Unify line breaks, turn tabs into spaces and drop control and invisible characters."""
    text = text.replace("\r\n", "\n").translate(_NEWLINES).replace("\u2029", "\n\n")
    text = text.replace("\t", " ")
    return "".join(
        ch
        for ch in text
        if ch == "\n" or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _INVISIBLE)
    )


def _one_line(text: str) -> str:
    """Collapse all whitespace runs, line breaks included, to single spaces."""
    return " ".join(_clean(text).split())


def _paragraphs(lines: list[str]) -> str:
    """Join description lines, trimming trailing spaces and blank lines at both ends."""
    return "\n".join(line.rstrip() for line in lines).strip("\n")
