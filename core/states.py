"""The task state machine: which transitions are allowed."""

from __future__ import annotations

from core.errors import TaskStateError
from core.models import TaskState

S = TaskState

ALLOWED: dict[TaskState, frozenset[TaskState]] = {
    S.DRAFT: frozenset({S.QUEUED, S.CANCELLED}),
    # A queued task fails without an attempt when its file is gone or went elsewhere meanwhile.
    S.QUEUED: frozenset({S.QUEUED, S.UPLOADING, S.DRAFT, S.CANCELLED, S.FAILED}),
    S.UPLOADING: frozenset({S.UPLOADING, S.PROCESSING, S.RETRY_WAIT, S.QUEUED, S.FAILED}),
    S.PROCESSING: frozenset({S.PUBLISHED, S.RETRY_WAIT, S.FAILED}),
    S.RETRY_WAIT: frozenset({S.UPLOADING, S.QUEUED, S.CANCELLED, S.FAILED}),
    S.FAILED: frozenset({S.QUEUED, S.CANCELLED}),
    S.PUBLISHED: frozenset(),
    S.CANCELLED: frozenset(),
}

#: States a person may still change (schedule, privacy, cancel).
EDITABLE = frozenset({S.DRAFT, S.QUEUED, S.RETRY_WAIT, S.FAILED})
#: States that never change again.
TERMINAL = frozenset({S.PUBLISHED, S.CANCELLED})
#: States the engine owns while a process works on the task.
ACTIVE = frozenset({S.UPLOADING, S.PROCESSING})


def can_move(current: TaskState, wanted: TaskState) -> bool:
    """Tell whether the state machine allows `current -> wanted`."""
    return wanted in ALLOWED[current]


def check_move(task_id: int, current: TaskState, wanted: TaskState) -> None:
    """Raise TaskStateError unless `current -> wanted` is allowed."""
    if not can_move(current, wanted):
        raise TaskStateError(task_id, current.value, wanted.value)


def sources_of(wanted: TaskState) -> frozenset[TaskState]:
    """Return every state that may move to `wanted`."""
    return frozenset(s for s, targets in ALLOWED.items() if wanted in targets)
