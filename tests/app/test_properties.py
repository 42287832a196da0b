"""Property tests: any text in any command or caption gets an answer and breaks no handler."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.app.conftest import OPERATOR, Harness

#: Text a person can type into Telegram: any character but lone surrogates.
TYPED = st.text(st.characters(exclude_categories=("Cs",)), min_size=0, max_size=400)
COMMANDS = [
    "/publish",
    "/schedule 1",
    "/schedule",
    "/privacy 1",
    "/cancel",
    "/status",
    "/title 1",
    "/tags 1",
    "/description 1",
    "/retry",
    "/queue",
    "/help",
    "/start",
]
INTERNAL_ERROR = "Something went wrong on our side"
PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _next_answer(harness: Harness, action: Awaitable[object]) -> dict[str, object]:
    """Do `action` and return the first message the bot sends after it (not an edit)."""
    last = max((m["message_id"] for m in harness.telegram.bot_messages(OPERATOR)), default=0)
    await action
    return await harness.telegram.wait_for_bot_message(
        OPERATOR, lambda m: int(m["message_id"]) > last, 10
    )


def _handler_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "action", None) == "handler_error"]


@PROPERTY
@given(command=st.sampled_from(COMMANDS), argument=TYPED)
async def test_any_command_argument_gets_an_answer_and_no_handler_fails(
    harness: Harness, caplog: pytest.LogCaptureFixture, command: str, argument: str
) -> None:
    if not harness.telegram.bot_messages(OPERATOR):
        await harness.send_video(harness.clip(), "Target")
    answer = await _next_answer(harness, harness.say(f"{command} {argument}"))
    assert INTERNAL_ERROR not in str(answer.get("text"))
    assert _handler_failures(caplog) == []


@PROPERTY
@given(caption=TYPED)
async def test_any_caption_gets_a_card_or_a_clear_refusal(
    harness: Harness, caplog: pytest.LogCaptureFixture, caption: str
) -> None:
    clip = harness.root / "clip.mp4"
    if not clip.exists():
        harness.clip()
    await harness.telegram.user_send_video(
        OPERATOR, OPERATOR, clip, caption=caption[:1024] or None
    )
    answer = await harness.expect("", new_only=True)
    text = str(answer.get("text"))
    assert INTERNAL_ERROR not in text
    assert text.startswith("🎬 Task #") or any(
        words in text for words in ("YouTube allows", "YouTube does not allow", "title")
    )
    assert _handler_failures(caplog) == []
