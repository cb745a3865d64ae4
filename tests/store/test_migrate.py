"""`quantam migrate`: SQLite to a real Redis, complete and resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.ingest.pipeline import Ingestor
from store.base import Store
from store.editorial import AuditEntry, ListOverrides, Pin, SiteRules, User
from store.migrate import checkpoint_key, migrate
from store.models import Article, EventCount, IngestBatch, RelatedItem, Source
from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.support.articles import T0
from tests.support.env import REDIS_URL, fixture_bytes


@pytest.fixture
def redis_target():
    store = RedisStore(f"{REDIS_URL}?prefix=qtest-mig-{uuid.uuid4().hex[:10]}")
    yield store
    store.destroy()
    store.close()


def test_everything_is_copied(sqlite_store: SQLiteStore, redis_target: RedisStore) -> None:
    ingestor = Ingestor(sqlite_store)
    src = ingestor.add_source(
        "https://bao.example.vn/rss/the-thao.rss",
        "the-thao",
        name="Báo Ví Dụ",
        category_name="Thể thao",
    )
    sqlite_store.update_source(src.replace(etag='"x"', error_count=2, last_error="timed out"))
    ingestor.ingest_bytes(fixture_bytes("the-thao.rss"), target="t.rss", category="the-thao")
    ingestor.ingest_bytes(fixture_bytes("tech.rdf"), target="s.rdf", category="so-hoa")
    ids = [a.id for a in sqlite_store.latest_articles()]
    sqlite_store.put_related({ids[0]: [RelatedItem(ids[1], 0.7, False, ("đội tuyển",))]})
    sqlite_store.delete_article(ids[2])
    sqlite_store.set_meta("index:model", b"\x00binary")
    # derived from this store's own change log (the index snapshot): left behind
    sqlite_store.set_meta(Store.DERIVED_META + "related:snapshot", b"rows")

    sqlite_store.put_user(User("bientap", "$argon2id$h", T0))
    sqlite_store.put_overrides(ListOverrides(ids[0], (Pin(ids[1], 2),), (ids[2],)))
    sqlite_store.put_site_rules(SiteRules(("x",), (("so-hoa", "the-thao"),)))
    for n in range(3):
        sqlite_store.add_audit(AuditEntry("bientap", f"change {n}", ids[0], at=T0))
    sqlite_store.add_event_counts(
        [EventCount(ids[0], T0, impressions=12, clicks=3), EventCount(ids[1], T0, clicks=1)]
    )

    report = migrate(sqlite_store, redis_target, batch_size=2)
    assert report.ok, report.mismatches
    assert report.counts["articles"] == 3 and report.counts["sources"] == 1
    assert redis_target.get_source(src.id) == sqlite_store.get_source(src.id)
    assert redis_target.list_categories() == sqlite_store.list_categories()
    for article in sqlite_store.iter_articles():
        assert redis_target.get_article(article.id) == article
    assert redis_target.get_related(ids[0]) == sqlite_store.get_related(ids[0])
    assert redis_target.taken_down([ids[2]]) == {ids[2]}
    assert redis_target.get_meta("index:model") == b"\x00binary"
    assert redis_target.get_meta(Store.DERIVED_META + "related:snapshot") is None
    url_keys = [("url", a.url) for a in sqlite_store.iter_articles()]
    assert redis_target.lookup_aliases(url_keys) == sqlite_store.lookup_aliases(url_keys)
    assert redis_target.list_users() == sqlite_store.list_users()
    assert redis_target.editorial_for(ids[0]) == sqlite_store.editorial_for(ids[0])
    assert redis_target.audit_log() == sqlite_store.audit_log()
    popular = sqlite_store.popular(None, T0, 10)
    assert [p.clicks for p in popular] == [3, 1]
    assert redis_target.popular(None, T0, 10) == popular
    # a second run copies nothing twice
    assert migrate(sqlite_store, redis_target).ok
    assert len(redis_target.audit_log()) == 3
    assert redis_target.popular(None, T0, 10) == popular


def test_killed_migration_resumes(tmp_path: Path, redis_target: RedisStore) -> None:
    db = tmp_path / "big.db"
    source = SQLiteStore(f"sqlite:///{db}")
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for chunk in range(20):
        source.commit(
            IngestBatch(
                articles=[
                    Article(
                        id=f"a{chunk:02d}{n:03d}",
                        url=f"https://x.vn/{chunk}/{n}",
                        title=f"Tin {n}",
                        category="x",
                        published=t0 + timedelta(minutes=chunk * 200 + n),
                        text="Nội dung " * 200,
                    )
                    for n in range(200)
                ]
            )
        )
    source.add_source(Source(url="https://x.vn/rss", category="x"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [
        sys.executable,
        "-m",
        "service",
        "migrate",
        "--from",
        f"sqlite:///{db}",
        "--to",
        redis_target.url,
        "--batch",
        "50",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    key = checkpoint_key(source)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not redis_target.get_meta(key):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    copied = redis_target.count_articles()
    assert 0 < copied < 4000, "the kill should land mid-copy"
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "resumed after article" in result.stdout and "counts match" in result.stdout
    assert redis_target.count_articles() == 4000
    source.close()
