"""The command line, run as a deploying team runs it: a real process, real settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.cli import main

HELP_PATHS = [
    [],
    ["run"],
    ["demo"],
    ["accounts"],
    ["accounts", "list"],
    ["accounts", "add"],
    ["accounts", "add", "youtube"],
]


@pytest.mark.parametrize("path", HELP_PATHS, ids=lambda p: " ".join(p) or "top")
def test_every_subcommand_has_help(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*path, "--help"])
    assert exit_.value.code == 0
    assert "usage: publish-manager" in capsys.readouterr().out


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
    env.update({"PM_DATA_DIR": str(tmp_path / "data"), "PM_SECRET_KEY": "cli-secret-key-123456"})
    env.update(extra)
    return env


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=_env(tmp_path, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PM_ADMIN_IDS", "alice", "PM_ADMIN_IDS: expected Telegram user ids"),
        ("PM_TIMEZONE", "Nowhere/City", "PM_TIMEZONE: expected an IANA time zone"),
        ("PM_SECRET_KEY", "", "PM_SECRET_KEY is not set"),
    ],
)
def test_a_bad_setting_stops_the_start_with_one_line_naming_it(
    tmp_path: Path, name: str, value: str, expected: str
) -> None:
    result = _cli(tmp_path, "accounts", "list", **{name: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("publish-manager: ")
    assert expected in result.stderr


def test_run_without_a_bot_token_names_the_setting(tmp_path: Path) -> None:
    result = _cli(tmp_path, "run")
    assert result.returncode == 2
    assert "PM_TELEGRAM_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def youtube(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The YouTube emulator in its own process, with one channel registered."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.youtube",
            "--port",
            "0",
            "--storage",
            str(tmp_path / "yt"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoints: dict[str, str] = json.loads(process.stdout.readline())
        httpx.post(
            endpoints["url"] + "_sandbox/channels",
            json={
                "client_id": "cid",
                "client_secret": "csecret",
                "refresh_token": "rtoken",
                "channel_id": "UCcli",
                "title": "CLI Channel",
            },
            timeout=10,
        ).raise_for_status()
        yield endpoints
    finally:
        process.terminate()
        process.wait(timeout=10)


def _youtube_env(endpoints: dict[str, str]) -> dict[str, str]:
    return {"PM_YOUTUBE_API_URL": endpoints["url"], "PM_GOOGLE_TOKEN_URI": endpoints["token_uri"]}


def test_accounts_add_youtube_stores_the_channel_youtube_names(
    tmp_path: Path, youtube: dict[str, str]
) -> None:
    env = _youtube_env(youtube)
    added = _cli(
        tmp_path,
        *("accounts", "add", "youtube", "--name", "main", "--client-id", "cid"),
        *("--client-secret", "csecret", "--refresh-token", "rtoken"),
        **env,
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added account 1 main (CLI Channel, UCcli)"
    listed = _cli(tmp_path, "accounts", "list", **env)
    assert listed.stdout.split("\t")[:4] == ["1", "main", "youtube", "active"]
    database = (tmp_path / "data" / "publish-manager.db").read_bytes()
    assert b"rtoken" not in database and b"csecret" not in database


def test_credentials_youtube_refuses_are_not_stored(
    tmp_path: Path, youtube: dict[str, str]
) -> None:
    env = _youtube_env(youtube)
    added = _cli(
        tmp_path,
        *("accounts", "add", "youtube", "--name", "main", "--client-id", "cid"),
        *("--client-secret", "csecret", "--refresh-token", "revoked-or-mistyped"),
        **env,
    )
    assert added.returncode == 2
    assert "YouTube did not accept these credentials" in added.stderr
    assert "revoked-or-mistyped" not in added.stderr
    assert "no accounts" in _cli(tmp_path, "accounts", "list", **env).stdout


def test_interactive_consent_stores_the_refresh_token_google_returns(
    tmp_path: Path, youtube: dict[str, str]
) -> None:
    httpx.post(
        youtube["url"] + "_sandbox/auth_codes",
        json={"code": "consent-code", "refresh_token": "rtoken"},
        timeout=10,
    ).raise_for_status()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            *("accounts", "add", "youtube", "--name", "consented", "--client-id", "cid"),
            *("--client-secret", "csecret", "--interactive"),
        ],
        env=_env(tmp_path, **_youtube_env(youtube)),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    consent_url = ""
    for line in process.stdout:
        if line.startswith("http"):
            consent_url = line.strip()
            break
    query = urllib.parse.parse_qs(urllib.parse.urlparse(consent_url).query)
    assert query["scope"] == ["https://www.googleapis.com/auth/youtube"]
    assert query["access_type"] == ["offline"]
    # The person signs in; Google sends the browser back to the loopback redirect.
    redirect = query["redirect_uri"][0]
    params = {"code": "consent-code", "state": query["state"][0]}
    httpx.get(redirect, params=params, timeout=10)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert re.search(r"added account 1 consented \(CLI Channel, UCcli\)", rest)


def test_a_second_run_on_the_same_data_directory_stops_with_one_line(tmp_path: Path) -> None:
    from app.cli import hold_run_lock

    (tmp_path / "data").mkdir()
    lock = hold_run_lock(tmp_path / "data")
    try:
        result = _cli(tmp_path, "run", PM_TELEGRAM_TOKEN="100003:lock-test")
    finally:
        lock.close()
    assert result.returncode == 2
    assert "already runs on PM_DATA_DIR" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
