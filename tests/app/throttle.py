"""A loopback TCP proxy that slows what clients send, so uploads take as long as over a network.

On loopback the emulated YouTube takes a chunk in a few milliseconds, so a process killed at a
random moment is rarely caught mid-chunk. Between the product and the sandbox this proxy sends
client bytes at a fixed rate (answers pass at full speed) and records when they last flowed, so a
test can tell whether a kill cut a request body in two. A client that goes away (SIGKILL) makes
the proxy abort the upstream connection, which the server sees as a body that broke off.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

READ_BLOCK_B = 64 * 1024
START_TIMEOUT_S = 10.0


class ThrottledProxy:
    """Forwards 127.0.0.1:<port> to an upstream host:port in a thread with its own loop."""

    def __init__(self, upstream_host: str, upstream_port: int, rate_bps: float) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._rate_bps = rate_bps
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.bytes_up = 0
        self.last_up_at = float("-inf")
        self._send_at = 0.0

    @property
    def url(self) -> str:
        """Return the proxy's root URL with a trailing slash."""
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> ThrottledProxy:
        """Start serving on a free port (bounded wait)."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=START_TIMEOUT_S)
        return self

    def sent_within(self, seconds: float) -> bool:
        """Tell whether client bytes were forwarded in the last `seconds`."""
        return time.monotonic() - self.last_up_at <= seconds

    def stop(self) -> None:
        """Close every connection and stop the thread (bounded wait)."""
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        with contextlib.suppress(TimeoutError):
            future.result(timeout=START_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=START_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2.0)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_w.transport.abort()
            return
        self._writers |= {client_w, up_w}
        try:
            await asyncio.gather(
                self._pump(client_r, up_w, throttled=True),
                self._pump(up_r, client_w, throttled=False),
            )
        finally:
            self._writers -= {client_w, up_w}

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, throttled: bool
    ) -> None:
        try:
            while True:
                block = await reader.read(READ_BLOCK_B)
                if not block:
                    break
                if throttled:
                    # Pace against a schedule, not per block, so sleep overshoot does not add up.
                    now = time.monotonic()
                    self._send_at = max(self._send_at, now) + len(block) / self._rate_bps
                    await asyncio.sleep(self._send_at - now)
                    self.bytes_up += len(block)
                    self.last_up_at = time.monotonic()
                writer.write(block)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        # Either side going away ends the exchange abruptly, as a killed process's socket does.
        writer.transport.abort()
