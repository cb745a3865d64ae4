"""When to poll a source next: pure decisions from what the last poll taught us.

A healthy feed is polled at the interval its publisher asks for (RSS <ttl>, Cache-Control
max-age or Expires), kept within the operator's bounds; failures back off exponentially with
jitter up to a cap; Retry-After is honoured; <skipHours>/<skipDays> (hours in GMT, as RSS says)
push the next poll out of the hours the publisher asked us to leave alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Retry-After beyond this is treated as this: a typo must not silence a source for a year.
MAX_RETRY_AFTER = 7 * 24 * 3600


@dataclass(frozen=True)
class ScheduleSettings:
    default_interval: int = 15 * 60
    min_interval: int = 5 * 60
    max_interval: int = 24 * 3600
    # First retry after an error comes this long after it; each further error doubles it.
    backoff_base: int = 5 * 60
    backoff_max: int = 12 * 3600
    # Fraction of the delay added or removed at random, so sources do not poll in lockstep.
    jitter: float = 0.1


def poll_interval(settings: ScheduleSettings, ttl_minutes: int | None, max_age: int | None) -> int:
    """The publisher's hint (the longer of ttl and max-age) within the operator's bounds."""
    hints = [h for h in ((ttl_minutes or 0) * 60, max_age or 0) if h > 0]
    wanted = max(hints) if hints else settings.default_interval
    return max(settings.min_interval, min(settings.max_interval, wanted))


def error_delay(
    settings: ScheduleSettings,
    error_count: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> int:
    """Seconds to wait after the error_count-th consecutive failure."""
    if retry_after is not None:
        return int(min(max(retry_after, 1), MAX_RETRY_AFTER))
    uniform = rng.uniform if rng is not None else random.uniform
    exponent = max(0, error_count - 1)
    delay = min(settings.backoff_max, settings.backoff_base * 2 ** min(exponent, 30))
    delay *= 1 + uniform(-settings.jitter, settings.jitter)
    return int(min(settings.backoff_max, delay))


def next_due(
    now: datetime,
    delay: int,
    settings: ScheduleSettings,
    skip_hours: tuple[int, ...] = (),
    skip_days: tuple[str, ...] = (),
    rng: random.Random | None = None,
    jitter: bool = True,
) -> datetime:
    """now + delay (with jitter), moved past any skipped hour or day."""
    uniform = rng.uniform if rng is not None else random.uniform
    if jitter:
        delay = int(delay * (1 + uniform(-settings.jitter, settings.jitter)))
    due = now + timedelta(seconds=max(1, delay))
    return skip_forward(due, skip_hours, skip_days)


def skip_forward(
    due: datetime, skip_hours: tuple[int, ...], skip_days: tuple[str, ...]
) -> datetime:
    """The first moment at or after `due` outside the skipped hours and days (UTC)."""
    if not skip_hours and not skip_days:
        return due
    hours, days = set(skip_hours), set(skip_days)
    if len(hours) >= 24 or len(days) >= 7:
        return due  # a feed that asks never to be read is read at its normal interval
    for _ in range(24 * 8):
        skipped_day = _DAYS[due.weekday()] in days
        if not skipped_day and due.hour not in hours:
            return due
        due = due.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return due
