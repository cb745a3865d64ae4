"""quantam's own HTTP for feeds: conditional GET, limits, safe redirects, one request per host.

feedparser's built-in fetching is being removed upstream and cannot enforce limits, so quantam
fetches the bytes itself and hands them to feedparser. A `Fetcher` turns one URL into a
`FetchResult` (200 with a body, or 304) or raises a `FetchError` whose message says what went wrong.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC
from urllib.parse import urljoin, urlsplit

import httpx

from feeds.common.errors import (
    BadURL,
    ConnectionFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RefusedAddress,
    TooLarge,
    TooManyRedirects,
)
from feeds.common.netguard import (
    USER_AGENT,
    AddressPolicy,
    GuardedTransport,
    deadline,
    past_deadline,
)
from feeds.ingest.decoding import ACCEPTED, BoundedDecoder

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
_PERMANENT = {301, 308}
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # The whole exchange (connect, every redirect, status line, headers, body) ends within this,
    # so a server dripping bytes, its headers included, cannot hold a worker.
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False
    # Private networks (CIDR) allowed even when allow_private is off, e.g. an intranet CMS.
    allowed_networks: tuple[str, ...] = ()
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    # Set when every redirect on the way was permanent (301/308): the source should move there.
    permanent_url: str | None = None
    # Freshness the server asked for (Cache-Control max-age or Expires), in seconds.
    max_age: int | None = None
    elapsed: float = 0.0
    # (rel, URL) of every Link header target (RFC 8288), URLs resolved against `url`: WebSub
    # discovery looks here first (rel="hub", rel="self").
    links: tuple[tuple[str, str], ...] = ()

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class HostLocks:
    """At most one request at a time per host, across this process's polling threads, with a
    pause of at least `delay` seconds between the end of one request and the start of the next
    (QUANTAM_POLL_HOST_DELAY: feed polls and article pages share it), longer for a host that
    asked for more (robots.txt Crawl-delay, `slow_down`)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        # host -> monotonic time before which no request starts; host -> its own longer delay
        self._ready: dict[str, float] = {}
        self._asked: dict[str, float] = {}

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(host, threading.Lock())
        with lock:
            wait = self.ready_in(host)
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                with self._guard:
                    pause = max(self.delay, self._asked.get(host, 0.0))
                    self._ready[host] = time.monotonic() + pause

    def slow_down(self, host: str, seconds: float) -> None:
        """Wait at least `seconds` between two requests to `host` from now on."""
        with self._guard:
            self._asked[host] = seconds

    def ready_in(self, host: str) -> float:
        """Seconds until a request to `host` may start (0 when it may now)."""
        with self._guard:
            return max(0.0, self._ready.get(host, 0.0) - time.monotonic())


class SharedHostLocks(HostLocks):
    """One request at a time per host across processes and hosts, through a shared lock
    (the store's `lock`), for when several workers poll."""

    def __init__(
        self,
        lock: Callable[..., AbstractContextManager[bool]],
        ttl: float = 15.0,
        wait: float = 120.0,
        delay: float = 0.0,
    ):
        super().__init__(delay)
        self._lock = lock
        self.ttl = ttl
        self.wait = wait

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        with super().hold(host), self._lock(f"host:{host}", ttl=self.ttl, wait=self.wait) as held:
            if not held:
                raise FetchError(
                    f"another worker kept {host} busy for {self.wait:g} s; trying again later"
                )
            yield


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*\"?(\d+)", re.I)


def parse_max_age(headers: httpx.Headers, now: float | None = None) -> int | None:
    """Freshness lifetime from Cache-Control max-age, else Expires; None when absent."""
    cache_control = headers.get("cache-control", "")
    if re.search(r"no-store|no-cache", cache_control, re.I):
        return None
    match = _MAX_AGE.search(cache_control)
    if match:
        return int(match.group(1))
    expires = headers.get("expires")
    if expires:
        try:
            when = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0, int(when.timestamp() - (now if now is not None else time.time())))
    return None


_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL = re.compile(r"""(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.I)


def parse_link_headers(values: list[str], base: str) -> tuple[tuple[str, str], ...]:
    """(rel, URL) pairs of Link headers: `<https://hub.example/>; rel="hub"`, several rels in one
    (`rel="self alternate"`), several links in one header or in several."""
    out: list[tuple[str, str]] = []
    for value in values:
        for target, params in _LINK.findall(value):
            rel = _REL.search(params)
            if rel is None:
                continue
            try:
                url = urljoin(base, target.strip())
            except ValueError:
                continue
            for name in (rel.group(1) or rel.group(2) or "").lower().split():
                out.append((name, url))
    return tuple(out)


def describe_status(status: int, url: str) -> str:
    known = {
        400: "the server rejected the request as malformed",
        401: "the feed needs a login",
        403: "the server refuses quantam access (403 Forbidden)",
        404: "the feed is not there (404 Not Found)",
        410: "the feed is gone for good (410 Gone)",
        429: "the server says quantam polls too often (429 Too Many Requests)",
        500: "the server failed (500 Internal Server Error)",
        502: "the server's gateway failed (502 Bad Gateway)",
        503: "the server is unavailable (503 Service Unavailable)",
        504: "the server's gateway timed out (504 Gateway Timeout)",
    }
    return f"{known.get(status, f'the server answered HTTP {status}')} at {url}"


class Fetcher:
    """Fetches feeds over HTTP with quantam's limits; safe to share between threads."""

    def __init__(self, limits: FetchLimits | None = None, host_locks: HostLocks | None = None):
        self.limits = limits or FetchLimits()
        self.host_locks = host_locks or HostLocks()
        timeout = httpx.Timeout(
            connect=self.limits.connect_timeout,
            read=self.limits.read_timeout,
            write=self.limits.read_timeout,
            pool=self.limits.connect_timeout,
        )
        self._client = httpx.Client(
            transport=GuardedTransport(
                AddressPolicy(self.limits.allow_private, self.limits.allowed_networks)
            ),
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": self.limits.user_agent, "Accept": ACCEPT},
        )

    def close(self) -> None:
        self._client.close()

    def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        accept: str | None = None,
        max_bytes: int | None = None,
        truncate: bool = False,
    ) -> FetchResult:
        """GET url, conditionally when etag/last_modified are given, following redirects.

        accept: the Accept header (default: feeds). max_bytes: a lower cap than the limits'
        for this fetch. truncate: read at most the cap and return that prefix rather than
        refusing a longer body (robots.txt: RFC 9309 parses only the first 500 KiB)."""
        host = (urlsplit(url).hostname or "").lower()
        cap = self.limits.max_bytes if max_bytes is None else min(max_bytes, self.limits.max_bytes)
        # The whole exchange, connect to last byte and every redirect, within the total timeout
        # (which starts once the host is ours): each socket operation waits at most what is
        # left of it (feeds/common/netguard.py), so neither a body nor the status line and
        # headers can be dripped past it.
        with self.host_locks.hold(host), deadline(self.limits.total_timeout):
            return self._fetch_within(url, etag, last_modified, accept, cap, truncate)

    def _fetch_within(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str | None,
        cap: int,
        truncate: bool,
    ) -> FetchResult:
        started = time.monotonic()
        headers = {"Accept-Encoding": ACCEPTED}
        if accept:
            headers["Accept"] = accept
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current, all_permanent = url, True
        for _ in range(self.limits.max_redirects + 1):
            _check_scheme(current)
            try:
                with self._client.stream("GET", current, headers=headers) as response:
                    if response.status_code in _REDIRECTS and "location" in response.headers:
                        all_permanent &= response.status_code in _PERMANENT
                        current = urljoin(current, response.headers["location"])
                        continue
                    return self._read(url, current, all_permanent, response, started, cap, truncate)
            except RefusedAddress:
                raise
            except httpx.TimeoutException as exc:
                if past_deadline():
                    raise FetchTimeout(
                        f"{current} took longer than {self.limits.total_timeout:g} s in all "
                        "(the whole response must arrive within QUANTAM_FETCH_TOTAL_TIMEOUT)"
                    ) from exc
                kind = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "reading"
                raise FetchTimeout(
                    f"timed out {kind} {current} (limits: connect "
                    f"{self.limits.connect_timeout:g} s, read {self.limits.read_timeout:g} s)"
                ) from exc
            except httpx.InvalidURL as exc:
                raise BadURL(f"not a valid URL: {current!r} ({exc})") from exc
            except httpx.HTTPError as exc:
                raise ConnectionFailed(f"could not fetch {current}: {exc}") from exc
        raise TooManyRedirects(f"more than {self.limits.max_redirects} redirects starting at {url}")

    def _read(
        self,
        original: str,
        url: str,
        all_permanent: bool,
        response: httpx.Response,
        started: float,
        cap: int,
        truncate: bool,
    ) -> FetchResult:
        status = response.status_code
        permanent_url = url if (url != original and all_permanent) else None
        common = {
            "url": url,
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            "content_type": response.headers.get("content-type"),
            "permanent_url": permanent_url,
            "max_age": parse_max_age(response.headers),
            "links": parse_link_headers(response.headers.get_list("link"), url),
        }
        if status == 304:
            return FetchResult(status=304, elapsed=time.monotonic() - started, **common)
        if status >= 400 or status < 200:
            raise HTTPStatusError(
                status,
                describe_status(status, url),
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        declared = response.headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > cap:
            raise TooLarge(cap)
        body = self._body(response, cap, truncate)
        return FetchResult(status=status, body=body, elapsed=time.monotonic() - started, **common)

    def _body(self, response: httpx.Response, limit: int, truncate: bool) -> bytes:
        """The decoded body, never holding more than the cap: raw bytes (iter_raw) go through a
        bounded decoder, not httpx's, which decodes a whole chunk through every layer at once.
        Past the cap: TooLarge, or with `truncate` the first `limit` bytes (the rest unread)."""
        decoder = BoundedDecoder(response.headers.get("content-encoding"))
        body, raw_size = bytearray(), 0
        for raw in response.iter_raw():
            # Raw bytes count too: bytes after a compressed stream's end are never decoded.
            raw_size += len(raw)
            if raw_size > limit and not truncate:
                raise TooLarge(limit)
            for piece in decoder.feed(raw):
                if len(body) + len(piece) > limit:
                    if truncate:
                        body += piece[: limit - len(body)]
                        return bytes(body)
                    raise TooLarge(limit)
                body += piece
            if truncate and raw_size > 4 * limit + 65536:
                # Compressed bytes that decode to almost nothing: no more than a bomb's worth.
                return bytes(body)
        decoder.finish()
        return bytes(body)


def _check_scheme(url: str) -> None:
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise BadURL(f"only http and https URLs are fetched, not {url!r}")


__all__ = ["FetchError", "FetchLimits", "FetchResult", "Fetcher", "HostLocks"]
