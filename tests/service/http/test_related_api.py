"""The related-stories API (by id and by page URL) and the per-worker teaser cache behind it."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.config import load_settings
from service.http.app import create_app
from service.http.caching import TeaserCache
from store.models import RelatedItem, Teaser
from tests.support.redisproc import closed_port

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def _push(quantam, category: str, n: int) -> str:
    data = {
        "url": f"https://bao.example.vn/{category}/bai-{n}.html",
        "title": f"{category} bài {n}",
        "summary": f"Tóm tắt bài {n}",
        "category": category,
        "published": (T0 + timedelta(minutes=n)).isoformat(),
        "image": f"https://bao.example.vn/anh/{n}.jpg",
    }
    return quantam.push_article(data).article.id


@pytest.fixture
def app(tmp_path: Path):
    """Twelve sports stories and three world ones; the first sports story's ranked list holds
    sports stories 1-5 and world story 0. The engine never fits a model here (auto reindex
    off), so the lists stay exactly as these tests store them."""
    settings = load_settings(
        environ={},
        store=f"sqlite:///{tmp_path / 'q.db'}",
        api_token=TOKEN,
        related_auto_reindex_max=0,
    )
    app = create_app(settings)
    quantam = app.extensions["quantam"]
    sport = [_push(quantam, "the-thao", n) for n in range(12)]
    world = [_push(quantam, "the-gioi", n) for n in range(3)]
    ranked = [RelatedItem(sport[n], 1 - n / 10, reason=("bóng đá",)) for n in range(1, 6)]
    quantam.store.put_related({sport[0]: [*ranked, RelatedItem(world[0], 0.2)]})
    app.config["ids"] = {"sport": sport, "world": world}
    yield app
    quantam.close()


@pytest.fixture
def client(app):
    return app.test_client()


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_ranked_items_in_order_with_every_field(app, client) -> None:
    sport = app.config["ids"]["sport"]
    body = client.get(f"/api/articles/{sport[0]}/related?k=3").get_json()
    assert body["article"]["id"] == sport[0]
    assert [i["id"] for i in body["items"]] == sport[1:4]
    first = body["items"][0]
    assert set(first) == {
        "id", "url", "title", "summary", "image", "published", "category", "score", "reason",
        "fill",
    }  # fmt: skip
    assert first["title"] == "the-thao bài 1" and first["summary"] == "Tóm tắt bài 1"
    assert first["image"] == "https://bao.example.vn/anh/1.jpg"
    assert first["published"] == "2024-05-01T08:01:00Z"
    assert first["score"] == 0.9 and first["reason"] == ["bóng đá"] and first["fill"] is False


def test_exclusions_always_hold_reading_further_down_the_list(app, client) -> None:
    sport, world = app.config["ids"]["sport"], app.config["ids"]["world"]
    url = f"/api/articles/{sport[0]}/related?k=2&exclude={sport[1]},{sport[2]},{sport[3]}"
    assert _ids(client.get(url)) == [sport[4], sport[5]]
    only_world = client.get(f"/api/articles/{sport[0]}/related?k=4&exclude_category=the-thao")
    assert _ids(only_world) == [world[0]]


def test_a_short_list_is_filled_with_the_newest_of_the_category(app, client) -> None:
    sport, world = app.config["ids"]["sport"], app.config["ids"]["world"]
    items = client.get(f"/api/articles/{sport[0]}/related?k=8").get_json()["items"]
    assert [i["id"] for i in items] == [*sport[1:6], world[0], sport[11], sport[10]]
    assert [i["fill"] for i in items] == [False] * 6 + [True] * 2


def test_edits_and_takedowns_show_at_once(app, client) -> None:
    quantam = app.extensions["quantam"]
    sport = app.config["ids"]["sport"]
    path = f"/api/articles/{sport[0]}/related?k=3"
    assert _ids(client.get(path)) == sport[1:4]
    quantam.push_article(
        {
            "url": "https://bao.example.vn/the-thao/bai-2.html",
            "title": "Tiêu đề đã sửa",
            "category": "the-thao",
            "published": (T0 + timedelta(minutes=2)).isoformat(),
        }
    )
    assert client.get(path).get_json()["items"][1]["title"] == "Tiêu đề đã sửa"
    assert client.delete(f"/api/articles/{sport[1]}", headers=AUTH).status_code == 204
    assert _ids(client.get(path)) == sport[2:5]
    assert client.get(f"/api/articles/{sport[1]}/related").status_code == 404


def test_by_page_url_canonicalised_as_at_ingestion(app, client) -> None:
    sport = app.config["ids"]["sport"]
    page = "HTTPS://Bao.Example.vn:443/the-thao/bai-0.html?utm_source=fb&fbclid=x#binh-luan"
    body = client.get("/api/related", query_string={"url": page, "k": 2}).get_json()
    assert body["article"]["id"] == sport[0] and [i["id"] for i in body["items"]] == sport[1:3]
    unknown = client.get("/api/related", query_string={"url": "https://bao.example.vn/x"})
    assert unknown.status_code == 404
    bad = client.get("/api/related", query_string={"url": "ftp://bao.example.vn/x"})
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "url"


class CountingStore:
    """Stands in for a store: teasers for any id but "gone", and counts the ids read."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def get_teasers(self, ids) -> list[Teaser]:
        ids = list(ids)
        self.read += ids
        return [Teaser(i, f"https://x.vn/{i}", i, "c", T0) for i in ids if i != "gone"]


def test_teaser_cache_reads_each_story_once_per_version() -> None:
    store, cache = CountingStore(), TeaserCache()
    assert [t.id for t in cache.get_many(store, ["a", "gone", "b"], 1)] == ["a", "b"]
    assert [t.id for t in cache.get_many(store, ["b", "a", "c"], 1)] == ["b", "a", "c"]
    assert store.read == ["a", "gone", "b", "c"]
    cache.get_many(store, ["a"], 2)
    assert store.read[-1] == "a"


def test_teaser_cache_is_bounded_lru() -> None:
    store, cache = CountingStore(), TeaserCache(max_entries=2)
    cache.get_many(store, ["a", "b"], 1)
    cache.get_many(store, ["c"], 1)
    cache.get_many(store, ["a"], 1)
    assert store.read == ["a", "b", "c", "a"]  # "a" was the least recently used


def test_teaser_cache_keeps_nothing_read_for_an_older_version() -> None:
    store, cache = CountingStore(), TeaserCache()
    cache.get_many(store, ["x"], 3)
    cache.get_many(store, ["y"], 2)  # a request that began before the version moved
    cache.get_many(store, ["x", "y"], 3)
    assert store.read == ["x", "y", "y"]

    class MovingStore(CountingStore):
        """The version moves while this store is being read."""

        def get_teasers(self, ids) -> list[Teaser]:
            cache.get_many(CountingStore(), [], 5)
            return super().get_teasers(ids)

    moving = MovingStore()
    cache.get_many(moving, ["z"], 4)
    cache.get_many(moving, ["z"], 5)
    assert moving.read == ["z", "z"]


def test_the_framed_box_is_locked_down(app, client) -> None:
    """Issue 12: /embed/related had no X-Content-Type-Options and no CSP. Its policy allows the
    one style block and the one script (its height for the iframe snippet, issue 15) by their
    hashes, thumbnails, and nothing else."""
    page = client.get("/embed/related?url=https://bao.example.vn/the-thao/bai-0.html&k=3")
    missing = client.get("/embed/related?url=https://bao.example.vn/khong-co.html&fill=0")
    assert (page.status_code, missing.status_code) == (200, 404)
    for answer in (page, missing):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "unsafe" not in policy
        assert "img-src http: https:" in policy and "frame-ancestors *" in policy
    html = page.get_data(as_text=True)
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in policy
    assert '"Segoe UI"' in style and "&#34;" not in style  # the stylesheet as written
    assert html.count("<li") == 3


def test_the_framed_box_is_an_empty_page_during_an_outage(tmp_path) -> None:
    """Issue 12: during an outage the iframe showed problem JSON as raw text."""
    app = create_app(load_settings(environ={}, store=f"redis://127.0.0.1:{closed_port()}/0"))
    answer = app.test_client().get("/embed/related?url=https://bao.example.vn/a.html")
    assert answer.status_code == 503 and answer.mimetype == "text/html"
    html = answer.get_data(as_text=True)
    # An empty body but for the script that tells the iframe snippet to fold the frame away.
    body = re.search(r"<body>(.*)</body>", html, re.S).group(1)
    assert re.fullmatch(r"\s*<script>[^<]*</script>\s*", body), body
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    app.extensions["quantam"].close()
