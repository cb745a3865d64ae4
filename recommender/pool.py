"""A parallel map for the full build, in forked worker processes.

A full build hands its workers large read-only state: the fitted vectoriser, and for ranking the
index, the neighbour table and the term names (hundreds of MB at 1M articles). Forking shares
that state copy-on-write instead of pickling it to each worker. The job, with its state bound in
(a `functools.partial`), reaches each worker through the pool's `initializer`: a forked worker
inherits its start arguments instead of unpickling them, and the initializer keeps the job in
the worker's module global. Only each call's argument and result travel through pipes.

Plain functions of their inputs run this way, so a parallel map returns what a serial one does.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar, cast

A = TypeVar("A")
R = TypeVar("R")

# The job of this process, when it is a pool's worker (set by `_install` as it starts).
_job: Callable[..., object] | None = None


def can_fork() -> bool:
    """Whether this platform starts processes by forking (Linux; not Windows, where a worker
    would have to unpickle the whole state)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _install(job: Callable[..., object]) -> None:
    global _job
    _job = job


def _call(arg: object) -> object:
    assert _job is not None, "called outside a pool's worker"
    return _job(arg)


def fork_map(
    job: Callable[[A], R], args: Iterable[A], workers: int, ahead: int | None = None
) -> Iterator[R]:
    """job(arg) for each arg, results in order: in `workers` forked processes, or here when
    workers <= 1.

    ahead: at most this many args are taken from `args` before the oldest result is handed
    back, so a generator that reads the store never runs far ahead of the workers (the
    executor's own `map` takes every arg at once). None: no bound."""
    if workers <= 1:
        yield from map(job, args)
        return
    executor = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_install,
        initargs=(job,),
    )
    try:
        pending: deque[Future[object]] = deque()
        for arg in args:
            pending.append(executor.submit(_call, arg))
            if ahead is not None and len(pending) >= ahead:
                yield cast(R, pending.popleft().result())
        while pending:
            yield cast(R, pending.popleft().result())
    finally:
        # a caller that stops early (an error, a closed generator) leaves no work running
        executor.shutdown(wait=True, cancel_futures=True)
