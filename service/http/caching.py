"""HTTP caching for the read side: entity tags from the bytes, 304s, caching headers, gzip.

Whole answers are kept by the response cache (service/http/response_cache.py), which checks the
versions of what each answer read; here are the pieces the views share, and the teasers related
answers show, kept per worker for one store version (`store.version()` moves with every write,
so a takedown or edit is never served from here stale).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Response, current_app, request
from werkzeug.utils import get_content_type

from service.http.response_cache import VERSION, depends_on, mark_cacheable
from store.base import Store, article_resource
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
    """The rendered body, gzipped when the client accepts it and it is worth it."""
    all_headers = {"Vary": "Accept-Encoding", **(headers or {})}
    content_type = _content_type(mimetype)
    if len(rendered.body) >= gzip_min_bytes and accepts_gzip():
        all_headers["Content-Encoding"] = "gzip"
        return response_with(rendered.gzipped(), 200, content_type, all_headers)
    return response_with(rendered.body, 200, content_type, all_headers)


def response_with(
    body: bytes | str, status: int, content_type: str, headers: Mapping[str, str]
) -> Response:
    """A Response with these headers, added one by one: given to the constructor as a dict they
    go through werkzeug's generic walk of multi-value mappings (ABC checks for each), which was
    the largest single cost of a beacon in a loaded worker's profile (3.5 % of its samples; in
    a loop 2.4 against 3.7 µs for three headers). `add` neither looks for nor replaces one."""
    response = Response(body, status, content_type=content_type)
    for name, value in headers.items():
        response.headers.add(name, value)
    return response


@functools.lru_cache(maxsize=64)
def _content_type(mimetype: str) -> str:
    """`mimetype` with the charset werkzeug gives text types, as `Response(mimetype=)` does."""
    return get_content_type(mimetype, "utf-8")


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


def store_version() -> int:
    """The store's version, read once per request (by the response cache, when it saw the
    request first): the teaser cache's key."""
    version = request.environ.get(VERSION)
    if version is None:
        version = request.environ[VERSION] = current_app.extensions["quantam"].store.version()
    return version


def offer(etag: str, expires: float | None = None) -> None:
    """Offer this request's final answer to the response cache (service/http/response_cache.py);
    `expires`: the time.time() it is good until, for answers that also change with time."""
    rule = request.url_rule
    mark_cacheable(request.environ, etag, rule.rule if rule else "", expires)


def get_teasers(article_ids: Iterable[str]) -> list[Teaser]:
    """The store's teasers of these articles, through this worker's teaser cache."""
    ids = list(article_ids)
    depends_on(map(article_resource, ids))
    cache: TeaserCache = current_app.extensions["quantam.teaser_cache"]
    return cache.get_many(current_app.extensions["quantam"].store, ids, store_version())


def content_tag(body: bytes) -> str:
    """The (unquoted) entity tag of an answer: a hash of its bytes, so an answer rebuilt after
    an unrelated write still matches the copy a client or proxy holds."""
    return hashlib.blake2b(body, digest_size=12).hexdigest()


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
    # Most requests send none (the response cache answers the rest itself): skip the parse.
    if "HTTP_IF_NONE_MATCH" not in request.environ:
        return False
    return request.if_none_match.contains_weak(etag)


def cached_json(
    build: Callable[[], dict[str, Any]],
    max_age: int = READ_MAX_AGE,
    expires: float | None = None,
) -> Response:
    """build()'s answer, or 304, with caching headers, offered to the response cache (until
    `expires`, a time.time(), for answers that also change with time)."""
    rendered = Rendered(encode_json(build()), API_GZIP_LEVEL)
    etag = content_tag(rendered.body)
    headers = read_headers(etag, max_age)
    offer(etag, expires)
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
        # Vary first, a plain look at the header: every API answer has it, and werkzeug's test
        # for a header that is absent raises and catches an exception (~1 us); parsing Vary as
        # a set costs more too.
        or "Accept-Encoding" in response.headers.get("Vary", "")
        or "Content-Encoding" in response.headers
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
