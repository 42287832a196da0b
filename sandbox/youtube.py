"""An emulator of the YouTube Data API v3 and Google's OAuth token endpoint, over real HTTP.

It speaks the wire protocol google-api-python-client and google-auth use: the refresh-token and
authorization-code grants, bearer-checked API calls with Google-shaped errors, resumable video
uploads (session creation, chunked PUTs, status queries), thumbnails.set, videos.list and
channels.list. Faults are injected with `YouTubeSandbox.fail_next`.

It also serves Google's OAuth device flow ("TVs and Limited Input devices"): `POST /device/code`
hands out a device code and a user code, and the device grant at `/token` answers the way
Google does while the person has not decided (428 authorization_pending), when polled too often
(403 slow_down), when refused (403 access_denied) and once the code has expired (400
expired_token). A test plays the person with `approve_device` and `deny_device`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

logger = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/youtube"
DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
#: The scopes Google allows in the device flow that the sandbox knows of (not youtube.upload).
DEVICE_SCOPES = frozenset(
    {
        SCOPE,
        "https://www.googleapis.com/auth/youtube.readonly",
        "openid",
        "email",
        "profile",
    }
)
#: Letters of user codes: no vowels (no words) and no look-alikes.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
ACCESS_TOKEN_TTL_S = 3600
#: Quota cost of each emulated call, in units.
UNIT_COSTS = {"videos.insert": 1600, "thumbnails.set": 50, "videos.list": 1, "channels.list": 1}
TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500
THUMBNAIL_MAX_BYTES = 2 * 1024 * 1024
READ_BLOCK_B = 256 * 1024
METADATA_MAX_B = 1024 * 1024

#: What `fail_next` can inject, and where each fault strikes.
FAULT_KINDS = {
    "insert": "error answering the next upload session creation (status, reason, message)",
    "chunk": "error answering the next data-carrying PUT; its bytes are discarded",
    "drop_chunk": "keep after_bytes bytes of the next data PUT, then drop the connection",
    "lose_final_response": "complete the next finishing PUT, then drop the connection",
    "expire_session": "forget the session of the next PUT, which then answers 404",
    "token": "error from the token endpoint (error=invalid_grant|invalid_client|..., status)",
    "auth": "answer the next bearer-checked API call 401 authError",
    "thumbnail": "error answering the next thumbnails.set (status, reason, message)",
    "list": "error answering the next videos.list or channels.list (status, reason, message)",
    "device_token": "error answering the next device-code poll (error=slow_down|..., status)",
}

_REASON_DOMAINS = {
    "quotaExceeded": "youtube.quota",
    "rateLimitExceeded": "usageLimits",
    "userRateLimitExceeded": "usageLimits",
    "authError": "global",
    "backendError": "global",
    "internalError": "global",
    "notFound": "global",
    "forbidden": "youtube.video",
}
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_PRIVACY_STATUSES = ("private", "unlisted", "public")
#: Google answers a device-code poll with these statuses: 428 while the person has not decided,
#: 403 when refused or polled too often, 400 once the code has expired.
_DEVICE_STATUSES = {
    "authorization_pending": 428,
    "slow_down": 403,
    "access_denied": 403,
    "expired_token": 400,
    "invalid_grant": 400,
}
_DEVICE_ERRORS = {
    "authorization_pending": "Precondition Required",
    "slow_down": "Forbidden",
    "access_denied": "Forbidden",
    "expired_token": "Expired",
    "invalid_grant": "The device code has already been used or is not valid.",
}
_CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class ReceivedVideo:
    """A video whose upload completed, as the sandbox stored it."""

    id: str
    channel_id: str
    client_id: str
    title: str
    description: str
    tags: list[str]
    category_id: str | None
    default_language: str | None
    made_for_kids: bool
    privacy_status: str
    publish_at: str | None
    size: int
    sha256: str
    path: Path
    thumbnail: bytes | None
    session_created_at: float
    completed_at: float
    default_audio_language: str | None = None
    requested_privacy_status: str = "private"
    thumbnail_mime_type: str | None = None


@dataclass
class SessionRecord:
    """One resumable session creation, with the wall time it was created at."""

    upload_id: str
    title: str
    created_at: float
    channel_id: str
    client_id: str
    size: int | None


@dataclass
class ChunkRecord:
    """One data-carrying PUT: where it claimed to start, how long it said it was, what arrived."""

    upload_id: str
    start: int
    length: int
    total: int | None
    received: int
    committed: int


@dataclass
class DeviceAuthorization:
    """One device-flow request, as the sandbox keeps it; `state` is what the person decided."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    created_at: float
    expires_at: float
    interval_s: float
    state: str = "pending"  # pending | approved | denied | claimed
    channel_id: str | None = None
    refresh_token: str | None = None
    last_poll_at: float | None = None


@dataclass
class DevicePoll:
    """One poll of the token endpoint with a device code, and the error it got (None: tokens)."""

    user_code: str
    at: float
    error: str | None


@dataclass
class _Client:
    client_id: str
    client_secret: str
    force_private: bool = False


@dataclass
class _Channel:
    channel_id: str
    title: str
    client_id: str
    created_at: float


@dataclass(frozen=True)
class _Grant:
    client_id: str
    channel_id: str
    expires_at: float


@dataclass
class _Session:
    record: SessionRecord
    metadata: dict[str, Any]
    path: Path
    total: int | None
    digest: Any = field(default_factory=hashlib.sha256)
    offset: int = 0
    final: dict[str, Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class _Fault:
    kind: str
    remaining: int
    skip: int
    channel_id: str | None
    params: dict[str, Any]


class _ApiError(Exception):
    """Raised inside handlers; the middleware answers it in Google's error shape."""

    def __init__(
        self, status: int, reason: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    def response(self) -> web.Response:
        """Return Google's JSON error for this failure."""
        error = {
            "domain": _REASON_DOMAINS.get(self.reason, "youtube.video"),
            "reason": self.reason,
            "message": self.message,
        }
        body = {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [error],
                "status": _STATUS_NAMES.get(self.status, "FAILED_PRECONDITION"),
            }
        }
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(int(self.retry_after))
        return web.json_response(body, status=self.status, headers=headers)


def _fault_error(fault: _Fault, default_status: int, default_reason: str) -> _ApiError:
    status = int(fault.params.get("status", default_status))
    reason = str(fault.params.get("reason", default_reason))
    message = str(fault.params.get("message", f"Injected failure: {reason}."))
    return _ApiError(status, reason, message, retry_after=fault.params.get("retry_after"))


def _now_rfc3339(instant: float) -> str:
    return datetime.fromtimestamp(instant, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _tags_length(tags: Iterable[str]) -> int:
    """Count tags the way YouTube does: quotes around a tag with a space, commas between."""
    tags = list(tags)
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def validate_metadata(metadata: dict[str, Any], now: float) -> None:
    """Refuse video metadata the way videos.insert does; raises the matching API error."""
    snippet = metadata.get("snippet") or {}
    status = metadata.get("status") or {}
    title = snippet.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _ApiError(400, "invalidTitle", "The request metadata specifies an empty title.")
    if len(title) > TITLE_MAX_CHARS or "<" in title or ">" in title:
        raise _ApiError(400, "invalidTitle", "The request metadata specifies an invalid title.")
    description = snippet.get("description") or ""
    if not isinstance(description, str) or len(description.encode()) > DESCRIPTION_MAX_BYTES:
        raise _ApiError(
            400, "invalidDescription", "The request metadata specifies an invalid description."
        )
    tags = snippet.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _ApiError(400, "invalidTags", "The request metadata specifies invalid tags.")
    if _tags_length(tags) > TAGS_MAX_CHARS:
        raise _ApiError(400, "invalidTags", "The request metadata specifies invalid tags.")
    category = snippet.get("categoryId")
    if category is not None and not (isinstance(category, str) and category.isdigit()):
        raise _ApiError(
            400, "invalidCategoryId", "The snippet.categoryId property specifies an invalid ID."
        )
    privacy = status.get("privacyStatus", "public")
    if privacy not in _PRIVACY_STATUSES:
        raise _ApiError(400, "invalidVideoMetadata", "The privacy status is not valid.")
    publish_at = status.get("publishAt")
    if publish_at is not None:
        _validate_publish_at(publish_at, privacy, now)


def _validate_publish_at(publish_at: Any, privacy: str, now: float) -> None:
    message = "The request metadata specifies an invalid scheduled publishing time."
    if privacy != "private" or not isinstance(publish_at, str):
        raise _ApiError(400, "invalidPublishAt", message)
    try:
        instant = datetime.fromisoformat(publish_at.replace("Z", "+00:00"))
    except ValueError:
        raise _ApiError(400, "invalidPublishAt", message) from None
    if instant.tzinfo is None or instant.timestamp() <= now:
        raise _ApiError(400, "invalidPublishAt", message)


def _parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """Return (start, end, total) of a Content-Range; None parts are `*`."""
    match = _CONTENT_RANGE.fullmatch((value or "").strip())
    if match is None:
        raise _ApiError(400, "badRequest", "The Content-Range header is missing or malformed.")
    start, end, total = match.groups()
    return (
        None if start is None else int(start),
        None if end is None else int(end),
        None if total == "*" else int(total),
    )


def _image_type(data: bytes) -> str | None:
    if data.startswith(_JPEG_MAGIC):
        return "image/jpeg"
    if data.startswith(_PNG_MAGIC):
        return "image/png"
    return None


class YouTubeSandbox:
    """A local YouTube Data API v3 and OAuth token endpoint, served by aiohttp."""

    def __init__(self, storage_dir: Path) -> None:
        #: What "now" is for publishAt checks (seconds since the epoch); tests set their clock.
        self.clock: Callable[[], float] = time.time
        self.storage_dir = Path(storage_dir)
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.videos: list[ReceivedVideo] = []
        self.sessions: list[SessionRecord] = []
        self.chunks: list[ChunkRecord] = []
        self.bytes_received = 0
        self.tokens_issued = 0
        #: Seconds the device endpoint tells clients to wait between polls (Google says 5).
        self.device_interval_s = 5.0
        #: Seconds a device code lives (Google says 1800).
        self.device_expires_s = 1800.0
        #: Seconds a slow_down adds to a device code's interval (RFC 8628 says 5).
        self.slow_down_step_s = 5.0
        self.device_authorizations: list[DeviceAuthorization] = []
        self.device_polls: list[DevicePoll] = []
        self._clients: dict[str, _Client] = {}
        self._channels: dict[str, _Channel] = {}
        self._refresh_tokens: dict[str, str] = {}
        #: The OAuth client each refresh token was issued to (a channel can consent to several).
        self._refresh_clients: dict[str, str] = {}
        self._access_tokens: dict[str, _Grant] = {}
        self._auth_codes: dict[str, str] = {}
        self._sessions: dict[str, _Session] = {}
        self._videos_by_id: dict[str, ReceivedVideo] = {}
        self._units: dict[str, int] = {}
        self._faults: list[_Fault] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._url = ""

    # -- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving on host:port (port 0 picks a free one)."""
        app = web.Application(middlewares=[self._errors], client_max_size=METADATA_MAX_B)
        app.add_routes(
            [
                web.post("/token", self._token),
                web.post("/device/code", self._device_code),
                web.get("/device", self._device_page),
                web.post("/upload/youtube/v3/videos", self._insert),
                web.put("/upload/youtube/v3/videos", self._put),
                web.post("/upload/youtube/v3/thumbnails/set", self._thumbnail),
                web.get("/youtube/v3/videos", self._videos_list),
                web.get("/youtube/v3/channels", self._channels_list),
                web.get("/_sandbox/videos", self._inspect_videos),
                web.get("/_sandbox/sessions", self._inspect_sessions),
                web.post("/_sandbox/channels", self._remote_add_channel),
                web.post("/_sandbox/auth_codes", self._remote_add_auth_code),
                web.post("/_sandbox/faults", self._remote_fail_next),
                web.post("/_sandbox/clients", self._remote_add_client),
                web.get("/_sandbox/devices", self._inspect_devices),
                web.post("/_sandbox/device/approve", self._remote_approve_device),
                web.post("/_sandbox/device/deny", self._remote_deny_device),
                web.post("/_sandbox/device/expire", self._remote_expire_device),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self._url = f"http://{bound_host}:{bound_port}/"
        logger.info("YouTube sandbox listening on %s", self._url)

    async def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """The API root, with a trailing slash; a discovery document's `rootUrl`."""
        if not self._url:
            raise RuntimeError("the sandbox is not started")
        return self._url

    @property
    def token_uri(self) -> str:
        """The OAuth token endpoint."""
        return self.url + "token"

    @property
    def device_uri(self) -> str:
        """The OAuth device authorization endpoint."""
        return self.url + "device/code"

    # -- set-up

    def add_channel(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        channel_id: str | None = None,
        title: str = "Sandbox channel",
    ) -> str:
        """Register an OAuth client and a refresh token acting for a channel; return its id."""
        self.add_client(client_id, client_secret)
        channel_id = self._ensure_channel(channel_id, title, client_id)
        self._refresh_tokens[refresh_token] = channel_id
        self._refresh_clients[refresh_token] = client_id
        return channel_id

    def add_client(self, client_id: str, client_secret: str) -> None:
        """Register an OAuth client (for the device flow, a "TVs and Limited Input" one)."""
        client = self._clients.setdefault(client_id, _Client(client_id, client_secret))
        if client.client_secret != client_secret:
            raise ValueError(f"client {client_id} is registered with another secret")

    def _ensure_channel(self, channel_id: str | None, title: str, client_id: str) -> str:
        channel_id = channel_id or "UC" + secrets.token_urlsafe(16)[:22]
        if channel_id not in self._channels:
            self._channels[channel_id] = _Channel(channel_id, title, client_id, time.time())
        return channel_id

    def approve_device(
        self,
        user_code: str,
        channel_id: str | None = None,
        *,
        title: str = "Sandbox channel",
        refresh_token: str | None = None,
        issue_refresh_token: bool = True,
    ) -> str:
        """Consent to a device code as the owner of a channel (a new one unless it exists).

        The next poll gets tokens: `refresh_token` (a fresh one if None), or none at all when
        `issue_refresh_token` is false, as Google answers some re-consents. Returns the channel.
        """
        device = self._pending_device(user_code)
        channel_id = self._ensure_channel(channel_id, title, device.client_id)
        device.state = "approved"
        device.channel_id = channel_id
        if issue_refresh_token:
            token = refresh_token or "1//sandbox-" + secrets.token_urlsafe(24)
            self._refresh_tokens[token] = channel_id
            self._refresh_clients[token] = device.client_id
            device.refresh_token = token
        return channel_id

    def deny_device(self, user_code: str) -> None:
        """Refuse a device code, as a person pressing "Cancel" on Google's page."""
        self._pending_device(user_code).state = "denied"

    def expire_device(self, user_code: str) -> None:
        """Let a device code run out now."""
        self._device_by_user_code(user_code).expires_at = time.time()

    def _device_by_user_code(self, user_code: str) -> DeviceAuthorization:
        wanted = user_code.strip().upper()
        for device in self.device_authorizations:
            if device.user_code == wanted:
                return device
        raise ValueError(f"no device code has the user code {user_code!r}")

    def _pending_device(self, user_code: str) -> DeviceAuthorization:
        device = self._device_by_user_code(user_code)
        if device.state != "pending" or device.expires_at <= time.time():
            raise ValueError(f"the user code {user_code!r} is no longer waiting for a decision")
        return device

    def add_auth_code(self, code: str, refresh_token: str) -> None:
        """Accept `code` once in an authorization-code grant, issuing `refresh_token`."""
        if refresh_token not in self._refresh_tokens:
            raise ValueError("register the refresh token with add_channel first")
        self._auth_codes[code] = refresh_token

    def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token and every access token of its channel."""
        channel_id = self._refresh_tokens.pop(refresh_token, None)
        self._refresh_clients.pop(refresh_token, None)
        for token, grant in list(self._access_tokens.items()):
            if grant.channel_id == channel_id:
                del self._access_tokens[token]

    def expire_access_tokens(self) -> None:
        """Make every issued access token invalid, as if an hour had passed."""
        self._access_tokens.clear()

    def force_private(self, client_id: str) -> None:
        """Force uploads through this client to private, like an unaudited API project."""
        self._clients[client_id].force_private = True

    def units_used(self, client_id: str) -> int:
        """Return the quota units the client's project has spent."""
        return self._units.get(client_id, 0)

    def fail_next(
        self, kind: str, count: int = 1, *, skip: int = 0, channel_id: str | None = None, **kw: Any
    ) -> None:
        """Inject a fault into the next `count` matching events, after letting `skip` pass.

        `channel_id` restricts the fault to one channel's calls; see FAULT_KINDS for the kinds.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if kind == "drop_chunk" and "after_bytes" not in kw:
            raise ValueError("drop_chunk needs after_bytes")
        self._faults.append(_Fault(kind, count, skip, channel_id, kw))

    def clear_faults(self) -> None:
        """Drop every fault not yet triggered."""
        self._faults.clear()

    async def wait_for_videos(self, n: int, timeout: float) -> list[ReceivedVideo]:  # noqa: ASYNC109
        """Wait until at least `n` uploads completed; raise TimeoutError after `timeout` s."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.videos) >= n)
        return list(self.videos)

    def _take_fault(self, kind: str, channel_id: str | None = None) -> _Fault | None:
        for fault in self._faults:
            if fault.kind != kind or fault.channel_id not in (None, channel_id):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            logger.debug("sandbox fault %s strikes", kind)
            return fault
        return None

    def _charge_refused(self, fault: _Fault, client_id: str, call: str) -> None:
        """Charge a call refused as invalid (4xx): YouTube bills invalid requests too."""
        status = int(fault.params.get("status", 500))
        if 400 <= status < 500 and fault.params.get("reason") != "quotaExceeded":
            self._charge(client_id, call)

    def _charge(self, client_id: str, call: str) -> None:
        self._units[client_id] = self._units.get(client_id, 0) + UNIT_COSTS[call]

    # -- plumbing

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except _ApiError as err:
            if not request.content.is_eof():
                await self._drain(request)
            return err.response()
        return response

    async def _drain(self, request: web.Request) -> int:
        """Read and discard what is left of a body, counting it as received."""
        drained = 0
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            async for block in request.content.iter_chunked(READ_BLOCK_B):
                drained += len(block)
        self.bytes_received += drained
        return drained

    def _authorize(self, request: web.Request) -> _Grant:
        header = request.headers.get("Authorization", "")
        grant = None
        if header.startswith("Bearer "):
            grant = self._access_tokens.get(header.removeprefix("Bearer ").strip())
        if grant is not None and grant.expires_at <= time.time():
            grant = None
        if grant is None or self._take_fault("auth", grant.channel_id) is not None:
            raise _ApiError(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        return grant

    def _base_url(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}/"

    @staticmethod
    def _abort(request: web.Request) -> web.Response:
        """Close the connection without answering; the client sees it drop mid-exchange."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    # -- OAuth

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant_type = str(form.get("grant_type", ""))
        if grant_type == DEVICE_GRANT_TYPE:
            return self._device_token(request, form)
        refresh_token = str(form.get("refresh_token", ""))
        if grant_type == "authorization_code":
            refresh_token = self._auth_codes.get(str(form.get("code", "")), "")
        fault = self._take_fault("token", self._refresh_tokens.get(refresh_token))
        if fault is not None:
            error = str(fault.params.get("error", "invalid_grant"))
            status = int(fault.params.get("status", 401 if error == "invalid_client" else 400))
            return self._oauth_error(status, error, f"Injected failure: {error}.")
        client_id, client_secret = self._client_credentials(request, form)
        client = self._clients.get(client_id)
        if client is None or client.client_secret != client_secret:
            return self._oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if grant_type not in ("refresh_token", "authorization_code"):
            return self._oauth_error(400, "unsupported_grant_type", "Invalid grant_type.")
        channel_id = self._refresh_tokens.get(refresh_token)
        if channel_id is None or self._refresh_clients.get(refresh_token) != client.client_id:
            message = (
                "Token has been expired or revoked."
                if grant_type == "refresh_token"
                else "Malformed auth code."
            )
            return self._oauth_error(400, "invalid_grant", message)
        body = self._issue_access_token(client.client_id, channel_id)
        if grant_type == "authorization_code":
            del self._auth_codes[str(form["code"])]
            body["refresh_token"] = refresh_token
        return web.json_response(body)

    def _issue_access_token(self, client_id: str, channel_id: str) -> dict[str, Any]:
        access_token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        self.tokens_issued += 1
        self._access_tokens[access_token] = _Grant(
            client_id, channel_id, time.time() + ACCESS_TOKEN_TTL_S
        )
        return {
            "access_token": access_token,
            "expires_in": ACCESS_TOKEN_TTL_S,
            "token_type": "Bearer",
            "scope": SCOPE,
        }

    # -- OAuth device flow

    async def _device_code(self, request: web.Request) -> web.Response:
        form = await request.post()
        client = self._clients.get(str(form.get("client_id", "")))
        if client is None:
            return self._oauth_error(401, "invalid_client", "The OAuth client was not found.")
        scopes = str(form.get("scope", "")).split()
        if not scopes or not set(scopes) <= DEVICE_SCOPES:
            return self._oauth_error(400, "invalid_scope", "Invalid device flow scope.")
        now = time.time()
        device = DeviceAuthorization(
            device_code="AH-sandbox-" + secrets.token_urlsafe(32),
            user_code=self._new_user_code(),
            client_id=client.client_id,
            scope=" ".join(scopes),
            created_at=now,
            expires_at=now + self.device_expires_s,
            interval_s=self.device_interval_s,
        )
        self.device_authorizations.append(device)
        logger.debug("sandbox device code issued to %s", client.client_id)
        return web.json_response(
            {
                "device_code": device.device_code,
                "user_code": device.user_code,
                "expires_in": self.device_expires_s,
                "interval": self.device_interval_s,
                "verification_url": f"{self._base_url(request)}device",
            }
        )

    def _new_user_code(self) -> str:
        taken = {d.user_code for d in self.device_authorizations}
        while True:
            letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
            code = f"{letters[:4]}-{letters[4:]}"
            if code not in taken:
                return code

    def _device_token(self, request: web.Request, form: Any) -> web.Response:
        """Answer one poll of the device grant the way Google's token endpoint does."""
        client_id, client_secret = self._client_credentials(request, form)
        client = self._clients.get(client_id)
        if client is None or client.client_secret != client_secret:
            return self._oauth_error(401, "invalid_client", "The OAuth client was not found.")
        code = str(form.get("device_code", ""))
        device = next((d for d in self.device_authorizations if d.device_code == code), None)
        if device is None or device.client_id != client_id:
            return self._oauth_error(400, "invalid_grant", "Malformed device code.")
        now = time.time()
        status, error = self._device_answer(device, now)
        device.last_poll_at = now
        self.device_polls.append(DevicePoll(device.user_code, now, error))
        if error is not None:
            return self._oauth_error(status, error, _DEVICE_ERRORS.get(error, error))
        assert device.channel_id is not None
        device.state = "claimed"
        body = self._issue_access_token(client_id, device.channel_id)
        if device.refresh_token is not None:
            body["refresh_token"] = device.refresh_token
        return web.json_response(body)

    def _device_answer(self, device: DeviceAuthorization, now: float) -> tuple[int, str | None]:
        """Return (HTTP status, OAuth error) for a poll; (200, None) hands out the tokens."""
        fault = self._take_fault("device_token")
        if fault is not None:
            error = str(fault.params.get("error", "slow_down"))
            if error == "slow_down":
                device.interval_s += self.slow_down_step_s
            return int(fault.params.get("status", _DEVICE_STATUSES.get(error, 400))), error
        if device.state == "claimed":
            return 400, "invalid_grant"
        if device.expires_at <= now:
            return 400, "expired_token"
        if device.state == "denied":
            return 403, "access_denied"
        if device.state == "approved":
            return 200, None
        # Arrival times wobble with the network; only a clearly early poll is too fast.
        early = device.last_poll_at is not None and now - device.last_poll_at < (
            device.interval_s * 0.8
        )
        if early:
            device.interval_s += self.slow_down_step_s
            return 403, "slow_down"
        return 428, "authorization_pending"

    async def _device_page(self, request: web.Request) -> web.Response:
        return web.Response(
            text="Sandbox device sign-in. Decide on a user code with\n"
            'POST /_sandbox/device/approve {"user_code": "ABCD-EFGH", "channel_id": ...}\n'
            'POST /_sandbox/device/deny {"user_code": "ABCD-EFGH"}\n'
        )

    @staticmethod
    def _client_credentials(request: web.Request, form: Any) -> tuple[str, str]:
        """Return the client id and secret, sent in the form or as HTTP Basic (both are valid)."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            with contextlib.suppress(ValueError):
                decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
                client_id, _, client_secret = decoded.partition(":")
                return unquote_plus(client_id), unquote_plus(client_secret)
        return str(form.get("client_id", "")), str(form.get("client_secret", ""))

    @staticmethod
    def _oauth_error(status: int, error: str, description: str) -> web.Response:
        return web.json_response({"error": error, "error_description": description}, status=status)

    # -- resumable upload

    async def _insert(self, request: web.Request) -> web.Response:
        grant = self._authorize(request)
        if request.query.get("uploadType") != "resumable":
            raise _ApiError(400, "badRequest", "Only resumable uploads are emulated.")
        raw = await request.read()
        fault = self._take_fault("insert", grant.channel_id)
        if fault is not None:
            self._charge_refused(fault, grant.client_id, "videos.insert")
            raise _fault_error(fault, 500, "backendError")
        self._charge(grant.client_id, "videos.insert")
        try:
            metadata = json.loads(raw or b"{}")
        except ValueError:
            raise _ApiError(400, "parseError", "The request body is not valid JSON.") from None
        if not isinstance(metadata, dict):
            raise _ApiError(400, "parseError", "The request body is not a JSON object.")
        # The publish instant is judged by the caller's clock when a test drives one.
        validate_metadata(metadata, self.clock())
        media_type = request.headers.get("X-Upload-Content-Type", "application/octet-stream")
        if not (media_type.startswith("video/") or media_type == "application/octet-stream"):
            raise _ApiError(400, "invalidMediaType", "The media type is not a video type.")
        length = request.headers.get("X-Upload-Content-Length")
        upload_id = secrets.token_urlsafe(24)
        record = SessionRecord(
            upload_id=upload_id,
            title=metadata["snippet"]["title"],
            created_at=time.time(),
            channel_id=grant.channel_id,
            client_id=grant.client_id,
            size=int(length) if length is not None else None,
        )
        path = self.storage_dir / f"{upload_id}.part"
        path.touch()
        self._sessions[upload_id] = _Session(record, metadata, path, record.size)
        self.sessions.append(record)
        location = (
            f"{self._base_url(request)}upload/youtube/v3/videos?uploadType=resumable"
            f"&part={request.query.get('part', 'snippet,status')}&upload_id={upload_id}"
        )
        logger.debug("sandbox session created for %s bytes", record.size)
        return web.Response(headers={"Location": location, "X-GUploader-UploadID": upload_id})

    async def _put(self, request: web.Request) -> web.Response:
        session = self._sessions.get(request.query.get("upload_id", ""))
        if session is None:
            raise _ApiError(404, "notFound", "The upload session does not exist or expired.")
        async with session.lock:
            if self._take_fault("expire_session", session.record.channel_id) is not None:
                del self._sessions[session.record.upload_id]
                raise _ApiError(404, "notFound", "The upload session does not exist or expired.")
            if session.final is not None:
                await self._drain(request)
                return web.json_response(session.final)
            start, end, total = _parse_content_range(request.headers.get("Content-Range"))
            if session.total is None:
                session.total = total
            elif total is not None and total != session.total:
                raise _ApiError(400, "badRequest", "The total size differs from the session's.")
            if start is None or end is None:
                await self._drain(request)
                return self._incomplete(session)
            return await self._put_chunk(request, session, start, end)

    async def _put_chunk(
        self, request: web.Request, session: _Session, start: int, end: int
    ) -> web.Response:
        length = end - start + 1
        declared = request.content_length
        if length <= 0 or (declared is not None and declared != length):
            raise _ApiError(400, "badRequest", "Content-Range and Content-Length disagree.")
        if session.total is not None and end >= session.total:
            raise _ApiError(400, "badRequest", "The chunk ends past the declared total size.")
        chunk = ChunkRecord(session.record.upload_id, start, length, session.total, 0, 0)
        self.chunks.append(chunk)
        if start != session.offset:
            chunk.received = await self._drain(request)
            return self._incomplete(session)
        channel_id = session.record.channel_id
        fault = self._take_fault("chunk", channel_id)
        if fault is not None:
            chunk.received = await self._drain(request)
            raise _fault_error(fault, 503, "backendError")
        drop = self._take_fault("drop_chunk", channel_id)
        limit = min(int(drop.params["after_bytes"]), length) if drop is not None else length
        complete = await self._receive(request, session, chunk, limit)
        if session.offset == session.total:
            await self._complete(session)
        if drop is not None or not complete:
            logger.debug("sandbox drops the connection after %s bytes", chunk.committed)
            return self._abort(request)
        if session.final is None:
            return self._incomplete(session)
        if self._take_fault("lose_final_response", channel_id) is not None:
            return self._abort(request)
        return web.json_response(session.final)

    async def _receive(
        self, request: web.Request, session: _Session, chunk: ChunkRecord, limit: int
    ) -> bool:
        """Append up to `limit` body bytes to the session's file; False if the body broke off."""
        with session.path.open("ab") as out:
            try:
                while chunk.received < limit:
                    block = await request.content.read(min(READ_BLOCK_B, limit - chunk.received))
                    if not block:
                        break
                    out.write(block)
                    session.digest.update(block)
                    session.offset += len(block)
                    chunk.received += len(block)
                    chunk.committed += len(block)
                    self.bytes_received += len(block)
            except (ConnectionError, asyncio.IncompleteReadError):
                return False
        return chunk.received == limit

    @staticmethod
    def _incomplete(session: _Session) -> web.Response:
        headers = {"X-GUploader-UploadID": session.record.upload_id}
        if session.offset > 0:
            headers["Range"] = f"bytes=0-{session.offset - 1}"
        return web.Response(status=308, headers=headers)

    async def _complete(self, session: _Session) -> None:
        record = session.record
        snippet = session.metadata.get("snippet") or {}
        status = session.metadata.get("status") or {}
        video_id = secrets.token_urlsafe(8)
        path = self.storage_dir / f"{video_id}.bin"
        session.path.replace(path)
        requested = status.get("privacyStatus", "public")
        forced = self._clients[record.client_id].force_private
        video = ReceivedVideo(
            id=video_id,
            channel_id=record.channel_id,
            client_id=record.client_id,
            title=snippet["title"],
            description=snippet.get("description") or "",
            tags=list(snippet.get("tags") or []),
            category_id=snippet.get("categoryId"),
            default_language=snippet.get("defaultLanguage"),
            made_for_kids=bool(status.get("selfDeclaredMadeForKids", False)),
            privacy_status="private" if forced else requested,
            publish_at=status.get("publishAt"),
            size=session.offset,
            sha256=session.digest.hexdigest(),
            path=path,
            thumbnail=None,
            session_created_at=record.created_at,
            completed_at=time.time(),
            default_audio_language=snippet.get("defaultAudioLanguage"),
            requested_privacy_status=requested,
        )
        self._videos_by_id[video_id] = video
        session.final = self._video_resource(video, ("snippet", "status"))
        async with self._changed:
            self.videos.append(video)
            self._changed.notify_all()
        logger.debug("sandbox video %s complete, %s bytes", video_id, video.size)

    def _video_resource(self, video: ReceivedVideo, parts: Iterable[str]) -> dict[str, Any]:
        channel = self._channels[video.channel_id]
        resource: dict[str, Any] = {
            "kind": "youtube#video",
            "etag": hashlib.sha1(video.id.encode()).hexdigest()[:27],
            "id": video.id,
        }
        parts = set(parts)
        if "snippet" in parts:
            snippet: dict[str, Any] = {
                "publishedAt": _now_rfc3339(video.completed_at),
                "channelId": video.channel_id,
                "title": video.title,
                "description": video.description,
                "channelTitle": channel.title,
                "categoryId": video.category_id or "22",
                "liveBroadcastContent": "none",
                "localized": {"title": video.title, "description": video.description},
            }
            if video.tags:
                snippet["tags"] = video.tags
            if video.default_language:
                snippet["defaultLanguage"] = video.default_language
            if video.default_audio_language:
                snippet["defaultAudioLanguage"] = video.default_audio_language
            resource["snippet"] = snippet
        if "status" in parts:
            status: dict[str, Any] = {
                "uploadStatus": "uploaded",
                "privacyStatus": video.privacy_status,
                "license": "youtube",
                "embeddable": True,
                "publicStatsViewable": True,
                "selfDeclaredMadeForKids": video.made_for_kids,
                "madeForKids": video.made_for_kids,
            }
            if video.publish_at:
                status["publishAt"] = video.publish_at
            resource["status"] = status
        return resource

    # -- other API calls

    async def _thumbnail(self, request: web.Request) -> web.Response:
        grant = self._authorize(request)
        video = self._videos_by_id.get(request.query.get("videoId", ""))
        fault = self._take_fault("thumbnail", grant.channel_id)
        if fault is not None:
            self._charge_refused(fault, grant.client_id, "thumbnails.set")
            raise _fault_error(fault, 500, "backendError")
        self._charge(grant.client_id, "thumbnails.set")
        if video is None:
            raise _ApiError(
                404, "videoNotFound", "The video that you are trying to update cannot be found."
            )
        if video.channel_id != grant.channel_id:
            raise _ApiError(403, "forbidden", "The thumbnail can't be set for this video.")
        body = await self._read_capped(request, THUMBNAIL_MAX_BYTES + 64 * 1024)
        if body is None:
            raise _ApiError(400, "mediaBodyTooLarge", "The thumbnail is larger than 2 MB.")
        if request.query.get("uploadType") == "multipart":
            body = self._multipart_media(request, body)
        if not body:
            raise _ApiError(400, "mediaBodyRequired", "The request does not include an image.")
        if len(body) > THUMBNAIL_MAX_BYTES:
            raise _ApiError(400, "mediaBodyTooLarge", "The thumbnail is larger than 2 MB.")
        mime_type = _image_type(body)
        if mime_type is None:
            raise _ApiError(400, "invalidImage", "The thumbnail is not a JPEG or PNG image.")
        video.thumbnail = body
        video.thumbnail_mime_type = mime_type
        url = f"{self._base_url(request)}vi/{video.id}/default.jpg"
        item = {"default": {"url": url, "width": 120, "height": 90}}
        return web.json_response({"kind": "youtube#thumbnailSetResponse", "items": [item]})

    async def _read_capped(self, request: web.Request, cap: int) -> bytes | None:
        """Read a whole body of at most `cap` bytes; None if it is longer."""
        blocks: list[bytes] = []
        size = 0
        async for block in request.content.iter_chunked(READ_BLOCK_B):
            blocks.append(block)
            size += len(block)
            self.bytes_received += len(block)
            if size > cap:
                return None
        return b"".join(blocks)

    @staticmethod
    def _multipart_media(request: web.Request, body: bytes) -> bytes:
        header = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(header + body)
        parts = [p for p in message.iter_parts()] if message.is_multipart() else []
        if not parts:
            raise _ApiError(400, "badRequest", "The multipart body has no media part.")
        payload = parts[-1].get_payload(decode=True)
        return payload if isinstance(payload, bytes) else b""

    async def _videos_list(self, request: web.Request) -> web.Response:
        grant = self._authorize(request)
        parts = self._parts(request)
        fault = self._take_fault("list", grant.channel_id)
        if fault is not None:
            raise _fault_error(fault, 500, "backendError")
        self._charge(grant.client_id, "videos.list")
        items = []
        for video_id in filter(None, request.query.get("id", "").split(",")):
            video = self._videos_by_id.get(video_id)
            visible = video is not None and (
                video.privacy_status != "private" or video.channel_id == grant.channel_id
            )
            if video is not None and visible:
                items.append(self._video_resource(video, parts))
        return self._list_response("youtube#videoListResponse", items)

    async def _channels_list(self, request: web.Request) -> web.Response:
        grant = self._authorize(request)
        parts = self._parts(request)
        fault = self._take_fault("list", grant.channel_id)
        if fault is not None:
            raise _fault_error(fault, 500, "backendError")
        self._charge(grant.client_id, "channels.list")
        if request.query.get("mine") == "true":
            ids = [grant.channel_id]
        else:
            ids = [i for i in request.query.get("id", "").split(",") if i in self._channels]
        items = []
        for channel_id in ids:
            channel = self._channels[channel_id]
            item: dict[str, Any] = {"kind": "youtube#channel", "id": channel_id}
            if "snippet" in parts:
                item["snippet"] = {
                    "title": channel.title,
                    "description": "",
                    "publishedAt": _now_rfc3339(channel.created_at),
                    "localized": {"title": channel.title, "description": ""},
                }
            items.append(item)
        return self._list_response("youtube#channelListResponse", items)

    @staticmethod
    def _parts(request: web.Request) -> set[str]:
        parts = {p.strip() for p in request.query.get("part", "").split(",") if p.strip()}
        if not parts:
            raise _ApiError(400, "required", "No filter selected. Expected part.")
        return parts

    @staticmethod
    def _list_response(kind: str, items: list[dict[str, Any]]) -> web.Response:
        page = {"totalResults": len(items), "resultsPerPage": len(items)}
        return web.json_response({"kind": kind, "pageInfo": page, "items": items})

    # -- inspection and remote control

    async def _inspect_videos(self, request: web.Request) -> web.Response:
        rows = []
        for video in self.videos:
            row = asdict(video)
            row["path"] = str(video.path)
            thumbnail = video.thumbnail
            row["thumbnail"] = base64.b64encode(thumbnail).decode() if thumbnail else None
            rows.append(row)
        return web.json_response(rows)

    async def _inspect_sessions(self, request: web.Request) -> web.Response:
        return web.json_response([asdict(s) for s in self.sessions])

    async def _remote_add_channel(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            channel_id = self.add_channel(**body)
        except (TypeError, ValueError) as exc:
            raise _ApiError(400, "badRequest", str(exc)) from None
        return web.json_response({"channel_id": channel_id})

    async def _remote_add_auth_code(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.add_auth_code(body["code"], body["refresh_token"])
        except (KeyError, ValueError) as exc:
            raise _ApiError(400, "badRequest", str(exc)) from None
        return web.json_response({})

    async def _remote_add_client(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.add_client(**body)
        except (TypeError, ValueError) as exc:
            raise _ApiError(400, "badRequest", str(exc)) from None
        return web.json_response({})

    async def _inspect_devices(self, request: web.Request) -> web.Response:
        # The device code is the client's secret: the inspection shows what a person sees.
        rows = [
            {
                "user_code": d.user_code,
                "client_id": d.client_id,
                "state": d.state,
                "channel_id": d.channel_id,
                "expires_at": d.expires_at,
            }
            for d in self.device_authorizations
        ]
        return web.json_response(rows)

    async def _remote_approve_device(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            channel_id = self.approve_device(**body)
        except (TypeError, ValueError) as exc:
            raise _ApiError(400, "badRequest", str(exc)) from None
        return web.json_response({"channel_id": channel_id})

    async def _remote_deny_device(self, request: web.Request) -> web.Response:
        return await self._remote_device_call(request, self.deny_device)

    async def _remote_expire_device(self, request: web.Request) -> web.Response:
        return await self._remote_device_call(request, self.expire_device)

    async def _remote_device_call(self, request: web.Request, call: Any) -> web.Response:
        body = await request.json()
        try:
            call(body["user_code"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _ApiError(400, "badRequest", str(exc)) from None
        return web.json_response({})

    async def _remote_fail_next(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.fail_next(**body)
        except (TypeError, ValueError) as exc:
            raise _ApiError(400, "badRequest", str(exc)) from None
        return web.json_response({})


async def _serve(host: str, port: int, storage: Path) -> None:
    sandbox = YouTubeSandbox(storage)
    await sandbox.start(host, port)
    urls = {"url": sandbox.url, "token_uri": sandbox.token_uri, "device_uri": sandbox.device_uri}
    print(json.dumps(urls), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox until interrupted; print its URLs as one JSON line once it listens."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.youtube", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--storage", type=Path, required=True, help="where uploads are kept")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(_serve(args.host, args.port, args.storage))


if __name__ == "__main__":
    main()
