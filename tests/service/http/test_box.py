"""GET /api/box (every box of a page in one answer) and the framed box's options, through the
real Flask app on a real SQLite file; the script's size budget."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from service.http.embed import script
from store.models import Alias, Category, EventCount, IngestBatch, RelatedItem, Source, utcnow
from tests.support.articles import make_article
from tests.support.webapp import app_with_categories

EMBED_JS_GZIP_BUDGET = 6 * 1024


@pytest.fixture
def app(tmp_path: Path):
    app = app_with_categories(
        tmp_path, Category("the-thao", "Thể thao"), Category("kinh-te", "Kinh tế")
    )
    store = app.extensions["quantam"].store
    sport = [
        make_article(n, url=f"https://bao.example/the-thao/bai-{n}.html") for n in range(1, 11)
    ]
    money = [
        make_article(n, category="kinh-te", url=f"https://bao.example/kinh-te/bai-{n}.html")
        for n in range(11, 15)
    ]
    store.commit(IngestBatch(articles=sport + money))
    store.commit(IngestBatch(aliases=[Alias("url", a.url, a.id) for a in sport + money]))
    store.put_related({"a0001": [RelatedItem(f"a{n:04d}", 1 - n / 20) for n in (2, 3, 4)]})
    store.add_source(Source(url="https://bao.example/rss/the-thao.rss", category="the-thao"))
    store.add_source(Source(url="https://bao.example/rss/kinh-te.rss", category="kinh-te"))
    yield app
    app.extensions["quantam"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def ids(box: dict) -> list[str]:
    return [i["id"] for i in box["items"]]


def test_one_request_gives_every_box_without_repeats(app, client) -> None:
    store = app.extensions["quantam"].store
    store.add_event_counts(
        [EventCount("a0009", utcnow(), clicks=3), EventCount("a0002", utcnow(), clicks=9)]
    )
    answer = client.get(
        "/api/box?url=https://bao.example/the-thao/bai-1.html?utm_source=x"
        "&boxes=related:4,latest:3,popular:2"
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["article"]["id"] == "a0001" and body["section"] == "the-thao"
    assert body["fill"] is False
    related, latest, popular = body["boxes"]
    assert [b["heading"] for b in body["boxes"]] == [
        "Có thể bạn quan tâm",
        "Tin cùng chuyên mục",
        "Đọc nhiều",
    ]
    # related: its list (a0002-4), then the most read (a0009) as fill
    assert ids(related) == ["a0002", "a0003", "a0004", "a0009"]
    assert [i["fill"] for i in related["items"]] == [False, False, False, True]
    assert ids(latest) == ["a0010", "a0008", "a0007"]  # newest of the section, not shown above
    assert ids(popular) == ["a0006", "a0005"]  # nothing unseen was read: the latest, as fill
    assert all(i["fill"] for i in popular["items"])
    shown = ids(related) + ids(latest) + ids(popular)
    assert len(shown) == len(set(shown)) and "a0001" not in shown
    assert related["items"][0]["section"] == "Thể thao"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_an_unknown_page_gets_its_sections_boxes_or_the_sites_as_fill(client) -> None:
    body = client.get("/api/box?url=https://bao.example/kinh-te/moi.html&boxes=latest:3").get_json()
    assert body["article"] is None and body["fill"] is True and body["section"] == "kinh-te"
    assert ids(body["boxes"][0]) == ["a0014", "a0013", "a0012"]
    assert all(i["fill"] for i in body["boxes"][0]["items"])
    elsewhere = client.get("/api/box?url=https://khac.example/a.html&boxes=related:2").get_json()
    assert elsewhere["section"] is None and ids(elsewhere["boxes"][0]) == ["a0014", "a0013"]
    off = client.get("/api/box?url=https://khac.example/a.html&fill=0").get_json()
    assert off["boxes"][0]["items"] == []


def test_english_headings(client) -> None:
    body = client.get(
        "/api/box?url=https://bao.example/the-thao/bai-1.html&boxes=popular,related&lang=en"
    ).get_json()
    assert [b["heading"] for b in body["boxes"]] == ["Most read", "You may also like"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("boxes=related:6", "url"),
        ("url=ftp://x/a&boxes=related", "url"),
        ("url=https://a.example/&boxes=hot:3", "boxes"),
        ("url=https://a.example/&boxes=related:21", "boxes"),
        ("url=https://a.example/&boxes=related:0", "boxes"),
        ("url=https://a.example/&boxes=" + ",".join(["latest"] * 6), "boxes"),
        ("url=https://a.example/&lang=fr", "lang"),
        ("url=https://a.example/&fill=maybe", "fill"),
    ],
)
def test_bad_box_parameters_are_named(client, query: str, parameter: str) -> None:
    answer = client.get(f"/api/box?{query}")
    assert answer.status_code == 400
    assert answer.get_json()["parameter"] == parameter


def test_the_framed_box_takes_the_same_options(client) -> None:
    page = client.get(
        "/embed/related?url=https://bao.example/the-thao/bai-1.html&mode=latest&k=3"
        "&summary=1&section=1&layout=grid&lang=en"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="en">' in html and ">More in this section</h2>" in html
    assert 'class="qt-box qt-layout-grid qt-has-lead"' in html
    assert html.count('<span class="qt-lead">Tóm tắt ngắn</span>') == 3
    assert html.count('<span class="qt-section">Thể thao</span>') == 3
    assert "years ago" not in html and html.count("<time") == 3
    unknown = client.get("/embed/related?url=https://bao.example/the-thao/moi.html&mode=popular")
    assert unknown.status_code == 200 and "data-fill" in unknown.get_data(as_text=True)
    folded = client.get("/embed/related?url=https://bao.example/the-thao/moi.html&fill=0")
    assert folded.status_code == 404 and "<section" not in folded.get_data(as_text=True)
    assert client.get("/embed/related?url=https://a.example/&layout=wide").status_code == 400


def test_embed_js_fits_its_budget(client) -> None:
    """Issue 15: at most 6 KB gzipped, its stylesheet included; never sniffed as anything else."""
    rendered, _ = script()
    size = len(gzip.compress(rendered.body, 9))
    assert size <= EMBED_JS_GZIP_BUDGET, size
    answer = client.get("/embed.js")
    assert answer.mimetype == "text/javascript"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_renamed_section_shows_in_the_next_box(app, client) -> None:
    """The names are kept per store version: a rename is a write, so the next box has it."""
    path = "/api/box?url=https://bao.example/the-thao/bai-1.html&boxes=related:2"
    for _ in range(3):  # built, kept, served from the cache
        assert client.get(path).get_json()["boxes"][0]["items"][0]["section"] == "Thể thao"
    app.extensions["quantam"].store.put_category(Category("the-thao", "Thể thao 24h"))
    assert client.get(path).get_json()["boxes"][0]["items"][0]["section"] == "Thể thao 24h"
