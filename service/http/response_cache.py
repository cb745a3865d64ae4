"""Whole read answers, served again without entering Flask.

A read answer (an API answer, a feed page) is a function of its path and query, the client's
Accept-Encoding and the store's version: nothing else goes into it. Once built, answering the
same request again through Flask (request context, routing, hooks, a Response object) costs
several times what looking it up does; that per-request overhead, not building, is most of what a
popular article's related answer costs. So this WSGI middleware keeps each worker's answers
(status, headers, body) keyed by request and store version, and serves a repeat, or its 304, after
one version read. Views opt in with `mark_cacheable` once their answer is final; everything else,
and anything unusual about a request (not GET, If-Modified-Since without If-None-Match, Range),
goes to Flask as before. An answer is kept from its second request on, so one-off requests
(a crawler paging, a unique query string) do not push out the answers that are asked for again.
When the version moves (every ingest, edit and takedown), the whole cache is dropped, so nothing
is ever served stale.

The byte budget counts what an entry really holds: its body, its key, its status and header
strings and the objects around them (sys.getsizeof of each), and the requests remembered as seen
once count against an eighth of it. Counting only bodies plus a guess held 243.6 MiB under a
128 MiB budget (issue 12; orjson's bodies also kept twice their length allocated, see
caching.encode_json). A related answer by page URL is keyed by the canonical page URL, so a
`utm_` parameter that differs per reader does not make a new entry.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from werkzeug.http import parse_etags

from store.base import Store
from store.errors import StoreUnavailable
from store.urls import InvalidURL, canonical_url

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

# The environ key a view sets (through `mark_cacheable`) to offer its answer.
MARK = "quantam.cacheable"
# The environ key holding the version this request read, so a view builds at that version.
VERSION = "quantam.version"
# The environ key under which the route of an answer served from here is left for the metrics.
ROUTE = "quantam.route"
# Request headers under which an answer may differ from the cached one: left to Flask.
_BYPASS = ("HTTP_RANGE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_RANGE")
# What a key costs in the OrderedDict beyond the key itself: its hash-table slot and the link of
# the order list (measured with tracemalloc: 104 bytes a key on CPython 3.11).
_SLOT = 112
# Requests remembered as seen once may hold this share (1/8) of the budget, about 46,000 at 128
# MiB (it was 50,000 requests, uncounted); past it they are all forgotten.
SEEN_SHARE = 8
# The path whose `url` parameter names a page (the embed's request), keyed by its canonical URL.
BY_URL = "/api/related"

Key = tuple[str, str, str]
Answer = tuple[str, list[tuple[str, str]], bytes]


@dataclass(frozen=True, slots=True)
class Mark:
    """What a view says about its answer: the store version it was built at, its entity tag
    (unquoted) and the route it came from (for the metrics)."""

    version: int
    etag: str
    route: str


@dataclass(slots=True)
class Entry:
    mark: Mark
    ok: Answer | None = None
    not_modified: tuple[str, list[tuple[str, str]]] | None = None
    size: int = 0

    def held(self, key: Key) -> int:
        """Bytes this entry and its key hold (strings shared with other objects count too)."""
        size = key_size(key) + sys.getsizeof(self) + sys.getsizeof(self.mark)
        size += sys.getsizeof(self.mark.etag)
        for answer in (self.ok, self.not_modified):
            if answer is not None:
                size += sys.getsizeof(answer) + sum(map(sys.getsizeof, answer))
                size += sum(
                    sys.getsizeof(pair) + sys.getsizeof(pair[0]) + sys.getsizeof(pair[1])
                    for pair in answer[1]
                )
        return size


def key_size(key: Key) -> int:
    return _SLOT + sys.getsizeof(key) + sum(map(sys.getsizeof, key))


def cache_query(path: str, query: str) -> str:
    """The query a cached answer is keyed and tagged by: for a related answer by page URL, the
    page's canonical URL (no `utm_` and other tracking parameters, no fragment, lower-case
    host: the answer is the same) with the other parameters in order; otherwise as sent."""
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
    return urlencode(sorted(canonical))


def mark_cacheable(environ: Environ, version: int, etag: str, route: str) -> None:
    """Offer this request's answer to the response cache (call it once the answer is final)."""
    environ[MARK] = Mark(version, etag, route)


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
        self._version: int | None = None
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
        try:
            version = self.store.version()
        except StoreUnavailable:  # Flask turns it into the error answer clients know
            return self.app(environ, start_response)
        environ[VERSION] = version
        with self._lock:
            if self._version is None or version > self._version:
                self._drop(version)
            entry = self._items.get(key) if version == self._version else None
            if entry is not None:
                self._items.move_to_end(key)
        if entry is not None:
            answer = self._answer(entry, inm)
            if answer is not None:
                status, headers, body = answer
                environ[ROUTE] = entry.mark.route
                start_response(status, headers)
                return [body]
        return self._through_flask(environ, start_response, key)

    def _answer(self, entry: Entry, inm: str | None) -> Answer | None:
        if inm is not None and parse_etags(inm).contains_weak(entry.mark.etag):
            if entry.not_modified is None:
                return None
            return (*entry.not_modified, b"")
        return entry.ok

    def _through_flask(
        self, environ: Environ, start_response: StartResponse, key: Key
    ) -> Iterable[bytes]:
        seen: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, list(headers)]
            return start_response(status, headers, exc_info)

        body = self.app(environ, capture)
        mark = environ.get(MARK)
        if mark is None or not seen or seen[0][:3] not in ("200", "304"):
            return body
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        self._put(key, mark, seen[0], seen[1], data)
        return [data]

    def _put(self, key: Key, mark: Mark, status: str, headers: list, data: bytes) -> None:
        with self._lock:
            if mark.version != self._version:
                return  # built at another version than the cache holds: not worth keeping
            entry = self._items.get(key)
            if entry is None and key not in self._seen:
                size = key_size(key)
                if self.seen_bytes + size > self.max_bytes // SEEN_SHARE:
                    self._seen.clear()
                    self.seen_bytes = 0
                self._seen.add(key)
                self.seen_bytes += size
                return
            if entry is None or entry.mark != mark:
                if entry is not None:
                    self.bytes -= entry.size
                entry = self._items[key] = Entry(mark)
            else:
                self.bytes -= entry.size
            if status.startswith("304"):
                entry.not_modified = (status, headers)
            else:
                entry.ok = (status, headers, data)
            entry.size = entry.held(key)
            self.bytes += entry.size
            self._items.move_to_end(key)
            while self.bytes + self.seen_bytes > self.max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self.bytes -= evicted.size

    def _drop(self, version: int) -> None:
        """Forget every answer: the store changed (called with the lock held)."""
        self._items.clear()
        self._seen.clear()
        self.bytes = self.seen_bytes = 0
        self._version = version
