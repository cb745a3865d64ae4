"""Several real worker processes over one store: each keeps its own cached answers, a write drops
only the answers that read what it changed, and a takedown is gone at once from every worker."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

from store import open_store
from store.base import Store
from store.redis import RedisStore
from tests.support.env import REDIS_URL
from tests.support.quantamproc import TOKEN, gunicorn, request, seed_stories, sqlite_url

WORKERS = 3
STORIES = 8


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    url = f"{REDIS_URL}?prefix=qtest-cachew-{uuid.uuid4().hex[:10]}"
    yield url
    store = RedisStore(url)
    store.destroy()
    store.close()


def _edit_title_behind_the_caches(store_url: str, store: Store, article_id: str) -> None:
    """Change a stored title without moving any version, as no write of quantam does: an
    answer that shows the old title afterwards came from a cache."""
    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as db:
            db.execute("UPDATE teasers SET title = 'EDITED' WHERE article_id = ?", (article_id,))
        return
    assert isinstance(store, RedisStore)
    client = redis.Redis.from_url(REDIS_URL)
    key = f"{{{store.prefix}}}:teaser"
    raw = client.hget(key, article_id)
    client.hset(key, article_id, raw.replace(b'"Story 1"', b'"EDITED"'))
    client.close()


def test_a_takedown_is_gone_at_once_from_every_cached_answer_of_every_worker(
    store_url: str,
) -> None:
    store = open_store(store_url)
    ids = seed_stories(store)
    page = quote("https://news.example/bai-0.html", safe="")
    paths = [
        f"/api/articles/{ids[0]}/related",
        f"/api/related?url={page}",
        "/feeds/the-thao.rss",
        f"/api/articles/{ids[1]}",
    ]
    box = f"/embed/related?url={page}"
    # Separate server processes over one store, as gunicorn workers on several hosts.
    with gunicorn(store_url) as p1, gunicorn(store_url) as p2, gunicorn(store_url) as p3:
        ports = (p1, p2, p3)
        for port in ports:
            for path in paths:
                for _ in range(2):  # kept from the second request on
                    answer = request(port, path)
                    assert answer.status == 200 and "Story 1" in answer.text, path
        # Every worker answers from its cache: a title changed behind the caches' back does
        # not show, although the store moved on (an unrelated article changed, so the teaser
        # caches were dropped and an answer built now would show the edit).
        _edit_title_behind_the_caches(store_url, store, ids[1])
        store.changed(["unrelated"])
        for port in ports:
            for path in paths:
                answer = request(port, path)
                assert "Story 1" in answer.text and "EDITED" not in answer.text, (port, path)
        # Taken down through one worker: gone from every answer of every worker at once.
        gone = request(
            p1, f"/api/articles/{ids[1]}", "DELETE", {"Authorization": f"Bearer {TOKEN}"}
        )
        assert gone.status == 204
        for port in ports:
            for path in [*paths[:3], box]:
                answer = request(port, path)
                assert answer.status == 200, (port, path)
                assert "Story 1" not in answer.text and "EDITED" not in answer.text, (port, path)
                assert "bai-1.html" not in answer.text, (port, path)
            assert request(port, paths[3]).status == 404
            # The related answer still shows Story 2 (only what the takedown changed was built
            # again) and If-None-Match with its ETag is answered 304.
            answer = request(port, paths[0])
            assert "Story 2" in answer.text
            again = request(port, paths[0], headers={"If-None-Match": answer.headers["ETag"]})
            assert again.status == 304 and again.body == b""
    store.close()
