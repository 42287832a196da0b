"""The catalogue: every key the code names exists, in Chinese and English, with equal fields."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.cards import REASON_KEYS
from bot.messages import MESSAGES, all_keys, text
from bot.messages_input import INPUT_MESSAGES

ROOT = Path(__file__).parents[2]
#: Calls that name a catalogue key as a string literal.
KEY_USE = re.compile(
    r"""(?:\btext\(|InputError\(|MediaError\(|MetadataError\(|TimeParseError\(|"""
    r"""encode_problem\()\s*f?["']([a-z_]+\.[A-Za-z_.]+)["']"""
)


def _keys_named_in_code() -> set[str]:
    found: set[str] = set()
    for folder in ("app", "bot", "core", "media", "platforms"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(KEY_USE.findall(path.read_text(encoding="utf-8")))
    return {k for k in found if not k.endswith(".")}


def test_every_key_the_code_names_is_in_the_catalogue() -> None:
    missing = sorted(_keys_named_in_code() - all_keys())
    assert missing == []


def test_every_platform_reason_with_words_has_them() -> None:
    assert sorted(set(REASON_KEYS.values()) - all_keys()) == []


@pytest.mark.parametrize("key", sorted(MESSAGES) + sorted(INPUT_MESSAGES))
def test_each_message_has_chinese_and_english_with_the_same_fields(key: str) -> None:
    entry = MESSAGES.get(key) or INPUT_MESSAGES[key]
    assert set(entry) == {"en", "zh"}
    fields = [
        {name for _, name, _, _ in string.Formatter().parse(entry[lang]) if name}
        for lang in ("en", "zh")
    ]
    assert fields[0] == fields[1]


def test_a_reason_is_rendered_in_words_not_as_its_key() -> None:
    rendered = text("reason.invalidTitle", "zh")
    assert "reason." not in rendered and "标题" in rendered


def test_a_message_inside_a_message_is_not_escaped_twice() -> None:
    reason = text("reason.invalidTitle", "en")
    outer = text("task.failed", "en", task_id=1, reason=reason)
    assert "no &lt; or &gt;" in outer and "&amp;lt;" not in outer
    assert "&lt;b&gt;" in text("task.failed", "en", task_id=1, reason="<b>")
