"""robots.txt for the pages quantam fetches, parsed by Protego and cached per site.

A `RobotsCache` answers `allowed(url, user_agent)` from each site's robots.txt, fetched through
a function it is given (quantam's own fetcher, with its address guard and limits) and kept for a
time. What an unusual answer means follows RFC 9309, the Robots Exclusion Protocol, as the big
crawlers apply it:

* 2xx: the rules apply. Only the first `max_bytes` are read and parsed (RFC 9309 section 2.5:
  a parsing limit, at least 500 KiB; Google reads 500 KiB and ignores the rest).
* 4xx ("unavailable", section 2.3.1.3): there are no rules; everything may be fetched. Except
  429 Too Many Requests, which Google treats as a server error, as here.
* 5xx, or no answer at all ("unreachable", section 2.3.1.4): assume everything is disallowed,
  for `error_ttl` seconds, then ask again. A copy fetched before keeps applying while the site
  is unreachable (section 2.4 allows a cached copy beyond its age then), and after 30 days
  without an answer the site counts as having no robots.txt (section 2.3.1.4 again).
* A fetched robots.txt is kept for `ttl` seconds (section 2.4: not more than 24 hours).

The clock is injected, as feeds/ingest/schedule.py takes `now`, so tests can move time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

# RFC 9309 section 2.5: a parsing limit of at least 500 kibibytes.
ROBOTS_MAX_BYTES = 500 * 1024
# RFC 9309 section 2.4: a cached robots.txt is not used for more than 24 hours.
ROBOTS_TTL = 24 * 3600.0
# How long an unreachable site stays disallowed before its robots.txt is asked for again.
ROBOTS_ERROR_TTL = 30 * 60.0
# RFC 9309 section 2.3.1.4: unreachable for this long, the site counts as having no rules.
UNREACHABLE_GIVE_UP = 30 * 24 * 3600.0
MAX_HOSTS = 10_000


class RobotsResponse(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def body(self) -> bytes: ...


class RobotsFetch(Protocol):
    """GET a robots.txt URL, following redirects, and return its status and body, reading at
    most `max_bytes` of it (the prefix, not an error, when it is longer). Raising is fine: an
    exception with an integer `status` (quantam's HTTPStatusError) counts as that status, any
    other as an unreachable site."""

    def __call__(self, url: str, *, max_bytes: int) -> RobotsResponse: ...


@dataclass(frozen=True)
class RobotsVerdict:
    allowed: bool
    # Why, in words: which robots.txt said what, or why it could not be read.
    reason: str


@dataclass
class _Entry:
    # None: no rules apply (allowed), or the site is unreachable (disallowed).
    rules: Protego | None
    allow_all: bool
    expires: float
    reason: str
    # When the site first failed to answer, for the 30-day rule; None while it answers.
    unreachable_since: float | None = None


class RobotsCache:
    """Each site's robots.txt, fetched once per `ttl` and kept for at most `max_hosts` sites
    (least recently used dropped first). Safe to share between threads."""

    def __init__(
        self,
        fetch: RobotsFetch,
        *,
        ttl: float = ROBOTS_TTL,
        error_ttl: float = ROBOTS_ERROR_TTL,
        max_bytes: int = ROBOTS_MAX_BYTES,
        max_hosts: int = MAX_HOSTS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._fetch = fetch
        self.ttl = ttl
        self.error_ttl = error_ttl
        self.max_bytes = max_bytes
        self.max_hosts = max_hosts
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def allowed(self, url: str, user_agent: str) -> bool:
        return self.verdict(url, user_agent).allowed

    def verdict(self, url: str, user_agent: str) -> RobotsVerdict:
        robots_url = robots_txt_url(url)
        if robots_url is None:
            return RobotsVerdict(False, f"not an http(s) URL: {url!r}")
        entry = self._entry(robots_url)
        if entry.rules is None:
            return RobotsVerdict(entry.allow_all, entry.reason)
        if entry.rules.can_fetch(url, user_agent):
            return RobotsVerdict(True, entry.reason)
        return RobotsVerdict(False, f"{robots_url} disallows {_path(url)} for {user_agent}")

    def crawl_delay(self, url: str, user_agent: str) -> float | None:
        """Seconds the site asks between requests (Crawl-delay, or Request-rate), if any."""
        robots_url = robots_txt_url(url)
        entry = self._entry(robots_url) if robots_url else None
        if entry is None or entry.rules is None:
            return None
        delay = entry.rules.crawl_delay(user_agent)
        rate = entry.rules.request_rate(user_agent)
        if rate is not None and rate.requests:
            delay = max(delay or 0.0, rate.seconds / rate.requests)
        return float(delay) if delay else None

    def _entry(self, robots_url: str) -> _Entry:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(robots_url)
            if entry is not None:
                self._entries.move_to_end(robots_url)
                if entry.expires > now:
                    return entry
        # Fetched outside the lock: one slow site must not hold up the others.
        fresh = self._load(robots_url, entry, now)
        with self._lock:
            self._entries[robots_url] = fresh
            self._entries.move_to_end(robots_url)
            while len(self._entries) > self.max_hosts:
                self._entries.popitem(last=False)
        return fresh

    def _load(self, robots_url: str, previous: _Entry | None, now: float) -> _Entry:
        try:
            response = self._fetch(robots_url, max_bytes=self.max_bytes)
            status, body = response.status, response.body
        except Exception as exc:
            code = getattr(exc, "status", None)
            if not isinstance(code, int):
                return self._unreachable(robots_url, previous, now, f"{exc}")
            status, body = code, b""
        if 200 <= status < 300:
            text = body[: self.max_bytes].decode("utf-8", "replace").lstrip("\ufeff")
            return _Entry(Protego.parse(text), False, now + self.ttl, f"{robots_url} allows it")
        if status == 429 or status >= 500:
            return self._unreachable(robots_url, previous, now, f"it answered HTTP {status}")
        # 4xx, or redirects the fetcher gave up following: no robots.txt, no rules.
        return _Entry(
            None, True, now + self.ttl, f"{robots_url} is not there (HTTP {status}): no rules"
        )

    def _unreachable(
        self, robots_url: str, previous: _Entry | None, now: float, why: str
    ) -> _Entry:
        since = now
        if previous is not None and previous.unreachable_since is not None:
            since = previous.unreachable_since
        expires = now + self.error_ttl
        if now - since >= UNREACHABLE_GIVE_UP:
            reason = f"{robots_url} unreachable for 30 days ({why}): treated as absent"
            return _Entry(None, True, expires, reason, since)
        if previous is not None and (
            previous.rules is not None or previous.unreachable_since is None
        ):
            # What was read before (rules, or that there are none) keeps applying meanwhile.
            return _Entry(previous.rules, previous.allow_all, expires, previous.reason, since)
        reason = f"{robots_url} could not be read ({why}): nothing is fetched from the site"
        return _Entry(None, False, expires, reason, since)


def robots_txt_url(url: str) -> str | None:
    """The robots.txt that governs a URL: same scheme, host and port."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    netloc = parts.netloc.rsplit("@", 1)[-1].lower()
    return urlunsplit((parts.scheme.lower(), netloc, "/robots.txt", "", ""))


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
