"""The YouTube publisher: resumable uploads through google-api-python-client.

The client library is synchronous, so each call runs in a worker thread; progress is bridged back
to the event loop so every confirmed offset is stored before the next chunk leaves. Every error
of the client, of google-auth and of the transport is translated into core.errors here.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import google.auth.exceptions
import google.oauth2.credentials
import google_auth_httplib2
import googleapiclient
import googleapiclient.errors
import httplib2
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload, build_http

from core.errors import (
    AuthError,
    ContentError,
    PublishError,
    QuotaExceededError,
    SessionExpiredError,
    TransientPublishError,
    UploadLimitError,
)
from core.models import Credentials, Privacy
from core.ports import (
    CallMeter,
    ChannelInfo,
    MediaStore,
    ProgressCallback,
    UploadRequest,
    UploadResult,
)
from core.quota import ApiCall

logger = logging.getLogger(__name__)

_GoogleCredentials = google.oauth2.credentials.Credentials

SCOPES = ("https://www.googleapis.com/auth/youtube",)
CHUNK_GRANULARITY_B = 256 * 1024
VIDEO_URL_PREFIX = "https://youtu.be/"
DISCOVERY_FILE = (
    Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "youtube.v3.json"
)
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_AUTH_GRANT_ERRORS = frozenset(
    {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope"}
)
# socket.timeout, ssl.SSLError and ConnectionError are all OSError subclasses.
_TRANSPORT_ERRORS = (
    OSError,
    httplib2.HttpLib2Error,
    http.client.HTTPException,
    google.auth.exceptions.TransportError,
)

_documents: dict[str, dict[str, Any]] = {}
# build_from_document and every resource accessor (`service.videos()`) write parameter entries
# into the discovery document they were given, so building from a shared document is serialised.
_build_lock = threading.Lock()


def _discovery_document(api_url: str) -> dict[str, Any]:
    """Return the bundled discovery document pointed at `api_url`, parsed once per URL."""
    document = _documents.get(api_url)
    if document is None:
        document = json.loads(DISCOVERY_FILE.read_text(encoding="utf-8"))
        # Every root is replaced so that no environment setting can send calls elsewhere.
        for key in ("rootUrl", "baseUrl", "mtlsRootUrl"):
            document[key] = api_url
        _documents[api_url] = document
    return document


class _CallbackError(Exception):
    """Carries an exception raised by the engine's progress callback out of the worker."""

    def __init__(self, original: BaseException) -> None:
        super().__init__("progress callback failed")
        self.original = original


class _CancelledError(Exception):
    """The coroutine awaiting the worker was cancelled; the worker stops between chunks."""


class _LoopBridge:
    """Lets the worker thread call the engine's coroutine callback and notice cancellation."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_progress: ProgressCallback) -> None:
        self._loop = loop
        self._on_progress = on_progress
        self.cancelled = threading.Event()

    def progress(self, uri: str, offset: int, total: int) -> None:
        """Run the callback on the loop and wait until it has finished."""
        self.check()

        async def call() -> None:
            await self._on_progress(uri, offset, total)

        if self._loop.is_closed():
            raise _CancelledError
        try:
            asyncio.run_coroutine_threadsafe(call(), self._loop).result()
        except BaseException as exc:
            raise _CallbackError(exc) from exc

    def check(self) -> None:
        """Stop the worker if the upload was cancelled."""
        if self.cancelled.is_set():
            raise _CancelledError

    def sleep(self, seconds: float) -> None:
        """Wait between retries, waking at once on cancellation."""
        if self.cancelled.wait(seconds):
            raise _CancelledError


class _OneShotBody:
    """A chunk body that refuses to be read a second time.

    httplib2 silently re-sends a request whose response never came (a dropped connection after
    the body was sent); the chunk stream is spent by then, so the replay declares the chunk's
    Content-Length, sends no bytes and hangs until the socket timeout. Failing the replay turns
    it into a transport error, which the upload loop settles with a status query instead.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._spent = False

    def read(self, size: int = -1) -> bytes:
        """Read from the chunk; after its end was reached once, refuse."""
        if self._spent:
            raise ConnectionAbortedError("refusing to replay an upload chunk")
        data: bytes = self._stream.read(size)
        if not data:
            self._spent = True
        return data


#: http.client sends a file-like body 8 KiB per system call; uploads send it in bigger blocks.
SEND_BLOCK_B = 1024 * 1024


class _BigBlockHTTPConnection(httplib2.HTTPConnectionWithTimeout):  # type: ignore[misc]
    """A plain-HTTP connection that sends bodies in SEND_BLOCK_B blocks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.blocksize = SEND_BLOCK_B


class _BigBlockHTTPSConnection(httplib2.HTTPSConnectionWithTimeout):  # type: ignore[misc]
    """A TLS connection that sends bodies in SEND_BLOCK_B blocks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.blocksize = SEND_BLOCK_B


class _UploadHttp:
    """An httplib2-compatible transport that reports the session URI and guards chunk bodies."""

    def __init__(
        self,
        inner: google_auth_httplib2.AuthorizedHttp,
        charge: Callable[[ApiCall], None] | None = None,
    ) -> None:
        self._inner = inner
        self._charge = charge
        self.on_session: Callable[[str], None] | None = None

    def request(
        self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **kw: Any
    ) -> tuple[Any, bytes]:
        """Send one request through the authorised transport, charging it first."""
        call = api_call_of(method, uri)
        if call is not None and self._charge is not None:
            # Charged before it leaves: a call cut off by a crash may still have cost quota.
            self._charge(call)
        if body is not None and hasattr(body, "read"):
            body = _OneShotBody(body)
        secure = uri.startswith("https:")
        kw.setdefault(
            "connection_type", _BigBlockHTTPSConnection if secure else _BigBlockHTTPConnection
        )
        try:
            response, content = self._inner.request(uri, method, body=body, headers=headers, **kw)
        except BaseException:
            # A half-sent request leaves its connection unusable; the next call reconnects.
            self._inner.close()
            raise
        # next_chunk() creates the session and sends the first chunk in one call: the session
        # URI is reported here, before any byte of the video is sent.
        created = method == "POST" and response.status == 200 and "location" in response
        if created and self.on_session is not None:
            self.on_session(response["location"])
        return response, content

    def close(self) -> None:
        """Close the pooled connections."""
        self._inner.close()


def api_call_of(method: str, uri: str) -> ApiCall | None:
    """Return the quota-charged call a request is, or None (chunks of a session are free)."""
    path = uri.split("?", 1)[0]
    if method == "POST" and path.endswith("/upload/youtube/v3/videos"):
        return None if "upload_id=" in uri else ApiCall.VIDEOS_INSERT
    if method == "POST" and "/thumbnails/set" in path:
        return ApiCall.THUMBNAILS_SET
    if method == "POST" and path.endswith("/youtube/v3/playlistItems"):
        return ApiCall.PLAYLIST_ITEMS_INSERT
    if method == "GET" and "/youtube/v3/" in path:
        return ApiCall.LIST
    return None


def _error_details(exc: HttpError) -> tuple[str, str]:
    """Return (reason, message) of a Google-shaped error body; empty strings if absent."""
    try:
        error = json.loads(exc.content.decode("utf-8"))["error"]
        message = str(error.get("message", ""))
        errors = error.get("errors") or []
        reason = str(errors[0].get("reason", "")) if errors else ""
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return "", ""
    return reason, message[:300]


def _retry_after(exc: HttpError) -> float | None:
    value = exc.resp.get("retry-after") if exc.resp is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


#: Reasons that say the request itself is wrong: sending it again cannot succeed.
CONTENT_REASONS = frozenset(
    {
        "invalidTitle",
        "invalidTags",
        "invalidDescription",
        "invalidPublishAt",
        "invalidCategoryId",
        "invalidVideoMetadata",
        "mediaBodyRequired",
        "uploadTooLarge",
        "mediaBodyTooLarge",
        "invalidImage",
        "videoNotFound",
        "forbidden",
    }
)


def translate_http_error(exc: HttpError, *, in_session: bool = False) -> PublishError:
    """Map a Google API error answer to the matching core.errors class."""
    status = int(exc.resp.status)
    reason, message = _error_details(exc)
    text = f"YouTube answered {status} {reason or '(no reason)'}: {message}".rstrip(": ")
    if reason == "quotaExceeded":
        return QuotaExceededError(text, reason=reason, status=status)
    if reason == "uploadLimitExceeded":
        return UploadLimitError(text, reason=reason, status=status)
    if reason in _RATE_LIMIT_REASONS or status >= 500 or status in (408, 429):
        return TransientPublishError(
            text, reason=reason or str(status), status=status, retry_after_s=_retry_after(exc)
        )
    if status == 401:
        return AuthError(text, reason=reason or "authError", status=status)
    if status == 404 and in_session:
        return SessionExpiredError(text, reason=reason or "notFound", status=status)
    if status in (400, 404) or reason in CONTENT_REASONS:
        return ContentError(text, reason=reason or str(status), status=status)
    # Anything else (a 403 with a reason we have never seen, say) may pass: retry a few times.
    return TransientPublishError(text, reason="unknown", status=status)


def translate_refresh_error(exc: google.auth.exceptions.RefreshError) -> PublishError:
    """Map a refused token refresh to AuthError, or to a transient error if retryable."""
    data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    code = str(data.get("error", ""))
    if code in _AUTH_GRANT_ERRORS:
        return AuthError(f"the token refresh was refused: {code}", reason=code)
    if getattr(exc, "retryable", False) or not code:
        return TransientPublishError("the token endpoint failed", reason=code or "token_endpoint")
    return AuthError(f"the token refresh was refused: {code}", reason=code)


def _translate(exc: Exception, *, in_session: bool = False) -> PublishError | None:
    """Translate a client-library or transport exception; None if it is not one."""
    if isinstance(exc, HttpError):
        return translate_http_error(exc, in_session=in_session)
    if isinstance(exc, googleapiclient.errors.Error):
        # Refused by the client before sending: a media type or size the method does not take.
        return ContentError(f"the request was refused: {type(exc).__name__}", reason="client")
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return translate_refresh_error(exc)
    if isinstance(exc, _TRANSPORT_ERRORS):
        return TransientPublishError(
            f"the connection to YouTube failed: {type(exc).__name__}", reason="network"
        )
    return None


def _rfc3339(instant: datetime) -> str:
    if instant.tzinfo is None:
        raise ValueError("publish_at must be timezone-aware")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def video_body(request: UploadRequest) -> dict[str, Any]:
    """Build the videos.insert resource for a request; publish_at forces private."""
    meta = request.metadata
    snippet: dict[str, Any] = {
        "title": meta.title,
        "description": meta.description,
        "categoryId": meta.category_id,
    }
    if meta.tags:
        snippet["tags"] = list(meta.tags)
    if meta.language:
        snippet["defaultLanguage"] = meta.language
        snippet["defaultAudioLanguage"] = meta.language
    status: dict[str, Any] = {
        "privacyStatus": request.privacy.value,
        "selfDeclaredMadeForKids": meta.made_for_kids,
    }
    if request.publish_at is not None:
        # YouTube accepts publishAt only on private videos and makes them public at that time.
        status["privacyStatus"] = Privacy.PRIVATE.value
        status["publishAt"] = _rfc3339(request.publish_at)
    return {"snippet": snippet, "status": status}


class _Upload:
    """One run of a resumable upload inside the worker thread."""

    def __init__(self, request: Any, total: int, bridge: _LoopBridge, task_id: int) -> None:
        self.request = request
        self.total = total
        self.bridge = bridge
        self.task_id = task_id
        self.reported = -1

    def session_created(self, uri: str) -> None:
        """Store the new session's URI before any byte is sent."""
        self.reported = 0
        self.bridge.progress(uri, 0, self.total)

    def step(self) -> dict[str, Any] | None:
        """Send one chunk (asking the server for its offset first after a failure)."""
        self.bridge.check()
        response: dict[str, Any] | None
        _, response = self.request.next_chunk()
        offset = self.total if response is not None else int(self.request.resumable_progress)
        if offset <= self.reported and response is None:
            raise TransientPublishError("YouTube confirmed no new bytes", reason="no_progress")
        if offset > self.reported:
            logger.debug("task %s: %s of %s bytes confirmed", self.task_id, offset, self.total)
            self.bridge.progress(self.request.resumable_uri, offset, self.total)
            self.reported = offset
        return response

    def ask_offset_first(self) -> None:
        """Make the next step ask the session for its offset before sending anything."""
        # next_chunk() sends the `bytes */TOTAL` status query first while in its error state;
        # failed requests set it, and so does this for failures raised outside the client.
        self.request._in_error_state = self.request.resumable_uri is not None


def _classify(exc: Exception, *, in_session: bool) -> PublishError:
    """Return the core error for an exception raised while uploading."""
    if isinstance(exc, PublishError):
        return exc
    error = _translate(exc, in_session=in_session)
    return error or TransientPublishError(f"unexpected {type(exc).__name__}", reason="unknown")


class YouTubePublisher:
    """Uploads videos to YouTube channels; implements core.ports.Publisher."""

    platform = "youtube"

    def __init__(
        self,
        api_url: str,
        media_store: MediaStore,
        *,
        chunk_size: int = 8 * 1024 * 1024,
        chunk_retries: int = 3,
        chunk_retry_delay_s: float = 1.0,
        http_timeout_s: float = 60.0,
        meter: CallMeter | None = None,
    ) -> None:
        if chunk_size <= 0 or chunk_size % CHUNK_GRANULARITY_B:
            raise ValueError(f"chunk_size must be a multiple of {CHUNK_GRANULARITY_B} bytes")
        self._api_url = api_url if api_url.endswith("/") else api_url + "/"
        self._media_store = media_store
        self._chunk_size = chunk_size
        self._chunk_retries = chunk_retries
        self._chunk_retry_delay_s = chunk_retry_delay_s
        self._http_timeout_s = http_timeout_s
        self._meter = meter
        self._credentials: dict[Credentials, tuple[_GoogleCredentials, threading.Lock]] = {}
        self._credentials_lock = threading.Lock()

    # -- Publisher

    async def upload(self, request: UploadRequest, on_progress: ProgressCallback) -> UploadResult:
        """Upload (or resume) a video and return it once YouTube has it."""
        loop = asyncio.get_running_loop()
        bridge = _LoopBridge(loop, on_progress)
        charge = self._charger(loop, request.credentials, request.account_id, request.task_id)
        try:
            return await asyncio.to_thread(self._upload_sync, request, bridge, charge)
        except asyncio.CancelledError:
            bridge.cancelled.set()
            raise
        except _CallbackError as err:
            raise err.original from None

    async def set_thumbnail(
        self,
        credentials: Credentials,
        video_id: str,
        image: BinaryIO,
        mime_type: str,
        *,
        account_id: int | None = None,
        task_id: int | None = None,
    ) -> None:
        """Set a video's thumbnail."""

        def make(service: Any) -> Any:
            media = MediaIoBaseUpload(image, mime_type, resumable=False)
            return service.thumbnails().set(videoId=video_id, media_body=media)

        charge = self._charger(asyncio.get_running_loop(), credentials, account_id, task_id)
        await asyncio.to_thread(self._execute, credentials, make, charge)
        logger.info("thumbnail set for video %s", video_id)

    async def channel_info(self, credentials: Credentials) -> ChannelInfo:
        """Return the channel the credentials act for."""
        charge = self._charger(asyncio.get_running_loop(), credentials, None, None)
        response = await asyncio.to_thread(
            self._execute,
            credentials,
            lambda s: s.channels().list(part="snippet", mine=True),
            charge,
        )
        items = response.get("items") or []
        if not items:
            raise AuthError(
                "the authorised Google account has no YouTube channel", reason="noChannel"
            )
        return ChannelInfo(channel_id=items[0]["id"], title=items[0]["snippet"]["title"])

    # -- worker thread

    def _charger(
        self,
        loop: asyncio.AbstractEventLoop,
        credentials: Credentials,
        account_id: int | None,
        task_id: int | None,
    ) -> Callable[[ApiCall], None] | None:
        """Return what the worker thread calls to charge a call on the loop, waiting for it."""
        meter = self._meter
        if meter is None:
            return None

        def charge(call: ApiCall) -> None:
            async def record() -> None:
                await meter.charge(
                    credentials.client_id, call, account_id=account_id, task_id=task_id
                )

            try:
                asyncio.run_coroutine_threadsafe(record(), loop).result(timeout=30)
            except Exception:
                # Never let bookkeeping stop a call; the ledger is then short by one call.
                logger.exception("quota charge for %s not recorded", call.value)

        return charge

    def _upload_sync(
        self,
        request: UploadRequest,
        bridge: _LoopBridge,
        charge: Callable[[ApiCall], None] | None = None,
    ) -> UploadResult:
        http = self._http(request.credentials, charge)
        try:
            with self._media_store.open(request.media_key) as stream:
                response = self._send(request, stream, http, bridge)
        finally:
            http.close()
        video_id = str(response["id"])
        reported = (response.get("status") or {}).get("privacyStatus")
        privacy = Privacy(reported) if reported in {p.value for p in Privacy} else request.privacy
        logger.info("task %s uploaded as video %s (%s)", request.task_id, video_id, privacy)
        return UploadResult(video_id=video_id, url=VIDEO_URL_PREFIX + video_id, privacy=privacy)

    def _send(
        self, request: UploadRequest, stream: BinaryIO, http: _UploadHttp, bridge: _LoopBridge
    ) -> dict[str, Any]:
        media = MediaIoBaseUpload(
            stream, request.mime_type, chunksize=self._chunk_size, resumable=True
        )
        body = video_body(request)
        insert = self._build(
            http,
            lambda s: s.videos().insert(part="snippet,status", body=body, media_body=media),
        )
        total = int(media.size())
        if total != request.media_size:
            logger.warning(
                "task %s: stored file has %s bytes, %s expected",
                request.task_id,
                total,
                request.media_size,
            )
        upload = _Upload(insert, total, bridge, request.task_id)
        http.on_session = upload.session_created
        if request.session_uri:
            insert.resumable_uri = request.session_uri
            # In its error state next_chunk() first asks the session where it stands
            # (PUT with `Content-Range: bytes */TOTAL`) and returns the video if it is complete.
            insert._in_error_state = True
            logger.info("task %s: resuming an upload session", request.task_id)
        return self._drive(upload)

    def _drive(self, upload: _Upload) -> dict[str, Any]:
        """Send chunks until the video exists, retrying transient failures per chunk."""
        failures = 0
        while True:
            try:
                response = upload.step()
            except (_CallbackError, _CancelledError):
                raise
            except Exception as exc:
                error = _classify(exc, in_session=upload.request.resumable_uri is not None)
                if not isinstance(error, TransientPublishError) or failures >= self._chunk_retries:
                    if error is exc:
                        raise
                    raise error from exc
                failures += 1
                logger.warning(
                    "task %s: chunk failed (%s), retry %s of %s",
                    upload.task_id,
                    error.reason,
                    failures,
                    self._chunk_retries,
                )
                upload.ask_offset_first()
                upload.bridge.sleep(self._chunk_retry_delay_s)
                continue
            if response is not None:
                return response
            failures = 0

    def _execute(
        self,
        credentials: Credentials,
        make: Callable[[Any], Any],
        charge: Callable[[ApiCall], None] | None = None,
    ) -> Any:
        http = self._http(credentials, charge)
        try:
            return self._build(http, make).execute()
        except Exception as exc:
            error = _translate(exc)
            if error is None:
                raise
            raise error from exc
        finally:
            http.close()

    def _build(self, http: _UploadHttp, make: Callable[[Any], Any]) -> Any:
        with _build_lock:
            service = build_from_document(_discovery_document(self._api_url), http=http)
            return make(service)

    def _http(
        self, credentials: Credentials, charge: Callable[[ApiCall], None] | None = None
    ) -> _UploadHttp:
        """Return a fresh transport using the account's cached, refreshed-once credentials."""
        base = build_http()
        base.timeout = self._http_timeout_s
        google_credentials, lock = self._google_credentials(credentials)
        with lock:
            if not google_credentials.valid:
                try:
                    google_credentials.refresh(google_auth_httplib2.Request(base))  # type: ignore[no-untyped-call]
                except Exception as exc:
                    base.close()
                    error = _translate(exc)
                    if error is None:
                        raise
                    raise error from exc
                # The refresh opened a plain connection; drop it so the uploads' connection
                # (bigger send blocks) is the one kept for the host.
                base.close()
        authorized = google_auth_httplib2.AuthorizedHttp(google_credentials, http=base)
        return _UploadHttp(authorized, charge)

    def _google_credentials(
        self, credentials: Credentials
    ) -> tuple[_GoogleCredentials, threading.Lock]:
        with self._credentials_lock:
            cached = self._credentials.get(credentials)
            if cached is None:
                google_credentials = _GoogleCredentials(  # type: ignore[no-untyped-call]
                    token=None,
                    refresh_token=credentials.refresh_token,
                    client_id=credentials.client_id,
                    client_secret=credentials.client_secret,
                    token_uri=credentials.token_uri,
                    scopes=list(SCOPES),
                )
                cached = (google_credentials, threading.Lock())
                self._credentials[credentials] = cached
            return cached
