"""Real processes for crash tests: both emulators and publish-manager, each in its own process.

The emulators stay up for the whole test; the product is started, killed with SIGKILL and
started again on the same data directory. The test reads the product's SQLite file read-only
and plays the person through the Telegram sandbox's HTTP control API.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
HTTP_TIMEOUT_S = 30.0
TOKEN = "100003:crash-test-bot-token-abcdefghij"
OPERATOR = 7001
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "crash-client", "crash-secret", "crash-refresh"
CHANNEL_ID = "UCcrash"
#: The line `publish-manager run` logs once the engine and the bot's polling are up.
STARTED_LINE = "publish-manager started"
_SERVING = re.compile(r"serving on (http://\S+)")


class RigError(RuntimeError):
    """A process of the rig did not start, stop or answer as expected."""


def _first_line(proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> str:
    """Return the first non-empty stdout line of `proc`, waiting at most `timeout_s`."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = proc.stdout.readline().decode(errors="replace").strip()
                if line:
                    return line
            if proc.poll() is not None:
                break
    raise RigError(f"{proc.args!r} did not start; its log ends with:\n{_tail(log)}")


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    """Signal a process and reap it within a bound, killing it if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


class Rig:
    """The Telegram and YouTube emulators out of process, and a restartable product process."""

    def __init__(self, root: Path, **settings: str) -> None:
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.data_dir = root / "data"
        self.db_path = self.data_dir / "publish-manager.db"
        self.settings = settings
        self.telegram_url = ""
        self.youtube_url = ""
        self.token_uri = ""
        self.product: subprocess.Popen[bytes] | None = None
        self.product_log: Path | None = None
        self.starts = 0
        self._emulators: list[subprocess.Popen[bytes]] = []
        self._log_files: list[IO[bytes]] = []
        self._http = httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False)

    # -- processes

    def _spawn_emulator(self, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.logs / f"{name}.log"
        out = log.open("ab")
        self._log_files.append(out)
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=out,
        )
        self._emulators.append(proc)
        return proc, log

    def start_emulators(self) -> None:
        """Start both emulators and register the channel and the person."""
        telegram, telegram_log = self._spawn_emulator(
            "telegram",
            *("sandbox.telegram", "--port", "0", "--token", TOKEN),
            *("--files", str(self.root / "telegram"), "--log-level", "WARNING"),
        )
        youtube, youtube_log = self._spawn_emulator(
            "youtube", "sandbox.youtube", "--port", "0", "--storage", str(self.root / "youtube")
        )
        match = _SERVING.search(_first_line(telegram, telegram_log, START_TIMEOUT_S))
        if match is None:
            tail = _tail(telegram_log)
            raise RigError(f"the Telegram sandbox did not say where it serves:\n{tail}")
        self.telegram_url = match.group(1)
        endpoints = json.loads(_first_line(youtube, youtube_log, START_TIMEOUT_S))
        self.youtube_url, self.token_uri = endpoints["url"], endpoints["token_uri"]
        self.youtube_post(
            "_sandbox/channels",
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
                "channel_id": CHANNEL_ID,
                "title": "Crash Channel",
            },
        )
        self.telegram("user", id=OPERATOR, first_name="Olga", language_code="en")

    def env(self) -> dict[str, str]:
        """Return the product's environment: PM_* settings pointing at the emulators."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
        env.update(
            {
                "PM_TELEGRAM_TOKEN": TOKEN,
                "PM_TELEGRAM_API_URL": self.telegram_url,
                "PM_YOUTUBE_API_URL": self.youtube_url,
                "PM_GOOGLE_TOKEN_URI": self.token_uri,
                "PM_DATA_DIR": str(self.data_dir),
                "PM_SECRET_KEY": "crash-secret-key-0123456789abcdef",
                "PM_OPERATOR_IDS": str(OPERATOR),
                "PM_ADMIN_IDS": "7999",
                "PM_LANGUAGE": "en",
                "PM_LOG_LEVEL": "INFO",
                # Twenty uploads in a row on one channel: its cap and spacing are not tested here.
                "PM_ACCOUNT_MIN_INTERVAL_H": "0",
                "PM_ACCOUNT_UPLOADS_PER_DAY": "1000",
                "PM_QUOTA_DAILY_UNITS": "10000000",
            }
        )
        env.update(self.settings)
        return env

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one `publish-manager` command to completion (bounded)."""
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def add_account(self) -> str:
        """Register the emulated channel with `publish-manager accounts add youtube`."""
        added = self.cli(
            *("accounts", "add", "youtube", "--name", "main", "--client-id", CLIENT_ID),
            *("--client-secret", CLIENT_SECRET, "--refresh-token", REFRESH_TOKEN),
        )
        if added.returncode != 0:
            raise RigError(f"accounts add failed: {added.stderr}")
        return added.stdout.strip()

    def start_product(self, *command: str) -> subprocess.Popen[bytes]:
        """Start `publish-manager run` (or `command`) on the data directory, with its own log."""
        if self.product is not None and self.product.poll() is None:
            raise RigError("the product is already running")
        self.starts += 1
        self.product_log = self.logs / f"run-{self.starts:02d}.log"
        out = self.product_log.open("wb")
        self._log_files.append(out)
        self.product = subprocess.Popen(
            [sys.executable, *(command or ("-m", "app.cli", "run"))],
            cwd=self.root,
            env=self.env() | {"PYTHONPATH": str(REPO_ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        return self.product

    def wait_started(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Wait until the product logs that it started; return the monotonic instant."""
        assert self.product is not None and self.product_log is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if STARTED_LINE in _tail(self.product_log, 1_000_000):
                return time.monotonic()
            if self.product.poll() is not None:
                break
            time.sleep(0.01)
        raise RigError(f"the product did not start; its log ends with:\n{_tail(self.product_log)}")

    def kill_product(self) -> None:
        """SIGKILL the product and reap it."""
        _stop(self.product, signal.SIGKILL)

    def stop_product(self) -> int | None:
        """Stop the product the way an operator does (SIGTERM); return its exit status."""
        _stop(self.product, signal.SIGTERM)
        return None if self.product is None else self.product.returncode

    def close(self) -> None:
        """Stop every process and close the logs."""
        _stop(self.product, signal.SIGKILL)
        for proc in self._emulators:
            _stop(proc)
        for out in self._log_files:
            out.close()
        self._http.close()

    # -- HTTP

    def telegram(self, action: str, **kwargs: Any) -> Any:
        """Call one action of the Telegram sandbox's control API; return its result."""
        response = self._http.post(f"{self.telegram_url}/_sandbox/{action}", json=kwargs)
        answer = response.json()
        if not answer.get("ok"):
            raise RigError(f"Telegram sandbox {action}: {answer.get('error')}")
        return answer["result"]

    def youtube_get(self, path: str) -> Any:
        """GET one of the YouTube sandbox's inspection endpoints."""
        response = self._http.get(self.youtube_url + path)
        response.raise_for_status()
        return response.json()

    def youtube_post(self, path: str, body: dict[str, Any]) -> Any:
        """POST to one of the YouTube sandbox's control endpoints."""
        response = self._http.post(self.youtube_url + path, json=body)
        response.raise_for_status()
        return response.json()

    # -- the database, read-only

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run one read-only query on the product's SQLite file; [] before it exists."""
        if not self.db_path.exists():
            return []
        uri = f"file:{self.db_path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10.0)) as conn:
            return list(conn.execute(sql, params).fetchall())
