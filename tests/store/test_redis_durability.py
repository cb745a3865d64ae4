"""Kill Redis with SIGKILL while quantam ingests, restart it, and lose nothing acknowledged.

A private redis-server runs with `appendonly yes` and `appendfsync always` (docs/redis.md). An
ingest loop commits batches as fast as it can; another thread SIGKILLs Redis mid-loop. After a
restart on the same directory (and the rewrite of the append-only file docs/redis.md asks for
after a crash) every batch whose `commit` returned must be there in full, the batch that was in
flight must be there in full or not at all, and the indexes, counts and change log must agree
with the articles. Three rounds, the same store object throughout.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from store.errors import StoreUnavailable
from store.models import Alias, IngestBatch, Source
from store.redis import RedisStore
from tests.support.articles import make_article
from tests.support.redisproc import RedisProcess, require_redis_server

PER_BATCH = 10
ROUNDS = 3


def _batch(n: int, source: Source) -> IngestBatch:
    articles = [
        make_article(
            n * PER_BATCH + k,
            category=f"c{n % 3}",
            source_id=source.id,
            content_html="<p>" + "Nội dung bài viết. " * 200 + "</p>",
        )
        for k in range(PER_BATCH)
    ]
    return IngestBatch(
        articles=articles,
        aliases=[Alias("url", a.url, a.id) for a in articles],
        source=source.replace(last_status=n, etag=f'"{n}"'),
    )


def _present(store: RedisStore, n: int, source: Source) -> bool | None:
    """True if batch n is stored in full, False if not at all, None if only partly."""
    batch = _batch(n, source)
    stored = store.get_articles(a.id for a in batch.articles)
    aliases = store.lookup_aliases((a.kind, a.value) for a in batch.aliases)
    if not stored and not aliases:
        return False
    if stored == batch.articles and len(aliases) == PER_BATCH:
        return True
    return None


def _rewrite_log(proc: RedisProcess) -> None:
    """The restart procedure docs/redis.md asks for: rewrite the append-only file from memory.

    Redis 7.0 truncates a log cut off inside a transaction at its last whole command, not before
    its MULTI, and the next restart then merges the dangling commands into the following
    transaction, a half-written batch (valkey-io/valkey#4342). The rewrite drops them."""
    client = proc.client()
    client.bgrewriteaof()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.02)
    raise AssertionError("the append-only file rewrite did not finish")


def test_acknowledged_commits_survive_sigkill(tmp_path: Path) -> None:
    require_redis_server()
    proc = RedisProcess(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always")
    proc.start()
    store = RedisStore(f"{proc.url}?prefix=durable")
    try:
        source = store.add_source(Source(url="https://d.example/rss", category="c0"))
        acked: list[int] = []
        in_flight: list[int] = []
        n = 0
        started = time.monotonic()
        for round_no in range(ROUNDS):
            target = len(acked) + 40

            def kill_when(target: int = target) -> None:
                while len(acked) < target:
                    time.sleep(0.001)
                proc.kill()

            killer = threading.Thread(target=kill_when)
            killer.start()
            while True:
                try:
                    store.commit(_batch(n, source))
                except StoreUnavailable:
                    in_flight.append(n)
                    n += 1
                    break
                acked.append(n)
                n += 1
            killer.join()
            proc.start()
            _rewrite_log(proc)

            states = {i: _present(store, i, source) for i in range(n)}
            assert all(states[i] is True for i in acked), f"round {round_no}: acked batch lost"
            assert None not in states.values(), f"round {round_no}: a batch is half written"
            kept = sorted(i for i, full in states.items() if full)
            # The source state is the last stored batch's; counts and logs match the articles.
            assert store.get_source(source.id).last_status == kept[-1]
            assert store.count_articles() == PER_BATCH * len(kept)
            assert store.count_articles_by_source() == {source.id: PER_BATCH * len(kept)}
            assert len(store.latest_articles(limit=-1)) == PER_BATCH * len(kept)
            assert sum(store.count_articles(f"c{c}") for c in range(3)) == PER_BATCH * len(kept)
            changes = store.changes_since(0, limit=-1)
            assert store.last_seq() == len(changes) == PER_BATCH * len(kept)
            assert [c.seq for c in changes] == list(range(1, len(changes) + 1))
        assert len(acked) >= 40 * ROUNDS and len(in_flight) == ROUNDS
        assert time.monotonic() - started < 60
    finally:
        store.close()
        proc.kill()
