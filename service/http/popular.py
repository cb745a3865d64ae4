"""GET /api/categories/<slug>/popular: "Đọc nhiều", a category's most clicked stories.

Counts come from the box's beacons (service/http/events.py) and change every second, but not
the store's version, so answers are cached for POPULAR_MAX_AGE seconds by the clock (and by the
version, so a takedown leaves at once) rather than until the next change.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from datetime import timedelta
from typing import Annotated, Any

from flask import Blueprint, Response, current_app
from pydantic import AfterValidator, BaseModel, Field

from service.http.caching import cached_json, get_teasers
from service.http.contract import models, query
from service.http.contract.operations import read
from service.http.contract.query import Ids, Int, Query, WholeNumber
from service.http.contract.shapes import article_item, category_item
from service.http.errors import NotFound
from store.base import Store
from store.models import Popularity, Teaser, utcnow

bp = Blueprint("popular", __name__)

DEFAULT_K = 6
MAX_K = 50
DEFAULT_WINDOW = "24h"
POPULAR_MAX_AGE = 60
# Rankings kept per process (see most_read): the top this many of each category and window...
RANKED_TOP = 60
# ... for this many (category, window) pairs, and this long: a day's ranking barely moves in five
# minutes, and every worker recomputing every category's at once each minute cost a tenth of
# its throughput in the serving benchmark (docs/benchmarks/serve-box.md).
RANKINGS_MAX = 256
RANKING_SECONDS = 300
# 1h to 720h, or 1d to 30d; /openapi.json states the same pattern.
WINDOW_PATTERN = r"^(?:([1-9]|[1-9][0-9]|[1-6][0-9]{2}|7[01][0-9]|720)h|([1-9]|[12][0-9]|30)d)$"
_WINDOW = re.compile(WINDOW_PATTERN)


ListItem = models.ArticleItem


class PopularItem(ListItem):
    """A story with its counts over the window."""

    clicks: int = Field(ge=0)
    impressions: int = Field(ge=0)


class PopularAnswer(BaseModel):
    """The answer of GET /api/categories/<slug>/popular: most clicked first, ties by
    impressions, then the newest."""

    category: models.Category
    window: str = Field(description="the window asked, e.g. 24h or 7d")
    items: list[PopularItem]


def clock_bucket() -> int:
    """Which POPULAR_MAX_AGE-long stretch of time this is: popular answers are kept for one."""
    return int(time.time() // POPULAR_MAX_AGE)


def clock_expires() -> float:
    """When the current stretch (clock_bucket) ends, as time.time()."""
    return float((clock_bucket() + 1) * POPULAR_MAX_AGE)


def _window(raw: str) -> str:
    if _WINDOW.match(raw) is None:
        raise ValueError(f"must be hours (1h to 720h) or days (1d to 30d), not {raw!r}")
    return raw


Window = Annotated[
    str,
    Field(
        max_length=8,
        description="How far back clicks count: hours (1h to 720h) or days (1d to 30d).",
        json_schema_extra={"pattern": WINDOW_PATTERN},
    ),
    AfterValidator(_window),
]


def window_delta(label: str) -> timedelta:
    match = _WINDOW.match(label)
    assert match is not None  # Window checked it
    return timedelta(hours=int(match[1]) if match[1] else int(match[2]) * 24)


class PopularQuery(Query):
    k: WholeNumber = Int(DEFAULT_K, 1, MAX_K, "How many stories.")
    window: Window = DEFAULT_WINDOW
    exclude: Ids = Field([], description="Article ids never to return.")


class ClockCache:
    """A small LRU of values whose keys carry the clock's bucket (and the store's version):
    popularity counts move every second without moving a version, so rankings and popular
    feed pages are kept for a stretch of time rather than until a write."""

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


def clock_cache(name: str, size: int = 2048) -> ClockCache:
    cache: ClockCache = current_app.extensions.setdefault(name, ClockCache(size))
    return cache


def most_read(
    store: Store,
    category: str | None,
    window: timedelta,
    k: int,
    exclude: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[tuple[Teaser, Popularity]]:
    """The category's (or the site's) most read stories with their counts.

    The ranking is the store's costliest read (it sums every counter of the window: 84 ms for
    10k articles' counts on SQLite), and every box and list asks it with its own exclusions, so
    each process keeps the top RANKED_TOP of each (category, window) for RANKING_SECONDS and
    picks from it; only exclusions that eat into all of it go to the store."""
    top = _ranking(store, category, window)
    ranked = [p for p in top if p.article_id not in exclude][:k]
    if len(ranked) < k and len(top) == RANKED_TOP:
        ranked = store.popular(category, utcnow() - window, k, exclude)
    teasers = {t.id: t for t in get_teasers(p.article_id for p in ranked)}
    return [(teasers[p.article_id], p) for p in ranked if p.article_id in teasers]


def _ranking(store: Store, category: str | None, window: timedelta) -> list[Popularity]:
    cache = clock_cache("quantam.rankings", RANKINGS_MAX)
    key = (f"{category}|{window.total_seconds()}|{int(time.time() // RANKING_SECONDS)}", 0)
    ranked: list[Popularity] | None = cache.get(key)
    if ranked is None:
        ranked = store.popular(category, utcnow() - window, RANKED_TOP)
        cache.put(key, ranked)
    return ranked


def popular_item(teaser: Teaser, counts: Popularity) -> dict[str, Any]:
    return {**article_item(teaser), "clicks": counts.clicks, "impressions": counts.impressions}


@bp.get("/api/categories/<slug>/popular")
@read("A category's most read stories", PopularAnswer, query=PopularQuery)
def category_popular(slug: str) -> Response:
    asked = query.parse(PopularQuery)
    k, label, exclude = asked.k, asked.window, set(asked.exclude)
    window = window_delta(label)

    def build() -> dict[str, Any]:
        q = current_app.extensions["quantam"]
        category = q.store.get_category(slug)
        if category is None:
            raise NotFound(f"no category {slug!r}; GET /api/categories lists them")
        ranked = most_read(q.store, slug, window, k, exclude)
        return {
            "category": category_item(category, q.store, q.settings.base_url),
            "window": label,
            "items": [popular_item(t, p) for t, p in ranked],
        }

    # Kept by the response cache until this stretch of time ends (counts move with every
    # beacon, without a version) or a write moves what it read.
    return cached_json(build, POPULAR_MAX_AGE, clock_expires())
