"""The Redis backend beyond the contract suite: URLs, key layout, concurrency, and a differential
run that applies the same random operations to SQLite and Redis and compares every read."""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis
from redis.crc import key_slot

from store import Store, open_store
from store.errors import SchemaTooNew, SourceExists, SourceNotFound, StoreError
from store.models import Alias, Article, Category, IngestBatch, RelatedItem, Source, Teaser
from store.redis import RedisStore, RedisURL, redact
from store.sqlite import SQLiteStore
from tests.support.articles import T0, fill_every_kind, make_article
from tests.support.env import REDIS_URL, ROOT

DOC = ROOT / "docs" / "redis.md"


@pytest.fixture
def rstore() -> Iterator[RedisStore]:
    s = RedisStore(f"{REDIS_URL}?prefix=qtest-{uuid.uuid4().hex[:12]}")
    yield s
    s.destroy()
    s.close()


@pytest.fixture(params=["redis", pytest.param("redis-cluster", marks=pytest.mark.cluster)])
def any_rstore(request: pytest.FixtureRequest) -> Iterator[RedisStore]:
    """A store on the shared Redis, then on the test cluster."""
    url = REDIS_URL
    if request.param == "redis-cluster":
        url = request.getfixturevalue("redis_cluster").url
    s = RedisStore(f"{url}?prefix=qtest-{uuid.uuid4().hex[:12]}")
    yield s
    s.destroy()
    s.close()


def _keys(s: RedisStore) -> set[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return {k.decode() for k in client.scan_iter(match=f"{{{s.prefix}}}:*", count=1000)}
    finally:
        client.close()


# -- URLs ---------------------------------------------------------------------------------------
def test_url_options() -> None:
    plain = RedisURL("redis://127.0.0.1:6379/2")
    assert (plain.prefix, plain.cluster, plain.client_url) == (
        "quantam",
        False,
        "redis://127.0.0.1:6379/2",
    )
    tuned = RedisURL("redis://h:1/0?prefix=site-a&socket_timeout=2")
    assert tuned.prefix == "site-a"
    assert tuned.client_url == "redis://h:1/0?socket_timeout=2"
    assert RedisURL("redis+cluster://h:7000").cluster
    assert RedisURL("redis://h:7000/0?cluster=1&prefix=x").cluster
    assert RedisURL("rediss+cluster://h:7000").client_url == "rediss://h:7000"
    with pytest.raises(StoreError, match="braces"):
        RedisStore("redis://h:1/0?prefix=a{b}")
    with pytest.raises(StoreError, match="non-empty"):
        RedisStore("redis://h:1/0?prefix=")
    with pytest.raises(StoreError, match="unix socket"):
        RedisURL("unix:///run/redis.sock?cluster=1")


def test_passwords_stay_out_of_messages() -> None:
    assert redact("redis://:s3cret@h:6379/0") == "redis://:***@h:6379/0"
    assert redact("redis://app:s3cret@h:6379/0?prefix=x") == "redis://app:***@h:6379/0?prefix=x"
    s = open_store("redis://app:s3cret@127.0.0.1:7199/0")
    assert isinstance(s, RedisStore)
    assert "s3cret" not in s.display


def test_open_store_picks_the_redis_backend() -> None:
    assert isinstance(open_store("redis+cluster://127.0.0.1:7000"), RedisStore)


# -- key layout ---------------------------------------------------------------------------------
def test_every_key_shares_one_slot_and_is_documented(rstore: RedisStore) -> None:
    fill_every_kind(rstore)
    tag = "{" + rstore.prefix + "}"
    hours = {k for k in _keys(rstore) if k.startswith(rstore._k.pop + ":")}
    assert len(hours) == 1  # one popularity hash per hour counted
    keys = _keys(rstore) - hours
    assert keys == set(rstore._k.all)
    assert len({key_slot(k.encode()) for k in keys}) == 1
    documented = set(re.findall(r"`\{prefix\}(:[a-z:]+)`", DOC.read_text()))
    documented.discard(":lock:")  # one key per held lock, none while nothing is locked
    documented.discard(":pop:h:")  # one key per hour counted, checked above
    assert {k.removeprefix(tag) for k in keys} == documented


def test_destroy_removes_only_its_own_keys(rstore: RedisStore) -> None:
    other = RedisStore(f"{REDIS_URL}?prefix={rstore.prefix}-other")
    try:
        fill_every_kind(rstore)
        fill_every_kind(other)
        rstore.destroy()
        assert _keys(rstore) == set()
        assert other.count_articles() == 1
    finally:
        other.destroy()
        other.close()


def test_a_store_written_by_a_newer_quantam_is_refused(rstore: RedisStore) -> None:
    rstore.set_meta("x", b"1")
    assert rstore.schema_version() == 1
    client = redis.Redis.from_url(REDIS_URL)
    client.set(rstore._k.version, 99)
    client.close()
    newer = RedisStore(f"{REDIS_URL}?prefix={rstore.prefix}")
    with pytest.raises(SchemaTooNew, match="upgrade quantam"):
        newer.get_meta("x")
    newer.close()


# -- atomicity under concurrency ----------------------------------------------------------------
def test_concurrent_commits_get_distinct_sequence_numbers(rstore: RedisStore) -> None:
    def ingest(worker: int) -> None:
        for n in range(20):
            rstore.commit(
                IngestBatch(
                    articles=[make_article(worker * 100 + n, source_id=worker)],
                    aliases=[Alias("key", f"{worker}:{n}", f"a{worker * 100 + n:04d}")],
                )
            )

    threads = [threading.Thread(target=ingest, args=(w,)) for w in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    changes = rstore.changes_since(0)
    assert [c.seq for c in changes] == list(range(1, 81))
    assert rstore.last_seq() == 80
    assert rstore.count_articles_by_source() == {1: 20, 2: 20, 3: 20, 4: 20}
    keys = [("key", f"{w}:{n}") for w in range(1, 5) for n in range(20)]
    assert len(rstore.lookup_aliases(keys)) == 80


def test_concurrent_adds_of_one_url_make_one_source(rstore: RedisStore) -> None:
    outcomes: list[object] = []

    def add() -> None:
        try:
            outcomes.append(rstore.add_source(Source(url="https://same.example/rss", category="x")))
        except SourceExists as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    made = [o for o in outcomes if isinstance(o, Source)]
    assert len(made) == 1
    refused = [o for o in outcomes if not isinstance(o, Source)]
    assert len(refused) == 7
    assert all(isinstance(o, SourceExists) and o.source_id == made[0].id for o in refused)
    assert rstore.list_sources() == made


# -- same answers as SQLite ---------------------------------------------------------------------
CATEGORIES = ["the-thao", "thoi-su", "kinh doanh", "thế-giới", "the"]
INSTANTS = [T0 + timedelta(minutes=m) for m in (0, 1, 1, 5, 30)]


def _random_article(rng: random.Random, n: int) -> Article:
    return make_article(
        n,
        category=rng.choice(CATEGORIES),
        published=rng.choice(INSTANTS),
        source_id=rng.choice([None, 1, 2, 3]),
        title=f"tiêu đề {rng.random()}",
    )


def _ops(rng: random.Random, a: SQLiteStore, b: RedisStore, steps: int) -> None:
    for step in range(steps):
        op = rng.random()
        if op < 0.45:
            articles = [_random_article(rng, rng.randrange(40)) for _ in range(rng.randrange(6))]
            aliases = [Alias("url", f"u{x.id}", x.id) for x in articles]
            source = rng.choice([None, *a.list_sources()])
            if source is not None:
                source = source.replace(last_status=step, url=rng.choice(["s1", "s2", "s3", "s4"]))
            batch = IngestBatch(articles, aliases, source, rng.choice([None, Category("x", "X")]))
            _same_outcome(lambda s, batch=batch: s.commit(batch), a, b)
        elif op < 0.6:
            article_id = f"a{rng.randrange(45):04d}"
            assert a.delete_article(article_id) == b.delete_article(article_id)
        elif op < 0.7:
            source = Source(url=rng.choice(["s1", "s2", "s3", "s4"]), category="c", created_at=T0)
            _same_outcome(lambda s, source=source: s.add_source(source), a, b)
        elif op < 0.8 and a.list_sources():
            source = rng.choice(a.list_sources())
            moved = source.replace(url=rng.choice(["s1", "s2", "s3", "s4", "s5"]), etag=str(step))
            _same_outcome(lambda s, moved=moved: s.update_source(moved), a, b)
        elif op < 0.85:
            source_id = rng.randrange(1, 6)
            assert a.remove_source(source_id) == b.remove_source(source_id)
        else:
            ids = [f"a{rng.randrange(45):04d}" for _ in range(3)]
            lists = {i: [RelatedItem(j, rng.random()) for j in ids] for i in ids}
            a.put_related(lists)
            b.put_related(lists)
        if step % 10 == 9:
            _same_reads(rng, a, b)


def _same_outcome(call: Callable[[Store], object], a: SQLiteStore, b: RedisStore) -> None:
    results = []
    for s in (a, b):
        try:
            results.append(call(s))
        except (SourceExists, SourceNotFound) as exc:
            results.append((type(exc), str(exc)))
    assert results[0] == results[1]


def _same_reads(rng: random.Random, a: SQLiteStore, b: RedisStore) -> None:
    every = [x.id for x in a.iter_articles(batch_size=7)]
    assert every == [x.id for x in b.iter_articles(batch_size=7)]
    assert list(a.iter_articles()) == list(b.iter_articles())
    for category in [None, *CATEGORIES, "nope"]:
        assert a.count_articles(category) == b.count_articles(category)
        for _ in range(4):
            limit = rng.choice([0, 1, 3, 50, -1])
            picked = rng.choice([None, *a.latest_articles(category, limit=-1)])
            before = (picked.published, picked.id) if picked else None
            if rng.random() < 0.3:
                before = (rng.choice(INSTANTS), rng.choice(["a0010", "a", "b"]))
            since = rng.choice([None, *INSTANTS])
            assert a.latest_articles(category, limit, before, since) == b.latest_articles(
                category, limit, before, since
            )
    ids = [f"a{n:04d}" for n in range(45)]
    assert a.get_articles(ids + ids[:3]) == b.get_articles(ids + ids[:3])
    assert a.get_teasers(ids + ids[:3]) == b.get_teasers(ids + ids[:3])
    assert a.taken_down(ids) == b.taken_down(ids)
    assert a.count_articles_by_source() == b.count_articles_by_source()
    assert a.list_sources() == b.list_sources()
    for url in ["s1", "s2", "s3", "s4", "s5"]:
        assert a.find_source(url) == b.find_source(url)
    assert a.list_categories() == b.list_categories()
    keys = [("url", f"u{i}") for i in ids]
    assert a.lookup_aliases(keys) == b.lookup_aliases(keys)
    assert [a.get_related(i) for i in ids] == [b.get_related(i) for i in ids]
    assert a.last_seq() == b.last_seq()
    for seq in (-1, 0, 3, a.last_seq()):
        for limit in (0, 1, 5, -1, 10_000):
            assert a.changes_since(seq, limit) == b.changes_since(seq, limit)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_redis_answers_like_sqlite(
    sqlite_store: SQLiteStore, any_rstore: RedisStore, seed: int
) -> None:
    _ops(random.Random(seed), sqlite_store, any_rstore, steps=150)
    _same_reads(random.Random(seed), sqlite_store, any_rstore)


def test_large_batches(sqlite_store: SQLiteStore, any_rstore: RedisStore) -> None:
    rstore = any_rstore
    articles = [make_article(n, published=T0) for n in range(1, 1202)]
    aliases = [Alias("url", x.url, x.id) for x in articles]
    for s in (sqlite_store, rstore):
        s.commit(IngestBatch(articles=articles, aliases=aliases))
    for s in (sqlite_store, rstore):
        assert s.count_articles() == 1201
        assert len(s.latest_articles(limit=-1)) == 1201
        assert len(s.get_articles(x.id for x in articles)) == 1201
        assert len(s.lookup_aliases((x.kind, x.value) for x in aliases)) == 1201
    assert sqlite_store.latest_articles(limit=-1) == rstore.latest_articles(limit=-1)
    assert sqlite_store.changes_since(0, -1) == rstore.changes_since(0, -1)


def test_teasers_of_articles_stored_before_the_teaser_hash(rstore: RedisStore) -> None:
    """A store written by an older quantam has articles but no teaser entries: lists still show
    those articles, the same as the ones with entries."""
    fill_every_kind(rstore)
    ids = [a.id for a in rstore.iter_articles()]
    expected = rstore.get_teasers(ids)
    assert [t.id for t in expected] == ids and expected[0].title
    rstore._r.hdel(rstore._k.teaser, *ids[::2])
    assert rstore.get_teasers(ids) == expected
    assert rstore.get_teasers(ids[:1]) == [Teaser.of(rstore.get_article(ids[0]))]
