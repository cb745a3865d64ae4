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
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.http import parse_etags

from store.base import Store
from store.errors import StoreUnavailable

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
# What an entry costs beyond its body and headers (the key, the objects), for the byte budget.
_OVERHEAD = 400
# Requests remembered as seen once (an answer is kept from its second request on).
SEEN_MAX = 50_000


@dataclass(frozen=True)
class Mark:
    """What a view says about its answer: the store version it was built at, its entity tag
    (unquoted) and the route it came from (for the metrics)."""

    version: int
    etag: str
    route: str


@dataclass
class Entry:
    mark: Mark
    ok: tuple[str, list[tuple[str, str]], bytes] | None = None
    not_modified: tuple[str, list[tuple[str, str]]] | None = None

    @property
    def size(self) -> int:
        body = len(self.ok[2]) if self.ok else 0
        return body + _OVERHEAD + 60 * (len(self.ok[1]) if self.ok else 0)


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
        self.bytes = 0
        self._version: int | None = None
        self._items: OrderedDict[tuple[str, str, str], Entry] = OrderedDict()
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if self.max_bytes <= 0 or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        if any(h in environ for h in _BYPASS):
            return self.app(environ, start_response)
        inm = environ.get("HTTP_IF_NONE_MATCH")
        if inm is None and "HTTP_IF_MODIFIED_SINCE" in environ:
            return self.app(environ, start_response)
        key = (
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
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

    def _answer(
        self, entry: Entry, inm: str | None
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        if inm is not None and parse_etags(inm).contains_weak(entry.mark.etag):
            if entry.not_modified is None:
                return None
            return (*entry.not_modified, b"")
        return entry.ok

    def _through_flask(
        self, environ: Environ, start_response: StartResponse, key: tuple[str, str, str]
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

    def _put(
        self, key: tuple[str, str, str], mark: Mark, status: str, headers: list, data: bytes
    ) -> None:
        with self._lock:
            if mark.version != self._version:
                return  # built at another version than the cache holds: not worth keeping
            entry = self._items.get(key)
            if entry is None and key not in self._seen:
                if len(self._seen) >= SEEN_MAX:
                    self._seen.clear()
                self._seen.add(key)
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
            self.bytes += entry.size
            self._items.move_to_end(key)
            while self.bytes > self.max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self.bytes -= evicted.size

    def _drop(self, version: int) -> None:
        """Forget every answer: the store changed (called with the lock held)."""
        self._items.clear()
        self._seen.clear()
        self.bytes = 0
        self._version = version
