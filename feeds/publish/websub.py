"""WebSub publishing: tell the hub when a category's feeds have new items.

The hub then fetches the feeds and pushes them to subscribers, so readers see news in seconds
instead of at their next poll. Pings run on a background thread: a slow or broken hub must never
hold up ingestion, and a failed ping only costs subscribers the push (they still poll). They go
through the same SSRF guard as feed fetches (feeds/common/netguard.py): a hub URL, or a redirect
or DNS answer behind it, reaches no private address the operator has not allowed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import httpx

from feeds.common.errors import FetchError
from feeds.common.netguard import USER_AGENT, AddressPolicy, GuardedTransport
from store.base import Store

log = logging.getLogger(__name__)

FEED_FORMATS = ("rss", "atom", "json")
ALL_FEED = "all"


def topic_urls(base_url: str, slugs: Iterable[str]) -> list[str]:
    """Every feed URL that changes when these categories get items (the `all` feed too)."""
    base = base_url.rstrip("/")
    names = [*sorted(set(slugs)), ALL_FEED]
    return [f"{base}/feeds/{slug}.{fmt}" for slug in names for fmt in FEED_FORMATS]


def ping(hub_url: str, topics: list[str], client: httpx.Client) -> list[str]:
    """POST hub.mode=publish for each topic; returns the failures in words."""
    failures = []
    for topic in topics:
        try:
            response = client.post(hub_url, data={"hub.mode": "publish", "hub.url": topic})
            if response.status_code >= 300:
                failures.append(f"{topic}: hub answered HTTP {response.status_code}")
        except (httpx.HTTPError, FetchError) as exc:
            failures.append(f"{topic}: {exc}")
    return failures


class Ingested(Protocol):
    """What an ingestion report tells a listener: the ids of the articles it stored anew."""

    @property
    def new(self) -> Sequence[str]: ...


class HubNotifier:
    """An ingestion listener that pings the hub for the categories that got new articles."""

    def __init__(
        self,
        store: Store,
        hub_url: str,
        base_url: str,
        policy: AddressPolicy | None = None,
        timeout: float = 5.0,
    ):
        self.store = store
        self.hub_url = hub_url
        self.base_url = base_url
        self._client = httpx.Client(
            transport=GuardedTransport(policy or AddressPolicy()),
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
        )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="websub")

    def __call__(self, report: Ingested) -> None:
        if report.new:
            slugs = {a.category for a in self.store.get_articles(report.new)}
            self._pool.submit(self._ping, topic_urls(self.base_url, slugs))

    def _ping(self, topics: list[str]) -> None:
        for failure in ping(self.hub_url, topics, self._client):
            log.warning("WebSub ping failed: %s", failure)

    def flush(self) -> None:
        """Wait for pending pings (tests, shutdown)."""
        self._pool.submit(lambda: None).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()
