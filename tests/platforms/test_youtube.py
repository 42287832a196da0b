"""The YouTube publisher, driven through the real google-api-python-client against the sandbox."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import (
    AuthError,
    ContentError,
    PublishError,
    QuotaExceededError,
    SessionExpiredError,
    StorageError,
    TransientPublishError,
    UploadLimitError,
)
from core.models import Credentials, Privacy, VideoMetadata
from core.ports import UploadRequest
from media.store import LocalMediaStore
from platforms.youtube import YouTubePublisher
from sandbox.youtube import YouTubeSandbox
from tests.platforms.conftest import CHUNK_B, ProgressLog, StoredVideo

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048
MakeRequest = Callable[..., UploadRequest]
MakePublisher = Callable[..., YouTubePublisher]


def _session_bytes(youtube: YouTubeSandbox) -> int:
    return sum(chunk.received for chunk in youtube.chunks)


async def test_upload_arrives_with_identical_size_and_sha256(
    youtube: YouTubeSandbox,
    publisher: YouTubePublisher,
    make_request: MakeRequest,
    video: StoredVideo,
) -> None:
    result = await publisher.upload(make_request(), ProgressLog())

    (received,) = youtube.videos
    assert (received.size, received.sha256) == (video.size, video.sha256)
    assert received.path.stat().st_size == video.size
    assert result.video_id == received.id
    assert result.url == f"https://youtu.be/{received.id}"
    assert result.privacy is Privacy.UNLISTED


async def test_every_non_final_chunk_is_a_multiple_of_256_kib(
    youtube: YouTubeSandbox,
    make_publisher: MakePublisher,
    make_request: MakeRequest,
    video: StoredVideo,
) -> None:
    youtube.fail_next("drop_chunk", after_bytes=100_000, skip=1)

    await make_publisher(chunk_size=2 * CHUNK_B).upload(make_request(), ProgressLog())

    assert len(youtube.chunks) > 3
    for chunk in youtube.chunks:
        if chunk.start + chunk.length < video.size:
            assert chunk.length % CHUNK_B == 0


async def test_session_uri_reaches_on_progress_before_any_byte_is_sent(
    youtube: YouTubeSandbox,
    publisher: YouTubePublisher,
    make_request: MakeRequest,
    video: StoredVideo,
) -> None:
    seen: list[tuple[str, int, int]] = []

    async def on_progress(uri: str, offset: int, total: int) -> None:
        seen.append((uri, offset, _session_bytes(youtube)))
        assert total == video.size

    await publisher.upload(make_request(), on_progress)

    (session,) = youtube.sessions
    first_uri, first_offset, bytes_at_first_call = seen[0]
    assert session.upload_id in first_uri
    assert (first_offset, bytes_at_first_call) == (0, 0)
    offsets = [offset for _, offset, _ in seen]
    assert offsets == sorted(set(offsets))
    assert offsets[-1] == video.size
    assert {uri for uri, _, _ in seen} == {first_uri}


async def test_dropped_connection_mid_chunk_resumes_from_server_offset(
    youtube: YouTubeSandbox,
    publisher: YouTubePublisher,
    make_request: MakeRequest,
    video: StoredVideo,
) -> None:
    youtube.fail_next("drop_chunk", after_bytes=100_000, skip=2)

    await publisher.upload(make_request(), ProgressLog())

    (received,) = youtube.videos
    assert received.sha256 == video.sha256
    starts = [chunk.start for chunk in youtube.chunks]
    assert 2 * CHUNK_B + 100_000 in starts
    assert _session_bytes(youtube) - video.size <= CHUNK_B


async def test_lost_final_response_is_settled_by_status_query_and_video_exists_once(
    youtube: YouTubeSandbox,
    publisher: YouTubePublisher,
    make_request: MakeRequest,
    video: StoredVideo,
) -> None:
    youtube.fail_next("lose_final_response")
    started = time.monotonic()

    result = await publisher.upload(make_request(), ProgressLog())

    # httplib2 would replay the final PUT with an empty body and wait for the 5 s socket timeout.
    assert time.monotonic() - started < 3
    (received,) = youtube.videos
    assert result.video_id == received.id
    assert _session_bytes(youtube) == video.size
    assert len(youtube.sessions) == 1


async def test_resume_after_restart_continues_from_server_offset(
    youtube: YouTubeSandbox,
    make_publisher: MakePublisher,
    make_request: MakeRequest,
    video: StoredVideo,
) -> None:
    youtube.fail_next("drop_chunk", after_bytes=100_000, skip=3)
    first_run = ProgressLog()
    with pytest.raises(TransientPublishError):
        await make_publisher(chunk_retries=0).upload(make_request(), first_run)
    uri, stored_offset, _ = first_run.calls[-1]
    assert stored_offset == 3 * CHUNK_B
    chunks_before = len(youtube.chunks)

    second_run = ProgressLog()
    result = await make_publisher().upload(make_request(session_uri=uri), second_run)

    (received,) = youtube.videos
    assert (result.video_id, received.sha256) == (received.id, video.sha256)
    # httplib2's replay of the dropped PUT may reach the sandbox as headers without a body.
    resumed = [chunk for chunk in youtube.chunks[chunks_before:] if chunk.received]
    assert resumed[0].start == 3 * CHUNK_B + 100_000
    assert len(youtube.sessions) == 1
    assert second_run.offsets == sorted(set(second_run.offsets))
    assert second_run.offsets[0] > stored_offset


async def test_resuming_a_completed_session_returns_the_video_without_sending(
    youtube: YouTubeSandbox, make_publisher: MakePublisher, make_request: MakeRequest
) -> None:
    log = ProgressLog()
    first = await make_publisher().upload(make_request(), log)
    bytes_before = youtube.bytes_received

    again = await make_publisher().upload(make_request(session_uri=log.calls[0][0]), ProgressLog())

    assert again == first
    assert youtube.bytes_received == bytes_before
    assert len(youtube.videos) == 1


async def test_expired_session_raises_session_expired(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, make_request: MakeRequest
) -> None:
    youtube.fail_next("expire_session", skip=2)

    with pytest.raises(SessionExpiredError):
        await publisher.upload(make_request(), ProgressLog())


async def test_resuming_an_unknown_session_raises_session_expired(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, make_request: MakeRequest
) -> None:
    gone = youtube.url + "upload/youtube/v3/videos?uploadType=resumable&upload_id=gone"

    with pytest.raises(SessionExpiredError):
        await publisher.upload(make_request(session_uri=gone), ProgressLog())


@pytest.mark.parametrize(
    ("status", "reason", "error_class"),
    [
        (403, "quotaExceeded", QuotaExceededError),
        (400, "uploadLimitExceeded", UploadLimitError),
        (403, "rateLimitExceeded", TransientPublishError),
        (403, "userRateLimitExceeded", TransientPublishError),
        (429, "rateLimitExceeded", TransientPublishError),
        (500, "internalError", TransientPublishError),
        (503, "backendError", TransientPublishError),
        (400, "invalidTitle", ContentError),
        (400, "invalidTags", ContentError),
        (400, "invalidDescription", ContentError),
        (400, "invalidPublishAt", ContentError),
        (400, "invalidCategoryId", ContentError),
        (400, "mediaBodyRequired", ContentError),
        (400, "uploadTooLarge", ContentError),
        (400, "somethingNew", ContentError),
        (403, "forbidden", ContentError),
    ],
)
async def test_each_error_reason_maps_to_its_class(
    youtube: YouTubeSandbox,
    make_publisher: MakePublisher,
    make_request: MakeRequest,
    status: int,
    reason: str,
    error_class: type[PublishError],
) -> None:
    youtube.fail_next("insert", status=status, reason=reason)

    with pytest.raises(PublishError) as caught:
        await make_publisher(chunk_retries=0).upload(make_request(), ProgressLog())

    assert type(caught.value) is error_class
    assert (caught.value.reason, caught.value.status) == (reason, status)


async def test_unexpected_answer_is_transient_with_reason_unknown(
    youtube: YouTubeSandbox, make_publisher: MakePublisher, make_request: MakeRequest
) -> None:
    # A 200 without a Location header is no session at all.
    youtube.fail_next("insert", status=200, reason="weird")

    with pytest.raises(TransientPublishError) as caught:
        await make_publisher(chunk_retries=0).upload(make_request(), ProgressLog())

    assert caught.value.reason == "unknown"


async def test_retry_after_header_reaches_transient_error(
    youtube: YouTubeSandbox, make_publisher: MakePublisher, make_request: MakeRequest
) -> None:
    youtube.fail_next("insert", status=503, reason="backendError", retry_after=30)

    with pytest.raises(TransientPublishError) as caught:
        await make_publisher(chunk_retries=0).upload(make_request(), ProgressLog())

    assert caught.value.retry_after_s == 30


async def test_transient_chunk_failure_is_retried_and_resends_only_that_chunk(
    youtube: YouTubeSandbox,
    publisher: YouTubePublisher,
    make_request: MakeRequest,
    video: StoredVideo,
) -> None:
    youtube.fail_next("chunk", status=503, reason="backendError", skip=4)

    await publisher.upload(make_request(), ProgressLog())

    (received,) = youtube.videos
    assert received.sha256 == video.sha256
    assert _session_bytes(youtube) - video.size == CHUNK_B


async def test_chunk_failures_beyond_the_retry_budget_raise_transient(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, make_request: MakeRequest
) -> None:
    youtube.fail_next("chunk", count=3, status=500, reason="backendError", skip=1)

    with pytest.raises(TransientPublishError) as caught:
        await publisher.upload(make_request(), ProgressLog())

    assert caught.value.status == 500
    assert youtube.videos == []


async def test_revoked_refresh_token_raises_auth_error_without_leaking_it(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, make_request: MakeRequest
) -> None:
    youtube.revoke("refresh-1")

    with pytest.raises(AuthError) as caught:
        await publisher.upload(make_request(), ProgressLog())

    assert caught.value.reason == "invalid_grant"
    assert "refresh-1" not in str(caught.value)
    assert "secret-1" not in str(caught.value)


async def test_invalid_grant_from_token_endpoint_raises_auth_error(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, credentials: Credentials
) -> None:
    youtube.fail_next("token", error="invalid_grant")

    with pytest.raises(AuthError):
        await publisher.channel_info(credentials)


async def test_unreachable_token_endpoint_raises_transient(
    publisher: YouTubePublisher, credentials: Credentials
) -> None:
    unreachable = replace(credentials, token_uri="http://127.0.0.1:9/token")

    with pytest.raises(TransientPublishError):
        await publisher.channel_info(unreachable)


async def test_invalid_bearer_raises_auth_error(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, credentials: Credentials
) -> None:
    # google-auth refreshes and retries twice on a 401, so a bearer refused three times sticks.
    youtube.fail_next("auth", count=3)

    with pytest.raises(AuthError) as caught:
        await publisher.channel_info(credentials)

    assert caught.value.reason == "authError"


async def test_bearer_refused_once_is_refreshed_and_the_upload_goes_on(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, make_request: MakeRequest
) -> None:
    youtube.fail_next("auth")

    await publisher.upload(make_request(), ProgressLog())

    assert len(youtube.videos) == 1
    assert youtube.tokens_issued == 2


async def test_credentials_are_refreshed_once_for_many_calls(
    youtube: YouTubeSandbox,
    publisher: YouTubePublisher,
    make_request: MakeRequest,
    credentials: Credentials,
) -> None:
    await publisher.upload(make_request(), ProgressLog())
    await publisher.channel_info(credentials)
    await publisher.upload(make_request(), ProgressLog())

    assert youtube.tokens_issued == 1


async def test_publish_at_forces_private_and_reaches_youtube(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, make_request: MakeRequest
) -> None:
    publish_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

    result = await publisher.upload(
        make_request(privacy=Privacy.PUBLIC, publish_at=publish_at), ProgressLog()
    )

    (received,) = youtube.videos
    assert received.privacy_status == "private"
    assert received.publish_at == publish_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result.privacy is Privacy.PRIVATE


async def test_publish_at_in_the_past_is_refused_as_content_error(
    publisher: YouTubePublisher, make_request: MakeRequest
) -> None:
    past = datetime.now(UTC) - timedelta(minutes=5)

    with pytest.raises(ContentError) as caught:
        await publisher.upload(make_request(publish_at=past), ProgressLog())

    assert caught.value.reason == "invalidPublishAt"


async def test_title_with_angle_bracket_is_refused_as_content_error(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, make_request: MakeRequest
) -> None:
    with pytest.raises(ContentError) as caught:
        await publisher.upload(make_request(metadata=VideoMetadata(title="a <b>")), ProgressLog())

    assert caught.value.reason == "invalidTitle"
    assert youtube.bytes_received == 0


async def test_metadata_reaches_youtube(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, make_request: MakeRequest
) -> None:
    metadata = VideoMetadata(
        title="标题 title",
        description="第一行\nsecond line",
        tags=("cats", "funny cats"),
        category_id="15",
        language="zh-Hans",
        made_for_kids=True,
    )

    await publisher.upload(make_request(metadata=metadata, privacy=Privacy.PUBLIC), ProgressLog())

    (received,) = youtube.videos
    assert (received.title, received.description) == (metadata.title, metadata.description)
    assert (received.tags, received.category_id) == (["cats", "funny cats"], "15")
    assert (received.default_language, received.default_audio_language) == ("zh-Hans", "zh-Hans")
    assert (received.made_for_kids, received.privacy_status) == (True, "public")
    assert received.publish_at is None


async def test_unaudited_project_reports_the_forced_private_privacy(
    youtube: YouTubeSandbox,
    publisher: YouTubePublisher,
    make_request: MakeRequest,
    credentials: Credentials,
) -> None:
    youtube.force_private(credentials.client_id)

    result = await publisher.upload(make_request(privacy=Privacy.PUBLIC), ProgressLog())

    assert result.privacy is Privacy.PRIVATE


async def test_progress_callback_failure_propagates_and_nothing_is_sent(
    youtube: YouTubeSandbox, publisher: YouTubePublisher, make_request: MakeRequest
) -> None:
    async def on_progress(uri: str, offset: int, total: int) -> None:
        raise StorageError("database is locked")

    with pytest.raises(StorageError):
        await publisher.upload(make_request(), on_progress)

    assert youtube.bytes_received == 0


async def test_cancelled_upload_stops_sending(
    youtube: YouTubeSandbox,
    publisher: YouTubePublisher,
    make_request: MakeRequest,
    video: StoredVideo,
) -> None:
    task: asyncio.Task[object] | None = None

    async def on_progress(uri: str, offset: int, total: int) -> None:
        if offset > 0 and task is not None:
            task.cancel()

    task = asyncio.create_task(publisher.upload(make_request(), on_progress))
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)

    assert youtube.videos == []
    assert _session_bytes(youtube) <= 2 * CHUNK_B < video.size


async def test_thumbnail_is_set(
    youtube: YouTubeSandbox,
    publisher: YouTubePublisher,
    make_request: MakeRequest,
    credentials: Credentials,
) -> None:
    result = await publisher.upload(make_request(), ProgressLog())

    await publisher.set_thumbnail(credentials, result.video_id, io.BytesIO(PNG), "image/png")

    (received,) = youtube.videos
    assert (received.thumbnail, received.thumbnail_mime_type) == (PNG, "image/png")
    assert youtube.units_used(credentials.client_id) == 1600 + 50


@pytest.mark.parametrize(
    ("image", "mime_type", "reason"),
    [
        (PNG + b"\x00" * (2 * 1024 * 1024), "image/png", "mediaBodyTooLarge"),
        (b"GIF89a" + b"\x00" * 100, "image/gif", "invalidImage"),
    ],
)
async def test_unacceptable_thumbnail_is_content_error(
    publisher: YouTubePublisher,
    make_request: MakeRequest,
    credentials: Credentials,
    image: bytes,
    mime_type: str,
    reason: str,
) -> None:
    result = await publisher.upload(make_request(), ProgressLog())

    with pytest.raises(ContentError) as caught:
        await publisher.set_thumbnail(credentials, result.video_id, io.BytesIO(image), mime_type)

    assert caught.value.reason == reason


async def test_thumbnail_for_unknown_video_is_content_error(
    publisher: YouTubePublisher, credentials: Credentials
) -> None:
    with pytest.raises(ContentError) as caught:
        await publisher.set_thumbnail(credentials, "nosuchvideo", io.BytesIO(PNG), "image/png")

    assert (caught.value.reason, caught.value.status) == ("videoNotFound", 404)


async def test_channel_info_returns_the_registered_channel(
    publisher: YouTubePublisher, credentials: Credentials
) -> None:
    info = await publisher.channel_info(credentials)

    assert (info.channel_id, info.title) == ("UCmain", "Main channel")


def test_chunk_size_must_be_a_multiple_of_256_kib(store: LocalMediaStore) -> None:
    with pytest.raises(ValueError):
        YouTubePublisher("http://127.0.0.1:1/", store, chunk_size=CHUNK_B + 1)


@pytest.mark.parametrize(
    ("method", "uri", "call"),
    [
        ("POST", "http://h/upload/youtube/v3/videos?uploadType=resumable&part=snippet", "insert"),
        ("PUT", "http://h/upload/youtube/v3/videos?uploadType=resumable&upload_id=x", None),
        ("POST", "http://h/upload/youtube/v3/videos?uploadType=resumable&upload_id=x", None),
        ("POST", "http://h/upload/youtube/v3/thumbnails/set?videoId=v", "thumbnail"),
        ("GET", "http://h/youtube/v3/channels?part=snippet&mine=true", "list"),
        ("POST", "http://h/youtube/v3/playlistItems?part=snippet", "playlist"),
        ("POST", "http://h/token", None),
    ],
)
def test_each_request_is_charged_as_the_call_it_is(
    method: str, uri: str, call: str | None
) -> None:
    from core.quota import ApiCall
    from platforms.youtube import api_call_of

    expected = {
        "insert": ApiCall.VIDEOS_INSERT,
        "thumbnail": ApiCall.THUMBNAILS_SET,
        "list": ApiCall.LIST,
        "playlist": ApiCall.PLAYLIST_ITEMS_INSERT,
        None: None,
    }[call]
    assert api_call_of(method, uri) is expected
