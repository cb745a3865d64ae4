"""Polling every due source, politely: one request at a time per host, hosts in parallel."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from feeds.ingest.pipeline import Ingestor, IngestReport
from store.errors import StoreUnavailable
from store.models import Source

log = logging.getLogger(__name__)
# Seconds between attempts while the store is unreachable.
STORE_RETRY = 2.0


def due_sources(sources: Iterable[Source], now: datetime, force: bool = False) -> list[Source]:
    """Enabled sources whose next poll is due (all enabled ones when forced)."""
    return [
        s for s in sources if s.enabled and (force or s.next_due_at is None or s.next_due_at <= now)
    ]


def by_host(sources: Iterable[Source]) -> dict[str, list[Source]]:
    groups: dict[str, list[Source]] = {}
    for source in sources:
        groups.setdefault(source.host, []).append(source)
    return groups


class Poller:
    """Polls due sources with a pool of threads, one host per thread at a time."""

    def __init__(
        self,
        ingestor: Ingestor,
        workers: int = 4,
        host_delay: float | None = None,
        poll_source: Callable[[Source], IngestReport] | None = None,
    ):
        self.ingestor = ingestor
        self.workers = workers
        if host_delay is not None:
            self.host_delay = host_delay
        self.poll_source = poll_source or ingestor.poll_source

    @property
    def host_delay(self) -> float:
        """Pause between two requests to the same host: the fetcher's (`HostLocks.delay`), so
        feed polls and the article pages fetched after them share it."""
        return self.ingestor.fetcher.host_locks.delay

    @host_delay.setter
    def host_delay(self, seconds: float) -> None:
        self.ingestor.fetcher.host_locks.delay = seconds

    def poll_once(self, force: bool = False) -> list[IngestReport]:
        store = self.ingestor.store
        due = due_sources(store.list_sources(), self.ingestor.clock(), force)
        groups = list(by_host(due).values())
        if not groups:
            return []
        with ThreadPoolExecutor(max_workers=min(self.workers, len(groups))) as pool:
            results = pool.map(self._poll_host, groups)
            reports = [report for reports in results for report in reports]
        self._read_leftover_pages()
        return reports

    def _read_leftover_pages(self) -> None:
        """Pages still waiting after the sources' own turns: articles pushed without a body,
        those left by a bound or a host's long Crawl-delay. As many as one source's share."""
        if not self.ingestor.pages_per_poll:
            return
        try:
            self.ingestor.extract_pending(limit=self.ingestor.pages_per_poll)
        except StoreUnavailable:
            raise
        except Exception:  # a bug here must not stop polling
            log.exception("reading waiting article pages failed")

    def _poll_host(self, sources: list[Source]) -> list[IngestReport]:
        reports = []
        for source in sources:
            try:
                reports.append(self.poll_source(source))
            except StoreUnavailable as exc:
                reports.append(IngestReport(target=source.url, source_id=source.id, error=str(exc)))
            except Exception as exc:  # a bug for one source must not stop the others
                log.exception("polling source %s failed unexpectedly", source.id)
                reports.append(
                    IngestReport(
                        target=source.url, source_id=source.id, error=f"internal error: {exc}"
                    )
                )
        return reports

    def seconds_until_due(self, cap: float = 60.0) -> float:
        now = self.ingestor.clock()
        pending = [
            s.next_due_at for s in self.ingestor.store.list_sources() if s.enabled and s.next_due_at
        ]
        if not pending:
            return cap
        return max(1.0, min(cap, (min(pending) - now).total_seconds()))

    def run(
        self,
        stop: threading.Event,
        on_round: Callable[[list[IngestReport]], None] | None = None,
        cap: float = 60.0,
    ) -> None:
        """Poll until `stop` is set, sleeping until the next source is due (at most `cap`)."""
        while not stop.is_set():
            try:
                reports = self.poll_once()
                if on_round and reports:
                    on_round(reports)
                wait = self.seconds_until_due(cap)
            except StoreUnavailable as exc:
                log.warning("store unavailable, polling again shortly: %s", exc)
                wait = min(cap, STORE_RETRY)
            except Exception:
                log.exception("polling round failed; retrying")
                wait = cap
            stop.wait(wait)
