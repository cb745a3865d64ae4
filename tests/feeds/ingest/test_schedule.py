"""The polling schedule's pure decisions."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from feeds.ingest.schedule import (
    MAX_RETRY_AFTER,
    ScheduleSettings,
    error_delay,
    next_due,
    poll_interval,
    skip_forward,
)

S = ScheduleSettings(
    default_interval=900,
    min_interval=300,
    max_interval=7200,
    backoff_base=60,
    backoff_max=3600,
    jitter=0.1,
)


def test_interval_follows_the_publisher_within_bounds() -> None:
    assert poll_interval(S, None, None) == 900
    assert poll_interval(S, 60, None) == 3600
    assert poll_interval(S, 1, None) == 300
    assert poll_interval(S, None, 600) == 600
    assert poll_interval(S, 10, 1800) == 1800
    assert poll_interval(S, 1000, None) == 7200


def test_error_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for errors, base in ((1, 60), (2, 120), (3, 240), (4, 480)):
        delays = {error_delay(S, errors, rng=rng) for _ in range(50)}
        assert min(delays) >= base * 0.9 - 1 and max(delays) <= base * 1.1
        assert len(delays) > 1  # jittered, so failing sources spread out
    assert all(error_delay(S, 50, rng=rng) <= 3600 for _ in range(50))


def test_retry_after_wins_and_is_bounded() -> None:
    assert error_delay(S, 1, retry_after=7200) == 7200
    assert error_delay(S, 1, retry_after=10**9) == MAX_RETRY_AFTER


def test_skip_hours_and_days() -> None:
    sunday_night = datetime(2024, 5, 26, 23, 30, tzinfo=UTC)
    assert skip_forward(sunday_night, (), ("Sunday",)) == datetime(2024, 5, 27, 0, 0, tzinfo=UTC)
    one_am = datetime(2024, 5, 22, 1, 10, tzinfo=UTC)
    assert skip_forward(one_am, (1, 2), ()) == datetime(2024, 5, 22, 3, 0, tzinfo=UTC)
    assert skip_forward(one_am, tuple(range(24)), ()) == one_am
    assert skip_forward(one_am, (), ()) == one_am


def test_next_due_without_jitter_is_exact() -> None:
    now = datetime(2024, 5, 22, 10, 0, tzinfo=UTC)
    assert next_due(now, 600, S, jitter=False) == datetime(2024, 5, 22, 10, 10, tzinfo=UTC)
