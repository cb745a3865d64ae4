"""Redis going away and coming back, on a private redis-server this test starts and stops.

Every store method must raise StoreUnavailable (503 upstream) with a message that names the
server, promptly, and the same store object must work again once Redis is back: no restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from store.errors import StoreUnavailable
from store.models import Category, IngestBatch, RelatedItem, Source
from store.redis import RedisStore
from tests.support.articles import make_article
from tests.support.redisproc import RedisProcess, free_port, require_redis_server

CALLS: dict[str, Callable[[RedisStore], Any]] = {
    "ping": lambda s: s.ping(),
    "put_category": lambda s: s.put_category(Category("x", "X")),
    "get_category": lambda s: s.get_category("x"),
    "list_categories": lambda s: s.list_categories(),
    "add_source": lambda s: s.add_source(Source(url="https://n.example/rss", category="x")),
    "get_source": lambda s: s.get_source(1),
    "find_source": lambda s: s.find_source("https://a.example/rss"),
    "list_sources": lambda s: s.list_sources(),
    "update_source": lambda s: s.update_source(
        Source(url="https://a.example/rss", category="x", id=1)
    ),
    "remove_source": lambda s: s.remove_source(1),
    "count_articles_by_source": lambda s: s.count_articles_by_source(),
    "lookup_aliases": lambda s: s.lookup_aliases([("url", "u")]),
    "commit": lambda s: s.commit(IngestBatch(articles=[make_article(9)])),
    "get_article": lambda s: s.get_article("a0001"),
    "get_articles": lambda s: s.get_articles(["a0001"]),
    "delete_article": lambda s: s.delete_article("a0001"),
    "taken_down": lambda s: s.taken_down(["a0001"]),
    "latest_articles": lambda s: s.latest_articles("the-thao"),
    "iter_articles": lambda s: list(s.iter_articles()),
    "count_articles": lambda s: s.count_articles(),
    "changes_since": lambda s: s.changes_since(0),
    "last_seq": lambda s: s.last_seq(),
    "put_related": lambda s: s.put_related({"a0001": [RelatedItem("a0002", 0.5)]}),
    "get_related": lambda s: s.get_related("a0001"),
    "get_meta": lambda s: s.get_meta("k"),
    "set_meta": lambda s: s.set_meta("k", b"v"),
    "version": lambda s: s.version(),
    "lock": lambda s: s.lock("x").__enter__(),
    "iter_aliases": lambda s: list(s.iter_aliases()),
    "iter_related": lambda s: list(s.iter_related()),
    "iter_takedowns": lambda s: list(s.iter_takedowns()),
    "iter_meta": lambda s: list(s.iter_meta()),
    "restore_source": lambda s: s.restore_source(
        Source(url="https://r.example/rss", category="x", id=5)
    ),
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    require_redis_server()
    proc = RedisProcess(tmp_path / "redis", "--appendonly", "yes")
    proc.start()
    yield proc
    proc.kill()


def _assert_unavailable(store: RedisStore, port: int) -> None:
    for name, call in CALLS.items():
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            call(store)
        assert time.monotonic() - started < 2, f"{name} took too long to fail"
        message = str(caught.value)
        assert f"127.0.0.1:{port}" in message and "unavailable" in message, message
        assert "Traceback" not in message


def test_every_method_reports_redis_gone_and_recovers(server: RedisProcess) -> None:
    store = RedisStore(f"{server.url}?prefix=fault")
    store.add_source(Source(url="https://a.example/rss", category="x"))
    store.commit(IngestBatch(articles=[make_article(1)]))
    store.get_article("a0001")

    server.stop()
    _assert_unavailable(store, server.port)

    server.start()
    # Same object, no reconnect call: pooled connections are stale and scripts are gone from
    # Redis's script cache; both must be handled on the way.
    store.ping()
    assert store.get_article("a0001") is not None
    store.commit(IngestBatch(articles=[make_article(2)]))
    assert [a.id for a in store.latest_articles()] == ["a0002", "a0001"]
    assert [(c.article_id, c.op) for c in store.changes_since(0)] == [
        ("a0001", "upsert"),
        ("a0002", "upsert"),
    ]
    for call in CALLS.values():
        call(store)
    store.close()


def test_a_store_opened_while_redis_is_down_works_once_it_is_up(tmp_path: Path) -> None:
    require_redis_server()
    proc = RedisProcess(tmp_path / "redis")
    proc.port = free_port()
    store = RedisStore(f"{proc.url}?prefix=late")
    with pytest.raises(StoreUnavailable, match=r"Connection refused|Error 111"):
        store.ping()
    _assert_unavailable(store, proc.port)
    proc.start()
    try:
        store.commit(IngestBatch(articles=[make_article(1)]))
        assert store.count_articles() == 1
    finally:
        store.close()
        proc.kill()
