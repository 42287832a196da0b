"""The YouTube sandbox's wire protocol, spoken over raw HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from sandbox.youtube import YouTubeSandbox

KIB = 1024
MIB = 1024 * KIB
PROJECT_ROOT = Path(__file__).resolve().parents[2]
FUTURE = "2999-01-01T00:00:00Z"
PAST = "2001-01-01T00:00:00Z"


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[YouTubeSandbox]:
    youtube = YouTubeSandbox(tmp_path / "youtube")
    await youtube.start()
    youtube.add_channel("client-a", "secret-a", "refresh-a", channel_id="UCa", title="Channel A")
    yield youtube
    await youtube.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def _token(
    http: aiohttp.ClientSession, token_uri: str, refresh_token: str = "refresh-a"
) -> str:
    form = {
        "grant_type": "refresh_token",
        "client_id": "client-a",
        "client_secret": "secret-a",
        "refresh_token": refresh_token,
    }
    async with http.post(token_uri, data=form) as response:
        assert response.status == 200
        body = await response.json()
    return str(body["access_token"])


async def _auth(http: aiohttp.ClientSession, sandbox: YouTubeSandbox) -> dict[str, str]:
    return {"Authorization": "Bearer " + await _token(http, sandbox.token_uri)}


def _metadata(**snippet: Any) -> dict[str, Any]:
    status = snippet.pop("status", {"privacyStatus": "private"})
    return {"snippet": {"title": "A video", **snippet}, "status": status}


async def _create_session(
    http: aiohttp.ClientSession, sandbox: YouTubeSandbox, size: int, **snippet: Any
) -> aiohttp.ClientResponse:
    headers = await _auth(http, sandbox)
    headers.update({"X-Upload-Content-Length": str(size), "X-Upload-Content-Type": "video/mp4"})
    url = sandbox.url + "upload/youtube/v3/videos?uploadType=resumable&part=snippet,status"
    async with http.post(url, json=_metadata(**snippet), headers=headers) as response:
        await response.read()
    return response


async def _session_uri(http: aiohttp.ClientSession, sandbox: YouTubeSandbox, size: int) -> str:
    response = await _create_session(http, sandbox, size)
    assert response.status == 200
    return response.headers["Location"]


async def _put(
    http: aiohttp.ClientSession, uri: str, data: bytes, start: int, total: int
) -> tuple[int, dict[str, str], bytes]:
    end = start + len(data) - 1
    content_range = f"bytes {start}-{end}/{total}" if data else f"bytes */{total}"
    async with http.put(uri, data=data, headers={"Content-Range": content_range}) as response:
        return response.status, dict(response.headers), await response.read()


async def test_refresh_grant_issues_a_bearer_token(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    form = {
        "grant_type": "refresh_token",
        "client_id": "client-a",
        "client_secret": "secret-a",
        "refresh_token": "refresh-a",
    }
    async with http.post(sandbox.token_uri, data=form) as response:
        body = await response.json()

    assert response.status == 200
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "https://www.googleapis.com/auth/youtube"


@pytest.mark.parametrize(
    ("secret", "refresh_token", "status", "error"),
    [
        ("secret-a", "unknown", 400, "invalid_grant"),
        ("wrong", "refresh-a", 401, "invalid_client"),
    ],
)
async def test_token_endpoint_refuses_bad_grants_like_google(
    sandbox: YouTubeSandbox,
    http: aiohttp.ClientSession,
    secret: str,
    refresh_token: str,
    status: int,
    error: str,
) -> None:
    form = {
        "grant_type": "refresh_token",
        "client_id": "client-a",
        "client_secret": secret,
        "refresh_token": refresh_token,
    }
    async with http.post(sandbox.token_uri, data=form) as response:
        body = await response.json()

    assert response.status == status
    assert body["error"] == error


async def test_authorization_code_is_exchanged_once_for_a_refresh_token(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.add_auth_code("code-1", "refresh-a")
    form = {
        "grant_type": "authorization_code",
        "code": "code-1",
        "client_id": "client-a",
        "client_secret": "secret-a",
        "redirect_uri": "http://127.0.0.1:1/",
    }
    async with http.post(sandbox.token_uri, data=form) as first:
        body = await first.json()
    async with http.post(sandbox.token_uri, data=form) as second:
        again = await second.json()

    assert (first.status, body["refresh_token"]) == (200, "refresh-a")
    assert (second.status, again["error"]) == (400, "invalid_grant")


async def test_token_fault_answers_the_injected_error(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.fail_next("token", error="invalid_grant")
    form = {
        "grant_type": "refresh_token",
        "client_id": "client-a",
        "client_secret": "secret-a",
        "refresh_token": "refresh-a",
    }
    async with http.post(sandbox.token_uri, data=form) as response:
        body = await response.json()

    assert (response.status, body["error"]) == (400, "invalid_grant")
    assert await _token(http, sandbox.token_uri)


@pytest.mark.parametrize("authorization", [None, "Bearer not-issued", "Basic abc"])
async def test_api_call_without_a_valid_bearer_is_a_google_shaped_401(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    url = sandbox.url + "youtube/v3/channels?part=snippet&mine=true"
    async with http.get(url, headers=headers) as response:
        body = await response.json()

    assert response.status == 401
    assert body["error"]["code"] == 401
    assert body["error"]["errors"][0]["reason"] == "authError"


async def test_session_creation_answers_a_location_on_the_same_server(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    before = time.time()

    uri = await _session_uri(http, sandbox, 1000)

    assert uri.startswith(sandbox.url + "upload/youtube/v3/videos?")
    (session,) = sandbox.sessions
    assert session.upload_id in uri
    assert (session.title, session.size, session.channel_id) == ("A video", 1000, "UCa")
    assert before <= session.created_at <= time.time()


async def test_chunks_append_and_308_reports_the_confirmed_range(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(600 * KIB)
    uri = await _session_uri(http, sandbox, len(data))

    empty = await _put(http, uri, b"", 0, len(data))
    first = await _put(http, uri, data[: 256 * KIB], 0, len(data))
    status_query = await _put(http, uri, b"", 0, len(data))
    last_status, _, last_body = await _put(http, uri, data[256 * KIB :], 256 * KIB, len(data))

    assert empty[0] == 308 and "Range" not in empty[1]
    assert (first[0], first[1]["Range"]) == (308, f"bytes=0-{256 * KIB - 1}")
    assert (status_query[0], status_query[1]["Range"]) == (308, f"bytes=0-{256 * KIB - 1}")
    video = json.loads(last_body)
    assert (last_status, video["kind"]) == (200, "youtube#video")
    assert video["snippet"]["title"] == "A video"
    assert video["status"]["privacyStatus"] == "private"
    (received,) = sandbox.videos
    assert received.id == video["id"]
    assert received.path.read_bytes() == data


async def test_chunk_at_the_wrong_offset_gets_the_true_range(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(512 * KIB)
    uri = await _session_uri(http, sandbox, len(data))
    await _put(http, uri, data[: 256 * KIB], 0, len(data))

    status, headers, _ = await _put(http, uri, data[:256], 0, len(data))

    assert (status, headers["Range"]) == (308, f"bytes=0-{256 * KIB - 1}")
    assert sandbox.videos == []


async def test_status_query_after_completion_repeats_the_final_response(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(1000)
    uri = await _session_uri(http, sandbox, len(data))
    _, _, final = await _put(http, uri, data, 0, len(data))

    status, _, again = await _put(http, uri, b"", 0, len(data))

    assert status == 200
    assert json.loads(again) == json.loads(final)
    assert len(sandbox.videos) == 1


async def test_unknown_or_expired_session_is_404(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    uri = await _session_uri(http, sandbox, 1000)
    sandbox.fail_next("expire_session")

    expired = await _put(http, uri, b"", 0, 1000)
    still_gone = await _put(http, uri, b"x" * 1000, 0, 1000)

    assert (expired[0], still_gone[0]) == (404, 404)
    assert json.loads(expired[2])["error"]["code"] == 404


def _tags_of_total_length(length: int) -> list[str]:
    # Each "ab cd" counts 5 + 2 quotes, plus a comma between tags: 8 per tag, 7 for the last.
    count, rest = divmod(length + 1, 8)
    tags = ["ab cd"] * count
    if rest:
        tags.append("x" * (rest - 1))
    return tags


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ({"title": ""}, "invalidTitle"),
        ({"title": "x" * 101}, "invalidTitle"),
        ({"title": "a <b>"}, "invalidTitle"),
        ({"title": "a > b"}, "invalidTitle"),
        ({"description": "é" * 2501}, "invalidDescription"),
        ({"tags": _tags_of_total_length(501)}, "invalidTags"),
        ({"categoryId": "music"}, "invalidCategoryId"),
        ({"status": {"privacyStatus": "public", "publishAt": FUTURE}}, "invalidPublishAt"),
        ({"status": {"privacyStatus": "private", "publishAt": PAST}}, "invalidPublishAt"),
    ],
)
async def test_session_creation_validates_metadata_like_youtube(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession, snippet: dict[str, Any], reason: str
) -> None:
    headers = await _auth(http, sandbox)
    url = sandbox.url + "upload/youtube/v3/videos?uploadType=resumable&part=snippet,status"
    async with http.post(url, json=_metadata(**snippet), headers=headers) as response:
        body = await response.json()

    assert response.status == 400
    assert body["error"]["errors"][0]["reason"] == reason
    assert sandbox.sessions == []
    # Invalid requests cost quota too.
    assert sandbox.units_used("client-a") == 1600


async def test_metadata_at_the_limits_is_accepted(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    tags = _tags_of_total_length(500)
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))

    response = await _create_session(
        http,
        sandbox,
        1000,
        title="x" * 100,
        description="é" * 2500,
        tags=tags,
        categoryId="22",
        status={"privacyStatus": "private", "publishAt": future},
    )

    assert response.status == 200


async def test_units_are_charged_to_the_client_shared_by_its_channels(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.add_channel("client-a", "secret-a", "refresh-b", channel_id="UCb", title="Channel B")
    await _create_session(http, sandbox, 1000)
    headers = {"Authorization": "Bearer " + await _token(http, sandbox.token_uri, "refresh-b")}
    async with http.get(
        sandbox.url + "youtube/v3/channels?part=snippet&mine=true", headers=headers
    ):
        pass

    assert sandbox.units_used("client-a") == 1600 + 1
    assert sandbox.units_used("client-other") == 0


async def test_channels_mine_returns_the_tokens_channel(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    headers = await _auth(http, sandbox)
    async with http.get(
        sandbox.url + "youtube/v3/channels?part=snippet&mine=true", headers=headers
    ) as response:
        body = await response.json()

    (item,) = body["items"]
    assert (item["id"], item["snippet"]["title"]) == ("UCa", "Channel A")


async def test_videos_list_returns_requested_videos_by_id(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    uri = await _session_uri(http, sandbox, 10)
    _, _, final = await _put(http, uri, b"0123456789", 0, 10)
    video_id = json.loads(final)["id"]
    headers = await _auth(http, sandbox)

    url = sandbox.url + f"youtube/v3/videos?part=status&id={video_id},missing"
    async with http.get(url, headers=headers) as response:
        body = await response.json()

    (item,) = body["items"]
    assert (item["id"], item["status"]["uploadStatus"]) == (video_id, "uploaded")
    assert "snippet" not in item


async def test_thumbnail_is_stored_and_oversized_or_foreign_images_are_refused(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    uri = await _session_uri(http, sandbox, 10)
    _, _, final = await _put(http, uri, b"0123456789", 0, 10)
    url = sandbox.url + f"upload/youtube/v3/thumbnails/set?videoId={json.loads(final)['id']}"
    url += "&uploadType=media"
    headers = await _auth(http, sandbox)
    jpeg = b"\xff\xd8\xff\xe0" + os.urandom(1000)

    async with http.post(url, data=jpeg, headers=headers) as accepted:
        assert accepted.status == 200
    oversized = io.BytesIO(jpeg + b"\x00" * (2 * MIB))
    async with http.post(url, data=oversized, headers=headers) as too_large:
        large_body = await too_large.json()
    async with http.post(url, data=b"GIF89a....", headers=headers) as gif:
        gif_body = await gif.json()

    assert sandbox.videos[0].thumbnail == jpeg
    assert large_body["error"]["errors"][0]["reason"] == "mediaBodyTooLarge"
    assert gif_body["error"]["errors"][0]["reason"] == "invalidImage"
    assert sandbox.units_used("client-a") == 1600 + 3 * 50


async def test_insert_fault_answers_google_shaped_error(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.fail_next("insert", status=403, reason="quotaExceeded")
    headers = await _auth(http, sandbox)
    url = sandbox.url + "upload/youtube/v3/videos?uploadType=resumable&part=snippet"

    async with http.post(url, json=_metadata(), headers=headers) as response:
        body = await response.json()

    assert response.status == 403
    (error,) = body["error"]["errors"]
    assert (error["domain"], error["reason"]) == ("youtube.quota", "quotaExceeded")


async def test_drop_chunk_keeps_the_bytes_before_the_drop(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(512 * KIB)
    uri = await _session_uri(http, sandbox, len(data))
    sandbox.fail_next("drop_chunk", after_bytes=100_000)

    answer = await _raw_put(uri, data, f"bytes 0-{len(data) - 1}/{len(data)}")
    status, headers, _ = await _put(http, uri, b"", 0, len(data))

    assert answer == b""
    assert (status, headers["Range"]) == (308, "bytes=0-99999")


async def _raw_put(uri: str, data: bytes, content_range: str) -> bytes:
    """PUT over a bare socket and return whatever came back before the connection ended.

    aiohttp's client would silently retry an idempotent PUT whose connection dropped.
    """
    url = URL(uri)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = (
        f"PUT {url.raw_path_qs} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Content-Range: {content_range}\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    try:
        writer.write(head.encode() + data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        try:
            return await asyncio.wait_for(reader.read(), timeout=5)
        except ConnectionError:
            return b""
    finally:
        writer.close()


def test_unknown_fault_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        YouTubeSandbox(tmp_path).fail_next("meteor")


async def test_wait_for_videos_raises_timeout_error(sandbox: YouTubeSandbox) -> None:
    with pytest.raises(TimeoutError):
        await sandbox.wait_for_videos(1, timeout=0.05)


async def test_wait_for_videos_returns_once_uploads_complete(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    uri = await _session_uri(http, sandbox, 10)
    waiter = asyncio.create_task(sandbox.wait_for_videos(1, timeout=5))
    await _put(http, uri, b"0123456789", 0, 10)

    videos = await waiter

    assert [v.size for v in videos] == [10]


async def test_inspection_endpoint_lists_videos_as_json(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    uri = await _session_uri(http, sandbox, 10)
    await _put(http, uri, b"0123456789", 0, 10)

    async with http.get(sandbox.url + "_sandbox/videos") as response:
        (row,) = await response.json()

    assert (row["title"], row["size"], row["channel_id"]) == ("A video", 10, "UCa")
    assert row["sha256"] == sandbox.videos[0].sha256


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def test_out_of_process_sandbox_streams_a_large_chunk_with_flat_memory(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.youtube",
        "--port",
        "0",
        "--storage",
        str(tmp_path / "remote"),
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=10)
        urls = json.loads(line)
        channel = {"client_id": "c", "client_secret": "s", "refresh_token": "r"}
        async with http.post(urls["url"] + "_sandbox/channels", json=channel) as response:
            assert response.status == 200
        size = 256 * MIB
        block = os.urandom(MIB)
        token = await _remote_token(http, urls["token_uri"])
        uri = await _remote_session(http, urls["url"], token, size)
        baseline = _vm_hwm_kib(process.pid)

        async def body() -> AsyncIterator[bytes]:
            for _ in range(size // MIB):
                yield block

        headers = {"Content-Range": f"bytes 0-{size - 1}/{size}", "Content-Length": str(size)}
        async with http.put(uri, data=body(), headers=headers) as response:
            assert response.status == 200
        async with http.get(urls["url"] + "_sandbox/videos") as response:
            (row,) = await response.json()

        assert row["size"] == size
        assert _vm_hwm_kib(process.pid) - baseline < 48 * 1024
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=10)


async def _remote_token(http: aiohttp.ClientSession, token_uri: str) -> str:
    form = {
        "grant_type": "refresh_token",
        "client_id": "c",
        "client_secret": "s",
        "refresh_token": "r",
    }
    async with http.post(token_uri, data=form) as response:
        return str((await response.json())["access_token"])


async def _remote_session(http: aiohttp.ClientSession, url: str, token: str, size: int) -> str:
    headers = {"Authorization": f"Bearer {token}", "X-Upload-Content-Length": str(size)}
    endpoint = url + "upload/youtube/v3/videos?uploadType=resumable&part=snippet"
    async with http.post(endpoint, json=_metadata(), headers=headers) as response:
        assert response.status == 200
        return response.headers["Location"]


async def test_multipart_thumbnail_is_stored(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    uri = await _session_uri(http, sandbox, 10)
    _, _, final = await _put(http, uri, b"0123456789", 0, 10)
    url = sandbox.url + f"upload/youtube/v3/thumbnails/set?videoId={json.loads(final)['id']}"
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(500)
    body = (
        b"--b1\r\nContent-Type: application/json\r\n\r\n{}\r\n"
        b"--b1\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        + png
        + b"\r\n--b1--\r\n"
    )
    headers = await _auth(http, sandbox)
    headers["Content-Type"] = 'multipart/related; boundary="b1"'

    async with http.post(url + "&uploadType=multipart", data=body, headers=headers) as response:
        assert response.status == 200

    assert sandbox.videos[0].thumbnail == png


async def test_installed_app_flow_exchanges_a_registered_code(
    sandbox: YouTubeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google_auth_oauthlib.flow import Flow

    # oauthlib refuses plain-HTTP token endpoints unless told this is a local test.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    sandbox.add_auth_code("4/sandbox-code", "refresh-a")
    config = {
        "installed": {
            "client_id": "client-a",
            "client_secret": "secret-a",
            "auth_uri": sandbox.url + "o/oauth2/auth",
            "token_uri": sandbox.token_uri,
            "redirect_uris": ["http://127.0.0.1"],
        }
    }
    flow = Flow.from_client_config(
        config, scopes=["https://www.googleapis.com/auth/youtube"], redirect_uri="http://127.0.0.1"
    )
    flow.authorization_url()

    await asyncio.to_thread(flow.fetch_token, code="4/sandbox-code")

    assert flow.credentials.refresh_token == "refresh-a"
    assert flow.credentials.token


async def test_fault_restricted_to_a_channel_spares_the_others(
    sandbox: YouTubeSandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.add_channel("client-a", "secret-a", "refresh-b", channel_id="UCb")
    sandbox.fail_next("insert", channel_id="UCb", status=400, reason="uploadLimitExceeded")

    spared = await _create_session(http, sandbox, 10)
    headers = {"Authorization": "Bearer " + await _token(http, sandbox.token_uri, "refresh-b")}
    url = sandbox.url + "upload/youtube/v3/videos?uploadType=resumable&part=snippet"
    async with http.post(url, json=_metadata(), headers=headers) as response:
        body = await response.json()

    assert spared.status == 200
    assert body["error"]["errors"][0]["reason"] == "uploadLimitExceeded"
