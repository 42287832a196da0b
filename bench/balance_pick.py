"""Balancer pick time: 10,000 candidate accounts, 2,000 picks (`python -m bench.balance_pick`).

Target (issue: many channels): p99 under 2 ms per pick. Prints build time and p50/p99.
"""

from __future__ import annotations

import random
import statistics
import time as clock
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.balancer import BalanceTask, Candidate, CandidatePool, ProjectRoom
from core.models import AccountStatus


def main() -> None:
    """Time picks over 10,000 accounts and print p50/p99."""
    rng = random.Random(7)
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    accounts = [
        Candidate(
            account_id=i,
            platform="youtube",
            status=AccountStatus.ACTIVE if rng.random() > 0.05 else AccountStatus.ERROR,
            client_id=f"client-{i % 40}",
            uploads_left=rng.randint(0, 10),
            uploads_per_day=10,
            day_ends_at=now + timedelta(hours=rng.uniform(1, 24)),
            last_upload_at=now - timedelta(hours=rng.uniform(0, 30)),
            min_interval=timedelta(hours=2),
            success_rate=rng.uniform(0.6, 1.0),
            priority=rng.choice((0.5, 1.0, 1.0, 2.0)),
            file_hashes=frozenset({f"sha-{rng.randint(0, 50)}"}),
        )
        for i in range(10_000)
    ]
    projects = {f"client-{k}": ProjectRoom(rng.randint(0, 6), 6) for k in range(40)}
    started = clock.perf_counter()
    pool = CandidatePool(accounts)
    build_ms = (clock.perf_counter() - started) * 1000
    samples: list[float] = []
    for n in range(2_000):
        task = BalanceTask(n, "youtube", f"sha-{n % 60}")
        at = now + timedelta(seconds=n * 20)
        started = clock.perf_counter()
        choice = pool.pick(task, at, projects)
        samples.append((clock.perf_counter() - started) * 1000)
        picked = None if choice.account_id is None else pool.get(choice.account_id)
        if picked is not None:
            pool.update(replace(picked, uploads_left=picked.uploads_left - 1, last_upload_at=at))
    cuts = statistics.quantiles(samples, n=100)
    print(f"build {build_ms:.1f} ms; pick p50 {cuts[49]:.3f} ms, p99 {cuts[98]:.3f} ms")


if __name__ == "__main__":
    main()
