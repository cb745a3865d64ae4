"""Per-category feeds over HTTP: validation, paging, conditional GET, takedowns, WebSub."""

from __future__ import annotations

import gzip
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest

from feeds.publish import formats
from service.config import load_settings
from service.http import feed_routes
from service.http.app import create_app
from store.models import IngestBatch, RelatedItem
from tests.support.articles import make_article
from tests.support.env import fixture_bytes
from tests.support.feedbuilder import rss, story
from tests.support.feedrules import check_feed, check_json_feed, problems
from tests.support.feedserver import FeedServer, Reply

BASE = "https://news.example.vn"


def make_app(tmp_path: Path, **settings):
    app = create_app(
        load_settings(
            environ={},
            store=f"sqlite:///{tmp_path / 'q.db'}",
            base_url=BASE,
            api_token="t",
            **settings,
        )
    )
    quantam = app.extensions["quantam"]
    quantam.ingestor.ensure_category("the-thao", "Thể thao")
    quantam.ingestor.ingest_bytes(
        fixture_bytes("the-thao.rss"), target="t.rss", category="the-thao"
    )
    quantam.ingestor.ingest_bytes(
        rss([story(n) for n in range(1, 8)]), target="s.rss", category="thoi-su"
    )
    return app


@pytest.fixture
def app(tmp_path: Path):
    app = make_app(tmp_path)
    yield app
    app.extensions["quantam"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_xml_feeds_validate_and_read_back(client, fmt: str) -> None:
    response = client.get(f"/feeds/the-thao.{fmt}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == f"application/{fmt}+xml; charset=utf-8"
    assert problems(check_feed(response.data, f"{BASE}/feeds/the-thao.{fmt}")) == []
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo
    titles = [e.title for e in parsed.entries]
    assert "Đội tuyển Việt Nam thắng Thái Lan 2-1 tại Mỹ Đình" in titles
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == [f"{BASE}/feeds/the-thao.{fmt}"]


def test_json_feed_validates(client) -> None:
    response = client.get("/feeds/the-thao.json")
    assert response.headers["Content-Type"] == "application/feed+json; charset=utf-8"
    assert problems(check_json_feed(response.data)) == []
    assert response.get_json()["feed_url"] == f"{BASE}/feeds/the-thao.json"


def test_all_feed_and_opml(client) -> None:
    parsed = feedparser.parse(client.get("/feeds/all.rss").data)
    assert len(parsed.entries) == 10
    opml = client.get("/feeds.opml")
    assert opml.headers["Content-Type"] == "text/x-opml; charset=utf-8"
    assert f"{BASE}/feeds/the-thao.rss".encode() in opml.data
    assert f"{BASE}/feeds/all.rss".encode() in opml.data
    assert problems(check_feed(opml.data, f"{BASE}/feeds.opml")) == []


def test_limit_is_bounded(client) -> None:
    assert len(feedparser.parse(client.get("/feeds/all.rss?limit=3").data).entries) == 3
    for bad in ("0", "201", "many"):
        response = client.get(f"/feeds/all.rss?limit={bad}")
        assert response.status_code == 400 and response.get_json()["parameter"] == "limit"


def test_rfc5005_paging_walks_every_item_once(client) -> None:
    url, seen = "/feeds/thoi-su.atom?limit=3", []
    while url:
        parsed = feedparser.parse(client.get(url).data)
        seen += [e.link for e in parsed.entries]
        nxt = [link.href for link in parsed.feed.links if link.rel == "next"]
        url = nxt[0].removeprefix(BASE) if nxt else None
    assert len(seen) == len(set(seen)) == 7


def test_unknown_category_and_format_are_404(client) -> None:
    assert client.get("/feeds/nope.rss").status_code == 404
    assert client.get("/feeds/the-thao.xml").status_code == 404


def test_conditional_get_and_gzip(client) -> None:
    first = client.get("/feeds/the-thao.rss", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    assert b"<rss" in gzip.decompress(first.data)
    assert "max-age" in first.headers["Cache-Control"]
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get("/feeds/the-thao.rss", headers={"If-None-Match": etag}).status_code == 304
    by_date = client.get("/feeds/the-thao.rss", headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304
    # the bytes are stable while the items are: the same ETag again
    assert client.get("/feeds/the-thao.rss").headers["ETag"] == etag


def test_a_feed_is_rendered_again_only_when_what_it_shows_changes(client, app, monkeypatch) -> None:
    renders = []
    monkeypatch.setitem(
        feed_routes._FORMATS,
        "rss",
        (lambda page: renders.append(page) or formats.render_rss(page), formats.RSS_CONTENT_TYPE),
    )
    for _ in range(3):
        assert client.get("/feeds/the-thao.rss").status_code == 200
    assert len(renders) == 2  # kept from the second request on
    store = app.extensions["quantam"].store
    # News arrives in another section, and a list changes there: the sports feed stays.
    store.commit(IngestBatch(articles=[make_article(100, category="thoi-su")]))
    news = [a.id for a in store.latest_articles("thoi-su")]
    store.put_related({news[0]: [RelatedItem(news[1], 0.5)]})
    for _ in range(5):
        assert client.get(f"/api/categories/the-thao/latest?k={_ + 1}").status_code == 200
    assert client.get("/feeds/the-thao.rss").status_code == 200
    assert len(renders) == 2
    # A sports story's related list changes: the sports feed shows it, so it is rendered again.
    sport = [a.id for a in store.latest_articles("the-thao")]
    store.put_related({sport[0]: [RelatedItem(sport[1], 0.5)]})
    answer = client.get("/feeds/the-thao.rss")
    assert len(renders) == 3 and answer.status_code == 200


def test_takedown_is_never_served_stale(client, app) -> None:
    first = client.get("/feeds/the-thao.rss")
    parsed = feedparser.parse(first.data)
    victim = next(e for e in parsed.entries if e.title.startswith("Hoàng Xuân Vinh"))
    quantam = app.extensions["quantam"]
    article_id = next(
        a.id for a in quantam.store.latest_articles("the-thao") if a.url == victim.link
    )
    assert (
        client.delete(
            f"/api/articles/{article_id}", headers={"Authorization": "Bearer t"}
        ).status_code
        == 204
    )
    again = client.get("/feeds/the-thao.rss", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert victim.link.encode() not in again.data


def test_items_link_their_related_stories(client, app) -> None:
    store = app.extensions["quantam"].store
    sport = store.latest_articles("the-thao")
    store.put_related(
        {sport[0].id: [RelatedItem(sport[1].id, 0.8), RelatedItem(sport[2].id, 0.1, fill=True)]}
    )
    parsed = feedparser.parse(client.get("/feeds/the-thao.atom").data)
    entry = next(e for e in parsed.entries if e.link == sport[0].url)
    related = [link.href for link in entry.links if link.rel == "related"]
    assert related == [sport[1].url]  # fill items are not presented as related


def test_websub_hub_is_linked_and_pinged(tmp_path: Path, feed_server: FeedServer) -> None:
    hub = feed_server.route("/hub", Reply(status=204, content_type="text/plain"))
    app = make_app(tmp_path, websub_hub=hub, fetch_allow_networks="127.0.0.1/32")
    client = app.test_client()
    response = client.get("/feeds/the-thao.rss")
    assert f'<{hub}>; rel="hub"' in response.headers.getlist("Link")
    parsed = feedparser.parse(response.data)
    assert hub in [link.href for link in parsed.feed.links if link.rel == "hub"]
    quantam = app.extensions["quantam"]
    feed_server.posts.clear()
    quantam.push_article(
        {"url": "https://cms.example.vn/moi", "title": "Tin mới", "category": "the-thao"}
    )
    quantam.hub.flush()
    topics = {parse_qs(body.decode())["hub.url"][0] for path, body in feed_server.posts}
    assert f"{BASE}/feeds/the-thao.rss" in topics and f"{BASE}/feeds/all.atom" in topics
    assert all(parse_qs(b.decode())["hub.mode"] == ["publish"] for _, b in feed_server.posts)
    quantam.close()


def test_websub_pings_go_through_the_ssrf_guard(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 12: pings used a plain HTTP client, so a hub URL (or a redirect or DNS answer behind
    it) reached addresses feed fetches may not."""
    hub = feed_server.route("/hub", Reply(status=204, content_type="text/plain"))
    app = make_app(tmp_path, websub_hub=hub)
    quantam = app.extensions["quantam"]
    feed_server.posts.clear()
    quantam.push_article(
        {"url": "https://cms.example.vn/moi", "title": "Tin mới", "category": "the-thao"}
    )
    quantam.hub.flush()
    assert feed_server.posts == []
    assert "WebSub ping failed" in caplog.text and "non-public address 127.0.0.1" in caplog.text
    quantam.close()


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_a_pushed_language_that_is_no_language_code_cannot_break_feeds(client, fmt: str) -> None:
    pushed = client.post(
        "/api/articles",
        json={
            "url": "https://cms.example.vn/ngon-ngu",
            "title": "Ngôn ngữ lạ",
            "category": "the-thao",
            "language": "\x88\x1a tiếng",
        },
        headers={"Authorization": "Bearer t"},
    )
    assert pushed.status_code == 201 and pushed.get_json()["language"] == "vi"
    response = client.get(f"/feeds/the-thao.{fmt}")
    assert response.status_code == 200 and b"https://cms.example.vn/ngon-ngu" in response.data
