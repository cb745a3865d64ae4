"""The running quantam: settings, store, fetcher, ingestion and polling wired together once.

The CLI and the web application both build one `Quantam` and use its parts; nothing below the
service layer knows about the others' wiring.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, NamedTuple

from feeds.common.netguard import AddressPolicy
from feeds.ingest.fetch import Fetcher, HostLocks, SharedHostLocks
from feeds.ingest.pipeline import CMS, WEBSUB, Ingestor, IngestReport
from feeds.ingest.poll import Poller
from feeds.ingest.text import clean_text
from feeds.ingest.websub import WebSubSubscriber
from feeds.publish.websub import HubNotifier
from recommender.engine import APPLIED_KEY, RelatedEngine
from service.config import Settings
from store import Store, StoreUnavailable, open_store, redact
from store.errors import SourceNotFound
from store.models import Article, Source

log = logging.getLogger(__name__)

# Seconds a push or takedown waits for related lists before answering. The lists wait on a
# store-wide lock that a slow or killed writer can hold for up to SYNC_LOCK_TTL (10 s) and a live
# one for longer; a CMS request must not (gunicorn kills a worker after 30 s by default, and the
# CMS, seeing an error, pushes the stored article again). The lists follow on a thread.
LISTS_WAIT = 2.0


class Pushed(NamedTuple):
    article: Article
    # Whether the related lists included the article when the push answered; when not they
    # are pending, and follow on a background thread.
    lists_updated: bool


class ListUpdates:
    """Applies the change log to related lists on one background thread, so that a request can
    store, answer and leave the lists to follow. Passes asked for before one starts are one."""

    def __init__(self, engine: RelatedEngine):
        self._engine = engine
        self._cond = threading.Condition()
        self._next = 1  # the number of the pass that starts next
        self._done = 0  # the number of the last pass that finished
        self._wanted = False
        self._thread: threading.Thread | None = None

    def request(self) -> int:
        """Ask for a pass over everything logged so far; returns the pass's number."""
        with self._cond:
            self._wanted = True
            # not alive after a fork, too: threads do not survive one
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="related-lists", daemon=True)
                self._thread.start()
            self._cond.notify_all()
            return self._next

    def wait(self, number: int, timeout: float | None = None) -> bool:
        """Whether pass `number` finished within `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._done >= number, timeout)

    def applied(self, seq: int) -> bool:
        """Whether the stored lists include every change up to `seq` of the change log."""
        return int(self._engine.store.get_meta(APPLIED_KEY) or 0) >= seq

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._wanted, timeout=60):
                    self._thread = None  # idle: the next request starts another
                    return
                self._wanted = False
                number = self._next
                self._next += 1
            self._engine.on_change("a push or takedown")  # logs its failures, never raises
            with self._cond:
                self._done = number
                self._cond.notify_all()

    def close(self) -> None:
        """Wait for the passes asked for so far (a process exiting leaves no change behind)."""
        with self._cond:
            last = self._next if self._wanted else self._next - 1
        self.wait(last)


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
        if getattr(self.store, "created", False):
            log.info("created a new store: %s", redact(settings.store))
        # One request at a time per host (across workers when shared), paced by
        # QUANTAM_POLL_HOST_DELAY: feed polls and article pages alike.
        host_locks = HostLocks(delay=settings.poll_host_delay)
        if shared_host_locks:
            wait = settings.fetch_total_timeout + settings.fetch_connect_timeout
            host_locks = SharedHostLocks(self.store.lock, wait=wait, delay=settings.poll_host_delay)
        self.fetcher = Fetcher(settings.fetch_limits, host_locks)
        policy = AddressPolicy(settings.allow_private_fetch, settings.allowed_networks)
        # Sources whose feed names a hub are subscribed to it (the callback under base_url);
        # the callback is answered whatever the setting, so a subscription made before it was
        # turned off is still verified, renewed or cancelled.
        self.websub = WebSubSubscriber(
            self.store,
            settings.base_url,
            policy,
            lease_seconds=settings.websub_lease_seconds,
            poll_interval=settings.websub_poll_interval,
            timeout=settings.fetch_connect_timeout,
        )
        self.ingestor = Ingestor(
            self.store,
            self.fetcher,
            settings.schedule,
            fulltext=settings.fulltext,
            websub=self.websub if settings.websub_subscribe else None,
        )
        self.related = RelatedEngine(self.store, settings.related)
        self.lists = ListUpdates(self.related)
        if relate_on_ingest:
            self.ingestor.listeners.append(self._relate)
        self.poller = Poller(self.ingestor, workers=settings.poll_workers)
        self.hub = None
        if settings.websub_hub:
            self.hub = HubNotifier(self.store, settings.websub_hub, settings.base_url, policy)
            self.ingestor.listeners.append(self.hub)

    def _relate(self, report: IngestReport) -> None:
        """Ingestion listener: polls and files update the lists before they go on; a push
        leaves that to push_article, which waits a bounded time, and a hub's delivery to a
        background thread (the hub waits for its answer)."""
        if report.target == WEBSUB:
            self.lists.request()
        elif report.target != CMS:
            self.related.on_change(report)

    def push_article(self, data: dict[str, Any]) -> Pushed:
        """The CMS path: normalise and store, then update related lists, waiting at most
        LISTS_WAIT for them."""
        article = self.ingestor.ingest_article(data)
        return Pushed(article, self._lists_within(LISTS_WAIT))

    def take_down(self, article_id: str) -> bool:
        """Remove an article from reads, feeds and every related list; False if unknown.

        Reads skip a taken-down item at once; the lists themselves follow within LISTS_WAIT,
        or later on a background thread."""
        gone = self.store.delete_article(article_id)
        if gone:
            self._lists_within(LISTS_WAIT)
        return gone

    def _lists_within(self, seconds: float) -> bool:
        seq = self.store.last_seq()
        self.lists.wait(self.lists.request(), seconds)
        return self.lists.applied(seq)

    def edit_source(
        self, source_id: int, full_text: str | None = None, title: str | None = None
    ) -> Source | None:
        """Change a source's full-text policy (already checked) or display name; None when
        there is no such source."""
        source = self.store.get_source(source_id)
        if source is None:
            return None
        if full_text is not None:
            source = source.replace(full_text=full_text)
        if title is not None:
            source = source.replace(name=clean_text(title))
        try:
            self.store.update_source(source)
        except SourceNotFound:
            return None
        return source

    def remove_source(self, source_id: int) -> bool:
        """Stop polling a source (its articles stay) and cancel its WebSub subscription;
        False when there is no such source."""
        if not self.store.remove_source(source_id):
            return False
        try:
            self.websub.unsubscribe(source_id)
        except StoreUnavailable:
            raise
        except Exception:  # the hub's problem: the source is removed all the same
            log.exception("cancelling the WebSub subscription of source %s failed", source_id)
        return True

    def index_age(self) -> float | None:
        """Seconds since the related-stories model was last fitted, if it ever was."""
        return self.related.model_age()

    def close(self) -> None:
        self.lists.close()
        if self.hub is not None:
            self.hub.close()
        self.fetcher.close()
        self.websub.close()
        self.store.close()

    def __enter__(self) -> Quantam:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
