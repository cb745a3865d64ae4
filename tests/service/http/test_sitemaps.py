"""Sitemaps and robots.txt through the real application on a real SQLite file."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feeds.publish import sitemap
from service.config import load_settings
from service.http.app import create_app
from store.models import Category, IngestBatch
from tests.support.articles import make_article

NS = {"s": sitemap.SITEMAP_NS, "n": sitemap.NEWS_NS}
BASE = "https://tin.example.vn"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    settings = load_settings(
        environ={},
        store=f"sqlite:///{tmp_path / 'q.db'}",
        base_url=BASE,
        site_name="Báo Ví Dụ",
    )
    app = create_app(settings)
    quantam = app.extensions["quantam"]
    now = datetime.now(UTC)
    store = quantam.store
    store.put_category(Category("the-thao", "Thể thao"))
    store.put_category(Category("kinh-doanh", "Kinh doanh"))
    articles = [
        make_article(n, category="the-thao", published=now - timedelta(hours=10 * n))
        for n in range(6)  # 0, 10, ... 50 hours old
    ] + [make_article(100, category="kinh-doanh", published=now - timedelta(days=30))]
    store.commit(IngestBatch(articles=articles))
    yield app
    quantam.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _xml(client: FlaskClient, path: str) -> ET.Element:
    response = client.get(path)
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    return ET.fromstring(response.data)


def test_news_sitemap_has_the_last_48_hours_with_the_site_name(client: FlaskClient) -> None:
    root = _xml(client, "/sitemaps/news.xml")
    urls = root.findall("s:url", NS)
    titles = [u.findtext("n:news/n:title", namespaces=NS) for u in urls]
    assert len(urls) == 5  # 0 to 40 hours old; the 50-hour-old one and last month's are out
    assert all(t for t in titles)
    names = {u.findtext("n:news/n:publication/n:name", namespaces=NS) for u in urls}
    assert names == {"Báo Ví Dụ"}


def test_index_names_every_sitemap_and_each_is_served(client: FlaskClient) -> None:
    index = _xml(client, "/sitemap.xml")
    locs = [e.findtext("s:loc", namespaces=NS) for e in index.findall("s:sitemap", NS)]
    assert locs[0] == f"{BASE}/sitemaps/news.xml"
    assert sorted(locs[1:]) == [f"{BASE}/sitemaps/kinh-doanh.xml", f"{BASE}/sitemaps/the-thao.xml"]
    for loc in locs:
        assert loc is not None
        _xml(client, loc.removeprefix(BASE))
    sport = _xml(client, "/sitemaps/the-thao.xml")
    assert len(sport.findall("s:url", NS)) == 6
    assert client.get("/sitemaps/nope.xml").status_code == 404
    assert client.get("/sitemaps/the-thao.xml?page=2").status_code == 404
    assert client.get("/sitemaps/the-thao.xml?page=0").status_code == 400


def test_category_sitemaps_are_paged_at_the_limit(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The protocol's 50,000 at a size a test can hold: 50,001 real articles would take 20 s.
    monkeypatch.setattr(sitemap, "MAX_URLS", 4)
    index = _xml(client, "/sitemap.xml")
    locs = [e.findtext("s:loc", namespaces=NS) for e in index.findall("s:sitemap", NS)]
    assert f"{BASE}/sitemaps/the-thao.xml?page=2" in locs
    first = _xml(client, "/sitemaps/the-thao.xml")
    second = _xml(client, "/sitemaps/the-thao.xml?page=2")
    seen = [u.findtext("s:loc", namespaces=NS) for u in [*first, *second]]
    assert len(first) == 4 and len(second) == 2 and len(set(seen)) == 6


def test_a_takedown_leaves_the_sitemaps_at_once_and_etags_revalidate(
    app: Flask, client: FlaskClient
) -> None:
    first = client.get("/sitemaps/news.xml")
    etag = first.headers["ETag"]
    assert client.get("/sitemaps/news.xml", headers={"If-None-Match": etag}).status_code == 304
    victim = ET.fromstring(first.data).findtext("s:url/s:loc", namespaces=NS)
    quantam = app.extensions["quantam"]
    (article_id,) = [a.id for a in quantam.store.iter_articles() if a.url == victim]
    assert quantam.take_down(article_id)
    again = client.get("/sitemaps/news.xml", headers={"If-None-Match": etag})
    assert again.status_code == 200 and victim.encode() not in again.data


def test_robots_txt_names_the_sitemap_index(client: FlaskClient) -> None:
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert f"Sitemap: {BASE}/sitemap.xml" in response.get_data(as_text=True)
