"""When a failed attempt is tried again, and when the platform's quota comes back."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

#: YouTube resets the daily quota at midnight Pacific time, moving with US daylight saving.
QUOTA_RESET_ZONE = ZoneInfo("America/Los_Angeles")
#: How long after the reset a task waiting for quota starts, so clocks that differ a little agree.
QUOTA_RESET_MARGIN_S = 60
#: How long a channel that hit its own upload cap waits.
UPLOAD_LIMIT_WAIT_H = 24


@dataclass
class RetryPolicy:
    """Delays between attempts after transient failures, with jitter."""

    delays_s: tuple[float, ...] = (60.0, 300.0, 900.0)
    max_retries: int = 3
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random)

    def delay_s(self, retries_done: int, limit: int | None = None) -> float | None:
        """Return the wait before retry number `retries_done + 1`, or None when out of retries.

        `limit` overrides `max_retries` for a failure class with its own allowance.
        """
        allowed = self.max_retries if limit is None else limit
        if retries_done >= allowed or not self.delays_s:
            return None
        base = self.delays_s[min(retries_done, len(self.delays_s) - 1)]
        return base * (1 + self.rng.uniform(-self.jitter, self.jitter))


def next_quota_reset(now: datetime) -> datetime:
    """Return the next midnight in America/Los_Angeles after `now`, as aware UTC."""
    local = now.astimezone(QUOTA_RESET_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), QUOTA_RESET_ZONE)
    return midnight.astimezone(now.tzinfo)
