"""Runs `publish-manager run` with a SIGKILL planted at one exact point, for crash tests.

`python -m tests.app.crash_at POINT` is the real command line with the process killing itself
(SIGKILL, so nothing is flushed or cleaned up) the first time it reaches POINT:

- `published-before-notify`: a task's `published` transition is committed and the notifier has
  not yet been called for it, the gap between two of the engine's steps.
- `sent-before-done`: the Bot API has accepted a task's "is published" message and the outbox
  has not yet marked it sent.

Random kills rarely land in gaps this narrow; planting the kill shows what each gap does.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from app.cli import main
from bot.notifier import TelegramNotifier
from bot.outbox import TelegramOutbox
from core.models import TaskState

POINTS = ("published-before-notify", "sent-before-done")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def plant(point: str) -> None:
    """Patch the product so that it kills itself at `point`."""
    if point == "published-before-notify":
        task_changed = TelegramNotifier.task_changed

        async def notify(self: TelegramNotifier, task_id: int) -> None:
            view = await self._service.view_for_card(task_id)
            if view is not None and view.task.state is TaskState.PUBLISHED:
                _die()
            await task_changed(self, task_id)

        TelegramNotifier.task_changed = notify  # type: ignore[method-assign]
    elif point == "sent-before-done":
        send = TelegramOutbox._send_task_change

        async def send_then_die(self: TelegramOutbox, row: dict[str, Any], mode: Any) -> None:
            await send(self, row, mode)
            if row["body"] == TaskState.PUBLISHED.value:
                _die()

        TelegramOutbox._send_task_change = send_then_die  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown point {point!r}; known: {', '.join(POINTS)}")


if __name__ == "__main__":
    plant(sys.argv[1])
    raise SystemExit(main(["run"]))
