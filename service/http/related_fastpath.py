"""The related answer in its plain form, built without entering Flask.

Right after an ingest every cache is dropped and each embed's request builds its answer again.
Building one (a list read, a few teasers, JSON) costs about as much as a trivial Flask request;
Flask's request handling around it cost as much again (measured in docs/serve-benchmark.md).
This WSGI middleware answers the embed's usual requests itself: `GET
/api/articles/<id>/related` without a query, and `GET /api/related?url=...` with only the page
URL. The body is `service.http.api.related_answer`, the headers and entity tag the ones Flask's
view gives (`service.http.caching`), so the answer is the same to the byte (tested). Anything
else — other parameters, conditional requests, an unknown article or URL, a bad URL, an
unreachable store, an answer big enough to gzip — goes to Flask, which answers it or says what is
wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from service.http.api import DEFAULT_K, related_answer
from service.http.caching import (
    API_GZIP_MIN_BYTES,
    TeaserCache,
    encode_json,
    entity_tag,
    read_headers,
)
from service.http.contract.query import MAX_TEXT_LENGTH
from service.http.response_cache import ROUTE, VERSION, cache_query, mark_cacheable
from store.base import Store
from store.errors import StoreUnavailable
from store.models import Teaser
from store.urls import InvalidURL

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

BY_ID_PREFIX, BY_ID_SUFFIX = "/api/articles/", "/related"
BY_URL = "/api/related"
# Flask's rules for the two endpoints, as the metrics label them.
BY_ID_ROUTE = "/api/articles/<article_id>/related"
_CONDITIONAL = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_RANGE",
)


class RelatedFastPath:
    """WSGI middleware: the plain related requests answered from the store and teaser cache."""

    def __init__(
        self,
        app: Callable[[Environ, StartResponse], Iterable[bytes]],
        store: Store,
        teasers: TeaserCache,
        base_url: str,
    ):
        self.app = app
        self.store = store
        self.teasers = teasers
        self.base_url = base_url

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        answer = None
        if environ.get("REQUEST_METHOD") == "GET" and not any(h in environ for h in _CONDITIONAL):
            try:
                answer = self._answer(environ)
            except StoreUnavailable:
                answer = None  # Flask gives the 503 clients know
        if answer is None:
            return self.app(environ, start_response)
        start_response("200 OK", answer[0])
        return [answer[1]]

    def _answer(self, environ: Environ) -> tuple[list[tuple[str, str]], bytes] | None:
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if not (path.isascii() and query.isascii()):
            return None  # Flask decodes these; the plain requests are ASCII
        if path.startswith(BY_ID_PREFIX) and path.endswith(BY_ID_SUFFIX) and not query:
            article_id = path[len(BY_ID_PREFIX) : -len(BY_ID_SUFFIX)]
            if not article_id or "/" in article_id:
                return None
            version = self._version(environ)
            found = self.teasers.get_many(self.store, [article_id], version)
            route = BY_ID_ROUTE
        elif path == BY_URL and query.startswith("url="):
            version = self._version(environ)
            found = self._at_url(query, version)
            route = BY_URL
        else:
            return None
        if not found:
            return None

        def teasers(ids: Iterable[str]) -> list[Teaser]:
            return self.teasers.get_many(self.store, ids, version)

        body = encode_json(related_answer(found[0], DEFAULT_K, set(), set(), self.store, teasers))
        if len(body) >= API_GZIP_MIN_BYTES:
            return None  # worth compressing: Flask decides that with the client's headers
        etag = entity_tag(self.base_url, version, f"{path}?{cache_query(path, query)}")
        headers = [
            ("Vary", "Accept-Encoding"),
            *read_headers(etag).items(),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
        ]
        environ[ROUTE] = route
        mark_cacheable(environ, version, etag, route)
        return headers, body

    def _at_url(self, query: str, version: int) -> list[Teaser]:
        params = parse_qsl(query, keep_blank_values=True)
        if len(params) != 1:
            return []
        raw = params[0][1].strip()
        if not raw or len(params[0][1]) > MAX_TEXT_LENGTH:
            return []
        try:
            article_id = self.store.article_id_at(raw)
        except InvalidURL:
            return []
        return self.teasers.get_many(self.store, [article_id], version) if article_id else []

    def _version(self, environ: Environ) -> int:
        version = environ.get(VERSION)
        if version is None:
            version = environ[VERSION] = self.store.version()
        return version
