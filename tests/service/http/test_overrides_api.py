"""The overrides write API through the real Flask application on a real SQLite file: what it
refuses, what it stores, and that the related answer and the feeds change at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from store.models import RelatedItem
from tests.support.apps import news_app

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(tmp_path: Path):
    app = news_app(tmp_path, world=True, api_token=TOKEN)
    yield app
    app.extensions["quantam"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ids(app) -> list[str]:
    """Article ids, newest first; the first has a stored list of the next two."""
    store = app.extensions["quantam"].store
    found = [a.id for a in store.latest_articles(limit=10)]
    store.put_related({found[0]: [RelatedItem(found[1], 0.8), RelatedItem(found[2], 0.5)]})
    return found


def related(client: Any, article_id: str) -> list[tuple[str, bool]]:
    items = client.get(f"/api/articles/{article_id}/related?k=3").get_json()["items"]
    return [(i["id"], i["fill"]) for i in items]


def test_put_stores_answers_and_changes_the_related_answer_at_once(client, ids) -> None:
    owner, first, second, *rest = ids
    before = client.get(f"/api/articles/{owner}/related?k=3")
    assert [i for i, _ in related(client, owner)][:2] == [first, second]
    body = {"pin": [{"id": rest[0], "position": 1}], "block": [first]}
    put = client.put(f"/api/articles/{owner}/overrides", json=body, headers=AUTH)
    assert put.status_code == 200
    assert put.get_json() == {"article_id": owner, "pin": body["pin"], "block": [first]}
    got = client.get(f"/api/articles/{owner}/overrides", headers=AUTH).get_json()
    assert got == put.get_json()
    after = related(client, owner)
    assert after[0] == (rest[0], False) and after[1] == (second, False)
    assert first not in [i for i, _ in after]
    # The cached answer is not served again: the ETag moved with the store's version.
    assert (
        client.get(f"/api/articles/{owner}/related?k=3").headers["ETag"] != before.headers["ETag"]
    )
    # {} clears them.
    assert client.put(f"/api/articles/{owner}/overrides", json={}, headers=AUTH).status_code == 200
    assert [i for i, _ in related(client, owner)][:2] == [first, second]


def test_feeds_related_links_follow_blocks_and_pins(client, app, ids) -> None:
    owner, first, second, third, *_ = ids
    store = app.extensions["quantam"].store

    def links() -> list[str]:
        feed = client.get("/feeds/all.json").get_json()
        item = next(i for i in feed["items"] if i["url"] == store.get_article(owner).url)
        return [r["url"] for r in item.get("_quantam", {}).get("related", [])]

    url = {i: store.get_article(i).url for i in (first, second, third)}
    assert links()[:2] == [url[first], url[second]]
    body = {"pin": [{"id": third, "position": 1}], "block": [first]}
    client.put(f"/api/articles/{owner}/overrides", json=body, headers=AUTH)
    assert links()[:2] == [url[third], url[second]]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"pin": [{"id": "x", "position": 0}]}, 400, "pin.0.position"),
        ({"pin": [{"id": "x"}]}, 400, "pin.0.position"),
        ({"block": "x"}, 400, "block"),
        ({"pins": []}, 400, "pins"),
        # The path's article exists: an unknown one in the body is a conflict, not a 404.
        ({"block": ["no-such-article"]}, 409, "no-such-article"),
    ],
)
def test_bad_bodies_are_refused_by_name(client, ids, body, status, words) -> None:
    answer = client.put(f"/api/articles/{ids[0]}/overrides", json=body, headers=AUTH)
    assert answer.status_code == status and answer.mimetype == "application/problem+json"
    assert words in answer.get_json()["detail"]


def test_contradictions_unknown_articles_and_missing_tokens(client, ids) -> None:
    owner, a, b, *_ = ids
    url = f"/api/articles/{owner}/overrides"
    for body in (
        {"block": [owner]},
        {"pin": [{"id": a, "position": 1}, {"id": a, "position": 2}]},
        {"pin": [{"id": a, "position": 1}], "block": [a]},
        {"pin": [{"id": a, "position": 1}, {"id": b, "position": 1}]},
    ):
        answer = client.put(url, json=body, headers=AUTH)
        assert answer.status_code == 409, body
    assert client.get(url, headers=AUTH).get_json()["pin"] == []  # nothing was stored
    assert client.put("/api/articles/nope/overrides", json={}, headers=AUTH).status_code == 404
    assert client.get("/api/articles/nope/overrides", headers=AUTH).status_code == 404
    assert client.get(url).status_code == 401
    assert client.put(url, json={}).status_code == 401
    assert client.put(url, data="{}", headers=AUTH).status_code == 415


def test_every_change_is_in_the_audit_log(client, app, ids) -> None:
    owner, a, *_ = ids
    client.put(f"/api/articles/{owner}/overrides", json={"block": [a]}, headers=AUTH)
    entry = app.extensions["quantam"].store.audit_log(limit=1)[0]
    assert (entry.who, entry.target) == ("api", owner)
    assert f"blocks {a}" in entry.detail and entry.at is not None
