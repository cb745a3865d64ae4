"""recommender.pool: the full build's parallel map in forked workers."""

from __future__ import annotations

import multiprocessing
import os
import threading
from functools import partial

import pytest

from recommender.pool import can_fork, fork_map

pytestmark = pytest.mark.skipif(not can_fork(), reason="no fork on this platform")


def _square_with(state: dict[str, object], x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _fail_on(bad: int, x: int) -> int:
    if x == bad:
        raise ValueError(f"bad {x}")
    return x


def test_results_come_in_order_and_equal_a_serial_map() -> None:
    job = partial(_square_with, {})
    serial = [value for value, _ in fork_map(job, range(40), workers=1)]
    forked = list(fork_map(job, range(40), workers=2))
    assert [value for value, _ in forked] == serial == [x * x for x in range(40)]
    assert {pid for _, pid in forked} - {os.getpid()}, "the work ran in other processes"


def test_one_worker_runs_here() -> None:
    job = partial(_square_with, {})
    assert {pid for _, pid in fork_map(job, range(5), workers=1)} == {os.getpid()}


def test_the_jobs_state_reaches_workers_unpickled() -> None:
    """The state bound into the job (the index, the neighbour table in a build) is inherited
    by forking, never pickled: a lock cannot be pickled at all."""
    state: dict[str, object] = {"lock": threading.Lock(), "big": list(range(10_000))}
    job = partial(_square_with, state)
    assert [value for value, _ in fork_map(job, [3, 4], workers=2)] == [9, 16]


def test_the_reader_stays_at_most_ahead_args_in_front() -> None:
    taken = 0

    def args():
        nonlocal taken
        for x in range(30):
            taken += 1
            yield x

    consumed = 0
    for _ in fork_map(partial(_square_with, {}), args(), workers=2, ahead=4):
        consumed += 1
        assert taken - consumed <= 3  # the one just handed back was the fourth taken
    assert consumed == taken == 30


def test_a_workers_error_reaches_the_caller_and_no_worker_is_left() -> None:
    with pytest.raises(ValueError, match="bad 7"):
        list(fork_map(partial(_fail_on, 7), range(20), workers=2))
    assert not multiprocessing.active_children()


def test_a_caller_that_stops_early_leaves_no_worker() -> None:
    results = fork_map(partial(_square_with, {}), range(1000), workers=2, ahead=4)
    assert next(results)[0] == 0
    results.close()
    assert not multiprocessing.active_children()
