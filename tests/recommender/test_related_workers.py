"""Related lists stay right when two worker processes ingest at the same time (shared Redis)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from recommender.engine import RelatedEngine
from store.models import Article, IngestBatch
from store.redis import RedisStore
from tests.support.env import REDIS_URL

ONSETS = ["b", "c", "d", "đ", "g", "h", "kh", "l", "m", "n", "ph", "qu", "s", "t", "th", "tr", "v"]
RHYMES = ["an", "anh", "ông", "ương", "iên", "ai", "ao", "inh", "ơn", "ung", "ăng", "oi", "ước"]
TOPICS = 8


def words(seed: str, n: int) -> list[str]:
    """n made-up two-syllable words, the same for the same seed."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(ONSETS) + rng.choice(RHYMES) for _ in range(2)) for _ in range(n)]


def story(topic: int, variant: str) -> dict:
    """Three stories per topic share its names but tell different things: related, not copies."""
    shared, own = words(f"topic-{topic}", 6), words(f"{topic}-{variant}", 30)
    rng = random.Random(f"{topic}-{variant}")
    sentences = [
        f"{rng.choice(shared)} {rng.choice(own)} {rng.choice(own)} {rng.choice(own)}"
        for _ in range(10)
    ]
    return {
        "url": f"https://bao.example.vn/chu-de-{topic}/{variant}.html",
        "title": f"{shared[0]} {own[0]} {shared[1]}",
        "content_html": "".join(f"<p>{s}.</p>" for s in sentences),
        "category": "thoi-su",
        "published": (datetime(2024, 5, 1, tzinfo=UTC) + timedelta(hours=topic)).isoformat(),
    }


PUSHER = """
import json, sys
from service.config import load_settings
from service.core import Quantam
quantam = Quantam(load_settings())
for data in json.loads(sys.argv[1]):
    quantam.push_article(data)
quantam.close()
"""


@pytest.fixture
def store_url():
    url = f"{REDIS_URL}?prefix=qtest-rel-{uuid.uuid4().hex[:10]}"
    yield url
    store = RedisStore(url)
    store.destroy()
    store.close()


def test_two_processes_pushing_at_once_lose_no_list_insertion(store_url: str) -> None:
    store = RedisStore(store_url)
    older = []
    for topic in range(TOPICS):
        data = story(topic, "goc")
        older.append(
            Article(
                id=f"goc-{topic}",
                url=data["url"],
                title=data["title"],
                category="thoi-su",
                index_text=data["content_html"].replace("<p>", " ").replace("</p>", " "),
                published=datetime(2024, 4, 1, tzinfo=UTC) + timedelta(hours=topic),
            )
        )
    store.commit(IngestBatch(articles=older))
    RelatedEngine(store).reindex()
    env = {**os.environ, "QUANTAM_STORE": store_url, "QUANTAM_LOG_LEVEL": "WARNING"}
    batches = [
        [story(t, "mot") for t in range(TOPICS)],
        [story(t, "hai") for t in range(TOPICS)],
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PUSHER, json.dumps(batch)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for batch in batches
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert store.count_articles() == 3 * TOPICS
    by_url = {a.url: a.id for a in store.iter_articles()}
    for topic in range(TOPICS):
        ids = {v: by_url[story(topic, v)["url"]] for v in ("goc", "mot", "hai")}
        for owner, others in (
            ("goc", ("mot", "hai")),
            ("mot", ("goc", "hai")),
            ("hai", ("goc", "mot")),
        ):
            listed = [i.article_id for i in store.get_related(ids[owner]) if not i.fill]
            for other in others:
                assert ids[other] in listed[:2], (topic, owner, other, listed)
    applied = int(store.get_meta("related:applied-seq"))
    assert applied == store.last_seq()
    store.close()
