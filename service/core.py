"""The running quantam: settings, store, fetcher, ingestion and polling wired together once.

The CLI and the web application both build one `Quantam` and use its parts; nothing below the
service layer knows about the others' wiring.
"""

from __future__ import annotations

from typing import Any

from feeds.fetch import Fetcher, SharedHostLocks
from feeds.ingest import Ingestor
from feeds.poll import Poller
from feeds.websub import HubNotifier
from recommender.engine import RelatedEngine
from service.config import Settings
from store import Store, open_store
from store.models import Article


class Quantam:
    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        shared_host_locks: bool = False,
        relate_on_ingest: bool = True,
    ):
        """shared_host_locks: keep one request per host across processes (RQ workers).
        relate_on_ingest: update related lists as part of each ingest; RQ poll workers pass
        False and leave that to one index job (service/jobs.py), so that several pollers do
        not each analyse every article."""
        self.settings = settings
        self.store = store or open_store(settings.store)
        host_locks = None
        if shared_host_locks:
            wait = settings.fetch_total_timeout + settings.fetch_connect_timeout
            host_locks = SharedHostLocks(self.store.lock, ttl=wait + 60, wait=wait)
        self.fetcher = Fetcher(settings.fetch_limits, host_locks)
        self.ingestor = Ingestor(self.store, self.fetcher, settings.schedule)
        self.related = RelatedEngine(self.store, settings.related)
        if relate_on_ingest:
            self.ingestor.listeners.append(self.related.on_change)
        self.poller = Poller(
            self.ingestor, workers=settings.poll_workers, host_delay=settings.poll_host_delay
        )
        self.hub = None
        if settings.websub_hub:
            self.hub = HubNotifier(self.store, settings.websub_hub, settings.base_url)
            self.ingestor.listeners.append(self.hub)

    def push_article(self, data: dict[str, Any]) -> Article:
        """The CMS path: normalise, store and (through the ingestor's listeners) relate."""
        return self.ingestor.ingest_article(data)

    def take_down(self, article_id: str) -> bool:
        """Remove an article from reads, feeds and every related list; False if unknown."""
        gone = self.store.delete_article(article_id)
        if gone:
            self.related.on_change(f"takedown of {article_id}")
        return gone

    def index_age(self) -> float | None:
        """Seconds since the related-stories model was last fitted, if it ever was."""
        return self.related.model_age()

    def close(self) -> None:
        if self.hub is not None:
            self.hub.close()
        self.fetcher.close()
        self.store.close()

    def __enter__(self) -> Quantam:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
