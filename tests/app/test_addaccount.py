"""/addaccount and /reauth: Google's device flow from the chat, end to end."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.demo import SANDBOX_DEVICE_CLIENT
from core.models import Account, AccountStatus, TaskState
from tests.app.conftest import ADMIN, OPERATOR, Harness, Message, body, running_harness

TV_CLIENT_ID = SANDBOX_DEVICE_CLIENT[0]
USER_CODE = re.compile(r"\b([B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4})\b")
#: What the admin (Chinese) reads when a code is shown: "... then enter the code".
CODE_SHOWN = "然后输入代码"


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """A running process whose emulated Google asks to be polled every 50 ms."""
    async with running_harness(tmp_path) as harness:
        harness.youtube.device_interval_s = 0.05
        yield harness


async def _code(h: Harness, command: str = "/addaccount") -> tuple[str, str]:
    """Send a command as the admin; return the new user code the bot shows, and the message."""
    earlier = {d.user_code for d in h.youtube.device_authorizations}

    def new_code(message: Message) -> bool:
        match = USER_CODE.search(body(message))
        return CODE_SHOWN in body(message) and match is not None and match[1] not in earlier

    await h.say(command, user=ADMIN)
    shown = body(await h.telegram.wait_for_bot_message(ADMIN, new_code))
    match = USER_CODE.search(shown)
    assert match is not None
    return match[1], shown


async def _account(h: Harness, name: str) -> Account:
    assert h.manager is not None
    account = await h.manager.store.account_by_name(name)
    assert account is not None
    return account


async def _names(h: Harness) -> list[str]:
    assert h.manager is not None
    return [a.name for a in await h.manager.store.list_accounts()]


async def _hold_main(h: Harness) -> None:
    """Publish a video as the operator and wait until main's dead token holds it."""
    await h.send_video(h.clip(), "Held until re-authorised")
    await h.say("/publish 1")
    await h.expect("will be published now")
    await h.expect("accounts reauth main", user=ADMIN)
    assert (await _account(h, "main")).status is AccountStatus.NEEDS_AUTH


async def _published(h: Harness, task_id: int = 1) -> Message:
    return await h.expect(f"Task #{task_id} is published", within_s=20)


async def test_an_admin_connects_a_channel_from_the_chat_and_a_video_publishes_on_it(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code, shown = await _code(h)
    assert h.youtube.url + "device" in shown and "30 分钟内有效" in shown

    h.youtube.approve_device(code, "UCsecond", title="Second Channel", refresh_token="1//rt-2nd")
    added = body(await h.expect("已连接", user=ADMIN))
    assert "Second Channel" in added and "UCsecond" in added and "Asia/Shanghai" in added

    assert h.manager is not None
    store = h.manager.store
    account = await _account(h, "Second Channel")
    assert (account.channel_id, account.status) == ("UCsecond", AccountStatus.ACTIVE)
    credentials = await store.credentials(account.id)
    assert (credentials.client_id, credentials.refresh_token) == (TV_CLIENT_ID, "1//rt-2nd")
    async with store.engine.connect() as conn:
        sealed = (await conn.execute(sa.text("SELECT refresh_token_enc FROM accounts"))).all()
    assert all("1//rt-2nd" not in str(row[0]) for row in sealed)

    await store.set_account_status(1, AccountStatus.SUSPENDED, now=h.clock.now(), reason="test")
    card = await h.send_video(h.clip(), "On the new channel")
    assert "Second Channel" in body(card)
    await h.say("/publish 1")
    await _published(h)
    [video] = await h.youtube.wait_for_videos(1, timeout=10)
    assert (video.channel_id, video.client_id) == ("UCsecond", TV_CLIENT_ID)

    device_code = h.youtube.device_authorizations[0].device_code
    for secret in (device_code, "1//rt-2nd", "ya29.", "sandbox-tv-secret"):
        assert secret not in caplog.text


async def test_a_refused_consent_says_so_and_frees_the_chat_for_another_try(h: Harness) -> None:
    code, _ = await _code(h)
    h.youtube.deny_device(code)

    refused = await h.expect("拒绝授权", user=ADMIN)
    assert "没有做任何更改" in body(refused)
    assert await _names(h) == ["main"]
    again, _ = await _code(h)
    assert again != code


async def test_a_code_nobody_entered_expires_and_the_chat_is_told(h: Harness) -> None:
    h.youtube.device_expires_s = 0.3
    code, shown = await _code(h)
    assert "1 分钟内有效" in shown

    expired = await h.expect("已过期", user=ADMIN)
    assert code in body(expired)
    assert await _names(h) == ["main"]


async def test_an_operator_may_not_add_or_reauthorise_a_channel(h: Harness) -> None:
    await h.say("/addaccount")
    first = await h.expect("Your role does not allow that.")
    await h.say("/reauth main")
    await h.telegram.wait_for_bot_message(
        OPERATOR,
        lambda m: (
            "Your role does not allow that." in body(m) and m["message_id"] != first["message_id"]
        ),
    )

    assert sum("Your role does not allow that." in t for t in h.texts()) == 2
    assert h.youtube.device_authorizations == []


async def test_one_sign_in_waits_per_chat_and_a_restart_drops_it(h: Harness) -> None:
    code, _ = await _code(h)
    await h.say("/addaccount other", user=ADMIN)
    waiting = await h.expect("已有一个授权在等待", user=ADMIN)
    assert code in body(waiting)
    assert len(h.youtube.device_authorizations) == 1

    await h.stop()
    await h.start()
    fresh, _ = await _code(h)
    assert fresh != code and len(h.youtube.device_authorizations) == 2


async def test_without_the_oauth_client_settings_the_admin_is_told_which_to_set(
    tmp_path: Path,
) -> None:
    async with running_harness(
        tmp_path, google_client_id=None, google_client_secret=None
    ) as harness:
        await harness.say("/addaccount", user=ADMIN)
        told = body(await harness.expect("PM_GOOGLE_CLIENT_ID", user=ADMIN))
        assert "PM_GOOGLE_CLIENT_SECRET" in told and "电视和输入受限的设备" in told
        assert harness.youtube.device_authorizations == []


async def test_a_new_account_takes_the_name_asked_or_its_channel_title_made_unique(
    h: Harness,
) -> None:
    await h.say("/addaccount main", user=ADMIN)
    await h.expect("已经有名为 main 的账号", user=ADMIN)

    code, _ = await _code(h, "/addaccount 旅行 频道")
    h.youtube.approve_device(code, "UCtravel", title="Travel")
    await h.expect("旅行 频道", user=ADMIN)
    code, _ = await _code(h)
    h.youtube.approve_device(code, "UCfood", title="旅行 频道")
    await h.expect("UCfood", user=ADMIN)
    code, _ = await _code(h)
    h.youtube.approve_device(code, "UCtravel")
    already = await h.expect("已作为", user=ADMIN)

    assert "/reauth 旅行 频道" in body(already)
    assert await _names(h) == ["main", "旅行 频道", "旅行 频道 2"]


async def test_reauth_of_a_channel_needing_it_makes_it_active_and_its_held_task_publishes(
    h: Harness,
) -> None:
    h.youtube.revoke("refresh-1")
    await _hold_main(h)

    code, shown = await _code(h, "/reauth main")
    assert "重新授权 main" in shown
    h.youtube.approve_device(code, "UCmain", refresh_token="1//rt-renewed")
    await h.expect("已重新授权并恢复可用", user=ADMIN)

    await _published(h)
    assert h.manager is not None
    account = await _account(h, "main")
    credentials = await h.manager.store.credentials(account.id)
    assert account.status is AccountStatus.ACTIVE and account.status_reason == "re-authorised"
    assert (credentials.client_id, credentials.refresh_token) == (TV_CLIENT_ID, "1//rt-renewed")
    [video] = h.youtube.videos
    assert (video.channel_id, video.client_id) == ("UCmain", TV_CLIENT_ID)


async def test_a_re_consent_without_a_refresh_token_keeps_the_stored_one(h: Harness) -> None:
    h.youtube.fail_next("token", error="invalid_grant")  # main's next refresh fails once
    await _hold_main(h)

    code, _ = await _code(h, "/reauth main")
    h.youtube.approve_device(code, "UCmain", issue_refresh_token=False)
    kept = await h.expect("保留了仍然有效的原令牌", user=ADMIN)

    assert "main" in body(kept)
    await _published(h)
    assert h.manager is not None
    credentials = await h.manager.store.credentials(1)
    assert (credentials.client_id, credentials.refresh_token) == ("client-1", "refresh-1")
    assert (await _account(h, "main")).status is AccountStatus.ACTIVE


async def test_reauth_with_another_channels_consent_is_refused_and_changes_nothing(
    h: Harness,
) -> None:
    h.youtube.revoke("refresh-1")
    await _hold_main(h)

    code, _ = await _code(h, "/reauth main")
    h.youtube.approve_device(code, "UCother", title="Someone else", refresh_token="1//rt-x")
    refused = body(await h.expect("已拒绝", user=ADMIN))

    assert "Someone else (UCother)" in refused and "Main (UCmain)" in refused
    assert h.manager is not None
    credentials = await h.manager.store.credentials(1)
    assert credentials.refresh_token == "refresh-1"
    assert (await _account(h, "main")).status is AccountStatus.NEEDS_AUTH
    await asyncio.sleep(0.2)
    task = await h.manager.store.get_task(1)
    assert task is not None and task.state is TaskState.QUEUED and h.youtube.videos == []


async def test_reauth_names_the_account_it_needs(h: Harness) -> None:
    await h.say("/reauth", user=ADMIN)
    await h.expect("用法：/reauth", user=ADMIN)
    await h.say("/reauth nosuch", user=ADMIN)
    await h.expect("没有名为 nosuch 的账号", user=ADMIN)
    assert h.youtube.device_authorizations == []
