"""The one interface every storage backend implements.

Ingestion, the recommender and the web service talk only to `Store`; the SQLite and Redis backends
pass the same contract suite (tests/store/test_store_contract.py). Writes that belong together go
through `commit(IngestBatch)`, which is atomic: a crash leaves all of a fetched feed's changes or
none.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from store.editorial import (
    EVERY_LIST,
    EditorialStore,
    ListOverrides,
    SiteRules,
    overrides_resource,
)
from store.models import (
    Alias,
    Article,
    Category,
    Change,
    EventCount,
    IngestBatch,
    Popularity,
    RelatedItem,
    Source,
    Teaser,
)
from store.urls import canonical_url

log = logging.getLogger(__name__)

# (kind, value) of an Alias, as looked up before a batch is built.
AliasKey = tuple[str, str]
# Keyset-paging cursor over articles ordered newest first: (published, id) of the last item seen.
Cursor = tuple[datetime, str]

# -- resources: what a write changes and a cached answer depends on ----------------------------
# Every write gives the resources it changed the store's new version (Store.versions), so a
# cache keyed by the versions of what an answer read drops that answer, and only that answer.
# Moves with every change a reader could see: for answers that read more than can be named.
ANY = "*"
# Which articles any category has, in order (the `all` feed).
EVERY_CATEGORY = "c:*"
# The categories' records (their names and settings): moved by put_category.
CATEGORIES = "categories"


def article_resource(article_id: str) -> str:
    """An article: its fields, its teaser, its related list, whether it is taken down, and the
    URLs that lead to it."""
    return "a:" + article_id


def category_resource(slug: str | None) -> str:
    """Which articles a category has, newest first, and its record; None: every category."""
    return EVERY_CATEGORY if slug is None else "c:" + slug


# An editor's pins and blocks of one article's list: `overrides_resource(article_id)` (store/
# editorial.py, "o:<id>"); the rules for every list: EDITORIAL_RULES. Apart from the article's
# own resource, so an override moves the answers that show its list and no others.
EDITORIAL_RULES = overrides_resource(EVERY_LIST)


def article_change(article_id: str, *categories: str | None) -> list[str]:
    """What a change to an article changes: it, and the categories it leaves or enters."""
    return [article_resource(article_id), EVERY_CATEGORY, *map(category_resource, categories)]


class Store(EditorialStore, ABC):
    """Articles, sources, categories, related lists and the change log that ties them together;
    operators, editors' overrides and the audit log (store/editorial.py)."""

    url: str

    # -- categories -------------------------------------------------------------------------
    @abstractmethod
    def put_category(self, category: Category) -> None:
        """Create or rename a category."""

    @abstractmethod
    def get_category(self, slug: str) -> Category | None: ...

    @abstractmethod
    def list_categories(self) -> list[Category]:
        """All categories, by slug."""

    # -- sources ----------------------------------------------------------------------------
    @abstractmethod
    def add_source(self, source: Source) -> Source:
        """Store a new source and return it with its id; SourceExists if the URL is known."""

    @abstractmethod
    def get_source(self, source_id: int) -> Source | None: ...

    @abstractmethod
    def find_source(self, url: str) -> Source | None:
        """The source polled at exactly this URL."""

    @abstractmethod
    def list_sources(self) -> list[Source]:
        """All sources, by id."""

    @abstractmethod
    def update_source(self, source: Source) -> None:
        """Save a source's polling state; SourceNotFound if it was removed meanwhile."""

    @abstractmethod
    def remove_source(self, source_id: int) -> bool:
        """Forget a source. Its articles stay: readers may have linked to them."""

    @abstractmethod
    def count_articles_by_source(self) -> dict[int, int]: ...

    @abstractmethod
    def count_fulltext_by_source(self) -> dict[int | None, dict[str, int]]:
        """Per source id (None: articles of no source), how many of its articles have each
        full-text status (FULL_TEXT_STATUSES); statuses without articles are left out, and so
        are articles stored before there were statuses."""

    # -- articles ---------------------------------------------------------------------------
    @abstractmethod
    def lookup_aliases(self, keys: Iterable[AliasKey]) -> dict[AliasKey, str]:
        """Map each known (kind, value) to the id of the article it identifies."""

    def article_id_at(self, url: str) -> str | None:
        """Which article is at this URL: the id stored under its canonical form (so tracking
        parameters, case and a default port make no difference), or None.

        The one answer for every reader that knows only a page's URL (the embed, the related
        API, the CMS, the command line). A taken-down article's id is still given (its aliases
        stay, as a tombstone); reading the article then finds nothing. Raises InvalidURL when
        `url` is not an http(s) URL."""
        key = ("url", canonical_url(url))
        return self.lookup_aliases([key]).get(key)

    @abstractmethod
    def commit(self, batch: IngestBatch) -> None:
        """Write a batch atomically: articles, their aliases, the source state and category.

        Committing an article that was taken down publishes it again (an explicit CMS push);
        ingestion filters taken-down articles out before it gets here.
        """

    @abstractmethod
    def get_article(self, article_id: str) -> Article | None: ...

    @abstractmethod
    def get_articles(self, article_ids: Iterable[str]) -> list[Article]:
        """The stored articles among these ids, in the order asked; unknown ids are skipped."""

    def get_teasers(self, article_ids: Iterable[str]) -> list[Teaser]:
        """As get_articles, without the bodies: what related answers and lists show.

        Backends that can read a teaser without reading the whole article override this; a
        related answer reads several per request, so it is the read endpoints' main cost."""
        return [Teaser.of(a) for a in self.get_articles(article_ids)]

    @abstractmethod
    def delete_article(self, article_id: str) -> bool:
        """Take an article down: it is gone from reads and its related list, and its aliases
        remain as a tombstone so that polling its feed again does not bring it back."""

    @abstractmethod
    def taken_down(self, article_ids: Iterable[str]) -> set[str]:
        """Which of these ids were taken down."""

    @abstractmethod
    def latest_articles(
        self,
        category: str | None = None,
        limit: int = 50,
        before: Cursor | None = None,
        since: datetime | None = None,
    ) -> list[Article]:
        """Newest first by published time (ties by id), optionally in one category, strictly
        after `since` and strictly older than the `before` cursor."""

    @abstractmethod
    def iter_articles(self, batch_size: int = 1000, after: str | None = None) -> Iterator[Article]:
        """Every stored article in id order, starting after the id `after` (to resume)."""

    def iter_articles_by_time(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = False,
        batch_size: int = 1000,
    ) -> Iterator[Article]:
        """Articles published in [since, until), in (published, id) order, oldest first or
        newest first, read batch by batch: a recency window of a large archive is read without
        the rest (the recommender's windowed build and load)."""
        after: Cursor | None = None
        while True:
            page = self._time_page(since, until, newest_first, after, batch_size)
            yield from page
            if len(page) < batch_size:
                return
            after = (page[-1].published, page[-1].id)

    @abstractmethod
    def _time_page(
        self,
        since: datetime | None,
        until: datetime | None,
        newest_first: bool,
        after: Cursor | None,
        limit: int,
    ) -> list[Article]:
        """One page of `iter_articles_by_time`: the next `limit` articles past `after`."""

    @abstractmethod
    def count_articles(self, category: str | None = None) -> int: ...

    @abstractmethod
    def fulltext_queue(
        self,
        status: str = "pending",
        source_id: int | None = None,
        limit: int = 100,
        before: Cursor | None = None,
        since: datetime | None = None,
    ) -> list[Article]:
        """Articles whose full-text status is `status` ("pending" or "failed"), newest first
        (published, then id), of one source or (None) of any, strictly after `since` and
        strictly older than the `before` cursor: what is left to extract."""

    # -- change log -------------------------------------------------------------------------
    @abstractmethod
    def changes_since(self, seq: int, limit: int = 10_000) -> list[Change]:
        """Article upserts and deletes after `seq`, oldest first."""

    @abstractmethod
    def last_seq(self) -> int: ...

    # -- related lists ----------------------------------------------------------------------
    @abstractmethod
    def put_related(self, lists: dict[str, list[RelatedItem]]) -> None:
        """Replace the related lists of these articles (all at once)."""

    @abstractmethod
    def get_related(self, article_id: str) -> list[RelatedItem] | None:
        """The stored list, or None if none was computed yet."""

    def related_as_edited(
        self, article_id: str
    ) -> tuple[list[RelatedItem] | None, ListOverrides, SiteRules]:
        """The stored list with what editors changed of it (its own pins and blocks, the rules
        for every list): all that serving a list reads besides its stories. Backends override
        this with one round trip (on SQLite 13 against 18 us for the two reads apart, in a loop;
        on Redis one round trip fewer per answer built)."""
        return self.get_related(article_id), *self.editorial_for(article_id)

    def get_related_many(self, article_ids: Iterable[str]) -> dict[str, list[RelatedItem]]:
        """The stored lists of these articles by id; articles without one are left out.

        Backends override this with one round trip per chunk of ids."""
        out: dict[str, list[RelatedItem]] = {}
        for article_id in dict.fromkeys(article_ids):
            items = self.get_related(article_id)
            if items is not None:
                out[article_id] = items
        return out

    @abstractmethod
    def version(self) -> int:
        """A number that grows whenever anything readers see changes (articles, takedowns,
        related lists, categories): the version of ANY."""

    @abstractmethod
    def versions(self, resources: Sequence[str]) -> list[int]:
        """The version of each resource (ANY, `article_resource`, `category_resource`), in
        order, all read at one moment; 0 for one never changed. A write gives each resource it
        changes the store's new version(), so a resource's version never repeats: an answer
        cached with the versions of what it read is current while they are."""

    def changed(self, article_ids: Iterable[str] = (), categories: Iterable[str] = ()) -> None:
        """Tell caches that answers showing these articles (their fields, related lists) or
        these categories' article lists must be rebuilt. The store's own writes say so
        themselves; this is for changes it cannot see (an editorial override applied at read
        time, say)."""
        resources = [article_resource(a) for a in article_ids]
        resources += [category_resource(c) for c in categories]
        if resources:
            self._touch(resources)

    @abstractmethod
    def _touch(self, resources: Iterable[str]) -> None:
        """Give these resources (and ANY) the store's next version, in one transaction."""

    # -- popularity ("Đọc nhiều") --------------------------------------------------------------
    @abstractmethod
    def add_event_counts(self, counts: Iterable[EventCount]) -> None:
        """Add impressions and clicks to each article's counters of that hour. Counters older
        than POPULARITY_RETENTION (counted from the newest hour written) may be dropped. Counts
        do not move `version`: they change every second, and no cached answer shows them
        except the popular lists, which expire on their own."""

    @abstractmethod
    def put_event_counts(self, counts: Iterable[EventCount]) -> None:
        """Set (not add to) these articles' counters of those hours: what a migration writes, so
        that running it again leaves the same counts."""

    @abstractmethod
    def iter_event_counts(self) -> Iterator[EventCount]:
        """Every stored counter (article, hour): what a migration copies."""

    @abstractmethod
    def popular(
        self, category: str | None, since: datetime, limit: int, exclude: Iterable[str] = ()
    ) -> list[Popularity]:
        """Stored articles (of one category, or any) by their counts over the hours from the
        one holding `since` on: most clicked first, ties by impressions, then newest published,
        then id. Articles with no count there, taken-down and unknown ones, and `exclude`d ids
        are left out."""

    # -- small named values (index state, versions) -----------------------------------------
    # Keys under this prefix hold what the rest of the store can rebuild, tied to this store's
    # own change log (the index snapshot): a migration leaves them behind.
    DERIVED_META = "derived:"

    @abstractmethod
    def get_meta(self, key: str) -> bytes | None: ...

    @abstractmethod
    def set_meta(self, key: str, value: bytes) -> None: ...

    # -- coordination between processes -----------------------------------------------------
    @contextmanager
    def lock(self, name: str, ttl: float = 15.0, wait: float = 0.0) -> Iterator[bool]:
        """A lock shared by every process using this store.

        Yields True while held (released on exit) or False if another holder kept it for `wait`
        seconds. While held, a thread renews it every ttl / 3 seconds, so it lasts as long as
        its holder does; a holder that dies (SIGKILL, a lost host) stops renewing, and the lock
        is free at most `ttl` seconds later. A holder kept from renewing for longer than `ttl`
        (a store write blocking it that long, SIGSTOP) loses it, and says so in the log."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        while not (held := self._try_lock(name, token, ttl)) and time.monotonic() < deadline:
            time.sleep(0.05)
        renewal = _Renewal(self, name, token, ttl) if held else None
        try:
            yield held
        finally:
            if renewal is not None:
                renewal.stop()
                self._unlock(name, token)

    @abstractmethod
    def _try_lock(self, name: str, token: str, ttl: float) -> bool:
        """Take the lock for `token` for `ttl` seconds if nobody holds it (or it expired)."""

    @abstractmethod
    def _renew_lock(self, name: str, token: str, ttl: float) -> bool:
        """Extend `token`'s hold to `ttl` seconds from now; False if it no longer holds it."""

    @abstractmethod
    def _unlock(self, name: str, token: str) -> None:
        """Release the lock if `token` still holds it."""

    # -- export (migration between backends) ------------------------------------------------
    @abstractmethod
    def iter_aliases(self) -> Iterator[Alias]: ...

    @abstractmethod
    def iter_related(self) -> Iterator[tuple[str, list[RelatedItem]]]: ...

    @abstractmethod
    def iter_takedowns(self) -> Iterator[str]: ...

    @abstractmethod
    def iter_meta(self) -> Iterator[tuple[str, bytes]]: ...

    @abstractmethod
    def restore_source(self, source: Source) -> None:
        """Store a source under its own id (migration); SourceExists if its URL has another."""

    # -- lifecycle --------------------------------------------------------------------------
    @abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable if the backend cannot be reached."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Renewal:
    """Renews one held lock every ttl / 3 seconds on its own thread until stopped."""

    def __init__(self, store: Store, name: str, token: str, ttl: float):
        self._store, self._name, self._token, self._ttl = store, name, token, ttl
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lock:{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Three chances to renew before the lock would lapse: one failed renewal (the store
        # briefly away) does not lose it.
        while not self._stopped.wait(self._ttl / 3):
            try:
                if not self._store._renew_lock(self._name, self._token, self._ttl):
                    if not self._stopped.is_set():
                        log.error(
                            "lost the store lock %r: it lapsed before it could be renewed "
                            "(this holder was stalled for more than %g s)",
                            self._name,
                            self._ttl,
                        )
                    return
            except Exception as exc:  # the store away for a moment: try again next time
                log.warning("could not renew the store lock %r: %s", self._name, exc)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
