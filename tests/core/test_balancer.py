"""Choosing an account: hard constraints first, then the score, with the factors for /why."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.balancer import (
    BalanceTask,
    Candidate,
    CandidatePool,
    Exclusion,
    ProjectRoom,
    judge,
    pick_account,
)
from core.models import AccountStatus

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
TASK = BalanceTask(task_id=9, platform="youtube", sha256="abc")
ROOM = {"c1": ProjectRoom(6, 6), "c2": ProjectRoom(3, 6), "empty": ProjectRoom(0, 6)}


def account(account_id: int, **changes: Any) -> Candidate:
    base = Candidate(
        account_id=account_id,
        platform="youtube",
        status=AccountStatus.ACTIVE,
        client_id="c1",
        uploads_left=10,
        uploads_per_day=10,
        day_ends_at=NOW + timedelta(hours=10),
        last_upload_at=NOW - timedelta(hours=6),
        min_interval=timedelta(hours=2),
        success_rate=0.9,
        priority=1.0,
    )
    return dataclasses.replace(base, **changes)


BROKEN: dict[Exclusion, dict[str, Any]] = {
    Exclusion.INACTIVE: {"status": AccountStatus.RATE_LIMITED},
    Exclusion.PLATFORM: {"platform": "bilibili"},
    Exclusion.ACCOUNT_QUOTA: {"uploads_left": 0},
    Exclusion.PROJECT_QUOTA: {"client_id": "empty"},
    Exclusion.MIN_INTERVAL: {"last_upload_at": NOW - timedelta(minutes=90)},
    Exclusion.DUPLICATE_FILE: {"file_hashes": frozenset({"abc"})},
}


def test_each_hard_constraint_excludes_an_account_however_well_it_would_score() -> None:
    for n, (reason, changes) in enumerate(BROKEN.items(), start=1):
        strong = account(n, **({"priority": 50.0, "last_upload_at": None} | changes))
        assert judge(strong, TASK, NOW, ROOM).excluded is reason
    weak = account(99, priority=0.1, success_rate=0.2)
    field_ = [account(n, priority=50.0, **c) for n, c in enumerate(BROKEN.values(), start=1)]
    choice = pick_account([*field_, weak], TASK, NOW, ROOM)
    assert choice.account_id == 99
    assert sum(choice.excluded.values()) == len(BROKEN)


def test_an_account_the_task_does_not_allow_is_excluded() -> None:
    task = dataclasses.replace(TASK, allowed=frozenset({2}))
    assert judge(account(1), task, NOW, ROOM).excluded is Exclusion.NOT_ALLOWED
    assert pick_account([account(1, priority=9.0), account(2)], task, NOW, ROOM).account_id == 2


def test_no_account_fits_says_why() -> None:
    choice = pick_account([account(1, uploads_left=0)], TASK, NOW, ROOM)
    assert choice.account_id is None and choice.factors is None
    assert choice.excluded == {Exclusion.ACCOUNT_QUOTA: 1}
    assert "no account fits (account_quota 1)" in choice.describe()


def test_the_score_prefers_longer_idle_more_quota_better_success_and_higher_priority() -> None:
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (
            {"last_upload_at": NOW - timedelta(hours=20)},
            {"last_upload_at": NOW - timedelta(hours=3)},
        ),
        ({"uploads_left": 9}, {"uploads_left": 2}),
        ({"client_id": "c1"}, {"client_id": "c2"}),
        ({"success_rate": 1.0}, {"success_rate": 0.5}),
        ({"priority": 3.0}, {"priority": 1.0}),
    ]
    for better, worse in pairs:
        choice = pick_account([account(2, **worse), account(1, **better)], TASK, NOW, ROOM)
        assert choice.account_id == 1, better


def test_why_shows_every_factor_of_the_choice() -> None:
    choice = pick_account([account(1), account(2, success_rate=0.5)], TASK, NOW, ROOM)
    f = choice.factors
    assert f is not None and f.account_id == 1
    assert f.idle_h == 6.0 and f.idle == 0.25
    assert (f.uploads_left, f.project_uploads_left, f.quota) == (10, 6, 1.0)
    assert (f.success_rate, f.priority_weight, f.priority) == (0.9, 1.0, 0.5)
    assert abs(f.score - (0.4 * 0.25 + 0.25 * 1.0 + 0.2 * 0.9 + 0.15 * 0.5)) < 1e-9
    assert choice.describe() == (
        "task #9 -> account 1 (score 0.605): 6.0 h since last upload, 10 uploads left today, "
        "project 6, success 90%, priority 1"
    )


def test_a_pool_updated_after_an_upload_moves_on_to_the_next_account() -> None:
    pool = CandidatePool([account(1, priority=2.0), account(2)])
    first = pick_account(pool, TASK, NOW, ROOM)
    assert first.account_id == 1
    picked = pool.get(1)
    assert picked is not None
    pool.update(dataclasses.replace(picked, uploads_left=9, last_upload_at=NOW))
    assert pick_account(pool, TASK, NOW + timedelta(minutes=5), ROOM).account_id == 2


def test_a_pool_gives_an_account_its_cap_back_when_its_local_day_ends() -> None:
    pool = CandidatePool([account(1, uploads_left=0, day_ends_at=NOW + timedelta(hours=1))])
    assert pick_account(pool, TASK, NOW, ROOM).account_id is None
    later = pick_account(pool, TASK, NOW + timedelta(hours=1), ROOM)
    assert later.account_id == 1 and later.factors is not None
    assert later.factors.uploads_left == 10


candidates = st.builds(
    lambda i, status, client, left, last_h, success, priority, dup: account(
        i,
        status=status,
        client_id=client,
        uploads_left=left,
        last_upload_at=None if last_h is None else NOW - timedelta(hours=last_h),
        success_rate=success,
        priority=priority,
        file_hashes=frozenset({"abc"}) if dup else frozenset(),
    ),
    st.integers(1, 10_000),
    st.sampled_from([AccountStatus.ACTIVE] * 4 + [AccountStatus.ERROR]),
    st.sampled_from(["c1", "c2", "empty"]),
    st.integers(0, 10),
    st.none() | st.floats(0, 60),
    st.floats(0, 1),
    st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(candidates, max_size=40, unique_by=lambda c: c.account_id), st.floats(0, 48))
def test_the_pool_picks_as_well_as_judging_every_account(
    accounts: list[Candidate], hours_later: float
) -> None:
    pool = CandidatePool(accounts)
    # Time moves on after the pool is built: idle factors fill up and local days may end.
    now = NOW + timedelta(hours=hours_later)
    choice = pick_account(pool, TASK, now, ROOM)
    verdicts = [judge(c, TASK, now, ROOM) for c in accounts]
    scores = [v.factors.score for v in verdicts if v.factors is not None]
    if not scores:
        assert choice.account_id is None
    else:
        assert choice.factors is not None
        assert abs(choice.factors.score - max(scores)) < 1e-9
