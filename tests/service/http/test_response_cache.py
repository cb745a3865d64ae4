"""Whole answers served again without Flask: identical bytes, never stale, bounded."""

from __future__ import annotations

import gzip
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.config import ConfigError, load_settings
from service.http.app import create_app
from service.http.response_cache import ResponseCache, mark_cacheable
from store.editorial import SiteRules
from store.models import IngestBatch, RelatedItem
from store.sqlite import SQLiteStore
from tests.support.articles import make_article

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
RELATED_ROUTE = "/api/articles/<article_id>/related"


def _push(quantam, n: int) -> str:
    return quantam.push_article(
        {
            "url": f"https://bao.example.vn/the-thao/bai-{n}.html",
            "title": f"Bóng đá bài {n}",
            "summary": f"Tóm tắt bài số {n}: " + "chi tiết trận đấu " * 30,
            "category": "the-thao",
            "published": (T0 + timedelta(minutes=n)).isoformat(),
        }
    ).article.id


def _app(tmp_path: Path, **settings):
    app = create_app(
        load_settings(
            environ={},
            store=f"sqlite:///{tmp_path / 'q.db'}",
            api_token=TOKEN,
            related_auto_reindex_max=0,
            **settings,
        )
    )
    quantam = app.extensions["quantam"]
    ids = [_push(quantam, n) for n in range(8)]
    quantam.store.put_related(
        {ids[0]: [RelatedItem(i, 0.9 - n / 10) for n, i in enumerate(ids[1:])]}
    )
    app.config["ids"] = ids
    return app


@pytest.fixture
def app(tmp_path: Path):
    app = _app(tmp_path)
    yield app
    app.extensions["quantam"].close()


def _requests(client, route: str, status: str) -> float:
    """This route's request count in /metrics."""
    prefix = f'quantam_http_requests_total{{method="GET",route="{route}",status="{status}"}} '
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


def test_a_repeated_answer_is_the_same_bytes_and_is_counted(app) -> None:
    client = app.test_client()
    path = f"/api/articles/{app.config['ids'][0]}/related"
    counted = _requests(client, RELATED_ROUTE, "200")  # the counters are per process
    first, second, third = client.get(path), client.get(path), client.get(path)
    for again in (second, third):
        assert again.status_code == 200 and again.data == first.data
        assert dict(again.headers) == dict(first.headers)
        assert again.headers["Access-Control-Allow-Origin"] == "*"
    # Kept from the second request on, the third came from the cache; the metrics saw all three
    # under their route.
    assert len(app.extensions["quantam.response_cache"]._items) == 1
    assert _requests(client, RELATED_ROUTE, "200") == counted + 3


def test_a_takedown_is_never_served_from_the_cache(app) -> None:
    client = app.test_client()
    ids = app.config["ids"]
    by_id = f"/api/articles/{ids[0]}/related?k=3"
    by_url = "/api/related?k=3&url=https://bao.example.vn/the-thao/bai-0.html"
    feed = "/feeds/the-thao.rss"
    for path in (by_id, by_url, by_id, by_url, feed, feed):
        assert client.get(path).status_code == 200
    assert ids[1] in client.get(by_id).get_data(as_text=True)
    assert client.delete(f"/api/articles/{ids[1]}", headers=AUTH).status_code == 204
    for path in (by_id, by_url, feed):
        answer = client.get(path).get_data(as_text=True)
        assert ids[1] not in answer and "bai-1.html" not in answer, path
    assert client.get(f"/api/articles/{ids[1]}/related").status_code == 404


def test_an_override_drops_exactly_the_answers_that_show_its_list(app) -> None:
    """Editors' overrides are applied as lists are read: a change to one article's drops its
    related answers, its box and the feed pages that carry it, and nothing else; a rule for
    every list drops every answer that shows a list."""
    client = app.test_client()
    ids = app.config["ids"]
    page = "https://bao.example.vn/the-thao/bai-0.html"
    shows = {  # every kept answer that applies ids[0]'s list (the oldest, so not in page 1)
        f"/api/articles/{ids[0]}/related?k=3",
        f"/api/related?k=3&url={page}",  # what embed.js asks for
        "/feeds/the-thao.rss",
        "/feeds/all.json",
    }
    others = {
        f"/api/articles/{ids[2]}/related?k=3",
        f"/api/articles/{ids[0]}",
        "/api/categories/the-thao/latest",
        "/feeds/the-thao.rss?limit=2",
    }
    for path in sorted(shows | others) * 2:  # kept from the second request on
        assert client.get(path).status_code == 200, path
    cache: ResponseCache = app.extensions["quantam.response_cache"]
    store = app.extensions["quantam"].store

    def current() -> set[str]:
        return {
            path + (f"?{query}" if query else "")
            for (path, query, _), entry in cache._items.items()
            if entry.current(store.versions(entry.resources))
        }

    assert len(cache._items) == len(shows | others)
    assert "bai-1.html" in client.get(f"/embed/related?url={page}").get_data(as_text=True)
    body = {"block": [ids[1]]}
    put = client.put(f"/api/articles/{ids[0]}/overrides", json=body, headers=AUTH)
    assert put.status_code == 200
    assert current() == others
    assert ids[1] not in client.get(f"/api/articles/{ids[0]}/related?k=3").get_data(as_text=True)
    # The box without script is built per request, overrides applied.
    assert "bai-1.html" not in client.get(f"/embed/related?url={page}").get_data(as_text=True)
    for path in sorted(shows | others) * 2:
        client.get(path)
    assert len(current()) == len(shows | others)
    store.put_site_rules(SiteRules(blocked=(ids[3],)))
    assert current() == {f"/api/articles/{ids[0]}", "/api/categories/the-thao/latest"}


def test_conditional_requests_are_answered_from_the_cache(app) -> None:
    client = app.test_client()
    counted = _requests(client, "/feeds/<slug>.<fmt>", "304")
    feed = client.get("/feeds/the-thao.rss")
    etag = feed.headers["ETag"]
    for _ in range(2):
        again = client.get("/feeds/the-thao.rss", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == feed.headers["Cache-Control"]
    other = client.get("/feeds/the-thao.rss", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data == feed.data
    since = client.get(
        "/feeds/the-thao.rss", headers={"If-Modified-Since": feed.headers["Last-Modified"]}
    )
    assert since.status_code == 304
    assert _requests(client, "/feeds/<slug>.<fmt>", "304") == counted + 3


def test_each_accept_encoding_gets_its_own_answer(app) -> None:
    client = app.test_client()
    for _ in range(2):
        zipped = client.get("/feeds/the-thao.rss", headers={"Accept-Encoding": "gzip"})
        plain = client.get("/feeds/the-thao.rss", headers={"Accept-Encoding": "identity"})
        refused = client.get("/feeds/the-thao.rss", headers={"Accept-Encoding": "gzip;q=0"})
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert "Content-Encoding" not in plain.headers
        assert "Content-Encoding" not in refused.headers
        assert gzip.decompress(zipped.data) == plain.data == refused.data


def test_only_get_answers_are_cached(app) -> None:
    client = app.test_client()
    path = f"/api/articles/{app.config['ids'][0]}/related"
    client.get(path)
    head = client.head(path)
    assert head.status_code == 200 and head.data == b""
    options = client.options(path)
    assert options.status_code == 200 and options.data == b""


def test_the_cache_can_be_turned_off_and_refuses_a_negative_size(tmp_path: Path) -> None:
    app = _app(tmp_path, response_cache_mb=0)
    client = app.test_client()
    path = f"/api/articles/{app.config['ids'][0]}/related"
    assert client.get(path).data == client.get(path).data
    assert app.extensions["quantam.response_cache"]._items == {}
    app.extensions["quantam"].close()
    with pytest.raises(ConfigError, match="QUANTAM_RESPONSE_CACHE_MB must not be negative"):
        load_settings(environ={"QUANTAM_RESPONSE_CACHE_MB": "-1"})


def test_the_cache_stays_within_its_bytes_and_drops_the_oldest(tmp_path: Path) -> None:
    """A WSGI app that offers every answer (1,000 bytes each) to a 5,000-byte cache."""
    store = SQLiteStore(f"sqlite:///{tmp_path / 'q.db'}")
    built: list[str] = []

    def wsgi(environ, start_response):
        built.append(environ["PATH_INFO"])
        mark_cacheable(environ, "e", "/x")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"x" * 1000]

    cache = ResponseCache(wsgi, store, max_bytes=5000)

    def get(path: str) -> bytes:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": ""}
        return b"".join(cache(environ, lambda status, headers, exc_info=None: None))

    for n in range(10):
        assert get(f"/{n}") == get(f"/{n}") == b"x" * 1000  # kept from the second request
    assert cache.bytes <= 5000 and len(cache._items) < 10
    assert get("/9") == b"x" * 1000 and built.count("/9") == 2  # kept: the newest
    assert get("/0") == b"x" * 1000 and built.count("/0") == 3  # dropped: the oldest
    # Requests made once do not push out an answer asked for again.
    for n in range(10, 30):
        get(f"/{n}")
    assert get("/9") == b"x" * 1000 and built.count("/9") == 2
    store.close()


def test_tracking_parameters_of_the_page_make_no_new_entry(app) -> None:
    """Issue 12: the cache keyed on the raw `url=`, so a `utm_` that differs per reader (a
    shared link) made a new entry for each request, and none was ever served again."""
    client = app.test_client()
    cache = app.extensions["quantam.response_cache"]
    page = "https://bao.example.vn/the-thao/bai-0.html"
    answers = [
        client.get("/api/related", query_string={"url": f"{page}?utm_source=s{n}&fbclid={n}"})
        for n in range(20)
    ]
    assert {a.status_code for a in answers} == {200}
    assert len({a.data for a in answers}) == 1 and len({a.headers["ETag"] for a in answers}) == 1
    assert len(cache._items) == 1 and len(cache._seen) == 1


def test_the_budget_bounds_what_the_cache_really_holds(tmp_path: Path) -> None:
    """Issue 12: 128 MiB configured held 518 MiB resident. What the cache holds is measured
    here with tracemalloc (the memory its entries free when dropped): it stays within the
    budget, and fills most of it. Counting bodies plus a guess, it held 1.9 times the budget."""

    budget = 2
    app = create_app(
        load_settings(
            environ={},
            store=f"sqlite:///{tmp_path / 'q.db'}",
            related_auto_reindex_max=0,
            response_cache_mb=budget,
        )
    )
    store = app.extensions["quantam"].store
    articles = [
        make_article(n, summary="Tóm tắt " + "chi tiết trận đấu " * 12) for n in range(1200)
    ]
    store.commit(IngestBatch(articles=articles))
    store.put_related(
        {
            a.id: [RelatedItem(b.id, 0.5, reason=("bóng đá",)) for b in articles[n + 1 : n + 7]]
            for n, a in enumerate(articles)
        }
    )
    client = app.test_client()
    cache = app.extensions["quantam.response_cache"]
    tracemalloc.start()
    try:
        for article in articles:
            for _ in range(2):  # kept from the second request on
                assert client.get(f"/api/articles/{article.id}/related").status_code == 200
        assert len(cache._items) < len(articles), "the budget should have been reached"
        held = tracemalloc.get_traced_memory()[0]
        accounted = cache.bytes + cache.seen_bytes
        cache._drop()
        held -= tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    limit = budget * 1024 * 1024
    assert accounted <= limit
    assert 0.6 * limit < held <= limit, f"held {held:,} bytes against a {limit:,}-byte budget"
    app.extensions["quantam"].close()


def test_an_answer_that_changes_with_time_is_built_again_once_it_expires(tmp_path: Path) -> None:
    """Most-read answers move with the beacons, which move no version: kept only until the
    time they were offered with."""
    store = SQLiteStore(f"sqlite:///{tmp_path / 'q.db'}")
    built: list[float] = []

    def wsgi(environ, start_response):
        built.append(time.time())
        mark_cacheable(environ, f"e{len(built)}", "/x", expires=time.time() + 0.5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"answer {len(built)}".encode()]

    cache = ResponseCache(wsgi, store, max_bytes=100_000)

    def get() -> bytes:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/popular", "QUERY_STRING": ""}
        return b"".join(cache(environ, lambda status, headers, exc_info=None: None))

    assert get() == b"answer 1" and get() == b"answer 2"  # kept from the second request
    assert get() == get() == b"answer 2" and len(built) == 2
    time.sleep(0.6)
    assert get() == b"answer 3" and len(built) == 3  # expired: built again
    store.close()


def test_most_read_and_the_box_are_served_from_the_cache_until_their_stretch_ends(app) -> None:
    client = app.test_client()
    cache = app.extensions["quantam.response_cache"]
    paths = (
        "/api/categories/the-thao/popular?k=3",
        "/api/box?url=https://bao.example.vn/the-thao/bai-0.html&boxes=related:3",
    )
    for path in paths:
        first, second, third = client.get(path), client.get(path), client.get(path)
        assert first.status_code == 200 and first.data == second.data == third.data
    entries = list(cache._items.values())
    assert len(entries) == 2
    assert all(e.mark.expires is not None and e.mark.expires > time.time() for e in entries)
