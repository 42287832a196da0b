"""The task state machine."""

from __future__ import annotations

import itertools

import pytest

from core.errors import TaskStateError
from core.models import TaskState
from core.states import ALLOWED, EDITABLE, TERMINAL, can_move, check_move

S = TaskState


def test_published_and_cancelled_never_change_again() -> None:
    for state in TERMINAL:
        assert ALLOWED[state] == frozenset()


def test_the_normal_path_from_draft_to_published_is_allowed() -> None:
    path = [S.DRAFT, S.QUEUED, S.UPLOADING, S.PROCESSING, S.PUBLISHED]
    for current, wanted in itertools.pairwise(path):
        assert can_move(current, wanted), (current, wanted)


def test_a_task_cannot_skip_the_upload() -> None:
    with pytest.raises(TaskStateError):
        check_move(1, S.QUEUED, S.PUBLISHED)
    assert not can_move(S.DRAFT, S.UPLOADING)


def test_an_uploading_task_cannot_be_cancelled_or_edited() -> None:
    assert not can_move(S.UPLOADING, S.CANCELLED)
    assert S.UPLOADING not in EDITABLE and S.PROCESSING not in EDITABLE


def test_a_failed_task_can_be_queued_again_and_every_state_is_covered() -> None:
    assert can_move(S.FAILED, S.QUEUED)
    assert set(ALLOWED) == set(TaskState)
