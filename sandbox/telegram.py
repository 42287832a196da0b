"""Emulates the Telegram Bot API over HTTP so the real python-telegram-bot runs against it.

The bot side speaks the wire protocol: ``POST <root>/bot<token>/<method>`` with form, multipart,
JSON or query-string parameters, and ``GET <root>/file/bot<token>/<file_path>`` for downloads.
Tests and the demo play the human side through the Python methods of :class:`TelegramSandbox`
on the same event loop, or from another process through ``POST <root>/_sandbox/<action>`` with a
JSON object of the method's keyword arguments; the answer is ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": ...}``. Actions: user, group, send_text, send_video, send_photo,
send_document, send_audio, press, bot_messages, transcript, callback_answers, api_calls,
wait_for_bot_message (``contains`` instead of a predicate), wait_for_callback_answer, fail_next,
set_outage, migrate_group. ``GET <root>/_sandbox/files/<file_id>`` serves a stored file.

Run it alone with ``python -m sandbox.telegram --port P --token T --files DIR [--local]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import hashlib
import itertools
import json
import logging
import mimetypes
import re
import signal
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]

MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_CHARS = 200
MAX_UPDATES_PER_CALL = 100
CLOUD_DOWNLOAD_LIMIT_BYTES = 20 * 1024 * 1024
LOCAL_FILE_LIMIT_BYTES = 2000 * 1024 * 1024
CLOUD_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024
COPY_CHUNK_BYTES = 1024 * 1024
SUPERGROUP_ID_BELOW = -1_000_000_000_000
API_CALLS_KEPT = 10_000
API_METHODS = (
    "getMe",
    "getUpdates",
    "deleteWebhook",
    "getWebhookInfo",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "deleteMessage",
    "sendPhoto",
    "sendDocument",
    "sendVideo",
    "sendAudio",
    "sendChatAction",
    "answerCallbackQuery",
    "getFile",
    "getChat",
    "close",
    "logOut",
)

# Telegram delivers these update types unless allowed_updates asks for the others explicitly.
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
MEDIA_KINDS = ("photo", "video", "document", "audio")
_FOLDERS = {"photo": "photos", "video": "videos", "document": "documents", "audio": "music"}
_FILE_ID_PREFIXES = {"photo": "AgAC", "video": "BAAC", "document": "BQAC", "audio": "CQAC"}

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
GETUPDATES_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
WRONG_FILE = "wrong file identifier/HTTP URL specified"
# What nginx in front of api.telegram.org answers while the Bot API is down.
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
OUTAGE_MODES = ("bad_gateway", "drop")


class SandboxError(Exception):
    """Signals that a test or the demo asked the sandbox for something a human could not do."""


class _BotApiError(Exception):
    """Carries a Telegram-shaped error answer from a method to the HTTP layer."""

    def __init__(self, error_code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        """Renders the error the way api.telegram.org does."""
        return _error_response(self.error_code, self.description, self.parameters)


def _error_response(
    error_code: int, description: str, parameters: JSONDict | None = None
) -> web.Response:
    body: JSONDict = {"ok": False, "error_code": error_code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=error_code)


def _bad_request(description: str) -> _BotApiError:
    return _BotApiError(400, f"Bad Request: {description}")


def _u16(text: str) -> int:
    """Counts UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# Formatted text: Telegram's HTML, MarkdownV2 and legacy Markdown, with its error wording.


class _EntityParseError(Exception):
    """Holds the reason Telegram gives after "can't parse entities: "."""


class _TextBuilder:
    """Accumulates plain text and tracks its length in UTF-16 code units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.u16 = 0
        self.chars = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.u16 += _u16(text)
        self.chars += len(text)

    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class _Open:
    kind: str
    start: int
    byte_pos: int
    tag: str = ""
    text_index: int = 0
    attrs: dict[str, str] = field(default_factory=dict)
    language: str | None = None


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{2,8}));")


def _decode_html_entity(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _HTML_NAMED_ENTITIES.get(name)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return chr(code)
    return None


def _decode_html_entities(text: str) -> str:
    return _HTML_ENTITY.sub(lambda m: _decode_html_entity(m) or m.group(0), text)


class _HtmlParser:
    """Parses Telegram's HTML subset the way the Bot API server does, byte offsets included."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.out = _TextBuilder()
        self.stack: list[_Open] = []
        self.entities: list[JSONDict] = []

    def run(self) -> tuple[str, list[JSONDict]]:
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == "&" and self._entity():
                continue
            if char != "<":
                self.out.add(char)
                self.pos += 1
            elif self.src.startswith("</", self.pos):
                self._close_tag()
            else:
                self._open_tag()
        if self.stack:
            tag = self.stack[-1].tag
            raise _EntityParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        return self.out.text(), self.entities

    def _offset(self, pos: int) -> int:
        return len(self.src[:pos].encode())

    def _skip_spaces(self, pos: int) -> int:
        while pos < len(self.src) and self.src[pos].isspace():
            pos += 1
        return pos

    def _word_end(self, pos: int, stop: str = ">") -> int:
        while pos < len(self.src) and not self.src[pos].isspace() and self.src[pos] not in stop:
            pos += 1
        return pos

    def _entity(self) -> bool:
        match = _HTML_ENTITY.match(self.src, self.pos)
        decoded = _decode_html_entity(match) if match else None
        if match is None or decoded is None:
            return False
        self.out.add(decoded)
        self.pos = match.end()
        return True

    def _unclosed(self, begin: int) -> _EntityParseError:
        return _EntityParseError(f"Unclosed start tag at byte offset {self._offset(begin)}")

    def _open_tag(self) -> None:
        begin = self.pos
        name_end = self._word_end(begin + 1)
        if name_end >= len(self.src):
            raise self._unclosed(begin)
        tag = self.src[begin + 1 : name_end].lower()
        if tag not in _HTML_TAGS:
            offset = self._offset(begin)
            raise _EntityParseError(f'Unsupported start tag "{tag}" at byte offset {offset}')
        attrs = self._attributes(tag, name_end, begin)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            offset = self._offset(begin)
            raise _EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        self.stack.append(_Open(_HTML_TAGS[tag], self.out.u16, begin, tag=tag, attrs=attrs))

    def _attributes(self, tag: str, pos: int, begin: int) -> dict[str, str]:
        attrs: dict[str, str] = {}
        while True:
            pos = self._skip_spaces(pos)
            if pos >= len(self.src):
                raise self._unclosed(begin)
            if self.src[pos] == ">":
                self.pos = pos + 1
                return attrs
            name_end = self._word_end(pos, stop="=>")
            name = self.src[pos:name_end].lower()
            pos = self._skip_spaces(name_end)
            if pos < len(self.src) and self.src[pos] == "=":
                attrs[name], pos = self._attribute_value(self._skip_spaces(pos + 1), begin)
            elif tag == "blockquote" and name == "expandable":
                attrs[name] = ""
            else:
                raise _EntityParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {self._offset(begin)}'
                )

    def _attribute_value(self, pos: int, begin: int) -> tuple[str, int]:
        if pos >= len(self.src):
            raise self._unclosed(begin)
        quote = self.src[pos]
        if quote in "'\"":
            end = self.src.find(quote, pos + 1)
            if end == -1:
                raise self._unclosed(begin)
            return _decode_html_entities(self.src[pos + 1 : end]), end + 1
        end = self._word_end(pos)
        return _decode_html_entities(self.src[pos:end]), end

    def _close_tag(self) -> None:
        begin = self.pos
        if not self.stack:
            raise _EntityParseError(f"Unexpected end tag at byte offset {self._offset(begin)}")
        name_end = self._word_end(begin + 2)
        name = self.src[begin + 2 : name_end].lower()
        pos = self._skip_spaces(name_end)
        if pos >= len(self.src) or self.src[pos] != ">":
            raise _EntityParseError(f"Unclosed end tag at byte offset {self._offset(begin)}")
        opened = self.stack.pop()
        if name and name != opened.tag:
            raise _EntityParseError(
                f"Unmatched end tag at byte offset {self._offset(begin)}, "
                f'expected "</{opened.tag}>", found "</{name}>"'
            )
        self.pos = pos + 1
        self._finish(opened)

    def _finish(self, opened: _Open) -> None:
        css_class = opened.attrs.get("class", "")
        parent = self.stack[-1] if self.stack else None
        if opened.kind == "code" and parent and parent.kind == "pre":
            if css_class.startswith("language-"):
                parent.language = css_class.removeprefix("language-")
            return
        length = self.out.u16 - opened.start
        entity: JSONDict = {"type": opened.kind, "offset": opened.start, "length": length}
        if opened.kind == "text_link":
            entity["url"] = opened.attrs.get("href", "")
        elif opened.kind == "pre" and opened.language:
            entity["language"] = opened.language
        elif opened.kind == "blockquote" and "expandable" in opened.attrs:
            entity["type"] = "expandable_blockquote"
        elif opened.kind == "custom_emoji":
            entity["custom_emoji_id"] = opened.attrs.get("emoji-id", "")
        if length > 0 and entity.get("url", True):
            self.entities.append(entity)


_MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}
_MARKDOWN_V2_SIMPLE = {"*": "bold", "~": "strikethrough"}


class _MarkdownV2Parser:
    """Parses MarkdownV2 like the Bot API server, including its reserved-character rule."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.out = _TextBuilder()
        self.stack: list[_Open] = []
        self.entities: list[JSONDict] = []

    def run(self) -> tuple[str, list[JSONDict]]:
        while self.pos < len(self.src):
            self._step()
        if self.stack and self.stack[-1].kind == "blockquote":
            self._close()
        if self.stack:
            opened = self.stack[-1]
            name = _MARKDOWN_V2_NAMES[opened.kind]
            raise _EntityParseError(
                f"Can't find end of {name} entity at byte offset {self._offset(opened.byte_pos)}"
            )
        return self.out.text(), self.entities

    def _offset(self, pos: int) -> int:
        return len(self.src[:pos].encode())

    def _at(self, pos: int) -> str:
        return self.src[pos] if pos < len(self.src) else ""

    def _step(self) -> None:
        char, following = self.src[self.pos], self._at(self.pos + 1)
        top = self.stack[-1].kind if self.stack else None
        if char == "\\" and following and 0 < ord(following) <= 126:
            self.out.add(following)
            self.pos += 2
        elif top in ("code", "pre") and char != "`":
            self.out.add(char)
            self.pos += 1
        elif char == "\n" and top == "blockquote" and following != ">":
            self._close()
        elif char not in _MARKDOWN_V2_RESERVED:
            self.out.add(char)
            self.pos += 1
        elif self._closes(char, top):
            self._close()
        else:
            self._open(char)

    def _closes(self, char: str, top: str | None) -> bool:
        if top == "underline":
            return self.src.startswith("__", self.pos)
        if top == "spoiler":
            return self.src.startswith("||", self.pos)
        if top == "pre":
            return self.src.startswith("```", self.pos)
        ends = {"bold": "*", "italic": "_", "strikethrough": "~", "code": "`", "text_link": "]"}
        ends["custom_emoji"] = "]"
        return top is not None and ends.get(top) == char

    def _close(self) -> None:
        opened = self.stack.pop()
        marker = {"underline": 2, "spoiler": 2, "pre": 3, "blockquote": 0}.get(opened.kind, 1)
        self.pos += marker
        length = self.out.u16 - opened.start
        entity: JSONDict = {"type": opened.kind, "offset": opened.start, "length": length}
        if opened.kind in ("text_link", "custom_emoji"):
            url = self._link_target(opened)
            key = "url" if opened.kind == "text_link" else "custom_emoji_id"
            entity[key] = url.removeprefix("tg://emoji?id=")
        if opened.kind == "pre" and opened.language:
            entity["language"] = opened.language
        if length > 0:
            self.entities.append(entity)

    def _link_target(self, opened: _Open) -> str:
        if self._at(self.pos) != "(":
            return self.out.text()[opened.text_index :]
        begin = self.pos
        url: list[str] = []
        self.pos += 1
        while self.pos < len(self.src) and self.src[self.pos] != ")":
            if self.src[self.pos] == "\\" and 0 < ord(self._at(self.pos + 1) or "\0") <= 126:
                self.pos += 1
            url.append(self.src[self.pos])
            self.pos += 1
        if self.pos >= len(self.src):
            offset = self._offset(begin)
            raise _EntityParseError(f"Can't find end of a URL at byte offset {offset}")
        self.pos += 1
        return "".join(url)

    def _open(self, char: str) -> None:
        begin, kind, skip = self.pos, None, 1
        line_start = begin == 0 or self.src[begin - 1] == "\n"
        if char in _MARKDOWN_V2_SIMPLE:
            kind = _MARKDOWN_V2_SIMPLE[char]
        elif char == "_":
            kind, skip = ("underline", 2) if self.src.startswith("__", begin) else ("italic", 1)
        elif char == "|" and self.src.startswith("||", begin):
            kind, skip = "spoiler", 2
        elif char == "[":
            kind = "text_link"
        elif char == "!" and self._at(begin + 1) == "[":
            kind, skip = "custom_emoji", 2
        elif char == ">" and line_start:
            kind = "blockquote"
        elif char == "`":
            kind, skip = ("pre", 3) if self.src.startswith("```", begin) else ("code", 1)
        if kind is None:
            raise _EntityParseError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        if kind == "blockquote" and self.stack and self.stack[-1].kind == "blockquote":
            self.pos += 1
            return
        self.pos += skip
        opened = _Open(kind, self.out.u16, begin, text_index=self.out.chars)
        if kind == "pre":
            opened.language = self._pre_language()
        self.stack.append(opened)

    def _pre_language(self) -> str | None:
        newline = self.src.find("\n", self.pos)
        closing = self.src.find("```", self.pos)
        if newline == -1 or (closing != -1 and closing < newline):
            return None
        language = self.src[self.pos : newline]
        self.pos = newline + 1
        return language or None


def _parse_markdown_v1(source: str) -> tuple[str, list[JSONDict]]:
    """Parses legacy Markdown: no nesting, and only the markers themselves can be escaped."""
    out = _TextBuilder()
    entities: list[JSONDict] = []
    kinds = {"*": "bold", "_": "italic", "`": "code", "[": "text_link"}
    pos = 0
    while pos < len(source):
        char = source[pos]
        if char == "\\" and pos + 1 < len(source) and source[pos + 1] in kinds:
            out.add(source[pos + 1])
            pos += 2
            continue
        if char not in kinds:
            out.add(char)
            pos += 1
            continue
        is_pre = source.startswith("```", pos)
        marker = "```" if is_pre else ("]" if char == "[" else char)
        start = pos + len(marker) if is_pre else pos + 1
        end = source.find(marker, start)
        if end == -1:
            offset = len(source[:pos].encode())
            raise _EntityParseError(
                f"Can't find end of the entity starting at byte offset {offset}"
            )
        inner = source[start:end]
        entity: JSONDict = {"type": "pre" if is_pre else kinds[char], "offset": out.u16}
        out.add(inner)
        entity["length"] = _u16(inner)
        pos = end + len(marker)
        if char == "[" and not is_pre:
            url_end = source.find(")", pos) if source.startswith("(", pos) else -1
            entity["url"] = source[pos + 1 : url_end] if url_end != -1 else inner
            pos = url_end + 1 if url_end != -1 else pos
        if entity["length"]:
            entities.append(entity)
    return out.text(), entities


def _parse_formatted(text: str, parse_mode: str | None) -> tuple[str, list[JSONDict]]:
    mode = (parse_mode or "").lower()
    try:
        if mode == "html":
            return _HtmlParser(text).run()
        if mode == "markdownv2":
            return _MarkdownV2Parser(text).run()
        if mode == "markdown":
            return _parse_markdown_v1(text)
    except _EntityParseError as exc:
        raise _bad_request(f"can't parse entities: {exc}") from exc
    raise _bad_request("unsupported parse_mode")


def _strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trims surrounding whitespace like Telegram does and clips entities to what is left."""
    stripped = text.strip()
    shift = _u16(text[: len(text) - len(text.lstrip())])
    total = _u16(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    kept.sort(key=lambda e: (e["offset"], -e["length"]))
    return stripped, kept


_USER_ENTITY_PATTERNS = (
    ("bot_command", re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b")),
    ("hashtag", re.compile(r"(?<![\w#])#\w+")),
)


def _user_entities(text: str) -> list[JSONDict]:
    """Finds the entities Telegram clients attach to plain typed text."""
    found: list[JSONDict] = []
    for kind, pattern in _USER_ENTITY_PATTERNS:
        for match in pattern.finditer(text):
            offset = _u16(text[: match.start()])
            found.append({"type": kind, "offset": offset, "length": _u16(match.group(0))})
    found.sort(key=lambda e: e["offset"])
    return found


# --------------------------------------------------------------------------------------------
# Files.


def _copy_hashing(source: Path | IO[bytes], target: Path) -> tuple[str, int]:
    """Copies a file chunk by chunk and answers its SHA-256 and size."""
    digest = hashlib.sha256()
    size = 0
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(source.open("rb")) if isinstance(source, Path) else source
        writer = stack.enter_context(target.open("wb"))
        while chunk := reader.read(COPY_CHUNK_BYTES):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _unique_id(sha256_hex: str) -> str:
    raw = base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)[:9]).decode()
    return f"AgAD{raw}"


def _image_size(path: Path) -> tuple[int, int] | None:
    """Reads the pixel size of a PNG, GIF or JPEG file from its header."""
    with path.open("rb") as reader:
        head = reader.read(32)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
            width, height = struct.unpack(">II", head[16:24])
            return width, height
        if head[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", head[6:10])
            return width, height
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(reader)
    return None


def _jpeg_size(reader: IO[bytes]) -> tuple[int, int] | None:
    start_of_frame = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE}
    reader.seek(2)
    while True:
        marker = reader.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        if marker[1] == 0xD8 or 0xD0 <= marker[1] <= 0xD7:
            continue
        length_bytes = reader.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if marker[1] in start_of_frame:
            frame = reader.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height
        reader.seek(length - 2, 1)


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    path: Path
    size: int
    kind: str
    attrs: JSONDict

    def as_object(self) -> JSONDict:
        """Renders the Telegram object (PhotoSize, Video, Document or Audio) for this file."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            **self.attrs,
            "file_size": self.size,
        }


@dataclass
class _Upload:
    temp_path: Path
    sha256: str
    size: int
    file_name: str
    mime_type: str


# --------------------------------------------------------------------------------------------
# Chats, messages, requests.


@dataclass
class _Record:
    message: JSONDict
    by_bot: bool
    changed_seq: int
    edit_count: int = 0
    previous_texts: list[str] = field(default_factory=list)
    deleted: bool = False

    def view(self) -> JSONDict:
        """Answers the message as a test sees it: the Telegram shape plus edit history."""
        return {
            **copy.deepcopy(self.message),
            "edit_count": self.edit_count,
            "previous_texts": list(self.previous_texts),
        }


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    user: JSONDict | None = None
    messages: dict[int, _Record] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    next_message_id: int = 1
    migrated_to: int | None = None

    def as_dict(self) -> JSONDict:
        """Renders the Chat object that messages carry."""
        chat: JSONDict = {"id": self.id, "type": self.type}
        if self.user is None:
            chat["title"] = self.title
            return chat
        for key in ("first_name", "last_name", "username"):
            if self.user.get(key):
                chat[key] = self.user[key]
        return chat


@dataclass
class _Fault:
    error_code: int
    description: str
    parameters: JSONDict | None


class _Signal:
    """Wakes every waiter whenever the state it guards changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, ready: Callable[[], bool], within_s: float) -> bool:
        """Waits until ready() holds or within_s passes; answers whether it holds."""
        try:
            async with asyncio.timeout(within_s):
                while not ready():
                    await self._event.wait()
        except TimeoutError:
            return ready()
        return True


class _Params:
    """Holds one Bot API call's parameters and types them on demand like the real server."""

    def __init__(self, values: JSONDict, uploads: dict[str, _Upload]) -> None:
        self.values = values
        self.uploads = uploads

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))

    def structured(self, name: str, what: str) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {what} JSON object") from None

    def chat_id(self) -> int | str:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        try:
            return int(value)
        except (TypeError, ValueError):
            return str(value)

    def public(self) -> JSONDict:
        """Answers the parameters with uploads replaced by their file names, for api_calls."""
        shown = dict(self.values)
        shown.update({name: f"<upload {u.file_name}>" for name, u in self.uploads.items()})
        return shown

    def discard_uploads(self) -> None:
        for upload in self.uploads.values():
            upload.temp_path.unlink(missing_ok=True)


def _inline_buttons(markup: JSONDict | None) -> Iterator[JSONDict]:
    for row in (markup or {}).get("inline_keyboard", []):
        yield from row


def _describe(message: JSONDict) -> str:
    """Renders a message as one transcript line: media, text or caption, then buttons."""
    parts = []
    for kind in MEDIA_KINDS:
        if kind in message:
            media = message[kind][-1] if kind == "photo" else message[kind]
            parts.append(f"[{kind} {media.get('file_name', media['file_unique_id'])}]")
    if message.get("text") or message.get("caption"):
        parts.append(message.get("text") or message["caption"])
    buttons = " ".join(f"[{b['text']}]" for b in _inline_buttons(message.get("reply_markup")))
    if buttons:
        parts.append(buttons)
    if "migrate_to_chat_id" in message:
        parts.append(f"(group upgraded to supergroup {message['migrate_to_chat_id']})")
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# The sandbox.


class TelegramSandbox:
    """Serves the Telegram Bot API on loopback and lets tests play the people in the chats."""

    def __init__(
        self,
        files_dir: Path,
        *,
        token: str,
        bot_username: str = "publish_manager_bot",
        local_mode: bool = False,
        privacy_mode: bool = False,
    ) -> None:
        self.files_dir = Path(files_dir).absolute()
        self.local_mode = local_mode
        self.privacy_mode = privacy_mode
        self._token = token
        bot_id = token.split(":", 1)[0]
        self.bot_user: JSONDict = {
            "id": int(bot_id) if bot_id.isdigit() else 7_000_000_001,
            "is_bot": True,
            "first_name": "Publish Manager",
            "username": bot_username,
        }
        self.api_calls: deque[tuple[str, JSONDict]] = deque(maxlen=API_CALLS_KEPT)
        self.chat_actions: list[tuple[int, str]] = []
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, _Chat] = {}
        self._updates: list[JSONDict] = []
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._poller = 0
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._queries: dict[str, JSONDict] = {}
        self._callback_answers: list[JSONDict] = []
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._blobs: dict[str, Path] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._outage: str | None = None
        self._closing = False
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(100_000_001)
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._updates_signal = _Signal()
        self._bot_signal = _Signal()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._methods: dict[str, Callable[[_Params], Any]] = {
            name.lower(): getattr(self, f"_api_{_snake(name)}") for name in API_METHODS
        }

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Starts serving on host:port (port 0 picks a free one)."""
        (self.files_dir / ".incoming").mkdir(parents=True, exist_ok=True)
        app = web.Application(client_max_size=CLOUD_UPLOAD_LIMIT_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_download)
        app.router.add_get("/_sandbox/files/{file_id}", self._handle_control_file)
        app.router.add_post("/_sandbox/{action}", self._handle_control)
        # aiohttp's access log would write the bot token, which is part of every request path.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self._url = f"http://{bound_host}:{bound_port}"
        self._closing = False
        logger.info("Telegram sandbox serving on %s", self._url)

    async def stop(self) -> None:
        """Releases held long polls and stops serving."""
        self._closing = True
        self._updates_signal.fire()
        self._bot_signal.fire()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def token(self) -> str:
        """The bot token this server accepts."""
        return self._token

    @property
    def url(self) -> str:
        """Answers the server root, e.g. http://127.0.0.1:PORT."""
        if self._url is None:
            raise SandboxError("the sandbox is not started")
        return self._url

    # -- people and chats -------------------------------------------------------------------

    def user(
        self,
        id: int,
        first_name: str = "Alice",
        language_code: str = "en",
        username: str | None = None,
    ) -> JSONDict:
        """Registers (or updates) a person and their private chat with the bot."""
        if id <= 0:
            raise SandboxError("user ids are positive")
        person: JSONDict = {"id": id, "is_bot": False, "first_name": first_name}
        if username:
            person["username"] = username
        person["language_code"] = language_code
        self._users[id] = person
        chat = self._chats.setdefault(id, _Chat(id=id, type="private"))
        chat.user = person
        return dict(person)

    def group(self, chat_id: int, title: str) -> JSONDict:
        """Creates a group (or a supergroup for -100... ids) in which any registered user posts."""
        if chat_id >= 0:
            raise SandboxError("group chat ids are negative")
        kind = "supergroup" if chat_id < SUPERGROUP_ID_BELOW else "group"
        chat = self._chats.setdefault(chat_id, _Chat(id=chat_id, type=kind))
        chat.title = title
        return chat.as_dict()

    def migrate_group(
        self, old_chat_id: int, new_chat_id: int, *, by_user_id: int | None = None
    ) -> JSONDict:
        """Upgrades a group to a supergroup: the bot's sends to the old id fail from now on."""
        old = self._chat(old_chat_id)
        if old.type != "group" or new_chat_id >= SUPERGROUP_ID_BELOW:
            raise SandboxError("only a group migrates, and to a -100... supergroup id")
        new_chat = self.group(new_chat_id, old.title or "")
        old.migrated_to = new_chat_id
        sender = {"from": dict(self._users[by_user_id])} if by_user_id in self._users else {}
        self._post_service(old, sender | {"migrate_to_chat_id": new_chat_id})
        self._post_service(self._chat(new_chat_id), sender | {"migrate_from_chat_id": old.id})
        return new_chat

    def _post_service(self, chat: _Chat, content: JSONDict) -> None:
        message = {
            "message_id": chat.next_message_id,
            "chat": chat.as_dict(),
            "date": int(time.time()),
            **content,
        }
        chat.next_message_id += 1
        chat.messages[message["message_id"]] = _Record(message, False, next(self._seq))
        chat.log.append(("user", _describe(message)))
        self._push_update("message", message)

    # -- what people do ---------------------------------------------------------------------

    async def user_send_text(
        self, chat_id: int, user_id: int, text: str, reply_to_message_id: int | None = None
    ) -> JSONDict:
        """Posts text as a person; commands get bot_command entities like real clients add."""
        if not text.strip():
            raise SandboxError("clients do not send empty messages")
        content: JSONDict = {"text": text}
        if entities := _user_entities(text):
            content["entities"] = entities
        return self._post_user_message(chat_id, user_id, content, reply_to_message_id)

    async def user_send_video(
        self,
        chat_id: int,
        user_id: int,
        path: Path | str,
        caption: str | None = None,
        *,
        as_document: bool = False,
        mime_type: str = "video/mp4",
        file_name: str | None = None,
        duration: int = 10,
        width: int = 1280,
        height: int = 720,
        reply_to_message_id: int | None = None,
        media_group_id: str | None = None,
    ) -> JSONDict:
        """Sends a video, as a video or (as_document) as a file; media_group_id makes albums."""
        path = Path(path)
        attrs: JSONDict = {"file_name": file_name or path.name, "mime_type": mime_type}
        if not as_document:
            attrs = {"duration": duration, "width": width, "height": height, **attrs}
        kind = "document" if as_document else "video"
        stored = await self._store_path(path, kind, attrs)
        content = {kind: stored.as_object(), **_caption_content(caption)}
        content |= {"media_group_id": media_group_id} if media_group_id else {}
        return self._post_user_message(chat_id, user_id, content, reply_to_message_id)

    async def user_send_photo(
        self,
        chat_id: int,
        user_id: int,
        path: Path | str,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
    ) -> JSONDict:
        """Sends a picture as a photo; the size comes from the image header unless given."""
        path = Path(path)
        size = (width, height) if width and height else _image_size(path)
        if size is None:
            raise SandboxError(f"{path.name} is not a PNG, GIF or JPEG; pass width and height")
        stored = await self._store_path(path, "photo", {"width": size[0], "height": size[1]})
        content = {"photo": [stored.as_object()], **_caption_content(caption)}
        return self._post_user_message(chat_id, user_id, content, reply_to_message_id)

    async def user_send_document(
        self,
        chat_id: int,
        user_id: int,
        path: Path | str,
        caption: str | None = None,
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """Sends any file as a document."""
        path = Path(path)
        name = file_name or path.name
        guessed = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        stored = await self._store_path(
            path, "document", {"file_name": name, "mime_type": guessed}
        )
        content = {"document": stored.as_object(), **_caption_content(caption)}
        return self._post_user_message(chat_id, user_id, content, reply_to_message_id)

    async def user_send_audio(
        self,
        chat_id: int,
        user_id: int,
        path: Path | str,
        caption: str | None = None,
        *,
        mime_type: str = "audio/mpeg",
        file_name: str | None = None,
        duration: int = 180,
        performer: str | None = None,
        title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """Sends a music file as audio."""
        path = Path(path)
        attrs: JSONDict = {"duration": duration}
        attrs |= {k: v for k, v in (("performer", performer), ("title", title)) if v}
        attrs |= {"file_name": file_name or path.name, "mime_type": mime_type}
        stored = await self._store_path(path, "audio", attrs)
        content = {"audio": stored.as_object(), **_caption_content(caption)}
        return self._post_user_message(chat_id, user_id, content, reply_to_message_id)

    async def user_press(
        self, chat_id: int, user_id: int, message_id: int, data: str, *, force: bool = False
    ) -> str:
        """Presses a bot message's inline button and answers the callback query id."""
        chat = self._chat_for(chat_id, user_id)
        record = chat.messages.get(message_id)
        if record is None or record.deleted or not record.by_bot:
            raise SandboxError(f"chat {chat_id} has no bot message {message_id}")
        buttons = [b for b in _inline_buttons(record.message.get("reply_markup"))]
        labels = {b.get("callback_data"): b["text"] for b in buttons}
        if data not in labels and not force:
            raise SandboxError(
                f"message {message_id} has no button with callback_data {data!r}; "
                f"it has {sorted(k for k in labels if k is not None)}"
            )
        query_id = str(4_200_000_000_000_000_000 + next(self._ids))
        query: JSONDict = {
            "id": query_id,
            "from": dict(self._users[user_id]),
            "message": copy.deepcopy(record.message),
            "chat_instance": str(abs(hash((chat_id, self.bot_user["id"])))),
            "data": data,
        }
        self._queries[query_id] = {"query": query, "chat_id": chat_id, "answered": False}
        chat.log.append(("user", f"[pressed {labels.get(data, data)}]"))
        self._push_update("callback_query", query)
        return query_id

    # -- what tests look at -----------------------------------------------------------------

    def bot_messages(self, chat_id: int) -> list[JSONDict]:
        """Answers the current state of every undeleted message the bot sent to a chat."""
        records = self._chat(chat_id).messages.values()
        return [r.view() for r in records if r.by_bot and not r.deleted]

    def transcript(self, chat_id: int) -> list[tuple[str, str]]:
        """Answers the conversation as (who, text): user, bot, bot-edit, bot-delete, bot-answer."""
        return list(self._chat(chat_id).log)

    @property
    def callback_answers(self) -> list[JSONDict]:
        """Answers every answerCallbackQuery call, oldest first."""
        return copy.deepcopy(self._callback_answers)

    def file_bytes(self, file_id: str) -> bytes:
        """Reads a stored file whole; meant for photos and other small files."""
        return self._stored(file_id).path.read_bytes()

    def file_path(self, file_id: str) -> Path:
        """Answers where a stored file lives on disk."""
        return self._stored(file_id).path

    async def wait_for_bot_message(
        self,
        chat_id: int,
        predicate: Callable[[JSONDict], bool],
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        new_only: bool = False,
    ) -> JSONDict:
        """Answers the latest bot message satisfying predicate, waiting for sends and edits.

        Messages already there count too, unless new_only asks for sends and edits after the call.
        """
        chat = self._chat(chat_id)
        after = self._last_seq if new_only else 0
        found: list[JSONDict] = []

        def match() -> bool:
            candidates = [r for r in chat.messages.values() if r.by_bot and not r.deleted]
            for record in sorted(candidates, key=lambda r: r.changed_seq, reverse=True):
                if record.changed_seq > after and predicate(view := record.view()):
                    found.append(view)
                    return True
            return False

        if not await self._bot_signal.wait_until(match, timeout) or not found:
            raise TimeoutError(
                f"no bot message in chat {chat_id} matched within {timeout} s; "
                f"the conversation ends with {chat.log[-5:]}"
            )
        return found[-1]

    async def wait_for_callback_answer(
        self,
        query_id: str,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> JSONDict:
        """Waits until the bot answers the callback query."""

        def answered() -> bool:
            return any(a["callback_query_id"] == query_id for a in self._callback_answers)

        if not await self._bot_signal.wait_until(answered, timeout):
            raise TimeoutError(f"the bot did not answer callback query {query_id} in {timeout} s")
        return next(a for a in self.callback_answers if a["callback_query_id"] == query_id)

    # -- fault injection --------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        count: int = 1,
    ) -> None:
        """Makes the next count calls of a method ("*" for any) answer this Telegram error."""
        parameters: JSONDict = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        fault = _Fault(error_code, description, parameters or None)
        self._faults.setdefault(method.lower(), deque()).extend([fault] * count)

    def set_outage(self, active: bool, *, mode: str = "bad_gateway") -> None:
        """Makes every Bot API request fail (502 from nginx, or a dropped connection) or heals."""
        if mode not in OUTAGE_MODES:
            raise SandboxError(f"outage mode is one of {OUTAGE_MODES}")
        self._outage = mode if active else None
        self._updates_signal.fire()

    # -- internals: chats and messages ------------------------------------------------------

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise SandboxError(f"chat {chat_id} does not exist; call user() or group() first")
        return chat

    def _chat_for(self, chat_id: int, user_id: int) -> _Chat:
        if user_id not in self._users:
            raise SandboxError(f"user {user_id} is not registered; call user() first")
        chat = self._chat(chat_id)
        if chat.type == "private" and chat_id != user_id:
            raise SandboxError(f"user {user_id} cannot write in the private chat of {chat_id}")
        if chat.migrated_to is not None:
            raise SandboxError(f"group {chat_id} became supergroup {chat.migrated_to}")
        return chat

    def _stored(self, file_id: str) -> _StoredFile:
        stored = self._files.get(file_id)
        if stored is None:
            raise SandboxError(f"no stored file has file_id {file_id}")
        return stored

    def _new_message(
        self, chat: _Chat, sender: JSONDict, content: JSONDict, reply_to: int | None
    ) -> JSONDict:
        message: JSONDict = {
            "message_id": chat.next_message_id,
            "from": dict(sender),
            "chat": chat.as_dict(),
            "date": int(time.time()),
        }
        if reply_to is not None:
            target = chat.messages[reply_to].message
            message["reply_to_message"] = {
                k: copy.deepcopy(v) for k, v in target.items() if k != "reply_to_message"
            }
        message.update(content)
        chat.next_message_id += 1
        return message

    def _record(self, chat: _Chat, message: JSONDict, *, by_bot: bool) -> _Record:
        self._last_seq = next(self._seq)
        record = _Record(message, by_bot, self._last_seq)
        chat.messages[message["message_id"]] = record
        chat.log.append(("bot" if by_bot else "user", _describe(message)))
        if by_bot:
            self._bot_signal.fire()
        return record

    def _post_user_message(
        self, chat_id: int, user_id: int, content: JSONDict, reply_to: int | None
    ) -> JSONDict:
        chat = self._chat_for(chat_id, user_id)
        if reply_to is not None and reply_to not in chat.messages:
            raise SandboxError(f"chat {chat_id} has no message {reply_to} to reply to")
        message = self._new_message(chat, self._users[user_id], content, reply_to)
        self._record(chat, message, by_bot=False)
        if self._bot_sees(chat, message):
            self._push_update("message", message)
        return copy.deepcopy(message)

    def _bot_sees(self, chat: _Chat, message: JSONDict) -> bool:
        """Applies group privacy mode: commands, replies to the bot and mentions only."""
        if chat.type == "private" or not self.privacy_mode:
            return True
        username = self.bot_user["username"].lower()
        text = message.get("text") or message.get("caption") or ""
        for entity in message.get("entities", []) + message.get("caption_entities", []):
            piece = text[entity["offset"] : entity["offset"] + entity["length"]].lower()
            if entity["type"] == "bot_command" and piece.partition("@")[2] in ("", username):
                return True
            if entity["type"] == "mention" and piece == f"@{username}":
                return True
        replied = message.get("reply_to_message", {}).get("from", {})
        return bool(replied.get("id") == self.bot_user["id"])

    def _push_update(self, kind: str, payload: JSONDict) -> None:
        update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
        self._updates.append(update)
        self._updates_signal.fire()

    # -- internals: files -------------------------------------------------------------------

    def _incoming_path(self) -> Path:
        return self.files_dir / ".incoming" / f"part-{next(self._ids)}"

    async def _store_path(self, source: Path, kind: str, attrs: JSONDict) -> _StoredFile:
        temp = self._incoming_path()
        try:
            sha256, size = await asyncio.to_thread(_copy_hashing, source, temp)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise SandboxError(f"cannot read {source}: {exc}") from exc
        return self._adopt(temp, sha256, size, kind, attrs, source.suffix)

    def _adopt(
        self, temp: Path, sha256: str, size: int, kind: str, attrs: JSONDict, suffix: str
    ) -> _StoredFile:
        """Files a received copy under files_dir, sharing storage with identical bytes."""
        unique = _unique_id(sha256)
        path = self._blobs.get(unique)
        if path is None:
            number = next(self._ids)
            path = self.files_dir / _FOLDERS[kind] / f"file_{number}{suffix.lower()}"
            path.parent.mkdir(exist_ok=True)
            temp.replace(path)
            self._blobs[unique] = path
        else:
            temp.unlink()
        file_id = f"{_FILE_ID_PREFIXES[kind]}AgIAAxkBAA{next(self._ids):06d}{unique[4:]}"
        stored = _StoredFile(file_id, unique, path, size, kind, attrs)
        self._files[file_id] = stored
        self._files_by_path[path.relative_to(self.files_dir).as_posix()] = stored
        return stored

    # -- internals: HTTP --------------------------------------------------------------------

    async def _handle_bot(self, request: web.Request) -> web.StreamResponse:
        if self._outage:
            return self._outage_response(request)
        if request.match_info["token"] != self._token:
            return _error_response(401, "Unauthorized")
        name = request.match_info["method"]
        method = self._methods.get(name.lower())
        if method is None:
            return _error_response(404, "Not Found: method not found")
        params = _Params({}, {})
        try:
            params = await self._read_params(request)
            self.api_calls.append((name, params.public()))
            self._raise_injected_fault(name)
            result = await method(params)
            response = web.json_response({"ok": True, "result": result})
        except _BotApiError as exc:
            response = exc.response()
        finally:
            params.discard_uploads()
        logger.debug("Bot API %s answered %s", name, response.status)
        # A long poll held across the start of an outage must not return updates.
        return self._outage_response(request) if self._outage else response

    def _outage_response(self, request: web.Request) -> web.StreamResponse:
        if self._outage == "drop" and request.transport is not None:
            request.transport.close()
        return web.Response(status=502, text=BAD_GATEWAY_HTML, content_type="text/html")

    def _raise_injected_fault(self, name: str) -> None:
        for key in (name.lower(), "*"):
            queue = self._faults.get(key)
            if queue:
                fault = queue.popleft()
                raise _BotApiError(fault.error_code, fault.description, fault.parameters)

    async def _read_params(self, request: web.Request) -> _Params:
        values: JSONDict = dict(request.query)
        uploads: dict[str, _Upload] = {}
        params = _Params(values, uploads)
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is None:
                    values[part.name] = await part.text()
                else:
                    uploads[part.name] = await self._receive_upload(part)
        elif request.content_type == "application/json" and request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                raise _bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise _bad_request("JSON object expected")
            values.update(body)
        elif request.can_read_body:
            values.update(await request.post())
        return params

    async def _receive_upload(self, part: BodyPartReader) -> _Upload:
        limit = LOCAL_FILE_LIMIT_BYTES if self.local_mode else CLOUD_UPLOAD_LIMIT_BYTES
        temp = self._incoming_path()
        digest = hashlib.sha256()
        size = 0
        try:
            with temp.open("wb") as writer:
                while chunk := await part.read_chunk(256 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise _BotApiError(413, "Request Entity Too Large")
                    digest.update(chunk)
                    writer.write(chunk)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        mime_type = part.headers.get("Content-Type", "application/octet-stream")
        return _Upload(temp, digest.hexdigest(), size, part.filename or "file", mime_type)

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        if self._outage:
            return self._outage_response(request)
        if request.match_info["token"] != self._token:
            return _error_response(401, "Unauthorized")
        stored = self._files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return _error_response(404, "Not Found")
        return web.FileResponse(stored.path)

    # -- Bot API methods --------------------------------------------------------------------

    async def _api_get_me(self, params: _Params) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_get_updates(self, params: _Params) -> list[JSONDict]:
        self._poller += 1
        me = self._poller
        self._updates_signal.fire()
        limit = min(max(params.integer("limit") or MAX_UPDATES_PER_CALL, 1), 100)
        timeout = max(params.number("timeout") or 0.0, 0.0)
        allowed = params.structured("allowed_updates", "allowed updates")
        if allowed is not None:
            self._allowed_updates = frozenset(allowed) or DEFAULT_UPDATE_TYPES
        self._confirm_updates(params.integer("offset"))

        def ready() -> bool:
            stop = self._closing or self._outage is not None or self._poller != me
            return stop or bool(self._deliverable())

        await self._updates_signal.wait_until(ready, timeout)
        if self._poller != me:
            raise _BotApiError(409, GETUPDATES_CONFLICT)
        return copy.deepcopy(self._deliverable()[:limit])

    def _confirm_updates(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _deliverable(self) -> list[JSONDict]:
        # Telegram never stores updates of types the bot did not ask for.
        self._updates = [u for u in self._updates if _update_kind(u) in self._allowed_updates]
        return self._updates

    async def _api_delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_get_webhook_info(self, params: _Params) -> JSONDict:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}

    async def _api_set_my_commands(self, params: _Params) -> bool:
        commands = params.structured("commands", "bot commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _api_get_my_commands(self, params: _Params) -> list[JSONDict]:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    async def _api_delete_my_commands(self, params: _Params) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        scope = params.structured("scope", "bot command scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.text("language_code") or ""

    def _target_chat(self, params: _Params) -> _Chat:
        chat_id = params.chat_id()
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise _bad_request("chat not found")
        if chat.migrated_to is not None:
            raise _BotApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def _formatted(self, params: _Params, name: str, limit: int) -> tuple[str, list[JSONDict]]:
        raw = params.text(name) or ""
        entities_name = "entities" if name == "text" else "caption_entities"
        if params.text("parse_mode"):
            text, entities = _parse_formatted(raw, params.text("parse_mode"))
        else:
            text = raw
            entities = params.structured(entities_name, "message entities") or []
        text, entities = _strip_text(text, entities)
        if name == "text" and not text:
            raise _bad_request("message text is empty")
        if len(text) > limit:
            too_long = "message is too long" if name == "text" else "message caption is too long"
            raise _bad_request(too_long)
        return text, entities

    def _inline_markup(self, params: _Params) -> JSONDict | None:
        markup = params.structured("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for button in _inline_buttons(markup):
            _check_button(button)
        return {"inline_keyboard": rows}

    def _reply_target(self, chat: _Chat, params: _Params) -> int | None:
        reply = params.structured("reply_parameters", "reply parameters") or {}
        message_id = reply.get("message_id") or params.integer("reply_to_message_id")
        if message_id is None:
            return None
        record = chat.messages.get(int(message_id))
        if record is not None and not record.deleted:
            return int(message_id)
        if reply.get("allow_sending_without_reply") or params.flag("allow_sending_without_reply"):
            return None
        raise _bad_request("message to be replied not found")

    def _bot_send(self, chat: _Chat, params: _Params, content: JSONDict) -> JSONDict:
        markup = self._inline_markup(params)
        reply_to = self._reply_target(chat, params)
        message = self._new_message(chat, self.bot_user, content, reply_to)
        if markup is not None:
            message["reply_markup"] = markup
        self._record(chat, message, by_bot=True)
        return copy.deepcopy(message)

    async def _api_send_message(self, params: _Params) -> JSONDict:
        chat = self._target_chat(params)
        text, entities = self._formatted(params, "text", MAX_TEXT_CHARS)
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._bot_send(chat, params, content)

    async def _api_send_photo(self, params: _Params) -> JSONDict:
        return await self._send_media(params, "photo")

    async def _api_send_document(self, params: _Params) -> JSONDict:
        return await self._send_media(params, "document")

    async def _api_send_video(self, params: _Params) -> JSONDict:
        return await self._send_media(params, "video")

    async def _api_send_audio(self, params: _Params) -> JSONDict:
        return await self._send_media(params, "audio")

    async def _send_media(self, params: _Params, kind: str) -> JSONDict:
        chat = self._target_chat(params)
        caption, entities = self._formatted(params, "caption", MAX_CAPTION_CHARS)
        self._inline_markup(params)
        stored = await self._media_input(params, kind)
        content: JSONDict = {kind: [stored.as_object()] if kind == "photo" else stored.as_object()}
        content |= {"caption": caption} if caption else {}
        content |= {"caption_entities": entities} if entities else {}
        return self._bot_send(chat, params, content)

    async def _media_input(self, params: _Params, kind: str) -> _StoredFile:
        value = params.text(kind) or ""
        upload = params.uploads.get(kind)
        if upload is None and value.startswith("attach://"):
            upload = params.uploads.get(value.removeprefix("attach://"))
        if upload is not None:
            return self._adopt_upload(upload, kind, params)
        if not value:
            raise _bad_request(f"there is no {kind} in the request")
        if value.startswith("file://") and self.local_mode:
            return await self._adopt_local_uri(value, kind, params)
        if value.startswith(("http://", "https://")):
            raise _bad_request("failed to get HTTP URL content")
        stored = self._files.get(value)
        if stored is None:
            raise _bad_request(WRONG_FILE)
        if kind == "photo" and stored.kind != "photo":
            raise _bad_request(f"can't use file of type {stored.kind.capitalize()} as Photo")
        return stored

    def _adopt_upload(self, upload: _Upload, kind: str, params: _Params) -> _StoredFile:
        if upload.size == 0:
            raise _bad_request("file must be non-empty")
        attrs = self._media_attrs(kind, upload.temp_path, upload.file_name, upload.mime_type)
        attrs |= self._given_media_attrs(kind, params)
        suffix = Path(upload.file_name).suffix or (".jpg" if kind == "photo" else "")
        return self._adopt(upload.temp_path, upload.sha256, upload.size, kind, attrs, suffix)

    async def _adopt_local_uri(self, uri: str, kind: str, params: _Params) -> _StoredFile:
        source = Path(unquote(uri.removeprefix("file://")))
        temp = self._incoming_path()
        try:
            sha256, size = await asyncio.to_thread(_copy_hashing, source, temp)
        except OSError:
            temp.unlink(missing_ok=True)
            raise _bad_request(WRONG_FILE) from None
        mime = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
        try:
            attrs = self._media_attrs(kind, temp, source.name, mime)
        except _BotApiError:
            temp.unlink()
            raise
        attrs |= self._given_media_attrs(kind, params)
        return self._adopt(temp, sha256, size, kind, attrs, source.suffix)

    def _media_attrs(self, kind: str, path: Path, file_name: str, mime_type: str) -> JSONDict:
        if kind == "photo":
            size = _image_size(path)
            if size is None:
                raise _bad_request("IMAGE_PROCESS_FAILED")
            return {"width": size[0], "height": size[1]}
        attrs: JSONDict = {"file_name": file_name, "mime_type": mime_type}
        if kind == "video":
            attrs = {"duration": 0, "width": 0, "height": 0, **attrs}
        elif kind == "audio":
            attrs = {"duration": 0, **attrs}
        return attrs

    def _given_media_attrs(self, kind: str, params: _Params) -> JSONDict:
        names = {"video": ("duration", "width", "height"), "audio": ("duration",)}
        given: dict[str, int | str | None] = {n: params.integer(n) for n in names.get(kind, ())}
        if kind == "audio":
            given |= {n: params.text(n) for n in ("performer", "title")}
        return {k: v for k, v in given.items() if v is not None}

    def _editable(self, params: _Params) -> tuple[_Chat, _Record]:
        if params.text("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat = self._target_chat(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        record = chat.messages.get(message_id)
        if record is None or record.deleted:
            raise _bad_request("message to edit not found")
        if not record.by_bot:
            raise _bad_request("message can't be edited")
        return chat, record

    def _apply_edit(
        self, chat: _Chat, record: _Record, content: JSONDict, markup: Any
    ) -> JSONDict:
        message = record.message
        before = str(message.get("text", message.get("caption", "")))
        for key, value in content.items():
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        after = str(message.get("text", message.get("caption", "")))
        if after != before:
            record.previous_texts.append(before)
        record.edit_count += 1
        message["edit_date"] = int(time.time())
        self._last_seq = record.changed_seq = next(self._seq)
        chat.log.append(("bot-edit", _describe(message)))
        self._bot_signal.fire()
        return copy.deepcopy(message)

    async def _api_edit_message_text(self, params: _Params) -> JSONDict:
        chat, record = self._editable(params)
        text, entities = self._formatted(params, "text", MAX_TEXT_CHARS)
        # Telegram drops the inline keyboard when an edit does not repeat it.
        markup = self._inline_markup(params)
        message = record.message
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        unchanged = (text, entities) == (message["text"], message.get("entities", []))
        if unchanged and markup == message.get("reply_markup"):
            raise _bad_request(NOT_MODIFIED)
        return self._apply_edit(chat, record, {"text": text, "entities": entities}, markup)

    async def _api_edit_message_caption(self, params: _Params) -> JSONDict:
        chat, record = self._editable(params)
        caption, entities = self._formatted(params, "caption", MAX_CAPTION_CHARS)
        markup = self._inline_markup(params)
        message = record.message
        if not any(kind in message for kind in MEDIA_KINDS):
            raise _bad_request("there is no caption in the message to edit")
        current = (message.get("caption", ""), message.get("caption_entities", []))
        if (caption, entities) == current and markup == message.get("reply_markup"):
            raise _bad_request(NOT_MODIFIED)
        content = {"caption": caption, "caption_entities": entities}
        return self._apply_edit(chat, record, content, markup)

    async def _api_edit_message_reply_markup(self, params: _Params) -> JSONDict:
        chat, record = self._editable(params)
        markup = self._inline_markup(params)
        if markup == record.message.get("reply_markup"):
            raise _bad_request(NOT_MODIFIED)
        return self._apply_edit(chat, record, {}, markup)

    async def _api_delete_message(self, params: _Params) -> bool:
        chat = self._target_chat(params)
        record = chat.messages.get(params.integer("message_id") or 0)
        if record is None or record.deleted:
            raise _bad_request("message to delete not found")
        record.deleted = True
        chat.log.append(("bot-delete", _describe(record.message)))
        self._bot_signal.fire()
        return True

    async def _api_send_chat_action(self, params: _Params) -> bool:
        chat = self._target_chat(params)
        action = params.text("action") or ""
        if action not in CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        self.chat_actions.append((chat.id, action))
        return True

    async def _api_answer_callback_query(self, params: _Params) -> bool:
        query_id = params.text("callback_query_id") or ""
        query = self._queries.get(query_id)
        if query is None or query["answered"]:
            raise _bad_request(QUERY_INVALID)
        text = params.text("text")
        if text and len(text) > MAX_CALLBACK_ANSWER_CHARS:
            raise _bad_request("MESSAGE_TOO_LONG")
        query["answered"] = True
        answer = {
            "callback_query_id": query_id,
            "text": text,
            "show_alert": params.flag("show_alert"),
            "url": params.text("url"),
            "cache_time": params.integer("cache_time"),
            "data": query["query"]["data"],
        }
        self._callback_answers.append(answer)
        if text:
            self._chats[query["chat_id"]].log.append(("bot-answer", text))
        self._bot_signal.fire()
        return True

    async def _api_get_file(self, params: _Params) -> JSONDict:
        stored = self._files.get(params.text("file_id") or "")
        if stored is None:
            raise _bad_request("invalid file_id")
        limit = LOCAL_FILE_LIMIT_BYTES if self.local_mode else CLOUD_DOWNLOAD_LIMIT_BYTES
        if stored.size > limit:
            raise _bad_request("file is too big")
        # A local Bot API server answers absolute paths that the bot reads from disk directly.
        file_path = (
            str(stored.path)
            if self.local_mode
            else stored.path.relative_to(self.files_dir).as_posix()
        )
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": file_path,
        }

    async def _api_get_chat(self, params: _Params) -> JSONDict:
        chat = self._target_chat(params)
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        return {
            **chat.as_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys((*gifts, "gifts_from_channels"), False),
        }

    async def _api_close(self, params: _Params) -> bool:
        return True

    async def _api_log_out(self, params: _Params) -> bool:
        return True

    # -- the user side over HTTP ------------------------------------------------------------

    async def _handle_control(self, request: web.Request) -> web.Response:
        actions: dict[str, Callable[..., Any]] = {
            "user": self.user,
            "group": self.group,
            "send_text": self.user_send_text,
            "send_video": self.user_send_video,
            "send_photo": self.user_send_photo,
            "send_document": self.user_send_document,
            "send_audio": self.user_send_audio,
            "press": self.user_press,
            "bot_messages": self.bot_messages,
            "transcript": self.transcript,
            "callback_answers": lambda: self.callback_answers,
            "api_calls": lambda: list(self.api_calls),
            "wait_for_bot_message": self._wait_containing,
            "wait_for_callback_answer": self.wait_for_callback_answer,
            "fail_next": self.fail_next,
            "set_outage": self.set_outage,
            "migrate_group": self.migrate_group,
        }
        action = actions.get(request.match_info["action"])
        if action is None:
            return web.json_response({"ok": False, "error": "unknown action"}, status=404)
        try:
            kwargs = await request.json() if request.can_read_body else {}
            result = action(**kwargs)
            if asyncio.iscoroutine(result):
                result = await result
        except TimeoutError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=408)
        except (SandboxError, TypeError, ValueError, KeyError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True, "result": result})

    async def _wait_containing(
        self,
        chat_id: int,
        contains: str = "",
        timeout: float = 10.0,  # noqa: ASYNC109
        new_only: bool = False,
    ) -> JSONDict:
        def has_text(message: JSONDict) -> bool:
            return contains in (message.get("text") or message.get("caption") or "")

        return await self.wait_for_bot_message(chat_id, has_text, timeout, new_only=new_only)

    async def _handle_control_file(self, request: web.Request) -> web.StreamResponse:
        stored = self._files.get(request.match_info["file_id"])
        if stored is None:
            return web.json_response({"ok": False, "error": "unknown file_id"}, status=404)
        return web.FileResponse(stored.path)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _update_kind(update: JSONDict) -> str:
    return next(key for key in update if key != "update_id")


def _caption_content(caption: str | None) -> JSONDict:
    if not caption:
        return {}
    if len(caption) > MAX_CAPTION_CHARS:
        raise SandboxError(f"clients do not send captions over {MAX_CAPTION_CHARS} characters")
    content: JSONDict = {"caption": caption}
    if entities := _user_entities(caption):
        content["caption_entities"] = entities
    return content


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise _bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    actions = set(button) - {"text"}
    if not actions:
        raise _bad_request("text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if "callback_data" in button and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
        raise _bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and not re.match(r"(https?|tg)://\S+$", str(url)):
        raise _bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


# --------------------------------------------------------------------------------------------
# Command line.


async def _serve(args: argparse.Namespace) -> None:
    sandbox = TelegramSandbox(
        Path(args.files),
        token=args.token,
        bot_username=args.bot_username,
        local_mode=args.local,
        privacy_mode=args.privacy,
    )
    await sandbox.start(args.host, args.port)
    print(f"Telegram sandbox serving on {sandbox.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    """Serves the sandbox until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.telegram", description="Emulate the Telegram Bot API on loopback."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", required=True)
    parser.add_argument("--files", required=True, help="directory for files people send")
    parser.add_argument("--bot-username", default="publish_manager_bot")
    parser.add_argument(
        "--local", action="store_true", help="behave like telegram-bot-api --local"
    )
    parser.add_argument("--privacy", action="store_true", help="group privacy mode on")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
