"""Benchmark: what editors' overrides cost a related answer.

    python benchmarks/overrides.py [--articles 2000] [--reads 3000] [--redis redis://127.0.0.1:6379/0]

Serving a list now reads the list's overrides and the rules for every list (one more store
read, `Store.editorial_for`) and applies them. On each store (a SQLite file; Redis when it
answers) this times `recommender.read.related_for` (k=6, the box's request) over the same
articles three ways, in one run:

- baseline: the read as before overrides existed (the store's `editorial_for` answers "none"
  without reading: the same code path minus that read);
- none stored: the real read, no overrides anywhere (what most lists pay);
- overrides: every list has 2 pins and 3 blocks, and 20 articles are blocked from every list and
  one pair of categories is never paired.

Each figure is printed beside the baseline as a ratio. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.read import related_for  # noqa: E402
from store.base import Store  # noqa: E402
from store.editorial import ListOverrides, Pin, SiteRules  # noqa: E402
from store.models import Article, IngestBatch, RelatedItem, Teaser  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ("the-thao", "thoi-su", "kinh-te", "giai-tri")


def fill(store: Store, n: int, rng: random.Random) -> list[Teaser]:
    articles = [
        Article(
            id=f"a{i:06d}",
            url=f"https://bao.example.vn/bai-{i}.html",
            title=f"Bài số {i}: đội tuyển chuẩn bị cho vòng loại",
            category=CATEGORIES[i % len(CATEGORIES)],
            summary="Tóm tắt ngắn của bài viết",
            published=T0 + timedelta(minutes=i),
            first_seen=T0 + timedelta(minutes=i),
        )
        for i in range(n)
    ]
    for i in range(0, n, 500):
        store.commit(IngestBatch(articles=articles[i : i + 500]))
    ids = [a.id for a in articles]
    lists = {
        a.id: [RelatedItem(x, 1.0 - j / 40) for j, x in enumerate(rng.sample(ids, 30))]
        for a in articles
    }
    for i in range(0, n, 500):
        store.put_related(dict(list(lists.items())[i : i + 500]))
    return [Teaser.of(a) for a in articles]


def add_overrides(store: Store, teasers: list[Teaser], rng: random.Random) -> None:
    ids = [t.id for t in teasers]
    for t in teasers:
        pins = rng.sample(ids, 2)
        blocks = [i for i in rng.sample(ids, 4) if i not in pins and i != t.id][:3]
        store.put_overrides(
            ListOverrides(
                t.id, (Pin(pins[0], 1), Pin(pins[1], 4)) if t.id not in pins else (), tuple(blocks)
            )
        )
    store.put_site_rules(SiteRules(tuple(rng.sample(ids, 20)), (("the-thao", "giai-tri"),)))


def timed(store: Store, teasers: list[Teaser], reads: int, rng: random.Random) -> float:
    """Microseconds per related_for call, best of three passes over the same sample."""
    sample = [rng.choice(teasers) for _ in range(reads)]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for t in sample:
            related_for(store, t, 6)
        best = min(best, time.perf_counter() - start)
    return best / reads * 1e6


class _Without:
    """The store as before overrides: `editorial_for` answers "none" without a read."""

    def __init__(self, store: Store):
        self._store = store

    def editorial_for(self, article_id: str) -> tuple[ListOverrides, SiteRules]:
        return ListOverrides(article_id), SiteRules()

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def run(name: str, store: Store, articles: int, reads: int) -> None:
    rng = random.Random(20261206)
    teasers = fill(store, articles, rng)
    base = timed(_Without(store), teasers, reads, random.Random(1))  # type: ignore[arg-type]
    none = timed(store, teasers, reads, random.Random(1))
    add_overrides(store, teasers, rng)
    with_overrides = timed(store, teasers, reads, random.Random(1))
    print(f"{name}: related_for, k=6, {articles} articles with 30-item lists, {reads} reads")
    print(f"  baseline (no overrides read)   {base:8.1f} us  1.00x")
    print(f"  overrides read, none stored    {none:8.1f} us  {none / base:.2f}x")
    print(
        f"  2 pins + 3 blocks every list   {with_overrides:8.1f} us  {with_overrides / base:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    from store.sqlite import SQLiteStore

    with (
        tempfile.TemporaryDirectory() as tmp,
        SQLiteStore(f"sqlite:///{Path(tmp) / 'bench.db'}") as sqlite,
    ):
        run("SQLite", sqlite, args.articles, args.reads)
    from store.errors import StoreUnavailable
    from store.redis import RedisStore

    redis = RedisStore(f"{args.redis}?prefix=bench-overrides-{uuid.uuid4().hex[:8]}")
    try:
        redis.ping()
    except StoreUnavailable:
        print("Redis: not reachable, skipped")
        return
    try:
        run("Redis", redis, args.articles, args.reads)
    finally:
        redis.destroy()
        redis.close()


if __name__ == "__main__":
    main()
