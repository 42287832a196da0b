"""Drives the Telegram sandbox with the real python-telegram-bot over loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import socket
import struct
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from sandbox.telegram import SandboxError, TelegramSandbox

TOKEN = "123456789:AAE-sandbox-test-token"
ALICE = 42
GROUP = -4001
SUPERGROUP = -1001234567890
WAIT_S = 5.0
BIG_FILE_BYTES = 21 * 1024 * 1024
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[TelegramSandbox]:
    server = TelegramSandbox(tmp_path / "telegram", token=TOKEN)
    await server.start()
    server.user(ALICE, "Alice", username="alice")
    yield server
    await server.stop()


@pytest.fixture
async def local_sandbox(tmp_path: Path) -> AsyncIterator[TelegramSandbox]:
    server = TelegramSandbox(tmp_path / "telegram-local", token=TOKEN, local_mode=True)
    await server.start()
    server.user(ALICE, "Alice")
    yield server
    await server.stop()


def make_bot(server: TelegramSandbox, *, token: str = TOKEN, local_mode: bool = False) -> Bot:
    return Bot(
        token,
        base_url=f"{server.url}/bot",
        base_file_url=f"{server.url}/file/bot",
        local_mode=local_mode,
    )


@pytest.fixture
async def bot(sandbox: TelegramSandbox) -> AsyncIterator[Bot]:
    async with make_bot(sandbox) as client:
        yield client


@contextlib.asynccontextmanager
async def running(
    server: TelegramSandbox, *handlers: BaseHandler[Any, Any, Any]
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Runs a real Application that long-polls the sandbox."""
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{server.url}/bot")
        .base_file_url(f"{server.url}/file/bot")
        .local_mode(server.local_mode)
        .build()
    )
    app.add_handlers(list(handlers))
    async with app:
        await app.updater.start_polling(poll_interval=0.0, timeout=dt.timedelta(seconds=2))
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


def png_bytes(width: int, height: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data))
        return struct.pack(">I", len(data)) + tag + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def sample_video(tmp_path: Path, name: str = "clip.mp4", size: int = 300_000) -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * (size // 256))
    return path


def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.mp4"
    with path.open("wb") as writer:
        writer.truncate(BIG_FILE_BYTES)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_get_me_answers_the_bot_identity(bot: Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.username, me.is_bot) == (123456789, "publish_manager_bot", True)


async def test_command_reaches_command_handler_and_reply_is_recorded(
    sandbox: TelegramSandbox,
) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Hello {update.effective_user.first_name}")

    async with running(sandbox, CommandHandler("start", start)):
        await sandbox.user_send_text(ALICE, ALICE, "/start")
        reply = await sandbox.wait_for_bot_message(ALICE, lambda m: "Hello" in m["text"], WAIT_S)

    assert reply["text"] == "Hello Alice"
    assert reply["from"]["username"] == "publish_manager_bot"
    assert sandbox.bot_messages(ALICE) == [reply]
    assert sandbox.transcript(ALICE) == [("user", "/start"), ("bot", "Hello Alice")]


async def test_group_command_with_bot_username_reaches_command_handler(
    sandbox: TelegramSandbox,
) -> None:
    sandbox.group(GROUP, "Editors")

    async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"status for {context.args}")

    async with running(sandbox, CommandHandler("status", status)):
        await sandbox.user_send_text(GROUP, ALICE, "/status@publish_manager_bot today")
        reply = await sandbox.wait_for_bot_message(GROUP, lambda m: True, WAIT_S)

    assert reply["text"] == "status for ['today']"
    assert reply["chat"] == {"id": GROUP, "type": "group", "title": "Editors"}


async def test_privacy_mode_delivers_only_commands_in_groups(tmp_path: Path) -> None:
    server = TelegramSandbox(tmp_path / "tg", token=TOKEN, privacy_mode=True)
    await server.start()
    try:
        server.user(ALICE, "Alice")
        server.group(GROUP, "Editors")
        await server.user_send_text(GROUP, ALICE, "just chatting")
        await server.user_send_text(GROUP, ALICE, "/status@publish_manager_bot")
        async with make_bot(server) as client:
            updates = await client.get_updates(timeout=0)
    finally:
        await server.stop()

    assert [u.message.text for u in updates if u.message] == ["/status@publish_manager_bot"]


async def test_edit_is_recorded_and_repeating_it_is_not_modified(
    sandbox: TelegramSandbox, bot: Bot
) -> None:
    sent = await bot.send_message(ALICE, "Uploading 10%")
    edited = await bot.edit_message_text(
        "Uploading 50%", chat_id=ALICE, message_id=sent.message_id
    )

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Uploading 50%", chat_id=ALICE, message_id=sent.message_id)
    [view] = sandbox.bot_messages(ALICE)
    assert edited.edit_date is not None
    assert (view["text"], view["edit_count"], view["previous_texts"]) == (
        "Uploading 50%",
        1,
        ["Uploading 10%"],
    )
    assert sandbox.transcript(ALICE)[-1] == ("bot-edit", "Uploading 50%")


async def test_editing_text_without_markup_drops_the_inline_keyboard(
    sandbox: TelegramSandbox, bot: Bot
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data="cancel")]])
    sent = await bot.send_message(ALICE, "Queued", reply_markup=keyboard)

    await bot.edit_message_text("Published", chat_id=ALICE, message_id=sent.message_id)

    assert "reply_markup" not in sandbox.bot_messages(ALICE)[0]


async def test_editing_a_missing_message_is_a_bad_request(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=999)


async def test_deleted_message_leaves_bot_messages_and_cannot_be_deleted_twice(
    sandbox: TelegramSandbox, bot: Bot
) -> None:
    sent = await bot.send_message(ALICE, "Uploading…")

    assert await bot.delete_message(ALICE, sent.message_id) is True
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(ALICE, sent.message_id)
    assert sandbox.bot_messages(ALICE) == []
    assert sandbox.transcript(ALICE) == [("bot", "Uploading…"), ("bot-delete", "Uploading…")]


async def test_user_reply_to_a_bot_message_carries_reply_to_message(
    sandbox: TelegramSandbox, bot: Bot
) -> None:
    question = await bot.send_message(ALICE, "Title?")
    await sandbox.user_send_text(
        ALICE, ALICE, "Launch day", reply_to_message_id=question.message_id
    )

    [update] = await bot.get_updates(timeout=0)
    answer = await bot.send_message(ALICE, "Saved", reply_to_message_id=update.message.message_id)

    assert update.message.reply_to_message.text == "Title?"
    assert update.message.reply_to_message.from_user.is_bot
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "Launch day"


async def test_allowed_updates_drops_other_update_types(
    sandbox: TelegramSandbox, bot: Bot
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    sent = await bot.send_message(ALICE, "Sure?", reply_markup=keyboard)
    await sandbox.user_send_text(ALICE, ALICE, "typed")
    await sandbox.user_press(ALICE, ALICE, sent.message_id, "yes")

    only_queries = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    later = await bot.get_updates(timeout=0)

    assert [u.callback_query.data for u in only_queries if u.callback_query] == ["yes"]
    assert len(only_queries) == 1
    assert [u.update_id for u in later] == [only_queries[0].update_id]


async def test_button_press_reaches_callback_handler_and_answer_is_recorded(
    sandbox: TelegramSandbox,
) -> None:
    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        buttons = [[InlineKeyboardButton("Publish", callback_data="publish:7")]]
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "Publish task 7?", reply_markup=InlineKeyboardMarkup(buttons)
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer(f"got {query.data}", show_alert=True)
        await query.edit_message_text("Task 7 scheduled")

    handlers = (CommandHandler("publish", ask), CallbackQueryHandler(pressed))
    async with running(sandbox, *handlers):
        await sandbox.user_send_text(ALICE, ALICE, "/publish")
        question = await sandbox.wait_for_bot_message(ALICE, lambda m: "?" in m["text"], WAIT_S)
        query_id = await sandbox.user_press(ALICE, ALICE, question["message_id"], "publish:7")
        answer = await sandbox.wait_for_callback_answer(query_id, WAIT_S)
        done = await sandbox.wait_for_bot_message(
            ALICE, lambda m: m["text"] == "Task 7 scheduled", WAIT_S
        )

    assert (answer["text"], answer["show_alert"]) == ("got publish:7", True)
    assert sandbox.callback_answers == [answer]
    assert done["message_id"] == question["message_id"]
    assert ("user", "[pressed Publish]") in sandbox.transcript(ALICE)


async def test_pressing_a_button_the_message_lacks_needs_force(
    sandbox: TelegramSandbox, bot: Bot
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    sent = await bot.send_message(ALICE, "Sure?", reply_markup=keyboard)

    with pytest.raises(SandboxError, match="no button"):
        await sandbox.user_press(ALICE, ALICE, sent.message_id, "delete-everything")
    await sandbox.user_press(ALICE, ALICE, sent.message_id, "delete-everything", force=True)
    [update] = await bot.get_updates(timeout=0)

    assert update.callback_query is not None
    assert update.callback_query.data == "delete-everything"


async def test_video_as_video_and_as_document_arrive_with_one_file_unique_id(
    sandbox: TelegramSandbox, tmp_path: Path
) -> None:
    async def describe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        media = message.video or message.document
        assert media is not None
        kind = "video" if message.video else "document"
        await message.reply_text(f"{kind} {media.file_unique_id} {media.mime_type}")

    clip = sample_video(tmp_path)
    video_filter = filters.VIDEO | filters.Document.VIDEO
    async with running(sandbox, MessageHandler(video_filter, describe)):
        await sandbox.user_send_video(ALICE, ALICE, clip, "first", duration=42)
        await sandbox.user_send_video(ALICE, ALICE, clip, as_document=True)
        await sandbox.wait_for_bot_message(ALICE, lambda m: m["text"].startswith("doc"), WAIT_S)

    [as_video, as_document] = [m["text"].split() for m in sandbox.bot_messages(ALICE)]
    assert as_video[0] == "video" and as_document[0] == "document"
    assert as_video[1] == as_document[1]
    assert as_video[2] == as_document[2] == "video/mp4"


async def test_video_message_carries_telegram_video_fields(
    sandbox: TelegramSandbox, tmp_path: Path
) -> None:
    message = await sandbox.user_send_video(
        ALICE, ALICE, sample_video(tmp_path), "Launch /publish", width=1920, height=1080
    )

    video = message["video"]
    assert set(video) >= {"file_id", "file_unique_id", "file_size", "mime_type", "file_name"}
    assert (video["width"], video["height"], video["file_size"]) == (1920, 1080, 299_776)
    assert message["caption_entities"] == [{"type": "bot_command", "offset": 7, "length": 8}]


async def test_download_to_drive_gets_identical_bytes(
    sandbox: TelegramSandbox, bot: Bot, tmp_path: Path
) -> None:
    clip = sample_video(tmp_path)
    message = await sandbox.user_send_video(ALICE, ALICE, clip)

    telegram_file = await bot.get_file(message["video"]["file_id"])
    saved = await telegram_file.download_to_drive(tmp_path / "downloaded.mp4")

    assert telegram_file.file_path is not None
    assert telegram_file.file_path.startswith(f"{sandbox.url}/file/bot{TOKEN}/videos/")
    assert saved.read_bytes() == clip.read_bytes()


async def test_file_over_20_mb_is_too_big_in_cloud_mode(
    sandbox: TelegramSandbox, bot: Bot, tmp_path: Path
) -> None:
    message = await sandbox.user_send_video(ALICE, ALICE, big_file(tmp_path))

    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(message["video"]["file_id"])


async def test_local_mode_gives_absolute_path_for_file_over_20_mb(
    local_sandbox: TelegramSandbox, tmp_path: Path
) -> None:
    source = big_file(tmp_path)
    message = await local_sandbox.user_send_video(ALICE, ALICE, source, as_document=True)

    async with make_bot(local_sandbox, local_mode=True) as local_bot:
        telegram_file = await local_bot.get_file(message["document"]["file_id"])
        copied = await telegram_file.download_to_drive(tmp_path / "copy.mp4")
        in_place = await telegram_file.download_to_drive()

    assert telegram_file.file_path is not None
    assert Path(telegram_file.file_path).is_absolute()
    assert in_place == Path(telegram_file.file_path)
    assert in_place.is_relative_to(local_sandbox.files_dir)
    assert telegram_file.file_size == BIG_FILE_BYTES
    assert sha256(copied) == sha256(source)


async def test_local_mode_bot_upload_by_file_uri_is_stored(
    local_sandbox: TelegramSandbox, tmp_path: Path
) -> None:
    report = tmp_path / "weekly report.csv"
    report.write_text("day,uploads\nmon,3\n")

    async with make_bot(local_sandbox, local_mode=True) as local_bot:
        sent = await local_bot.send_document(ALICE, report)

    assert local_sandbox.api_calls[-1][1]["document"].startswith("file:///")
    assert sent.document is not None
    assert local_sandbox.file_bytes(sent.document.file_id) == report.read_bytes()


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<b>unclosed", 'can\'t find end tag corresponding to start tag "b"'),
        ("<video>x</video>", 'unsupported start tag "video" at byte offset 0'),
        ("<b>x</i>", 'unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("1 < 2", 'unsupported start tag "" at byte offset 2'),
        ("x</b>", "unexpected end tag at byte offset 1"),
        ('<a href="https://x.org>x</a>', "unclosed start tag at byte offset 0"),
    ],
)
async def test_html_parse_errors_are_bad_requests(bot: Bot, html: str, reason: str) -> None:
    with pytest.raises(BadRequest) as raised:
        await bot.send_message(ALICE, html, parse_mode=ParseMode.HTML)

    assert raised.value.message == f"Can't parse entities: {reason}"


async def test_html_becomes_text_with_utf16_entities(bot: Bot) -> None:
    html = (
        '🎬 <b>Title</b> &lt;draft&gt; <a href="https://youtu.be/x">watch</a> '
        '<tg-spoiler>soon</tg-spoiler> <pre><code class="language-json">{}</code></pre>'
    )

    sent = await bot.send_message(ALICE, html, parse_mode=ParseMode.HTML)

    assert sent.text == "🎬 Title <draft> watch soon {}"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 3, 5),
        ("text_link", 17, 5),
        ("spoiler", 23, 4),
        ("pre", 28, 2),
    ]
    assert sent.entities[1].url == "https://youtu.be/x"
    assert sent.entities[3].language == "json"


async def test_markdown_v2_reserved_character_must_be_escaped(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"character '\.' is reserved"):
        await bot.send_message(ALICE, "*Done*.", parse_mode=ParseMode.MARKDOWN_V2)

    sent = await bot.send_message(ALICE, r"*Done*\.", parse_mode=ParseMode.MARKDOWN_V2)
    assert (sent.text, sent.entities[0].type) == ("Done.", "bold")


async def test_text_limits_follow_telegram(bot: Bot) -> None:
    await bot.send_message(ALICE, "x" * 4096)

    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ALICE, "x" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(ALICE, "   ")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_photo(ALICE, png_bytes(2, 2), caption="c" * 1025)


async def test_callback_data_over_64_bytes_is_button_data_invalid(bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="é" * 33)]])

    with pytest.raises(BadRequest) as raised:
        await bot.send_message(ALICE, "Pick", reply_markup=keyboard)

    assert raised.value.message.upper() == "BUTTON_DATA_INVALID"


async def test_sending_to_an_unknown_chat_is_chat_not_found(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(777, "anyone?")


async def test_photo_upload_is_stored_and_its_file_id_can_be_sent_again(
    sandbox: TelegramSandbox, bot: Bot
) -> None:
    picture = png_bytes(64, 36)

    first = await bot.send_photo(ALICE, picture, caption="Thumbnail")
    again = await bot.send_photo(ALICE, first.photo[-1].file_id)

    size = first.photo[-1]
    assert (size.width, size.height, size.file_size) == (64, 36, len(picture))
    assert sandbox.file_bytes(size.file_id) == picture
    assert again.photo[-1].file_unique_id == size.file_unique_id
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(ALICE, b"not an image")


async def test_document_upload_keeps_name_and_mime_type(
    sandbox: TelegramSandbox, bot: Bot
) -> None:
    sent = await bot.send_document(ALICE, b"day,uploads\n", filename="report.csv")

    assert sent.document is not None
    assert (sent.document.file_name, sent.document.mime_type) == ("report.csv", "text/csv")
    assert sandbox.file_bytes(sent.document.file_id) == b"day,uploads\n"


async def test_fail_next_with_retry_after_raises_retry_after(
    sandbox: TelegramSandbox, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22 warns on int retry_after unless it is told to hand out timedeltas already.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    sandbox.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)

    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(ALICE, "first")
    await bot.send_message(ALICE, "second")

    assert raised.value.retry_after == dt.timedelta(seconds=7)
    assert [m["text"] for m in sandbox.bot_messages(ALICE)] == ["second"]


async def test_migrated_group_raises_chat_migrated(sandbox: TelegramSandbox, bot: Bot) -> None:
    sandbox.group(GROUP, "Editors")
    await bot.send_message(GROUP, "before")
    sandbox.migrate_group(GROUP, SUPERGROUP, by_user_id=ALICE)

    with pytest.raises(ChatMigrated) as raised:
        await bot.send_message(GROUP, "after")
    moved = await bot.send_message(raised.value.new_chat_id, "after")

    assert raised.value.new_chat_id == SUPERGROUP
    assert moved.chat.type == "supergroup"
    updates = await bot.get_updates(timeout=0)
    assert updates[0].message is not None
    assert updates[0].message.migrate_to_chat_id == SUPERGROUP


async def test_wrong_token_is_unauthorized_and_initialize_puts_the_token_in_the_message(
    sandbox: TelegramSandbox,
) -> None:
    stranger = make_bot(sandbox, token="987654321:not-the-token")

    # Bot.initialize calls getMe, re-raises with the token in the text, and closes the client.
    with pytest.raises(InvalidToken) as raised:
        async with stranger:
            pass

    assert isinstance(raised.value.__cause__, InvalidToken)
    assert raised.value.__cause__.message == "Unauthorized"
    assert "987654321:not-the-token" in raised.value.message


async def test_outage_fails_bot_requests_until_lifted(sandbox: TelegramSandbox, bot: Bot) -> None:
    for mode in ("bad_gateway", "drop"):
        sandbox.set_outage(True, mode=mode)
        with pytest.raises(NetworkError):
            await bot.send_message(ALICE, "during outage")
    sandbox.set_outage(False)

    await bot.send_message(ALICE, "after outage")

    assert [m["text"] for m in sandbox.bot_messages(ALICE)] == ["after outage"]


async def test_long_poll_holds_until_an_update_and_offset_confirms(
    sandbox: TelegramSandbox, bot: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    done, _ = await asyncio.wait({poll}, timeout=0.3)
    assert not done

    await sandbox.user_send_text(ALICE, ALICE, "hello")
    [update] = await asyncio.wait_for(poll, WAIT_S)
    repeated = await bot.get_updates(timeout=0)
    confirmed = await bot.get_updates(offset=update.update_id + 1, timeout=0)

    assert update.message is not None and update.message.text == "hello"
    assert [u.update_id for u in repeated] == [update.update_id]
    assert confirmed == ()


async def test_second_bot_instance_polling_terminates_the_held_poll(
    sandbox: TelegramSandbox, bot: Bot
) -> None:
    # A Bot's getUpdates has its own one-connection pool, so a conflict takes two instances.
    held = asyncio.create_task(bot.get_updates(timeout=5))
    done, _ = await asyncio.wait({held}, timeout=0.3)
    assert not done

    async with make_bot(sandbox) as second_instance:
        await second_instance.get_updates(timeout=0)

    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(held, WAIT_S)


async def test_commands_can_be_set_read_and_deleted(bot: Bot) -> None:
    await bot.set_my_commands([("publish", "Publish a video"), ("status", "Queue status")])
    listed = await bot.get_my_commands()
    await bot.delete_my_commands()

    assert [c.command for c in listed] == ["publish", "status"]
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Publish-Now", "bad name")])


async def test_chat_action_and_get_chat(sandbox: TelegramSandbox, bot: Bot) -> None:
    await bot.send_chat_action(ALICE, "upload_video")
    chat = await bot.get_chat(ALICE)

    assert sandbox.chat_actions == [(ALICE, "upload_video")]
    assert (chat.type, chat.first_name, chat.username) == ("private", "Alice", "alice")


async def test_raw_http_requests_json_query_string_and_unknown_method(
    sandbox: TelegramSandbox,
) -> None:
    async with httpx.AsyncClient(base_url=f"{sandbox.url}/bot{TOKEN}") as client:
        by_json = await client.post("/sendMessage", json={"chat_id": ALICE, "text": "json"})
        by_query = await client.get("/getMe")
        unknown = await client.post("/sendHologram")

    assert by_json.json()["result"]["text"] == "json"
    assert by_query.json()["result"]["username"] == "publish_manager_bot"
    assert unknown.status_code == 404
    assert unknown.json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }


async def test_control_api_over_http_plays_the_user(
    sandbox: TelegramSandbox, tmp_path: Path
) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
        assert update.effective_message is not None
        await update.effective_message.reply_text("Welcome", reply_markup=keyboard)

    async with (
        running(sandbox, CommandHandler("start", start)),
        httpx.AsyncClient(base_url=f"{sandbox.url}/_sandbox", timeout=WAIT_S * 2) as client,
    ):
        await client.post("/user", json={"id": 7, "first_name": "Bo"})
        await client.post("/send_text", json={"chat_id": 7, "user_id": 7, "text": "/start"})
        waited = await client.post("/wait_for_bot_message", json={"chat_id": 7, "contains": "Wel"})
        message = waited.json()["result"]
        pressed = await client.post(
            "/press",
            json={"chat_id": 7, "user_id": 7, "message_id": message["message_id"], "data": "ok"},
        )
        missing = await client.post(
            "/press", json={"chat_id": 7, "user_id": 7, "message_id": 99, "data": "x"}
        )
        transcript = await client.post("/transcript", json={"chat_id": 7})

    assert message["reply_markup"]["inline_keyboard"][0][0]["text"] == "OK"
    assert pressed.json()["ok"] is True
    assert missing.status_code == 400
    assert transcript.json()["result"][:2] == [["user", "/start"], ["bot", "Welcome [OK]"]]


async def test_wait_for_bot_message_times_out_naming_the_chat(sandbox: TelegramSandbox) -> None:
    with pytest.raises(TimeoutError, match=f"chat {ALICE}"):
        await sandbox.wait_for_bot_message(ALICE, lambda m: True, timeout=0.2)


async def test_module_serves_out_of_process(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.telegram",
        *("--port", str(port), "--token", TOKEN, "--files", str(tmp_path / "files")),
        stdout=asyncio.subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), WAIT_S)
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), WAIT_S)

    assert f"127.0.0.1:{port}" in banner.decode()
    assert TOKEN not in banner.decode()
    assert answer.json()["result"]["is_bot"] is True
    assert process.returncode == 0
