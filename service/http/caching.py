"""HTTP caching for the read side: ETags from the store's version, 304s, an in-process cache.

The store's `version()` grows with every change a reader could see, so an answer computed at
version v stays right until the version moves; a takedown moves it, so nothing is served stale
after one. Every worker process checks the version (one cheap read) per request and keeps its
own small caches of rendered answers and of the teasers related answers show, so several
gunicorn workers stay consistent without talking to each other.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Response, current_app, request

from service.http.response_cache import VERSION, cache_query, mark_cacheable
from store.base import Store
from store.models import Teaser

JSON = "application/json"
# Read endpoints may be cached this long by browsers and CDNs, then revalidated with the ETag.
READ_MAX_AGE = 60
GZIP_MIN_BYTES = 512
# API answers are a few KB: below this, compressing costs the server more CPU than the bytes it
# saves are worth to a reader's page (feeds, tens of KB, are always compressed).
API_GZIP_MIN_BYTES = 8192
# Feeds are compressed once per store version and served many times; API answers are small and
# often compressed per request, where level 1 costs a quarter less CPU for 5% more bytes.
FEED_GZIP_LEVEL = 6
API_GZIP_LEVEL = 1
# Rendered feed pages each worker keeps (categories x formats, and the pages readers page to).
FEED_CACHE_ENTRIES = 128
# Teasers each worker keeps (about 1.4 KB each): the stories that related answers show.
TEASER_CACHE_ENTRIES = 20_000


@dataclass
class Rendered:
    """A rendered body, and its gzip form once a client has asked for it."""

    body: bytes
    gzip_level: int = FEED_GZIP_LEVEL
    _gz: bytes | None = None

    def gzipped(self) -> bytes:
        if self._gz is None:
            # zlib with gzip framing (wbits 31): gzip.compress's own wrapper costs a third more.
            self._gz = zlib.compress(self.body, self.gzip_level, wbits=31)
        return self._gz


def accepts_gzip() -> bool:
    """Whether the client takes gzip (`gzip;q=0` refuses it)."""
    return request.accept_encodings.quality("gzip") > 0


def body_response(
    rendered: Rendered,
    mimetype: str,
    headers: dict[str, str] | None = None,
    gzip_min_bytes: int = GZIP_MIN_BYTES,
) -> Response:
    """The rendered body, gzipped when the client accepts it and it is worth it.

    Headers go in with the constructor: setting them one by one afterwards cost more than the
    rest of a cached answer."""
    all_headers = {"Vary": "Accept-Encoding", **(headers or {})}
    if len(rendered.body) >= gzip_min_bytes and accepts_gzip():
        all_headers["Content-Encoding"] = "gzip"
        return Response(rendered.gzipped(), mimetype=mimetype, headers=all_headers)
    return Response(rendered.body, mimetype=mimetype, headers=all_headers)


class RenderCache:
    """A bounded LRU of rendered bodies, keyed by request and store version."""

    def __init__(self, max_entries: int = 2048):
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, int], value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


class TeaserCache:
    """Teasers by article id, valid for one store version, LRU-bounded.

    Related answers share most of their stories (a story is in the lists of the stories like
    it), so once the rendered answers no longer fit the render cache, most of what building one
    reads was read before: from here it is a dict lookup instead of a store round trip. Cleared
    when the version moves, like every cache in this module, so a takedown or edit is never
    served stale.
    """

    def __init__(self, max_entries: int = TEASER_CACHE_ENTRIES):
        self.max_entries = max_entries
        self._version: int | None = None
        self._items: OrderedDict[str, Teaser] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, store: Store, article_ids: Iterable[str], version: int) -> list[Teaser]:
        """As `store.get_teasers(article_ids)`, for a request that saw `version`."""
        ids = list(article_ids)
        with self._lock:
            if self._version is not None and version < self._version:
                found: dict[str, Teaser] = {}  # a request older than the cache reads around it
            else:
                if version != self._version:
                    self._items.clear()
                    self._version = version
                found = {i: self._items[i] for i in ids if i in self._items}
                for article_id in found:
                    self._items.move_to_end(article_id)
        missing = [i for i in ids if i not in found]
        if missing:
            read = store.get_teasers(missing)
            with self._lock:
                # A request that began before the version moved must not fill the new one.
                if self._version == version:
                    for teaser in read:
                        self._items[teaser.id] = teaser
                    while len(self._items) > self.max_entries:
                        self._items.popitem(last=False)
            found.update((t.id, t) for t in read)
        return [found[i] for i in ids if i in found]


def _cache() -> RenderCache:
    return current_app.extensions["quantam.render_cache"]


def store_version() -> int:
    """The store's version, read once per request (by the response cache, when it saw the
    request first), so the request's caches all agree on it."""
    version = request.environ.get(VERSION)
    if version is None:
        version = request.environ[VERSION] = current_app.extensions["quantam"].store.version()
    return version


def offer(version: int, etag: str) -> None:
    """Offer this request's final answer to the response cache (service/http/response_cache.py)."""
    rule = request.url_rule
    mark_cacheable(request.environ, version, etag, rule.rule if rule else "")


def get_teasers(article_ids: Iterable[str]) -> list[Teaser]:
    """The store's teasers of these articles, through this worker's teaser cache."""
    cache: TeaserCache = current_app.extensions["quantam.teaser_cache"]
    return cache.get_many(current_app.extensions["quantam"].store, article_ids, store_version())


def request_key() -> str:
    """The request's path and query as answers are tagged and cached by (a related answer by
    page URL under the canonical page URL: service/response_cache.cache_query)."""
    return f"{request.path}?{cache_query(request.path, request.query_string.decode('latin-1'))}"


def entity_tag(base_url: str, version: int, key: str) -> str:
    """The (unquoted) entity tag of the answer to `key` (the request's path and query) at store
    version `version`."""
    salt = hashlib.blake2b(f"{base_url}|{key}".encode(), digest_size=6).hexdigest()
    return f"v{version}-{salt}"


def version_etag(version: int, key: str) -> str:
    return entity_tag(current_app.config["QUANTAM_SETTINGS"].base_url, version, key)


def read_headers(etag: str, max_age: int = READ_MAX_AGE) -> dict[str, str]:
    """The caching and CORS headers of a read API answer."""
    return {
        "ETag": f'"{etag}"',
        "Cache-Control": f"public, max-age={max_age}",
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "ETag",
    }


def not_modified(etag: str) -> bool:
    """Whether the request's If-None-Match already names this (unquoted) entity tag."""
    return request.if_none_match.contains_weak(etag)


def cached_json(build: Callable[[], dict[str, Any]], max_age: int = READ_MAX_AGE) -> Response:
    """Answer from cache, or with 304, or by calling build(); always with caching headers."""
    version = store_version()
    key = request_key()
    etag = version_etag(version, key)
    headers = read_headers(etag, max_age)
    # "If-None-Match: *" matches only a resource that exists, so that must be known first.
    if not_modified(etag) and not request.if_none_match.star_tag:
        offer(version, etag)
        return Response(status=304, headers=headers)
    rendered = _cache().get((key, version))
    if rendered is None:
        rendered = Rendered(encode_json(build()), API_GZIP_LEVEL)
        _cache().put((key, version), rendered)
    offer(version, etag)
    if not_modified(etag):
        return Response(status=304, headers=headers)
    return body_response(rendered, JSON, headers, API_GZIP_MIN_BYTES)


def encode_json(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the API's answers are plain dicts, lists, strings and numbers.

    Copied into a bytes object of its own length: orjson's keeps the capacity it grew to
    (8,201 bytes allocated for a 3,556-byte answer), and the caches keep answers by the
    thousand. The copy costs well under a microsecond."""
    return bytes(memoryview(orjson.dumps(body)))


def gzip_response(response: Response) -> Response:
    """Compress textual answers for clients that accept gzip (an after_request hook).

    Answers from `body_response` carry Vary: Accept-Encoding: they chose their encoding
    already (small API answers stay plain on purpose) and are left alone."""
    if (
        response.status_code != 200
        or response.direct_passthrough
        or "Content-Encoding" in response.headers
        or "Accept-Encoding" in response.vary
        or not accepts_gzip()
        or not (response.mimetype or "").startswith(("application/", "text/"))
    ):
        return response
    data = response.get_data()
    if len(data) < GZIP_MIN_BYTES:
        return response
    response.vary.add("Accept-Encoding")
    response.set_data(gzip.compress(data, compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    return response
