from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.messages_input import INPUT_MESSAGES
from core.errors import MetadataError
from core.metadata import (
    DESCRIPTION_MAX_BYTES,
    TAGS_MAX_CHARS,
    TITLE_MAX_CHARS,
    effective_privacy,
    tags_length,
    validate_metadata,
)
from core.models import Privacy, VideoMetadata

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _check(
    meta: VideoMetadata, privacy: Privacy = Privacy.PUBLIC, publish_at: datetime | None = None
) -> None:
    validate_metadata(meta, privacy, publish_at, NOW)


def _error(
    meta: VideoMetadata, privacy: Privacy = Privacy.PUBLIC, publish_at: datetime | None = None
) -> MetadataError:
    with pytest.raises(MetadataError) as info:
        _check(meta, privacy, publish_at)
    return info.value


def test_ordinary_metadata_passes() -> None:
    _check(VideoMetadata(title="Sunset", description="Nice", tags=("travel", "sea")))


def test_title_of_exactly_the_limit_passes() -> None:
    _check(VideoMetadata(title="x" * TITLE_MAX_CHARS))


def test_title_over_the_limit_names_length_and_limit() -> None:
    error = _error(VideoMetadata(title="标" * 101))
    assert error.key == "meta.title_too_long"
    assert error.params == {"length": 101, "limit": 100}


def test_blank_title_is_refused() -> None:
    assert _error(VideoMetadata(title="  ")).key == "meta.title_empty"


def test_angle_brackets_in_title_are_refused() -> None:
    assert _error(VideoMetadata(title="a <b> c")).key == "meta.title_angle_brackets"


def test_angle_brackets_in_description_are_refused() -> None:
    meta = VideoMetadata(title="t", description="I <3 this")
    assert _error(meta).key == "meta.description_angle_brackets"


def test_description_limit_counts_bytes_not_characters() -> None:
    _check(VideoMetadata(title="t", description="a" * DESCRIPTION_MAX_BYTES))
    error = _error(VideoMetadata(title="t", description="汉" * 1667))
    assert error.key == "meta.description_too_long"
    assert error.params == {"length": 5001, "limit": 5000}


def test_tags_length_joins_with_commas_and_quotes_tags_with_spaces() -> None:
    assert tags_length([]) == 0
    assert tags_length(["a"]) == 1
    assert tags_length(["ab", "c d"]) == 2 + 1 + 5


def test_tags_at_the_limit_pass_and_one_more_character_fails() -> None:
    four = ("x" * 100,) * 4
    _check(VideoMetadata(title="t", tags=(*four, "x" * 96)))  # 496 + 4 commas = 500
    error = _error(VideoMetadata(title="t", tags=(*four, "x y" * 32)))  # 96 + 2 quotes
    assert error.key == "meta.tags_too_long"
    assert error.params["limit"] == TAGS_MAX_CHARS
    assert error.params["length"] == 400 + 96 + 2 + 4


def test_unknown_category_is_refused() -> None:
    error = _error(VideoMetadata(title="t", category_id="99"))
    assert error.key == "meta.bad_category"
    assert error.params == {"category": "99"}


def test_publish_at_in_the_past_is_refused() -> None:
    error = _error(VideoMetadata(title="t"), Privacy.PUBLIC, NOW - timedelta(minutes=1))
    assert error.key == "meta.publish_at_past"
    assert error.params == {"when": "2026-12-04 06:29 UTC"}
    assert _error(VideoMetadata(title="t"), Privacy.PUBLIC, NOW).key == "meta.publish_at_past"


def test_publish_at_in_the_future_passes_for_a_public_video() -> None:
    _check(VideoMetadata(title="t"), Privacy.PUBLIC, NOW + timedelta(hours=1))


def test_publish_at_for_a_private_or_unlisted_wish_is_refused() -> None:
    later = NOW + timedelta(hours=1)
    for privacy in (Privacy.PRIVATE, Privacy.UNLISTED):
        error = _error(VideoMetadata(title="t"), privacy, later)
        assert error.key == "meta.publish_at_needs_public"


def test_effective_privacy_is_private_while_a_publish_is_scheduled() -> None:
    later = NOW + timedelta(hours=1)
    assert effective_privacy(Privacy.PUBLIC, later) is Privacy.PRIVATE
    assert effective_privacy(Privacy.PUBLIC, None) is Privacy.PUBLIC
    assert effective_privacy(Privacy.UNLISTED, None) is Privacy.UNLISTED


_RAISING_MODULES = ("core/metadata.py", "core/timeparse.py", "media/probe.py", "core/caption.py")
_KEY_RE = re.compile(r"\"((?:meta|time|media)\.[a-z_]+)\"")


def _raised_keys() -> set[str]:
    keys: set[str] = set()
    for name in _RAISING_MODULES:
        keys |= set(_KEY_RE.findall((ROOT / name).read_text(encoding="utf-8")))
    return keys | {"time.note_gap", "time.note_ambiguous"}


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_every_input_key_has_english_and_chinese_text() -> None:
    keys = _raised_keys()
    assert len(keys) >= 15
    missing = keys - set(INPUT_MESSAGES)
    assert not missing
    for key in keys:
        entry = INPUT_MESSAGES[key]
        assert entry.get("en") and entry.get("zh"), key
        assert _fields(entry["en"]) == _fields(entry["zh"]), key


def test_metadata_error_params_fill_their_messages() -> None:
    cases = [
        VideoMetadata(title=""),
        VideoMetadata(title="x" * 101),
        VideoMetadata(title="<"),
        VideoMetadata(title="t", description="é" * 2501),
        VideoMetadata(title="t", description=">"),
        VideoMetadata(title="t", tags=("x" * 501,)),
        VideoMetadata(title="t", category_id="0"),
    ]
    errors = [_error(meta) for meta in cases]
    errors.append(_error(VideoMetadata(title="t"), Privacy.PUBLIC, NOW))
    errors.append(_error(VideoMetadata(title="t"), Privacy.PRIVATE, NOW + timedelta(days=1)))
    for error in errors:
        for lang in ("en", "zh"):
            text = INPUT_MESSAGES[error.key][lang].format(**error.params)
            assert "{" not in text
