"""One contract, every backend: the `store` fixture runs this suite over SQLite and Redis."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from store import codec
from store.base import (
    ANY,
    CATEGORIES,
    EDITORIAL_RULES,
    EVERY_CATEGORY,
    Store,
    article_resource,
    category_resource,
)
from store.editorial import (
    AuditEntry,
    ListOverrides,
    Pin,
    SiteRules,
    User,
    overrides_resource,
)
from store.errors import SchemaTooNew, SourceExists, SourceNotFound
from store.models import (
    POPULARITY_RETENTION,
    Alias,
    Article,
    Category,
    EventCount,
    FullText,
    Image,
    IngestBatch,
    RelatedItem,
    Source,
    Teaser,
)
from store.sqlite import MIGRATIONS, SQLiteStore
from store.urls import InvalidURL
from tests.support.articles import T0, make_article
from tests.support.env import ROOT


def test_categories_roundtrip_and_rename(store: Store) -> None:
    store.put_category(Category("thoi-su", "Thời sự"))
    store.put_category(Category("the-thao", "Thể thao", "vi"))
    store.put_category(Category("thoi-su", "Thời sự - Chính trị"))
    assert store.get_category("thoi-su") == Category("thoi-su", "Thời sự - Chính trị")
    assert [c.slug for c in store.list_categories()] == ["the-thao", "thoi-su"]
    assert store.get_category("nope") is None


def test_sources_lifecycle(store: Store) -> None:
    a = store.add_source(Source(url="https://a.example/rss", category="the-thao", name="A"))
    b = store.add_source(Source(url="https://b.example/rss", category="thoi-su"))
    assert a.id is not None and b.id is not None and a.id != b.id
    assert store.get_source(a.id) == a
    assert store.find_source("https://b.example/rss") == b
    with pytest.raises(SourceExists):
        store.add_source(Source(url="https://a.example/rss", category="x"))
    changed = a.replace(
        etag='"v2"',
        last_status=304,
        last_fetch_at=T0,
        next_due_at=T0 + timedelta(minutes=15),
        skip_hours=(1, 2),
        skip_days=("Sunday",),
        id_policy="link",
        id_policy_reason="broken",
        failed_days=(("2024-05-01", 2), ("2024-05-02", 1)),
    )
    store.update_source(changed)
    assert store.get_source(a.id) == changed
    with pytest.raises(SourceExists):
        store.update_source(changed.replace(url="https://b.example/rss"))
    assert [s.id for s in store.list_sources()] == [a.id, b.id]
    assert store.remove_source(a.id) is True
    assert store.remove_source(a.id) is False
    with pytest.raises(SourceNotFound):
        store.update_source(changed)
    assert store.get_source(a.id) is None


def test_commit_and_read_back_every_field(store: Store) -> None:
    article = make_article(1, updated=T0 + timedelta(hours=2))
    store.commit(IngestBatch(articles=[article], category=Category("the-thao", "Thể thao")))
    assert store.get_article(article.id) == article
    assert store.get_category("the-thao").name == "Thể thao"
    assert store.count_articles() == 1
    assert store.count_articles("the-thao") == 1
    assert store.count_articles("thoi-su") == 0


def test_commit_replaces_an_article(store: Store) -> None:
    store.commit(IngestBatch(articles=[make_article(1)]))
    edited = make_article(1, title="Tiêu đề mới", category="thoi-su")
    store.commit(IngestBatch(articles=[edited]))
    assert store.get_article("a0001").title == "Tiêu đề mới"
    assert store.count_articles() == 1
    assert store.count_articles("the-thao") == 0
    assert [a.id for a in store.latest_articles("thoi-su")] == ["a0001"]


def test_commit_is_all_or_nothing(store: Store) -> None:
    gone = store.add_source(Source(url="https://gone.example/rss", category="x"))
    store.remove_source(gone.id)
    batch = IngestBatch(
        articles=[make_article(1), make_article(2)],
        aliases=[Alias("url", "https://news.example/bai-1.html", "a0001")],
        source=gone,
    )
    with pytest.raises(SourceNotFound):
        store.commit(batch)
    assert store.count_articles() == 0
    assert store.lookup_aliases([("url", "https://news.example/bai-1.html")]) == {}
    assert store.last_seq() == 0


def test_aliases(store: Store) -> None:
    store.commit(
        IngestBatch(
            articles=[make_article(1)],
            aliases=[
                Alias("url", "https://news.example/bai-1.html", "a0001"),
                Alias("key", "7:guid-1", "a0001"),
            ],
        )
    )
    found = store.lookup_aliases(
        [("url", "https://news.example/bai-1.html"), ("key", "7:guid-1"), ("key", "8:guid-1")]
    )
    assert found == {
        ("url", "https://news.example/bai-1.html"): "a0001",
        ("key", "7:guid-1"): "a0001",
    }


def test_latest_articles_order_filter_and_paging(store: Store) -> None:
    articles = [make_article(n, category="the-thao" if n % 2 else "thoi-su") for n in range(1, 11)]
    # two articles at the same instant are ordered by id
    articles.append(make_article(11, published=articles[-1].published))
    store.commit(IngestBatch(articles=articles))
    newest = store.latest_articles(limit=3)
    assert [a.id for a in newest] == ["a0011", "a0010", "a0009"]
    page2 = store.latest_articles(limit=3, before=(newest[-1].published, newest[-1].id))
    assert [a.id for a in page2] == ["a0008", "a0007", "a0006"]
    sport = store.latest_articles("the-thao", limit=100)
    assert [a.id for a in sport] == ["a0011", "a0009", "a0007", "a0005", "a0003", "a0001"]
    recent = store.latest_articles(since=T0 + timedelta(minutes=8))
    assert {a.id for a in recent} == {"a0009", "a0010", "a0011"}


def test_iter_articles_by_time_reads_a_window_in_time_order_both_ways(store: Store) -> None:
    articles = [make_article(n) for n in range(1, 10)]
    # same instant: ordered by id, in both directions, across a batch boundary
    articles.append(make_article(10, published=articles[4].published))
    store.commit(IngestBatch(articles=articles))
    store.delete_article("a0007")
    oldest = [a.id for a in store.iter_articles_by_time(batch_size=2)]
    assert oldest == [f"a00{n:02d}" for n in (1, 2, 3, 4, 5, 10, 6, 8, 9)]
    newest = [a.id for a in store.iter_articles_by_time(newest_first=True, batch_size=2)]
    assert newest == oldest[::-1]
    since, until = articles[2].published, articles[7].published
    window = store.iter_articles_by_time(since=since, until=until, batch_size=3)
    # since is inclusive, until exclusive
    assert [a.id for a in window] == ["a0003", "a0004", "a0005", "a0010", "a0006"]
    back = store.iter_articles_by_time(since=since, until=until, newest_first=True, batch_size=1)
    assert [a.id for a in back] == ["a0006", "a0010", "a0005", "a0004", "a0003"]
    assert list(store.iter_articles_by_time(since=until, until=since)) == []
    edited = articles[0].replace(published=articles[8].published + timedelta(minutes=1))
    store.commit(IngestBatch(articles=[edited]))
    assert [a.id for a in store.iter_articles_by_time(newest_first=True)][:2] == ["a0001", "a0009"]


def test_articles_dated_before_year_1000_order_as_oldest(store: Store) -> None:
    ancient = [
        make_article(1, published=datetime(1, 1, 1, tzinfo=UTC)),
        make_article(2, published=datetime(999, 12, 31, tzinfo=UTC)),
    ]
    store.commit(IngestBatch(articles=[*ancient, make_article(3)]))
    assert [a.id for a in store.latest_articles()] == ["a0003", "a0002", "a0001"]
    assert [a.id for a in store.latest_articles(since=datetime(500, 1, 1, tzinfo=UTC))] == [
        "a0003",
        "a0002",
    ]
    assert store.get_article("a0001").published == ancient[0].published


def test_get_articles_keeps_order_and_skips_unknown(store: Store) -> None:
    store.commit(IngestBatch(articles=[make_article(n) for n in range(1, 4)]))
    got = store.get_articles(["a0003", "zzz", "a0001"])
    assert [a.id for a in got] == ["a0003", "a0001"]
    assert sorted(a.id for a in store.iter_articles(batch_size=2)) == ["a0001", "a0002", "a0003"]


def test_teasers_are_the_articles_list_fields_and_follow_edits_and_takedowns(
    store: Store,
) -> None:
    store.commit(IngestBatch(articles=[make_article(n) for n in range(1, 4)]))
    got = store.get_teasers(["a0003", "zzz", "a0001"])
    assert got == [Teaser.of(store.get_article(i)) for i in ("a0003", "a0001")]
    assert got[0].image == Image(url="https://img.example/3.jpg", type="image/jpeg", length=1234)
    edited = make_article(2, title="Tiêu đề mới", summary="", image=None, category="thoi-su")
    store.commit(IngestBatch(articles=[edited]))
    assert store.get_teasers(["a0002"]) == [Teaser.of(edited)]
    store.delete_article("a0001")
    assert store.get_teasers(["a0001", "a0002"]) == [Teaser.of(edited)]
    store.commit(IngestBatch(articles=[make_article(1)]))
    assert store.get_teasers(["a0001"]) == [Teaser.of(make_article(1))]


def test_the_article_at_a_url_is_found_by_any_form_of_it(store: Store) -> None:
    store.commit(
        IngestBatch(
            articles=[make_article(1)],
            aliases=[Alias("url", "https://news.example/bai-1.html", "a0001")],
        )
    )
    assert store.article_id_at("HTTPS://News.Example:443/bai-1.html?utm_source=x#top") == "a0001"
    assert store.article_id_at("https://news.example/bai-2.html") is None
    with pytest.raises(InvalidURL, match="not an http"):
        store.article_id_at("ftp://news.example/bai-1.html")


def test_takedown_leaves_a_tombstone_and_push_restores(store: Store) -> None:
    store.commit(IngestBatch(articles=[make_article(1), make_article(2)]))
    store.put_related({"a0001": [RelatedItem("a0002", 0.5)]})
    assert store.delete_article("a0001") is True
    assert store.get_article("a0001") is None
    assert store.get_related("a0001") is None
    assert store.taken_down(["a0001", "a0002"]) == {"a0001"}
    assert [a.id for a in store.latest_articles()] == ["a0002"]
    assert store.delete_article("a0001") is False
    store.commit(IngestBatch(articles=[make_article(1)]))
    assert store.taken_down(["a0001"]) == set()
    assert store.get_article("a0001") is not None


def test_change_log(store: Store) -> None:
    assert store.last_seq() == 0
    store.commit(IngestBatch(articles=[make_article(1), make_article(2)]))
    store.delete_article("a0001")
    changes = store.changes_since(0)
    assert [(c.article_id, c.op) for c in changes] == [
        ("a0001", "upsert"),
        ("a0002", "upsert"),
        ("a0001", "delete"),
    ]
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert store.last_seq() == changes[-1].seq
    assert store.changes_since(changes[0].seq, limit=1) == [changes[1]]


def test_related_lists(store: Store) -> None:
    items = [
        RelatedItem("a0002", 0.8123456, False, ("bóng đá", "hlv")),
        RelatedItem("a0003", 0.1, True, ()),
    ]
    store.put_related({"a0001": items, "a0002": []})
    assert store.get_related("a0001") == [
        RelatedItem("a0002", 0.812346, False, ("bóng đá", "hlv")),
        RelatedItem("a0003", 0.1, True),
    ]
    assert store.get_related("a0002") == []
    assert store.get_related("a0009") is None
    assert store.get_related_many(["a0009", "a0002", "a0001", "a0002"]) == {
        "a0002": [],
        "a0001": store.get_related("a0001"),
    }
    assert store.get_related_many([]) == {}
    many = {f"m{n:04d}": [RelatedItem(f"a{n:04d}", 0.5)] for n in range(1200)}
    store.put_related(many)
    assert store.get_related_many(many) == many


def test_counts_by_source(store: Store) -> None:
    store.commit(
        IngestBatch(
            articles=[
                make_article(1, source_id=3),
                make_article(2, source_id=3),
                make_article(3, source_id=4),
                make_article(4),
            ]
        )
    )
    assert store.count_articles_by_source() == {3: 2, 4: 1}


def test_meta(store: Store) -> None:
    assert store.get_meta("index") is None
    store.set_meta("index", b"\x00\x01v1")
    store.set_meta("index", b"\x00\x01v2")
    assert store.get_meta("index") == b"\x00\x01v2"


def test_ping(store: Store) -> None:
    store.ping()


def test_version_grows_with_every_visible_change(store: Store) -> None:
    seen = [store.version()]

    def changed() -> None:
        seen.append(store.version())
        assert seen[-1] > seen[-2]

    store.commit(IngestBatch(articles=[make_article(1), make_article(2)]))
    changed()
    store.put_related({"a0001": [RelatedItem("a0002", 0.5)]})
    changed()
    store.delete_article("a0002")
    changed()
    store.put_category(Category("the-thao", "Thể thao"))
    changed()
    store.set_meta("unrelated", b"x")
    store.update_source(store.add_source(Source(url="https://x.example/rss", category="x")))
    assert store.version() == seen[-1]


def test_a_write_moves_the_versions_of_what_it_changed_and_nothing_else(store: Store) -> None:
    a1, a2, a3 = (article_resource(f"a000{n}") for n in (1, 2, 3))
    sport, news = category_resource("the-thao"), category_resource("thoi-su")
    watched = [ANY, a1, a2, a3, sport, news, EVERY_CATEGORY, CATEGORIES]

    def moved(write) -> set[str]:
        before = dict(zip(watched, store.versions(watched), strict=True))
        write()
        after = dict(zip(watched, store.versions(watched), strict=True))
        assert after[ANY] == store.version() > before[ANY]
        # Every resource a write changed gets the store's new version: versions never repeat.
        assert all(after[r] in (before[r], after[ANY]) for r in watched)
        return {r for r in watched if after[r] != before[r]} - {ANY}

    assert store.versions([]) == [] and store.versions([a1, "a:unknown"]) == [0, 0]
    batch = IngestBatch(articles=[make_article(1), make_article(2)])
    assert moved(lambda: store.commit(batch)) == {a1, a2, sport, EVERY_CATEGORY}
    # An article stored in the sports section, then moved to the news one.
    assert moved(lambda: store.commit(IngestBatch(articles=[make_article(3)]))) == {
        a3,
        sport,
        EVERY_CATEGORY,
    }
    edit = IngestBatch(articles=[make_article(3, category="thoi-su")])
    assert moved(lambda: store.commit(edit)) == {a3, sport, news, EVERY_CATEGORY}
    # A related list is its article's: the articles it shows have their own versions.
    assert moved(lambda: store.put_related({"a0001": [RelatedItem("a0002", 0.5)]})) == {a1}
    assert moved(lambda: store.delete_article("a0002")) == {a2, sport, EVERY_CATEGORY}
    assert moved(lambda: store.put_category(Category("thoi-su", "Thời sự"))) == {
        news,
        CATEGORIES,
    }
    # A URL that led to a0001 and now leads to a0003 changes what a0001's page shows.
    url = Alias("url", "https://news.example/bai-1.html", "a0001")
    before = store.version()
    store.commit(IngestBatch(aliases=[url]))  # a new way to a0001: no page showed it yet
    assert store.version() == before
    moved_url = IngestBatch(aliases=[Alias("url", url.value, "a0003")])
    assert moved(lambda: store.commit(moved_url)) == {a1}
    # The one call for changes the store cannot see (an editorial override).
    assert moved(lambda: store.changed(["a0003"], ["the-thao"])) == {a3, sport}
    before = store.version()
    store.changed()  # nothing named, nothing moves
    store.set_meta("unrelated", b"x")
    assert store.version() == before


def test_sqlite_schema_is_migrated_forward_and_newer_is_refused(tmp_path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # a database left by the first release
        db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    store = SQLiteStore(f"sqlite:///{path}")
    assert store.schema_version() == len(MIGRATIONS)
    assert store.version() == 0
    store.close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaTooNew, match="upgrade quantam"):
        SQLiteStore(f"sqlite:///{path}")


def test_lock_is_exclusive_until_released_or_expired(store: Store) -> None:
    with store.lock("source:7", ttl=30) as first:
        assert first is True
        with store.lock("source:7", ttl=30) as second:
            assert second is False
        with store.lock("source:8", ttl=30) as other:
            assert other is True
        # another thread gives up after waiting
        results: list[bool] = []

        def contend() -> None:
            with store.lock("source:7", wait=0.2) as held:
                results.append(held)

        t = threading.Thread(target=contend)
        t.start()
        t.join()
        assert results == [False]
    with store.lock("source:7") as again:
        assert again is True


def test_a_held_lock_is_renewed_past_its_ttl(store: Store) -> None:
    """Issue 12: locks had long TTLs (10 minutes for the related lists) because a live holder
    lost its lock when the TTL ran out; now the holder renews it."""
    with store.lock("short", ttl=1.0) as held:  # renewed every third of a second
        assert held
        time.sleep(2.5)
        with store.lock("short") as second:
            assert second is False
    with store.lock("short") as again:
        assert again is True


_HOLD = """
import sys, time
from store import open_store
store = open_store(sys.argv[1])
with store.lock("held-by-the-dead", ttl=float(sys.argv[2])) as held:
    print("held" if held else "not held", flush=True)
    time.sleep(60)
"""


def test_the_lock_of_a_killed_holder_is_free_within_its_ttl(store: Store) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, store.url, "1.0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with store.lock("held-by-the-dead") as taken:
            assert taken is False
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    killed = time.monotonic()
    with store.lock("held-by-the-dead", wait=5) as taken:
        assert taken is True
        assert time.monotonic() - killed < 2.0  # the TTL, plus a slow machine's margin


def test_export_iterators_and_restore(store: Store) -> None:
    store.commit(
        IngestBatch(
            articles=[make_article(n) for n in range(1, 5)],
            aliases=[
                Alias("url", f"https://news.example/bai-{n}.html", f"a000{n}") for n in range(1, 5)
            ]
            + [Alias("key", "3:guid-1", "a0001")],
        )
    )
    store.put_related({"a0001": [RelatedItem("a0002", 0.5)], "a0003": []})
    store.delete_article("a0004")
    store.set_meta("index", b"blob")
    assert [a.id for a in store.iter_articles(batch_size=2, after="a0001")] == ["a0002", "a0003"]
    aliases = sorted((a.kind, a.value, a.article_id) for a in store.iter_aliases())
    assert ("key", "3:guid-1", "a0001") in aliases and len(aliases) == 5
    assert dict(store.iter_related()) == {"a0001": [RelatedItem("a0002", 0.5)], "a0003": []}
    assert list(store.iter_takedowns()) == ["a0004"]
    assert dict(store.iter_meta())["index"] == b"blob"
    source = Source(url="https://x.example/rss", category="x", id=42, name="Kept id")
    store.restore_source(source)
    assert store.get_source(42) == source
    assert store.add_source(Source(url="https://y.example/rss", category="x")).id > 42
    with pytest.raises(SourceExists):
        store.restore_source(Source(url="https://x.example/rss", category="x", id=43))


def test_sqlite_migration_gives_stored_articles_their_teasers(tmp_path) -> None:
    path = tmp_path / "v2.db"
    articles = [make_article(1), make_article(2, image=None, summary="")]
    with sqlite3.connect(path) as db:  # a database left by a release without teasers
        db.executescript(f"{MIGRATIONS[0]}; {MIGRATIONS[1]}; PRAGMA user_version = 2;")
        for seq, a in enumerate(articles, 1):
            db.execute(
                "INSERT INTO articles (id, category, published, source_id, seq, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    a.id,
                    a.category,
                    codec.ts(a.published),
                    a.source_id,
                    seq,
                    codec.dumps(codec.article_to_dict(a)),
                ),
            )
    store = SQLiteStore(f"sqlite:///{path}")
    assert store.schema_version() == len(MIGRATIONS)
    assert store.get_teasers(["a0001", "a0002"]) == [Teaser.of(a) for a in articles]
    store.close()


# -- full text ------------------------------------------------------------------------------------


def _with_status(n: int, status: str | None, source_id: int | None = 3, **kw) -> Article:
    fulltext = None if status is None else FullText(status=status, origin="feed")
    return make_article(n, source_id=source_id, fulltext=fulltext, **kw)


def test_an_articles_full_text_is_stored_whole(store: Store) -> None:
    extracted = FullText(
        status="full",
        origin="page",
        html="<p>Toàn văn <b>bài</b></p>",
        at=T0 + timedelta(hours=1),
        page_url="https://news.example/bai-1.html?ref=rss",
        filled=("image", "author"),
    )
    failed = FullText(status="failed", origin="page", reason="the page is not there (404)", at=T0)
    store.commit(
        IngestBatch(
            articles=[
                make_article(1, fulltext=extracted),
                make_article(2, fulltext=failed),
                make_article(3),
            ]
        )
    )
    assert store.get_article("a0001") == make_article(1, fulltext=extracted)
    assert store.get_article("a0002").fulltext == failed
    assert store.get_article("a0003").fulltext is None


def test_full_text_counts_by_source_follow_edits_and_takedowns(store: Store) -> None:
    store.commit(
        IngestBatch(
            articles=[
                _with_status(1, "full"),
                _with_status(2, "pending"),
                _with_status(3, "pending"),
                _with_status(4, "failed", source_id=4),
                _with_status(5, "summary", source_id=None),
                _with_status(6, None),  # stored before there were statuses: not counted
            ]
        )
    )
    assert store.count_fulltext_by_source() == {
        3: {"full": 1, "pending": 2},
        4: {"failed": 1},
        None: {"summary": 1},
    }
    store.commit(IngestBatch(articles=[_with_status(2, "full"), _with_status(4, "full", 4)]))
    store.delete_article("a0003")
    counts = store.count_fulltext_by_source()
    assert counts == {3: {"full": 2}, 4: {"full": 1}, None: {"summary": 1}}


def test_the_full_text_queue_is_newest_first_by_source_and_pages(store: Store) -> None:
    store.commit(
        IngestBatch(
            articles=[
                _with_status(n, "pending" if n % 3 else "failed", source_id=3 if n < 7 else 30)
                for n in range(1, 10)
            ]
            + [_with_status(10, "full"), _with_status(11, "pending", source_id=None)]
        )
    )
    ids = [a.id for a in store.fulltext_queue()]
    assert ids == ["a0011", "a0008", "a0007", "a0005", "a0004", "a0002", "a0001"]
    assert [a.id for a in store.fulltext_queue(source_id=3)] == ["a0005", "a0004", "a0002", "a0001"]
    assert [a.id for a in store.fulltext_queue("failed")] == ["a0009", "a0006", "a0003"]
    assert [a.id for a in store.fulltext_queue("failed", source_id=30)] == ["a0009"]
    assert store.fulltext_queue(source_id=99) == []
    first = store.fulltext_queue(source_id=3, limit=2)
    assert [a.id for a in first] == ["a0005", "a0004"]
    rest = store.fulltext_queue(source_id=3, before=(first[-1].published, first[-1].id))
    assert [a.id for a in rest] == ["a0002", "a0001"]
    recent = store.fulltext_queue(since=T0 + timedelta(minutes=5))
    assert [a.id for a in recent] == ["a0011", "a0008", "a0007"]
    store.commit(IngestBatch(articles=[_with_status(8, "full", source_id=30)]))
    store.delete_article("a0007")
    assert [a.id for a in store.fulltext_queue(limit=2)] == ["a0011", "a0005"]


def test_categories_and_sources_keep_their_full_text_settings(store: Store) -> None:
    store.put_category(Category("the-thao", "Thể thao", feed_full_text=False))
    assert store.get_category("the-thao").feed_full_text is False
    source = store.add_source(Source(url="https://a.example/rss", category="the-thao"))
    assert source.full_text == "auto"
    changed = source.replace(
        full_text="always",
        fulltext_error="robots.txt disallows it",
        fulltext_error_at=T0,
    )
    store.update_source(changed)
    assert store.get_source(source.id) == changed


def test_popularity_counts_per_hour_rank_and_filter(store: Store) -> None:
    """Counts add up per article and hour; the ranking is clicks, then impressions, then the
    newest published, then id; a window starts at the hour holding `since`; only stored
    articles of the asked category count, taken-down ones never."""
    articles = [make_article(n) for n in range(1, 6)] + [make_article(9, category="thoi-su")]
    store.commit(IngestBatch(articles=articles))
    ids = [a.id for a in articles]
    hour = T0.replace(minute=0)
    version = store.version()
    store.add_event_counts(
        [
            EventCount(ids[0], T0 + timedelta(minutes=5), impressions=10, clicks=1),
            EventCount(ids[1], T0, impressions=4, clicks=2),
            EventCount(ids[2], T0, impressions=4, clicks=2),  # ties ids[1]: newer wins
            EventCount(ids[3], T0, impressions=9, clicks=2),
            EventCount(ids[5], T0, impressions=50, clicks=9),  # another category
            EventCount("unknown", T0, impressions=99, clicks=99),
        ]
    )
    # the same hour again (a later flush) adds to it; an earlier hour is outside the window
    store.add_event_counts([EventCount(ids[0], T0 + timedelta(minutes=59), clicks=5)])
    store.add_event_counts([EventCount(ids[4], hour - timedelta(hours=2), clicks=50)])
    assert store.version() == version  # counts are not what caches key on

    ranked = store.popular("the-thao", since=T0 + timedelta(minutes=30), limit=10)
    assert [(p.article_id, p.clicks, p.impressions) for p in ranked] == [
        (ids[0], 6, 10),
        (ids[3], 2, 9),
        (ids[2], 2, 4),
        (ids[1], 2, 4),
    ]
    assert [p.article_id for p in store.popular("the-thao", hour, 2)] == [ids[0], ids[3]]
    assert [p.article_id for p in store.popular("the-thao", hour, 2, exclude=[ids[0]])] == [
        ids[3],
        ids[2],
    ]
    everything = store.popular(None, hour - timedelta(hours=3), 10)
    assert [p.article_id for p in everything][:2] == [ids[4], ids[5]]
    assert "unknown" not in {p.article_id for p in everything}
    store.delete_article(ids[4])
    assert ids[4] not in {p.article_id for p in store.popular(None, hour - timedelta(hours=3), 10)}
    assert store.popular("the-thao", hour + timedelta(hours=1), 10) == []


def test_popularity_forgets_hours_past_its_retention(store: Store) -> None:
    article = make_article(1)
    store.commit(IngestBatch(articles=[article]))
    old = T0 - POPULARITY_RETENTION - timedelta(hours=2)
    store.add_event_counts([EventCount(article.id, old, clicks=7)])
    assert store.popular(None, old, 10)[0].clicks == 7
    store.add_event_counts([EventCount(article.id, T0, clicks=1)])
    assert [p.clicks for p in store.popular(None, old, 10)] == [1]


def test_popularity_counts_are_listed_and_set_for_a_migration(store: Store) -> None:
    """Every (article, hour) counter is listed with its sums; put sets rather than adds, so a
    migration run twice leaves the same counts."""
    a, b = make_article(1), make_article(2)
    store.commit(IngestBatch(articles=[a, b]))
    hour = T0.replace(minute=0)
    store.add_event_counts([EventCount(a.id, T0, impressions=3, clicks=1)])
    store.add_event_counts([EventCount(a.id, T0 + timedelta(minutes=9), impressions=2)])
    store.add_event_counts([EventCount(b.id, T0 - timedelta(hours=1), clicks=4)])
    listed = sorted(store.iter_event_counts(), key=lambda c: (c.hour, c.article_id))
    assert listed == [
        EventCount(b.id, hour - timedelta(hours=1), impressions=0, clicks=4),
        EventCount(a.id, hour, impressions=5, clicks=1),
    ]
    for _ in range(2):
        store.put_event_counts([EventCount(a.id, hour, impressions=7, clicks=2)])
    assert [(p.article_id, p.clicks, p.impressions) for p in store.popular(None, hour, 10)] == [
        (a.id, 2, 7)
    ]
    assert sorted(c.impressions for c in store.iter_event_counts()) == [0, 7]


def test_users_are_stored_listed_replaced_and_removed(store: Store) -> None:
    store.put_user(User("tuan", "hash-1", T0))
    store.put_user(User("an", "hash-2", T0 + timedelta(seconds=1)))
    assert store.get_user("tuan") == User("tuan", "hash-1", T0)
    assert [u.name for u in store.list_users()] == ["an", "tuan"]
    store.put_user(User("tuan", "hash-3", T0))
    assert store.get_user("tuan").password_hash == "hash-3"
    assert store.remove_user("tuan") is True
    assert store.remove_user("tuan") is False
    assert store.get_user("tuan") is None
    assert [u.name for u in store.list_users()] == ["an"]


def test_overrides_and_site_rules_are_stored_and_move_their_versions(store: Store) -> None:
    assert store.get_overrides("a1") == ListOverrides("a1")
    assert store.editorial_for("a1") == (ListOverrides("a1"), SiteRules())
    watched = [ANY, overrides_resource("a1"), overrides_resource("b2"), EDITORIAL_RULES]
    watched += [article_resource("a1"), article_resource("b2"), EVERY_CATEGORY]

    def moved(write) -> set[str]:
        before = dict(zip(watched, store.versions(watched), strict=True))
        write()
        after = dict(zip(watched, store.versions(watched), strict=True))
        assert after[ANY] == store.version() > before[ANY]
        return {r for r in watched if after[r] != before[r]} - {ANY}

    mine = ListOverrides("a1", (Pin("b2", 1), Pin("c3", 4)), ("d4", "e5"))
    # Only the list as edited moves: not the article, nor the pinned one, nor other lists.
    assert moved(lambda: store.put_overrides(mine)) == {overrides_resource("a1")}
    assert store.get_overrides("a1") == mine
    rules = SiteRules(("x9",), (("the-thao", "thoi-su"),))
    assert moved(lambda: store.put_site_rules(rules)) == {EDITORIAL_RULES}
    before = store.version()
    store.put_user(User("an", "hash", T0))
    store.add_audit(AuditEntry("an", "signed in"))
    assert store.version() == before  # no reader sees users or the audit log
    assert store.get_site_rules() == rules
    assert rules.unpaired("thoi-su") == {"the-thao"} and rules.unpaired("kinh-te") == set()
    assert store.editorial_for("a1") == (mine, rules)
    assert store.editorial_for("zz") == (ListOverrides("zz"), rules)
    assert store.list_overrides() == [mine]
    # Empty overrides remove the record: nothing is left to mark in the console.
    store.put_overrides(ListOverrides("a1"))
    assert store.list_overrides() == []
    assert store.get_overrides("a1") == ListOverrides("a1")
    store.put_site_rules(SiteRules())
    assert store.get_site_rules() == SiteRules()


def test_a_list_is_read_with_its_overrides_in_one_call(store: Store) -> None:
    # What serving a list reads: the same as its three reads apart, whatever is stored.
    def apart(article_id: str) -> tuple:
        return (store.get_related(article_id), *store.editorial_for(article_id))

    assert store.related_as_edited("a1") == apart("a1") == (None, ListOverrides("a1"), SiteRules())
    items = [RelatedItem("b2", 0.5, reason=("bão", "lũ")), RelatedItem("c3", 0.0, fill=True)]
    store.put_related({"a1": items, "b2": []})
    mine = ListOverrides("a1", (Pin("c3", 1),), ("d4",))
    store.put_overrides(mine)
    rules = SiteRules(("x9",), (("the-thao", "thoi-su"),))
    store.put_site_rules(rules)
    assert store.related_as_edited("a1") == apart("a1") == (items, mine, rules)
    assert store.related_as_edited("b2") == apart("b2") == ([], ListOverrides("b2"), rules)
    assert store.related_as_edited("zz") == apart("zz") == (None, ListOverrides("zz"), rules)


def test_the_audit_log_is_newest_first_and_pages(store: Store) -> None:
    assert store.audit_log() == []
    for i in range(5):
        store.add_audit(AuditEntry("tuan", f"action {i}", f"t{i}", "d", T0 + timedelta(minutes=i)))
    log = store.audit_log(limit=2)
    assert [e.action for e in log] == ["action 4", "action 3"]
    assert log[0] == AuditEntry("tuan", "action 4", "t4", "d", T0 + timedelta(minutes=4))
    assert [e.action for e in store.audit_log(limit=2, offset=3)] == ["action 1", "action 0"]
    assert store.audit_log(limit=10, offset=5) == []
    store.add_audit(AuditEntry("cli", "added user"))
    assert store.audit_log(limit=1)[0].at is not None
