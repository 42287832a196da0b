"""The YouTube sandbox in its own process, and the few HTTP calls the benchmarks make to it."""

from __future__ import annotations

import json
import math
import selectors
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 60.0


class EmulatorError(RuntimeError):
    """The sandbox process did not start, or answered something unexpected."""


class YouTubeProcess:
    """Runs `python -m sandbox.youtube` on a free loopback port until stopped."""

    def __init__(self, storage: Path, log_path: Path) -> None:
        self.storage = storage
        self.log_path = log_path
        self.url = ""
        self.token_uri = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> YouTubeProcess:
        """Start the process and wait (bounded) for the JSON line with its URLs."""
        self.storage.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "sandbox.youtube", "--port", "0"]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [*command, "--storage", str(self.storage)],
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        line = self._first_line()
        info = json.loads(line)
        self.url, self.token_uri = info["url"], info["token_uri"]
        return self

    def _first_line(self) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=0.2):
                    line = self._proc.stdout.readline()
                    if line.strip():
                        return line
                if self._proc.poll() is not None:
                    break
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise EmulatorError(f"the YouTube sandbox did not start; its log ends with:\n{tail}")

    def stop(self) -> None:
        """Ask the process to stop (SIGTERM), killing it if it does not within a bound."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)

    def __enter__(self) -> YouTubeProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def get_json(url: str) -> Any:
    """GET a JSON document from the sandbox."""
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
        return json.loads(response.read())


def post_json(url: str, body: dict[str, Any]) -> Any:
    """POST a JSON body to the sandbox and return its JSON answer."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
        return json.loads(response.read())


def add_channel(api_url: str, client_id: str, secret: str, refresh_token: str, title: str) -> str:
    """Register an OAuth client and a refresh token acting for a new channel; return its id."""
    body = {
        "client_id": client_id,
        "client_secret": secret,
        "refresh_token": refresh_token,
        "title": title,
    }
    return str(post_json(api_url + "_sandbox/channels", body)["channel_id"])


def access_token(token_uri: str, client_id: str, secret: str, refresh_token: str) -> str:
    """Exchange a refresh token for an access token at the sandbox's OAuth endpoint."""
    form = urllib.parse.urlencode(
        {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": secret,
            "refresh_token": refresh_token,
        }
    ).encode()
    with urllib.request.urlopen(token_uri, data=form, timeout=HTTP_TIMEOUT_S) as response:
        return str(json.loads(response.read())["access_token"])


def percentile(values: list[float], q: float) -> float:
    """Return the nearest-rank `q` quantile (0 < q <= 1) of non-empty `values`."""
    ordered = sorted(values)
    rank = math.ceil(round(q * len(ordered), 6))
    return ordered[min(max(rank, 1), len(ordered)) - 1]
