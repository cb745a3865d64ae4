"""The HTTP API through the real Flask application on a real SQLite file."""

from __future__ import annotations

import gzip
import http.client
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from feeds.common.errors import InvalidArticle
from service.config import load_settings
from service.http.app import create_app
from store.models import FullText, IngestBatch
from tests.support.env import fixture_bytes

TOKEN = "s3cret-token"


@pytest.fixture
def app(tmp_path: Path):
    settings = load_settings(
        environ={},
        store=f"sqlite:///{tmp_path / 'q.db'}",
        base_url="https://news.example.vn",
        api_token=TOKEN,
    )
    app = create_app(settings)
    quantam = app.extensions["quantam"]
    quantam.ingestor.ensure_category("the-thao", "Thể thao")
    quantam.ingestor.ingest_bytes(
        fixture_bytes("the-thao.rss"), target="t.rss", category="the-thao"
    )
    quantam.ingestor.ingest_bytes(
        fixture_bytes("world.atom"),
        target="https://times.example.com/world.atom",
        category="the-gioi",
    )
    yield app
    quantam.close()


@pytest.fixture
def client(app):
    return app.test_client()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_categories_list_counts_and_feed_links(client) -> None:
    body = client.get("/api/categories").get_json()
    by_slug = {c["slug"]: c for c in body["categories"]}
    assert by_slug["the-thao"]["name"] == "Thể thao" and by_slug["the-thao"]["articles"] == 3
    assert by_slug["the-thao"]["feeds"]["rss"] == "https://news.example.vn/feeds/the-thao.rss"


def test_category_latest_with_exclusions(client) -> None:
    items = client.get("/api/categories/the-thao/latest?k=2").get_json()["items"]
    assert len(items) == 2
    first = items[0]["id"]
    again = client.get(f"/api/categories/the-thao/latest?k=5&exclude={first}").get_json()["items"]
    assert first not in [i["id"] for i in again] and len(again) == 2
    assert {"id", "url", "title", "summary", "image", "published", "category"} <= set(items[0])


def test_articles_paging_with_cursor(client) -> None:
    page1 = client.get("/api/articles?limit=2").get_json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = client.get(f"/api/articles?limit=2&cursor={page1['next_cursor']}").get_json()
    ids = [i["id"] for i in page1["items"] + page2["items"]]
    assert len(ids) == len(set(ids)) == 4
    last = client.get(f"/api/articles?limit=2&cursor={page2['next_cursor']}").get_json()
    assert len(last["items"]) == 1 and last["next_cursor"] is None
    only = client.get("/api/articles?category=the-gioi").get_json()["items"]
    assert {i["category"] for i in only} == {"the-gioi"}
    since = client.get("/api/articles?since=2024-05-21T12:00:00Z").get_json()["items"]
    # the undated item counts as published when first seen (now), so it is newest
    assert [i["title"] for i in since] == [
        "Bơi lội: kỷ lục mới ở cự ly 400 m tự do",
        "Đội tuyển Việt Nam thắng Thái Lan 2-1 tại Mỹ Đình",
    ]


def test_article_detail(client) -> None:
    first = next(
        i
        for i in client.get("/api/articles").get_json()["items"]
        if i["title"].startswith("Đội tuyển Việt Nam")
    )
    detail = client.get(f"/api/articles/{first['id']}").get_json()
    assert detail["title"] == first["title"]
    assert "<p>" in detail["content_html"] and detail["author"] == "Nguyễn Văn Hùng"
    # One image shape everywhere: the URL, as in lists.
    assert detail["image"] == first["image"] and detail["image"].startswith(
        "https://img.example.vn/"
    )


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/articles?limit=0", "limit"),
        ("/api/articles?limit=abc", "limit"),
        ("/api/articles?limit=100000", "limit"),
        ("/api/articles?since=yesterday", "since"),
        ("/api/articles?cursor=%%%", "cursor"),
        ("/api/categories/the-thao/latest?k=-1", "k"),
        ("/api/categories/the-thao/latest?k=%2B5", "k"),
        ("/api/categories/the-thao/latest?k=%205", "k"),
        ("/api/categories/the-thao/latest?k=1_0", "k"),
        ("/api/categories/the-thao/latest?k=%D9%A5", "k"),
        ("/api/categories/the-thao/latest?k=5&k=6", "k"),
        ("/api/articles?until=2024-05-21&until=2024-05-22", "until"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, url: str, parameter: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 400 and body["parameter"] == parameter
    assert body["detail"].startswith(f"{parameter}:")


@pytest.mark.parametrize(
    "url",
    ["/api/articles/nope", "/api/categories/nope/latest", "/api/articles?category=nope", "/x"],
)
def test_unknown_things_are_404_problems(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["title"] == "Not found" or response.get_json()["status"] == 404


def test_etag_304_cors_and_gzip(client) -> None:
    response = client.get("/api/articles", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age=" in response.headers["Cache-Control"]
    # A few KB of JSON costs more to compress than it saves a reader: sent plain, but marked
    # as varying with Accept-Encoding for caches; large answers are gzipped.
    assert "Content-Encoding" not in response.headers and b'"items"' in response.data
    assert "Accept-Encoding" in response.headers["Vary"]
    large = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert large.headers["Content-Encoding"] == "gzip"
    assert b'"openapi"' in gzip.decompress(large.data)
    etag = response.headers["ETag"]
    again = client.get("/api/articles", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_write_api_needs_the_token(client) -> None:
    data = {"url": "https://cms.example.vn/a", "title": "Bài mới", "category": "the-thao"}
    missing = client.post("/api/articles", json=data)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = client.post("/api/articles", json=data, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and "wrong" in wrong.get_json()["detail"]
    assert client.delete("/api/articles/x").status_code == 401
    assert client.get("/api/sources").status_code == 401


def test_write_api_disabled_without_a_configured_token(tmp_path: Path) -> None:
    settings = load_settings(environ={}, store=f"sqlite:///{tmp_path / 'q.db'}")
    client = create_app(settings).test_client()
    response = client.post("/api/articles", json={}, headers=AUTH)
    assert response.status_code == 403 and "QUANTAM_API_TOKEN" in response.get_json()["detail"]


def test_push_then_update_then_take_down(client) -> None:
    data = {
        "url": "https://cms.example.vn/bong-da/tin-1?utm_source=x",
        "title": "Tuyển Việt Nam tập trung chuẩn bị AFF Cup",
        "summary": "Hai mươi lăm cầu thủ hội quân tại Hà Nội.",
        "content_html": "<p>Hai mươi lăm cầu thủ hội quân <script>x</script>tại Hà Nội.</p>",
        "category": "the-thao",
        "published": "2024-05-22T08:00:00+07:00",
    }
    created = client.post("/api/articles", json=data, headers=AUTH)
    assert created.status_code == 201
    article = created.get_json()
    assert article["url"] == "https://cms.example.vn/bong-da/tin-1"
    assert "<script" not in article["content_html"]
    assert created.headers["Location"] == f"/api/articles/{article['id']}"
    latest = client.get("/api/categories/the-thao/latest?k=10").get_json()["items"]
    assert article["id"] in [i["id"] for i in latest]
    etag = client.get(f"/api/articles/{article['id']}").headers["ETag"]

    updated = client.post(
        "/api/articles", json={**data, "title": "Tuyển Việt Nam hội quân"}, headers=AUTH
    )
    assert updated.status_code == 200 and updated.get_json()["id"] == article["id"]
    assert (
        client.get(f"/api/articles/{article['id']}", headers={"If-None-Match": etag}).status_code
        == 200
    )

    assert client.delete(f"/api/articles/{article['id']}", headers=AUTH).status_code == 204
    assert client.get(f"/api/articles/{article['id']}").status_code == 404
    latest = client.get("/api/categories/the-thao/latest?k=10").get_json()["items"]
    assert article["id"] not in [i["id"] for i in latest]
    assert client.delete(f"/api/articles/{article['id']}", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"title": "x", "category": "a"}, 400, "'url' is required"),
        ({"url": "https://x.vn/1", "title": "x"}, 400, "'category' is required"),
        (
            {"url": "https://x.vn/1", "title": "x", "category": "a", "published": "hôm qua"},
            400,
            "'published'",
        ),
    ],
)
def test_bad_pushes_name_the_field(client, body: dict, status: int, words: str) -> None:
    response = client.post("/api/articles", json=body, headers=AUTH)
    assert response.status_code == status and words in response.get_json()["detail"]


def test_push_rejects_non_json(client) -> None:
    response = client.post("/api/articles", data="title=x", headers=AUTH)
    assert response.status_code == 415


def test_sources_crud(client) -> None:
    created = client.post(
        "/api/sources",
        json={"url": "https://vnexpress.net/rss/the-thao.rss", "category": "the-thao"},
        headers=AUTH,
    )
    assert created.status_code == 201 and created.get_json()["status"] == "new"
    dup = client.post(
        "/api/sources",
        json={"url": "https://vnexpress.net/rss/the-thao.rss", "category": "the-thao"},
        headers=AUTH,
    )
    assert dup.status_code == 409
    bad = client.post("/api/sources", json={"url": "ftp://x", "category": "a"}, headers=AUTH)
    assert bad.status_code == 400
    listed = client.get("/api/sources", headers=AUTH).get_json()["sources"]
    assert [s["url"] for s in listed] == ["https://vnexpress.net/rss/the-thao.rss"]
    source_id = listed[0]["id"]
    assert client.delete(f"/api/sources/{source_id}", headers=AUTH).status_code == 204
    assert client.delete(f"/api/sources/{source_id}", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("image", "https://cms.example.vn/anh/moi.jpg", "https://cms.example.vn/anh/moi.jpg"),
        ("tags", ["AFF Cup", "Xuân Son"], ["AFF Cup", "Xuân Son"]),
        ("author", "Trần Minh", "Trần Minh"),
        ("summary", "Tóm tắt đã sửa.", "Tóm tắt đã sửa."),
    ],
)
def test_a_push_changing_one_field_applies_it(client, field: str, value, shown) -> None:
    """Issue 14: a push that changed only the image (or only tags, author or summary) was
    answered 200 "updated" and kept the old value."""
    data = {
        "url": "https://cms.example.vn/bong-da/tin-9",
        "title": "Tuyển Việt Nam thắng",
        "category": "the-thao",
        "summary": "Tóm tắt.",
        "content_html": "<p>Nội dung bài.</p>",
        "image": "https://cms.example.vn/anh/cu.jpg",
        "tags": ["bóng đá"],
        "author": "Nguyễn Văn A",
    }
    created = client.post("/api/articles", json=data, headers=AUTH).get_json()
    etag = client.get(f"/api/articles/{created['id']}").headers["ETag"]
    updated = client.post("/api/articles", json={**data, field: value}, headers=AUTH)
    assert updated.status_code == 200
    stored = client.get(f"/api/articles/{created['id']}").get_json()
    got = stored[field]
    assert got == shown and updated.get_json()[field] == stored[field]
    assert client.get(f"/api/articles/{created['id']}").headers["ETag"] != etag
    # the same push again changes nothing
    assert (
        client.post("/api/articles", json={**data, field: value}, headers=AUTH).status_code == 200
    )
    assert client.get(f"/api/articles/{created['id']}").get_json() == stored


def test_a_date_alone_is_midnight_in_the_sites_time_zone(tmp_path: Path) -> None:
    def pushed(timezone: str | None) -> str:
        environ = {"QUANTAM_TIMEZONE": timezone} if timezone else {}
        settings = load_settings(
            environ=environ, store=f"sqlite:///{tmp_path / f'{timezone}.db'}", api_token=TOKEN
        )
        app = create_app(settings)
        try:
            body = {
                "url": "https://cms.example.vn/tin-ngay",
                "title": "Tin có ngày",
                "category": "thoi-su",
                "published": "2024-05-01",
                "updated": "2024-05-02",
            }
            answer = app.test_client().post("/api/articles", json=body, headers=AUTH)
            assert answer.status_code == 201, answer.get_json()
            return answer.get_json()["published"], answer.get_json()["updated"]
        finally:
            app.extensions["quantam"].close()

    assert pushed(None) == ("2024-04-30T17:00:00Z", "2024-05-01T17:00:00Z")  # UTC+7
    assert pushed("Europe/Paris") == ("2024-04-30T22:00:00Z", "2024-05-01T22:00:00Z")  # summer


@pytest.mark.parametrize(
    ("published", "words"),
    [
        ("2026-02-30", "'published' is not a date"),
        ("2026-12-06T08:00:00", "needs a time zone"),
        ("06/12/2026", "not an ISO 8601"),
    ],
)
def test_dates_that_are_not_one_are_refused_in_words(client, published: str, words: str) -> None:
    body = {"url": "https://x.vn/1", "title": "x", "category": "a", "published": published}
    response = client.post("/api/articles", json=body, headers=AUTH)
    assert response.status_code == 400 and words in response.get_json()["detail"]


def test_sources_api_sets_and_shows_full_text(client) -> None:
    created = client.post(
        "/api/sources",
        json={
            "url": "https://tuoitre.vn/rss/the-thao.rss",
            "category": "the-thao",
            "full_text": "never",
        },
        headers=AUTH,
    ).get_json()
    assert created["full_text"] == "never"
    assert created["full_text_articles"] == {"pending": 0, "full": 0, "summary": 0, "failed": 0}
    assert created["websub"] == {
        "state": None,
        "hub": None,
        "topic": None,
        "lease_until": None,
        "error": None,
    }
    path = f"/api/sources/{created['id']}"
    edited = client.patch(path, json={"full_text": "always", "title": "Tuổi Trẻ"}, headers=AUTH)
    assert edited.status_code == 200
    assert edited.get_json()["full_text"] == "always" and edited.get_json()["name"] == "Tuổi Trẻ"
    listed = client.get("/api/sources", headers=AUTH).get_json()["sources"]
    assert listed[0]["full_text"] == "always"
    for body, parameter in (
        ({"full_text": "sometimes"}, "full_text"),
        ({"full_text": 1}, "full_text"),
        ({"url": "https://x.vn/rss"}, "url"),
    ):
        bad = client.patch(path, json=body, headers=AUTH)
        assert bad.status_code == 400 and bad.get_json()["parameter"] == parameter
    bad = client.post(
        "/api/sources",
        json={"url": "https://x.vn/rss", "category": "a", "full_text": "AUTO"},
        headers=AUTH,
    )
    assert (
        bad.status_code == 400 and "must be one of auto, always, never" in bad.get_json()["detail"]
    )
    assert client.patch("/api/sources/999", json={}, headers=AUTH).status_code == 404
    assert client.patch(path, json={"full_text": "auto"}).status_code == 401


def test_healthz_and_metrics(client) -> None:
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["articles"] == 5
    client.get("/api/articles/nope")
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'quantam_http_requests_total{method="GET",route="/api/articles/<article_id>",status="404"}'
        in text
    )
    assert "quantam_articles 5.0" in text
    assert "quantam_http_request_duration_seconds_bucket" in text


def test_wrong_method_is_a_405_problem(client) -> None:
    response = client.put("/api/articles")
    assert response.status_code == 405 and response.mimetype == "application/problem+json"


def test_cms_push_overrides_a_feed_copy_and_can_republish(client, app) -> None:
    store = app.extensions["quantam"].store
    feed_copy = next(a for a in store.latest_articles("the-thao") if a.guid == "bao-102")
    push = {
        "url": feed_copy.url,
        "title": "Hoàng Xuân Vinh trở lại (bản của tòa soạn)",
        "category": "the-thao",
    }
    response = client.post("/api/articles", json=push, headers=AUTH)
    assert response.status_code == 200 and response.get_json()["id"] == feed_copy.id
    assert store.get_article(feed_copy.id).title == push["title"]
    assert store.count_articles("the-thao") == 3
    assert client.delete(f"/api/articles/{feed_copy.id}", headers=AUTH).status_code == 204
    again = client.post("/api/articles", json=push, headers=AUTH)
    assert again.status_code == 201 and again.get_json()["id"] == feed_copy.id
    assert client.get(f"/api/articles/{feed_copy.id}").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00%2B07:00",
        "until=0001-01-01T00:00:00%2B07:00",
        "since=9999-12-31T23:59:59-07:00",
        "until=9999-12-31T23:59:59-07:00",
    ],
)
def test_times_beyond_the_utc_range_are_not_errors(client, query: str) -> None:
    # An offset can put an instant before year 1 or after 9999 in UTC: it is simply earlier or
    # later than every article.
    response = client.get(f"/api/articles?{query}")
    assert response.status_code == 200
    everything = "since=0001" in query or "until=9999" in query
    assert bool(response.get_json()["items"]) == everything


def test_pushed_dates_before_year_1000_order_as_oldest(client) -> None:
    for n, published in enumerate(["0001-01-01T00:00:00+07:00", "0999-06-01T00:00:00Z"]):
        data = {"url": f"https://cms.example.vn/cu/{n}", "title": f"Tin cũ {n}"}
        pushed = client.post(
            "/api/articles",
            json={**data, "category": "the-thao", "published": published},
            headers=AUTH,
        )
        assert pushed.status_code == 201
    items = client.get("/api/articles?category=the-thao").get_json()["items"]
    assert [i["title"] for i in items[-2:]] == ["Tin cũ 1", "Tin cũ 0"]
    assert items[-1]["published"] == "0001-01-01T00:00:00Z"


def test_source_ids_beyond_64_bits_are_404(client) -> None:
    response = client.delete(f"/api/sources/{2**63}", headers=AUTH)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("field", ["title", "name"])
def test_source_names_must_be_strings(client, field: str) -> None:
    body = {"url": "https://vnexpress.net/rss/the-thao.rss", "category": "the-thao", field: 5}
    response = client.post("/api/sources", json=body, headers=AUTH)
    assert response.status_code == 400 and response.get_json()["parameter"] == field


def test_if_none_match_star_needs_the_resource_to_exist(client) -> None:
    article_id = client.get("/api/articles?limit=1").get_json()["items"][0]["id"]
    star = {"If-None-Match": "*"}
    assert client.get(f"/api/articles/{article_id}", headers=star).status_code == 304
    assert client.get("/api/articles/nope", headers=star).status_code == 404
    assert client.get("/api/categories/nope/latest", headers=star).status_code == 404


def test_blank_list_values_count_toward_the_limit(client) -> None:
    response = client.get("/api/categories/the-thao/latest?exclude=" + "," * 100)
    assert response.status_code == 400 and response.get_json()["parameter"] == "exclude"
    assert client.get("/api/categories/the-thao/latest?exclude=,,a,").status_code == 200


def test_the_embed_assets_are_served_only_filled_in(client) -> None:
    # The raw files in service/static are templates: /embed.js serves the script with its
    # styles inlined, and Flask's own static route is off.
    assert client.get("/static/embed.js").status_code == 404
    assert b"__QUANTAM_CSS__" not in client.get("/embed.js").data


def test_chunked_oversized_push_is_refused(app) -> None:
    """Over real HTTP: a chunked body has no Content-Length to check up front."""

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def chunks():
        yield b'{"url": "https://x.vn/a", "title": "'
        for _ in range(300):
            yield b"x" * 10_000
        yield b'", "category": "a"}'

    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request(
            "POST",
            "/api/articles",
            body=chunks(),
            encode_chunked=True,
            headers={**AUTH, "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        assert response.status == 413
        assert response.getheader("Content-Type") == "application/problem+json"
    finally:
        server.shutdown()


def test_gzip_is_not_sent_to_clients_that_refuse_it(client) -> None:
    response = client.get("/api/articles", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "Content-Encoding" not in response.headers
    assert response.get_json()["items"]


# Issue 12: the first two were 500s (RecursionError in json, UnicodeEncodeError when the title
# was hashed); the NUL and the 5,000-character category were stored.
HOSTILE_BODIES = [
    (b"[" * 100_000, "more than 1,024 levels deep"),
    (
        b'{"url": "https://cms.example.vn/a", "title": "\\ud800", "category": "the-thao"}',
        "lone UTF-16 surrogate",
    ),
    (
        b'{"url": "https://cms.example.vn/a", "title": "x", "category": "the-thao", '
        b'"tags": ["\\udfff"]}',
        "lone UTF-16 surrogate",
    ),
    (
        b'{"url": "https://cms.example.vn/a\\u0000b", "title": "x", "category": "the-thao"}',
        "U+0000 at position 24",
    ),
    (
        b'{"url": "https://cms.example.vn/a", "title": "x", "category": "' + b"a" * 5000 + b'"}',
        "a category slug or name has at most 64",
    ),
]


@pytest.mark.parametrize("path", ["/api/articles", "/api/sources"])
@pytest.mark.parametrize(("body", "words"), HOSTILE_BODIES)
def test_hostile_bodies_are_refused_in_words(client, path: str, body: bytes, words: str) -> None:
    quantam = client.application.extensions["quantam"]
    before = (quantam.store.count_articles(), len(quantam.store.list_sources()))
    response = client.post(path, data=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400, response.data[:300]
    assert words in response.get_json()["detail"]
    assert (quantam.store.count_articles(), len(quantam.store.list_sources())) == before


def test_a_lone_surrogate_given_as_data_is_refused_by_name(app) -> None:
    quantam = app.extensions["quantam"]
    with pytest.raises(InvalidArticle, match="field 'author' holds a lone UTF-16 surrogate"):
        quantam.push_article(
            {"url": "https://cms.example.vn/a", "title": "x", "category": "x", "author": "\udc80"}
        )


def test_a_push_says_whether_related_lists_were_updated(client) -> None:
    data = {"url": "https://cms.example.vn/b", "title": "Bóng đá hôm nay", "category": "the-thao"}
    pushed = client.post("/api/articles", json=data, headers=AUTH).get_json()
    assert pushed["related_lists"] == "updated"
    related = client.get(f"/api/articles/{pushed['id']}/related").get_json()["items"]
    assert related


def test_metrics_declare_their_charset_once(client) -> None:
    """Issue 12: `text/plain; version=...; charset=utf-8; charset=utf-8`."""
    content_type = client.get("/metrics").headers["Content-Type"]
    assert content_type.startswith("text/plain; version=") and content_type.count("charset") == 1


def test_category_feeds_carry_extracted_full_text_unless_the_category_says_not(client, app) -> None:
    quantam = app.extensions["quantam"]
    store = quantam.store
    article = store.latest_articles("the-thao", limit=1)[0]
    page = FullText("full", origin="page", html="<p>Toàn văn từ trang bài viết.</p>")
    store.commit(IngestBatch(articles=[article.replace(fulltext=page)]))
    rss = client.get("/feeds/the-thao.rss").get_data(as_text=True)
    assert "Toàn văn từ trang bài viết." in rss
    assert client.get("/api/categories").get_json()["categories"][0]["feed_full_text"] is True
    detail = client.get(f"/api/articles/{article.id}").get_json()
    assert detail["full_text"]["status"] == "full" and detail["full_text"]["origin"] == "page"
    store.put_category(store.get_category("the-thao").replace(feed_full_text=False))
    rss = client.get("/feeds/the-thao.rss").get_data(as_text=True)
    assert "Toàn văn từ trang bài viết." not in rss
    assert "Toàn văn" not in client.get("/feeds/all.json").get_data(as_text=True)
