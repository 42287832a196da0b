"""The sandbox's OAuth device flow on the wire, and the device-flow client against it."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from platforms.google_device import (
    DeviceAccessDeniedError,
    DeviceCode,
    DeviceCodeExpiredError,
    DeviceFlowClient,
    DeviceFlowError,
)
from sandbox.youtube import YouTubeSandbox

SCOPE = "https://www.googleapis.com/auth/youtube"
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE = re.compile(r"^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$")


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[YouTubeSandbox]:
    youtube = YouTubeSandbox(tmp_path / "youtube")
    await youtube.start()
    youtube.add_client("tv-client", "tv-secret")
    youtube.add_channel("web-client", "web-secret", "refresh-a", channel_id="UCa", title="A")
    youtube.device_interval_s = 0.1
    yield youtube
    await youtube.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def _device_code(
    http: httpx.AsyncClient, sandbox: YouTubeSandbox, client_id: str = "tv-client", **form: str
) -> httpx.Response:
    return await http.post(
        sandbox.device_uri, data={"client_id": client_id, "scope": SCOPE, **form}
    )


async def _poll(
    http: httpx.AsyncClient, sandbox: YouTubeSandbox, device_code: str, secret: str = "tv-secret"
) -> httpx.Response:
    form = {
        "client_id": "tv-client",
        "client_secret": secret,
        "device_code": device_code,
        "grant_type": GRANT,
    }
    return await http.post(sandbox.token_uri, data=form)


async def _started(http: httpx.AsyncClient, sandbox: YouTubeSandbox) -> dict[str, Any]:
    response = await _device_code(http, sandbox)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _client(http: httpx.AsyncClient, sandbox: YouTubeSandbox, **kwargs: Any) -> DeviceFlowClient:
    return DeviceFlowClient(http, sandbox.device_uri, sandbox.token_uri, **kwargs)


# -- the wire ----------------------------------------------------------------------------------


async def test_device_endpoint_answers_googles_fields_with_a_typeable_user_code(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    body = await _started(http, sandbox)

    assert set(body) == {"device_code", "user_code", "verification_url", "expires_in", "interval"}
    assert USER_CODE.match(body["user_code"])
    assert body["verification_url"] == sandbox.url + "device"
    assert (body["expires_in"], body["interval"]) == (1800, 0.1)
    page = await http.get(body["verification_url"])
    assert page.status_code == 200 and "approve" in page.text


@pytest.mark.parametrize(
    ("client_id", "scope", "status", "error"),
    [
        ("unknown-client", SCOPE, 401, "invalid_client"),
        # Google does not allow youtube.upload in the device flow; youtube covers uploads.
        ("tv-client", "https://www.googleapis.com/auth/youtube.upload", 400, "invalid_scope"),
    ],
)
async def test_device_endpoint_refuses_an_unknown_client_and_scopes_google_does_not_allow(
    sandbox: YouTubeSandbox,
    http: httpx.AsyncClient,
    client_id: str,
    scope: str,
    status: int,
    error: str,
) -> None:
    response = await _device_code(http, sandbox, client_id, scope=scope)

    assert (response.status_code, response.json()["error"]) == (status, error)


async def test_an_undecided_code_is_428_pending_and_polling_faster_than_the_interval_is_slow_down(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    sandbox.slow_down_step_s = 0.5
    body = await _started(http, sandbox)

    first = await _poll(http, sandbox, body["device_code"])
    too_soon = await _poll(http, sandbox, body["device_code"])
    await asyncio.sleep(0.1)
    inside_the_new_interval = await _poll(http, sandbox, body["device_code"])

    assert (first.status_code, first.json()["error"]) == (428, "authorization_pending")
    assert (too_soon.status_code, too_soon.json()["error"]) == (403, "slow_down")
    assert inside_the_new_interval.json()["error"] == "slow_down"
    assert [p.error for p in sandbox.device_polls] == [
        "authorization_pending",
        "slow_down",
        "slow_down",
    ]


async def test_an_approved_code_gives_tokens_once_and_the_refresh_token_acts_for_the_channel(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    body = await _started(http, sandbox)
    channel = sandbox.approve_device(body["user_code"], "UCnew", title="New", refresh_token="rt-n")

    tokens = await _poll(http, sandbox, body["device_code"])
    await asyncio.sleep(0.1)
    again = await _poll(http, sandbox, body["device_code"])

    assert channel == "UCnew"
    assert tokens.status_code == 200
    assert tokens.json()["refresh_token"] == "rt-n" and tokens.json()["scope"] == SCOPE
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    refresh = {
        "grant_type": "refresh_token",
        "client_id": "tv-client",
        "client_secret": "tv-secret",
        "refresh_token": "rt-n",
    }
    access = (await http.post(sandbox.token_uri, data=refresh)).json()["access_token"]
    mine = await http.get(
        sandbox.url + "youtube/v3/channels?part=snippet&mine=true",
        headers={"Authorization": f"Bearer {access}"},
    )
    [item] = mine.json()["items"]
    assert (item["id"], item["snippet"]["title"]) == ("UCnew", "New")


async def test_an_existing_channel_can_consent_to_a_second_client(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    body = await _started(http, sandbox)
    sandbox.approve_device(body["user_code"], "UCa", refresh_token="rt-tv")
    await _poll(http, sandbox, body["device_code"])

    for client_id, secret, token in (
        ("tv-client", "tv-secret", "rt-tv"),
        ("web-client", "web-secret", "refresh-a"),
    ):
        form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": secret,
            "refresh_token": token,
        }
        assert (await http.post(sandbox.token_uri, data=form)).status_code == 200
    crossed = {
        "grant_type": "refresh_token",
        "client_id": "web-client",
        "client_secret": "web-secret",
        "refresh_token": "rt-tv",
    }
    assert (await http.post(sandbox.token_uri, data=crossed)).json()["error"] == "invalid_grant"


async def test_a_re_consent_without_a_refresh_token_answers_an_access_token_only(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    body = await _started(http, sandbox)
    sandbox.approve_device(body["user_code"], "UCa", issue_refresh_token=False)

    tokens = (await _poll(http, sandbox, body["device_code"])).json()

    assert tokens["access_token"] and "refresh_token" not in tokens


async def test_a_refused_code_is_403_access_denied_and_an_expired_one_400_expired_token(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    refused = await _started(http, sandbox)
    expired = await _started(http, sandbox)
    sandbox.deny_device(refused["user_code"])
    sandbox.expire_device(expired["user_code"])

    denied = await _poll(http, sandbox, refused["device_code"])
    gone = await _poll(http, sandbox, expired["device_code"])

    assert (denied.status_code, denied.json()["error"]) == (403, "access_denied")
    assert (gone.status_code, gone.json()["error"]) == (400, "expired_token")
    with pytest.raises(ValueError, match="no longer waiting"):
        sandbox.approve_device(refused["user_code"])


async def test_polls_with_a_wrong_secret_or_an_unknown_code_are_refused(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    body = await _started(http, sandbox)

    wrong_secret = await _poll(http, sandbox, body["device_code"], secret="guess")
    unknown = await _poll(http, sandbox, "AH-made-up")

    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")


async def test_the_http_control_decides_codes_and_lists_them_without_the_device_code(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    approved = await _started(http, sandbox)
    refused = await _started(http, sandbox)
    control = sandbox.url + "_sandbox/"

    made = await http.post(
        control + "device/approve",
        json={"user_code": approved["user_code"], "channel_id": "UCx", "title": "X"},
    )
    await http.post(control + "device/deny", json={"user_code": refused["user_code"]})
    listed = await http.get(control + "devices")
    bad = await http.post(control + "device/deny", json={"user_code": "NONE-NONE"})

    assert made.json() == {"channel_id": "UCx"}
    assert [(d["user_code"], d["state"]) for d in listed.json()] == [
        (approved["user_code"], "approved"),
        (refused["user_code"], "denied"),
    ]
    assert approved["device_code"] not in listed.text
    assert bad.status_code == 400


# -- the client --------------------------------------------------------------------------------


async def _approve_after(sandbox: YouTubeSandbox, code: DeviceCode, seconds: float) -> None:
    await asyncio.sleep(seconds)
    sandbox.approve_device(code.user_code, "UCa", refresh_token="rt-client")


async def test_the_client_polls_at_the_interval_until_the_person_allows_access(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    client = _client(http, sandbox)
    code = await client.start("tv-client")
    assert "device_code" not in repr(code) and code.device_code not in repr(code)

    approval = asyncio.create_task(_approve_after(sandbox, code, 0.35))
    tokens = await client.poll(code, "tv-client", "tv-secret")
    await approval

    assert tokens.refresh_token == "rt-client" and tokens.scope == SCOPE
    errors = [p.error for p in sandbox.device_polls]
    assert errors[-1] is None and set(errors[:-1]) == {"authorization_pending"}
    assert len(errors) >= 3
    gaps = [b.at - a.at for a, b in itertools.pairwise(sandbox.device_polls)]
    assert min(gaps) >= 0.09


async def test_the_client_adds_the_slow_down_step_to_its_interval(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    sandbox.slow_down_step_s = 0.3
    client = _client(http, sandbox, slow_down_step_s=0.3)
    code = await client.start("tv-client")
    sandbox.fail_next("device_token", error="slow_down")

    approval = asyncio.create_task(_approve_after(sandbox, code, 0.6))
    await client.poll(code, "tv-client", "tv-secret")
    await approval

    polls = sandbox.device_polls
    assert polls[0].error == "slow_down"
    assert "slow_down" not in [p.error for p in polls[1:]]
    assert all(b.at - a.at >= 0.35 for a, b in itertools.pairwise(polls))


async def test_the_client_raises_on_a_refusal_and_on_an_expired_code_without_the_secret(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    client = _client(http, sandbox)
    refused = await client.start("tv-client")
    sandbox.deny_device(refused.user_code)
    sandbox.device_expires_s = 0.25
    lapsing = await client.start("tv-client")

    with pytest.raises(DeviceAccessDeniedError) as denied:
        await client.poll(refused, "tv-client", "tv-secret")
    with pytest.raises(DeviceCodeExpiredError) as expired:
        await client.poll(lapsing, "tv-client", "tv-secret")

    assert denied.value.reason == "access_denied" and expired.value.reason == "expired_token"
    for error, code in ((denied.value, refused), (expired.value, lapsing)):
        assert code.device_code not in str(error) and "tv-secret" not in str(error)


async def test_the_client_names_googles_error_when_the_oauth_client_is_refused(
    sandbox: YouTubeSandbox, http: httpx.AsyncClient
) -> None:
    client = _client(http, sandbox)
    with pytest.raises(DeviceFlowError) as unknown:
        await client.start("no-such-client")
    code = await client.start("tv-client")
    with pytest.raises(DeviceFlowError) as wrong_secret:
        await client.poll(code, "tv-client", "not-the-secret")

    assert unknown.value.reason == "invalid_client" and unknown.value.status == 401
    assert wrong_secret.value.reason == "invalid_client"
    assert "not-the-secret" not in str(wrong_secret.value)
