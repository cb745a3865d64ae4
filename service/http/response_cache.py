"""Whole read answers, served again while what they read is unchanged.

A read answer (an API answer, a feed page) is a function of its path and query, the client's
Accept-Encoding and the stored things it read. Answering the same request again through Flask
(request context, routing, hooks, a Response object) costs several times what looking it up
does, so this WSGI middleware keeps each worker's answers (status, headers, body) keyed by the
request, with the resources the answer read (store.base: an article with its teaser and related
list, a category's article list) and their versions when it was built. A repeat is served, or
its 304, after one read of those versions (one HMGET or one SELECT); a write moves the versions
of what it changed (a new article: itself, its category, the older articles whose lists it
entered), so it drops only the answers that read those, and nothing is ever served stale.

What an answer read is noted by `ReadRecorder`, the store as the web app sees it: each read
names its resources, and a read it cannot name depends on everything (ANY). Views offer an
answer with `mark_cacheable` once it is final (its entity tag is a hash of its body, so a
rebuilt answer that came out the same still matches a client's If-None-Match). Anything unusual
about a request (not GET, If-Modified-Since without If-None-Match, Range) goes to Flask as
before. An answer is kept from its second request on, so one-off requests (a crawler paging, a
unique query string) do not push out the answers that are asked for again.

The byte budget counts what an entry really holds: its body, its key, its status and header
strings and the objects around them (sys.getsizeof of each), and the requests remembered as seen
once count against an eighth of it. Counting only bodies plus a guess held 243.6 MiB under a
128 MiB budget (issue 12). A related answer by page URL is keyed by the canonical page URL, so a
`utm_` parameter that differs per reader does not make a new entry.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.http import parse_etags

from store.base import (
    ANY,
    CATEGORIES,
    EDITORIAL_RULES,
    Store,
    article_resource,
    category_resource,
)
from store.editorial import overrides_resource
from store.errors import StoreUnavailable
from store.urls import InvalidURL, canonical_url

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

# The environ key a view sets (through `mark_cacheable`) to offer its answer.
MARK = "quantam.cacheable"
# The environ key holding the store version when the request began (the teaser cache's key).
VERSION = "quantam.version"
# The environ key under which the route of an answer served from here is left for the metrics.
ROUTE = "quantam.route"
# Request headers under which an answer may differ from the cached one: left to Flask.
_BYPASS = ("HTTP_RANGE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_RANGE")
# The headers a 304 repeats from its 200 (RFC 9110 15.4.5, and CORS so a page can read it).
_NOT_MODIFIED_HEADERS = frozenset(
    ("etag", "cache-control", "vary", "expires", "last-modified", "link")
) | {"access-control-allow-origin", "access-control-expose-headers"}
# What a key costs in the OrderedDict beyond the key itself: its hash-table slot and the link of
# the order list (measured with tracemalloc: 104 bytes a key on CPython 3.11).
_SLOT = 112
# Requests remembered as seen once may hold this share (1/8) of the budget, about 46,000 at 128
# MiB; past it they are all forgotten.
SEEN_SHARE = 8
# The path whose `url` parameter names a page (the embed's request), keyed by its canonical URL.
BY_URL = "/api/related"

Key = tuple[str, str, str]

# The resources the current request has read so far (None outside a request being cached).
_reads: ContextVar[set[str] | None] = ContextVar("quantam_reads", default=None)


def depends_on(resources: Iterable[str]) -> None:
    """Note that the answer being built read these resources (store.base)."""
    reads = _reads.get()
    if reads is not None:
        reads.update(resources)


@contextmanager
def recording() -> Iterator[set[str]]:
    """Collect what is read inside the block."""
    reads: set[str] = set()
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)


class ReadRecorder:
    """The store as the web app reads it: each read notes the resources its answer now depends
    on. Reads not named here (other engineers' new endpoints, say) depend on ANY, so they are
    dropped by every write, never served stale."""

    # Reads of no resource: the versions themselves, and the store's own upkeep.
    _FREE = frozenset(("version", "versions", "close", "ping", "url", "lock", "created"))

    def __init__(self, store: Store):
        self.store = store

    def __getattr__(self, name: str) -> Any:
        if name not in self._FREE:
            depends_on((ANY,))
        return getattr(self.store, name)

    def get_article(self, article_id: str) -> Any:
        depends_on((article_resource(article_id),))
        return self.store.get_article(article_id)

    def _by_ids(self, read: Callable[[list[str]], Any], article_ids: Iterable[str]) -> Any:
        ids = list(article_ids)
        depends_on(map(article_resource, ids))
        return read(ids)

    def get_articles(self, article_ids: Iterable[str]) -> Any:
        return self._by_ids(self.store.get_articles, article_ids)

    def get_teasers(self, article_ids: Iterable[str]) -> Any:
        return self._by_ids(self.store.get_teasers, article_ids)

    def get_related(self, article_id: str) -> Any:
        depends_on((article_resource(article_id),))
        return self.store.get_related(article_id)

    def related_as_edited(self, article_id: str) -> Any:
        depends_on((article_resource(article_id), overrides_resource(article_id), EDITORIAL_RULES))
        return self.store.related_as_edited(article_id)

    def get_related_many(self, article_ids: Iterable[str]) -> Any:
        return self._by_ids(self.store.get_related_many, article_ids)

    def taken_down(self, article_ids: Iterable[str]) -> Any:
        return self._by_ids(self.store.taken_down, article_ids)

    def article_id_at(self, url: str) -> str | None:
        found = self.store.article_id_at(url)
        # Which article a URL leads to moves the article it led to (store.base); a URL that
        # leads nowhere yet may lead to any new article.
        depends_on((article_resource(found) if found else ANY,))
        return found

    def latest_articles(self, category: str | None = None, *args: Any, **kwargs: Any) -> Any:
        depends_on((category_resource(category),))
        return self.store.latest_articles(category, *args, **kwargs)

    def popular(self, category: str | None, *args: Any, **kwargs: Any) -> Any:
        # Counts move with the box's beacons, every second, without a version: an answer that
        # fills from them keeps its order until its category changes. The stories it shows
        # are read as teasers (recorded above), so a takedown still leaves it at once.
        depends_on((category_resource(category),))
        return self.store.popular(category, *args, **kwargs)

    def count_articles(self, category: str | None = None) -> int:
        depends_on((category_resource(category),))
        return self.store.count_articles(category)

    def get_category(self, slug: str) -> Any:
        depends_on((category_resource(slug),))
        return self.store.get_category(slug)

    def list_categories(self) -> Any:
        depends_on((CATEGORIES,))
        return self.store.list_categories()

    # Editors' overrides, applied as lists are read (store/editorial.py): a list depends on its
    # own pins and blocks and on the rules for every list, not on the article's resource.
    def editorial_for(self, article_id: str) -> Any:
        depends_on((overrides_resource(article_id), EDITORIAL_RULES))
        return self.store.editorial_for(article_id)

    def get_overrides(self, article_id: str) -> Any:
        depends_on((overrides_resource(article_id),))
        return self.store.get_overrides(article_id)

    def get_site_rules(self) -> Any:
        depends_on((EDITORIAL_RULES,))
        return self.store.get_site_rules()


def cache_query(path: str, query: str) -> str:
    """The query a cached answer is keyed by: for a related answer by page URL, the page's
    canonical URL (no `utm_` and other tracking parameters, no fragment, lower-case host: the
    answer is the same) with the other parameters in order; otherwise as sent."""
    if path != BY_URL or "url=" not in query:
        return query
    params = parse_qsl(query, keep_blank_values=True)
    canonical = []
    for name, value in params:
        if name == "url":
            try:
                value = canonical_url(value)
            except InvalidURL:
                return query  # Flask names the problem; nothing is cached for it
        canonical.append((name, value))
    # repr, not urlencode: as unambiguous a key, without percent-encoding the URL again (it
    # cost a by-URL answer ~25 us).
    return repr(sorted(canonical))


@dataclass(frozen=True, slots=True)
class Mark:
    """What a view says about its answer: its entity tag (unquoted), route (for metrics) and,
    for an answer that also changes with time (most-read counts move with every beacon, without
    a version), the time.time() after which it is built again."""

    etag: str
    route: str
    expires: float | None = None


def mark_cacheable(environ: Environ, etag: str, route: str, expires: float | None = None) -> None:
    """Offer this request's answer to the response cache (call it once the answer is final)."""
    environ[MARK] = Mark(etag, route, expires)


@dataclass(slots=True)
class Entry:
    """A 200 answer, and what it read: `resources` ends with ANY, whose version (the store's)
    only tells a store replaced under the cache (it went back) from one that moved on."""

    mark: Mark
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    resources: tuple[str, ...]
    versions: list[int]
    size: int = 0

    def held(self, key: Key) -> int:
        """Bytes this entry and its key hold (strings shared with other objects count too)."""
        size = key_size(key) + sys.getsizeof(self) + sys.getsizeof(self.mark)
        size += sys.getsizeof(self.mark.etag) + sys.getsizeof(self.status)
        size += sys.getsizeof(self.body) + sys.getsizeof(self.headers)
        size += sum(
            sys.getsizeof(p) + sys.getsizeof(p[0]) + sys.getsizeof(p[1]) for p in self.headers
        )
        size += sys.getsizeof(self.resources) + sum(map(sys.getsizeof, self.resources))
        size += sys.getsizeof(self.versions) + sum(map(sys.getsizeof, self.versions))
        return size

    def current(self, now: Sequence[int]) -> bool:
        return now[:-1] == self.versions[:-1] and now[-1] >= self.versions[-1]


def key_size(key: Key) -> int:
    return _SLOT + sys.getsizeof(key) + sum(map(sys.getsizeof, key))


def not_modified_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() in _NOT_MODIFIED_HEADERS]


class ResponseCache:
    """WSGI middleware: a byte-bounded LRU of whole answers per worker process."""

    def __init__(
        self, app: Callable[[Environ, StartResponse], Iterable[bytes]], store: Store, max_bytes: int
    ):
        self.app = app
        self.store = store
        self.max_bytes = max_bytes
        # What the entries hold, and what the requests seen once hold: together within max_bytes.
        self.bytes = 0
        self.seen_bytes = 0
        self._items: OrderedDict[Key, Entry] = OrderedDict()
        self._seen: set[Key] = set()
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if self.max_bytes <= 0 or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        if any(h in environ for h in _BYPASS):
            return self.app(environ, start_response)
        inm = environ.get("HTTP_IF_NONE_MATCH")
        if inm is None and "HTTP_IF_MODIFIED_SINCE" in environ:
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        key = (
            path,
            cache_query(path, environ.get("QUERY_STRING", "")),
            environ.get("HTTP_ACCEPT_ENCODING", ""),
        )
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                expires = entry.mark.expires
                if expires is not None and time.time() >= expires:
                    del self._items[key]
                    self.bytes -= entry.size
                    entry = None
                else:
                    self._items.move_to_end(key)
        version = None
        try:
            if entry is None:
                # A request seen for the first time is only remembered (see _put): its answer
                # is not kept, so the version it was built at is not needed here.
                if key in self._seen:
                    version = self.store.version()
            else:
                # Nothing written since the entry was checked (the store's version, which every
                # write moves, is where it was): one read, as a hit cost before per-resource
                # versions. Only after a write are the answer's own resources read (a feed page
                # names a hundred: a SELECT of a hundred rows on every hit cost RSS half its
                # req/s in the serve benchmark).
                store_now = self.store.version()
                if store_now == entry.versions[-1]:
                    environ[ROUTE] = entry.mark.route
                    return self._send(entry.status, entry.headers, entry.body, inm, start_response)
                now = self.store.versions(entry.resources)
                if entry.current(now):
                    entry.versions[-1] = now[
                        -1
                    ]  # checked at this version: the next hit is one read
                    environ[ROUTE] = entry.mark.route
                    return self._send(entry.status, entry.headers, entry.body, inm, start_response)
                version = now[-1]
                self._forget(key, entry, replaced=now[-1] < entry.versions[-1])
        except StoreUnavailable:  # Flask turns it into the error answer clients know
            return self.app(environ, start_response)
        if version is not None:
            environ[VERSION] = version
        return self._build(environ, start_response, key, version, inm)

    def _send(
        self,
        status: str,
        headers: list[tuple[str, str]],
        body: bytes,
        inm: str | None,
        start_response: StartResponse,
    ) -> list[bytes]:
        etag = next((v for k, v in headers if k.lower() == "etag"), None)
        if inm is not None and etag is not None and parse_etags(inm).contains_weak(etag.strip('"')):
            start_response("304 NOT MODIFIED", not_modified_headers(headers))
            return []
        start_response(status, headers)
        return [body]

    def _build(
        self,
        environ: Environ,
        start_response: StartResponse,
        key: Key,
        version: int | None,
        inm: str | None,
    ) -> Iterable[bytes]:
        """Flask answers as if unconditional, so the whole answer can be kept; If-None-Match is
        then answered here, from the answer's ETag."""
        if inm is not None:
            # If-None-Match decides alone when sent (RFC 9110 13.2.2): If-Modified-Since goes too.
            environ.pop("HTTP_IF_NONE_MATCH")
            environ.pop("HTTP_IF_MODIFIED_SINCE", None)
        seen: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, list(headers)]
            if not status.startswith("200"):
                return start_response(status, headers, exc_info)
            return lambda data: None  # the body is sent with _send

        with recording() as reads:
            body = self.app(environ, capture)
            if not seen or not seen[0].startswith("200"):
                return body
            try:
                data = b"".join(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        status, headers = seen
        mark = environ.get(MARK)
        if mark is not None:
            self._put(key, mark, status, headers, data, reads, version)
        return self._send(status, headers, data, inm, start_response)

    def _put(
        self,
        key: Key,
        mark: Mark,
        status: str,
        headers: list[tuple[str, str]],
        data: bytes,
        reads: set[str],
        version: int | None,
    ) -> None:
        """Keep the answer, or only remember its request when seen for the first time
        (`version` None: the version was not read)."""
        if version is None:
            with self._lock:
                size = key_size(key)
                if self.seen_bytes + size > self.max_bytes // SEEN_SHARE:
                    self._seen.clear()
                    self.seen_bytes = 0
                self._seen.add(key)
                self.seen_bytes += size
            return
        resources = (*sorted(reads or (ANY,)), ANY)
        try:
            versions = self.store.versions(resources)
        except StoreUnavailable:
            return
        if versions[-1] != version:
            return  # something was written while this answer was built: it may mix the two
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old.size
            entry = Entry(mark, status, headers, data, resources, versions)
            entry.size = entry.held(key)
            self._items[key] = entry
            self.bytes += entry.size
            while self.bytes + self.seen_bytes > self.max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self.bytes -= evicted.size

    def _forget(self, key: Key, entry: Entry, replaced: bool) -> None:
        """Drop a stale entry; every entry when the store was replaced under the cache."""
        with self._lock:
            if replaced:
                self._drop()
            elif self._items.get(key) is entry:
                del self._items[key]
                self.bytes -= entry.size

    def _drop(self) -> None:
        """Forget every answer (called with the lock held)."""
        self._items.clear()
        self._seen.clear()
        self.bytes = self.seen_bytes = 0
