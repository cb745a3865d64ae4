"""HTTP caching for the read side: ETags from the store's version, 304s, an in-process cache.

The store's `version()` grows with every change a reader could see, so an answer computed at
version v stays right until the version moves; a takedown moves it, so nothing is served stale
after one. Every worker process checks the version (one cheap read) per request and keeps its
own small cache of rendered answers, so several gunicorn workers stay consistent without
talking to each other.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, json, request

JSON = "application/json"
# Read endpoints may be cached this long by browsers and CDNs, then revalidated with the ETag.
READ_MAX_AGE = 60
GZIP_MIN_BYTES = 512


@dataclass
class Rendered:
    """A rendered body, and its gzip form once a client has asked for it."""

    body: bytes
    _gz: bytes | None = None

    def gzipped(self) -> bytes:
        if self._gz is None:
            self._gz = gzip.compress(self.body, compresslevel=6)
        return self._gz


def accepts_gzip() -> bool:
    """Whether the client takes gzip (`gzip;q=0` refuses it)."""
    return request.accept_encodings.quality("gzip") > 0


def body_response(rendered: Rendered, mimetype: str) -> Response:
    """The rendered body, gzipped when the client accepts it and it is worth it."""
    if accepts_gzip() and len(rendered.body) >= GZIP_MIN_BYTES:
        response = Response(rendered.gzipped(), mimetype=mimetype)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(rendered.body, mimetype=mimetype)
    response.vary.add("Accept-Encoding")
    return response


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


def _cache() -> RenderCache:
    return current_app.extensions["quantam.render_cache"]


def request_key() -> str:
    return request.full_path


def version_etag(version: int, key: str) -> str:
    """The (unquoted) entity tag of the answer to `key` at store version `version`."""
    salt = hashlib.blake2b(
        f"{current_app.config['QUANTAM_SETTINGS'].base_url}|{key}".encode(), digest_size=6
    ).hexdigest()
    return f"v{version}-{salt}"


def not_modified(etag: str) -> bool:
    """Whether the request's If-None-Match already names this (unquoted) entity tag."""
    return request.if_none_match.contains_weak(etag)


def cached_json(build: Callable[[], dict[str, Any]], max_age: int = READ_MAX_AGE) -> Response:
    """Answer from cache, or with 304, or by calling build(); always with caching headers."""
    store = current_app.extensions["quantam"].store
    version = store.version()
    key = request_key()
    etag = version_etag(version, key)
    # "If-None-Match: *" matches only a resource that exists, so that must be known first.
    if not_modified(etag) and not request.if_none_match.star_tag:
        response = Response(status=304)
    else:
        rendered = _cache().get((key, version))
        if rendered is None:
            rendered = Rendered(json.dumps(build(), ensure_ascii=False).encode())
            _cache().put((key, version), rendered)
        response = Response(status=304) if not_modified(etag) else body_response(rendered, JSON)
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag"
    return response


def gzip_response(response: Response) -> Response:
    """Compress textual answers for clients that accept gzip (an after_request hook)."""
    if (
        response.status_code != 200
        or response.direct_passthrough
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
