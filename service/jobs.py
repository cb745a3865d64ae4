"""Polling spread over several worker processes and hosts with RQ.

`quantam poll --enqueue` (the scheduler) puts each due source on the queue as a job, one job id
per source so a source is never queued twice; `quantam worker` runs RQ workers that poll them.
A lock in the store guarantees that one source is never fetched by two workers at once, and a
shared per-host lock keeps the one-request-per-host promise across workers. Workers are RQ
SimpleWorkers: they do not fork per job, so each keeps its store connection and related-stories
index warm between jobs.

Related lists are not updated inside poll jobs: every engine must analyse every article to keep
its index whole, so N pollers each doing it would do the same work N times, one at a time under
the lists' lock. A poll job that stored something queues one index job instead (a single job id:
at most one waits, and it applies every change logged before it runs), which only the workers
started with `index=True` take, before any poll job.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker
from rq.exceptions import DuplicateJobError

from feeds.ingest.poll import due_sources
from recommender.engine import NotIndexed
from service.config import ConfigError, Settings, load_settings
from service.core import Quantam

log = logging.getLogger(__name__)

QUEUE = "quantam"
INDEX_QUEUE = "quantam-index"
INDEX_JOB_ID = "quantam-sync-related"
# A failed job (the store was unreachable, say) blocks re-queueing its source this long.
FAILURE_TTL = 60

_settings: Settings | None = None
_worker_quantam: Quantam | None = None


def configure(settings: Settings) -> None:
    """The settings jobs in this process run with (default: the environment's)."""
    global _settings
    _settings = settings


def worker_quantam() -> Quantam:
    """The worker process's Quantam, built on first use and kept across jobs."""
    global _worker_quantam
    if _worker_quantam is None:
        _worker_quantam = Quantam(
            _settings or load_settings(), shared_host_locks=True, relate_on_ingest=False
        )
    return _worker_quantam


def job_id(source_id: int) -> str:
    return f"quantam-poll-source-{source_id}"


def poll_source_job(source_id: int) -> str:
    """Poll one source, unless another worker is polling it right now."""
    quantam = worker_quantam()
    # The lock is renewed while this job runs, and lapses seconds after a killed worker.
    with quantam.store.lock(f"source:{source_id}") as held:
        if not held:
            return f"source {source_id}: skipped, another worker is polling it"
        source = quantam.store.get_source(source_id)
        if source is None:
            return f"source {source_id}: removed before its turn"
        if not source.enabled:
            return f"source {source_id}: disabled before its turn"
        report = quantam.ingestor.poll_source(source)
    log.info("%s", report.summary())
    if report.changed:
        request_index(quantam.settings)
    return report.summary()


def request_index(settings: Settings) -> None:
    """Queue the index job unless it is queued or running already (a running one applies
    every change logged until it finds none left)."""
    with contextlib.suppress(DuplicateJobError):
        make_queue(settings, INDEX_QUEUE).enqueue_call(
            sync_related_job,
            job_id=INDEX_JOB_ID,
            unique=True,
            result_ttl=0,
            failure_ttl=FAILURE_TTL,
            description="apply new articles to the related lists",
        )


def sync_related_job() -> str:
    """Apply the logged changes to the related lists (`sync` reads the change log until it is
    empty). The engine's lock keeps two index workers, on different hosts, from writing the
    same lists at once."""
    try:
        applied = worker_quantam().related.sync()
    except NotIndexed as exc:
        return f"related lists not updated: {exc}"
    return f"related lists: {applied} changes applied"


def queue_url(settings: Settings) -> str:
    """The Redis that carries the queue: QUANTAM_QUEUE_URL, else the Redis store itself."""
    url = settings.queue_url or settings.store
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            "distributed polling needs Redis: set QUANTAM_STORE=redis://host:6379/0 "
            "(or QUANTAM_QUEUE_URL when the store is elsewhere)"
        )
    return url.split("?", 1)[0]


def make_queue(settings: Settings, name: str = QUEUE) -> Queue:
    """The named queue on the queue's Redis; one connection per process and URL."""
    return Queue(name, connection=_connection(queue_url(settings)))


@functools.cache
def _connection(url: str) -> Redis:
    return Redis.from_url(url)


def enqueue_due(quantam: Quantam, queue: Queue, force: bool = False) -> list[int]:
    """Queue every due source that is not queued yet; returns the ids queued now."""
    queued: list[int] = []
    due = due_sources(quantam.store.list_sources(), quantam.ingestor.clock(), force)
    timeout = int(quantam.settings.fetch_total_timeout * 2 + 60)
    for source in due:
        assert source.id is not None  # a stored source
        try:
            queue.enqueue_call(
                poll_source_job,
                args=(source.id,),
                job_id=job_id(source.id),
                unique=True,
                timeout=timeout,
                result_ttl=0,
                failure_ttl=FAILURE_TTL,
                description=f"poll source {source.id} ({source.url})",
            )
        except DuplicateJobError:
            continue
        queued.append(source.id)
    return queued


def run_worker(
    settings: Settings,
    burst: bool = False,
    name: str | None = None,
    index: bool = True,
    poll: bool = True,
) -> Any:
    """Run one RQ worker in this process until stopped (or, with burst, until its queues are
    empty): index jobs first when `index`, then poll jobs when `poll`."""
    configure(settings)
    queues = [make_queue(settings, INDEX_QUEUE)] if index else []
    if poll:
        queues.append(make_queue(settings))
    worker = SimpleWorker(queues, connection=queues[0].connection, name=name)
    return worker.work(burst=burst, logging_level=settings.log_level.upper())
