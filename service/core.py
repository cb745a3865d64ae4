"""The running quantam: settings, store, fetcher, ingestion and polling wired together once.

The CLI and the web application both build one `Quantam` and use its parts; nothing below the
service layer knows about the others' wiring.
"""

from __future__ import annotations

from feeds.fetch import Fetcher
from feeds.ingest import Ingestor
from feeds.poll import Poller
from recommender.engine import RelatedEngine
from service.config import Settings
from store import Store, open_store


class Quantam:
    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        self.store = store or open_store(settings.store)
        self.fetcher = Fetcher(settings.fetch_limits)
        self.ingestor = Ingestor(self.store, self.fetcher, settings.schedule)
        self.related = RelatedEngine(self.store, settings.related)
        self.ingestor.listeners.append(self.related.on_ingest)
        self.poller = Poller(
            self.ingestor, workers=settings.poll_workers, host_delay=settings.poll_host_delay
        )

    def close(self) -> None:
        self.fetcher.close()
        self.store.close()

    def __enter__(self) -> Quantam:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
