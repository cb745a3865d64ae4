"""The plain related requests, answered without Flask: the same answer to the byte, and every
other request still answered (or refused) by Flask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from service.config import load_settings
from service.http.app import create_app
from store.models import RelatedItem

TOKEN = "t0ken"
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
# Flask's view answers the same request when it carries a header the fast path leaves alone
# and the API ignores.
VIA_FLASK = {"If-Modified-Since": "Wed, 01 May 2024 08:00:00 GMT"}


@pytest.fixture
def app(tmp_path: Path):
    """No response cache, so every request reaches the fast path or Flask."""
    app = create_app(
        load_settings(
            environ={},
            store=f"sqlite:///{tmp_path / 'q.db'}",
            api_token=TOKEN,
            related_auto_reindex_max=0,
            response_cache_mb=0,
        )
    )
    quantam = app.extensions["quantam"]
    ids = [
        quantam.push_article(
            {
                "url": f"https://bao.example.vn/the-thao/bai-{n}.html",
                "title": f'Bóng đá: trận {n} <b>đậm</b> & "đẹp"',
                "summary": f"Tóm tắt trận {n}, hoà 1-1",
                "category": "the-thao",
                "published": (T0 + timedelta(minutes=n)).isoformat(),
                "image": f"https://bao.example.vn/anh/{n}.jpg",
            }
        ).article.id
        for n in range(9)
    ]
    lists = {
        ids[0]: [RelatedItem(i, 0.9 - n / 20, reason=("bóng đá",)) for n, i in enumerate(ids[1:])]
    }
    quantam.store.put_related(lists)
    app.config["ids"] = ids
    yield app
    quantam.close()


def _built_by_flask(app, path: str) -> bool:
    """Whether Flask's view built this answer (it keeps what it builds in its render cache)."""
    cache = app.extensions["quantam.render_cache"]
    return any(key[0].startswith(path) for key in cache._items)


@pytest.mark.parametrize(
    "path",
    [
        "/api/articles/{id}/related",
        "/api/related?url=https://bao.example.vn/the-thao/bai-0.html",
        "/api/related?url=" + quote("HTTPS://Bao.Example.vn/the-thao/bai-0.html?utm_source=fb#x"),
    ],
)
def test_plain_requests_get_flasks_answer_to_the_byte(app, path: str) -> None:
    client = app.test_client()
    path = path.format(id=app.config["ids"][0])
    fast = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert not _built_by_flask(app, path.split("?")[0])
    flask = client.get(path, headers={"Accept-Encoding": "gzip", **VIA_FLASK})
    assert _built_by_flask(app, path.split("?")[0])
    assert fast.status_code == flask.status_code == 200
    assert fast.data == flask.data
    assert dict(fast.headers) == dict(flask.headers)
    body = fast.get_json()
    assert body["article"]["id"] == app.config["ids"][0]
    assert [i["id"] for i in body["items"]] == app.config["ids"][1:7]
    assert body["items"][0]["title"] == 'Bóng đá: trận 1 đậm & "đẹp"'
    again = client.get(path, headers={"If-None-Match": fast.headers["ETag"]})
    assert again.status_code == 304


def test_a_takedown_shows_at_once(app) -> None:
    client = app.test_client()
    ids = app.config["ids"]
    path = f"/api/articles/{ids[0]}/related"
    assert ids[1] in [i["id"] for i in client.get(path).get_json()["items"]]
    assert (
        client.delete(
            f"/api/articles/{ids[1]}", headers={"Authorization": f"Bearer {TOKEN}"}
        ).status_code
        == 204
    )
    assert [i["id"] for i in client.get(path).get_json()["items"]] == ids[2:8]


@pytest.mark.parametrize(
    ("path", "status", "parameter"),
    [
        ("/api/articles/nope/related", 404, None),
        ("/api/related?url=https://bao.example.vn/khong-co.html", 404, None),
        ("/api/related?url=ftp://bao.example.vn/x", 400, "url"),
        ("/api/related?url=", 400, "url"),
        ("/api/related?url=https://a.vn/1&url=https://a.vn/2", 400, "url"),
        ("/api/related?url=https://bao.example.vn/the-thao/bai-0.html&k=0", 400, "k"),
    ],
)
def test_everything_else_is_answered_by_flask(app, path: str, status: int, parameter) -> None:
    response = app.test_client().get(path)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.get_json().get("parameter") == parameter


def test_other_parameters_still_hold(app) -> None:
    ids = app.config["ids"]
    body = app.test_client().get(f"/api/articles/{ids[0]}/related?k=2&exclude={ids[1]}").get_json()
    assert [i["id"] for i in body["items"]] == ids[2:4]
