"""The recency window (recommender/window.py): a build and a load that hold one window's rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import recommender.engine as engine_module
from recommender.engine import RelatedEngine
from recommender.index import windowed_neighbours
from recommender.rank import DAY
from recommender.settings import RelatedSettings
from recommender.vectorize import ArticleText
from store.models import Article, IngestBatch, RelatedItem
from store.sqlite import SQLiteStore

T0 = datetime(2025, 3, 1, tzinfo=UTC)
DAYS = 30
PER_DAY = 8
WINDOW_DAYS = 3.0
TOPICS = {
    "thoi-su": "bão lũ mưa lớn sạt lở đê điều di dời cứu hộ thiên tai miền trung",
    "the-thao": "đội tuyển bóng đá huấn luyện viên cầu thủ bàn thắng vô địch giải đấu sân cỏ",
    "kinh-doanh": "giá vàng ngân hàng lãi suất chứng khoán cổ phiếu doanh nghiệp xuất khẩu",
    "giao-duc": "học sinh giáo viên kỳ thi tốt nghiệp đại học tuyển sinh điểm chuẩn trường",
}


def corpus(seed: int = 3) -> list[Article]:
    """DAYS x PER_DAY articles of four topics, a few per day, with some same-topic words."""
    rng = random.Random(seed)
    words = {c: text.split() for c, text in TOPICS.items()}
    common = [
        "người",
        "dân",
        "cho",
        "biết",
        "hôm",
        "nay",
        "theo",
        "thông",
        "tin",
        "từ",
        "cơ",
        "quan",
        "chức",
        "năng",
    ]
    out = []
    for i in range(DAYS * PER_DAY):
        category = rng.choice(sorted(TOPICS))
        body = " ".join(rng.choices(words[category], k=18) + rng.choices(common, k=8))
        title = " ".join(rng.choices(words[category], k=6))
        if i % 37 == 0:
            # a story like no other: its list is all fill
            title = body = f"Zyx{i} qwv{i} kjh{i}"
        out.append(
            Article(
                id=f"w{i:04d}",
                url=f"https://bao.example.vn/{category}/w{i}.html",
                title=title,
                category=category,
                text=body,
                index_text=body,
                published=T0 + timedelta(days=i / PER_DAY),
            )
        )
    rng.shuffle(out)  # the store is written out of time order: the build reads it in order
    return out


def settings(**kw: object) -> RelatedSettings:
    defaults: dict[str, object] = dict(max_age_days=WINDOW_DAYS, latent_dims=8, max_df=0.5)
    return RelatedSettings(**{**defaults, **kw})  # type: ignore[arg-type]


@pytest.fixture
def built(tmp_path, monkeypatch) -> tuple[SQLiteStore, RelatedEngine]:
    # small blocks and chunks, so that one build crosses many blocks and many list chunks
    monkeypatch.setattr(engine_module, "LIST_CHUNK", 5)
    store = SQLiteStore(f"sqlite:///{tmp_path / 'window.db'}")
    store.commit(IngestBatch(articles=corpus()))
    engine = RelatedEngine(store, settings())
    engine.keep_neighbours = True
    engine.reindex(processes=1)
    return store, engine


def published(store: SQLiteStore) -> dict[str, float]:
    return {a.id: a.published.timestamp() for a in store.iter_articles()}


def all_lists(store: SQLiteStore) -> dict[str, list[RelatedItem]]:
    return dict(store.iter_related())


def test_no_list_holds_an_article_outside_the_window(built) -> None:
    store, _ = built
    when = published(store)
    lists = all_lists(store)
    assert set(lists) == set(when), "every article has its list"
    reach = WINDOW_DAYS * DAY
    real = fill = 0
    for owner, items in lists.items():
        for item in items:
            assert abs(when[item.article_id] - when[owner]) <= reach, (owner, item)
            fill += item.fill
            real += not item.fill
    assert real > 5 * len(lists), "lists hold related items, not only fill"
    assert fill, "fill items come from within the window too"


def test_the_build_finds_exactly_the_neighbours_within_the_window(built) -> None:
    """Block by block over the spilled counts gives what a search of the whole matrix by window
    gives, and here (blocks smaller than a block's search depth) what an exact one does."""
    store, engine = built
    ids = engine.last_ids
    assert ids is not None and engine.last_neighbours is not None
    by_id = {a.id: a for a in store.iter_articles()}
    assert [by_id[i].published for i in ids] == sorted(a.published for a in by_id.values())
    vectors = engine._state.vectorizer.transform([ArticleText.of(by_id[i]) for i in ids])
    times = np.array([by_id[i].published.timestamp() for i in ids])
    reach = WINDOW_DAYS * DAY
    pool = engine.settings.pool
    whole = windowed_neighbours(vectors, times, reach, pool)
    got = engine.last_neighbours
    assert np.array_equal(got.positions, whole.positions)
    assert np.allclose(got.scores, whole.scores)
    exact = (vectors @ vectors.T).toarray()
    exact[np.abs(times[:, None] - times[None, :]) > reach] = 0
    np.fill_diagonal(exact, 0)
    for row in range(len(ids)):
        want = np.sort(exact[row][exact[row] > 0])[::-1][:pool]
        have = got.scores[row][got.positions[row] >= 0]
        assert np.allclose(have, want, atol=1e-6), row


def test_the_engine_keeps_the_last_window_and_an_add_touches_only_it(built) -> None:
    store, engine = built
    when = published(store)
    newest = max(when.values())
    reach = WINDOW_DAYS * DAY
    window = {a for a, t in when.items() if t >= newest - reach}
    assert set(engine._state.ids) == window
    assert len(window) < len(when) / 5
    before = all_lists(store)
    late = corpus(seed=11)[0].replace(
        id="late", url="https://bao.example.vn/late.html", published=T0 + timedelta(days=DAYS)
    )
    store.commit(IngestBatch(articles=[late]))
    assert engine.sync() == 1
    after = all_lists(store)
    changed = {o for o in after if after[o] != before.get(o)}
    assert "late" in changed and len(changed) > 1, "it entered older lists"
    t = late.published.timestamp()
    for owner in changed - {"late"}:
        assert t - when[owner] <= reach, owner
    assert all(t - when[i.article_id] <= reach for i in after["late"])
    assert len(engine._state.ids) == len(window) + 1


def test_a_new_process_loads_only_the_last_window(built) -> None:
    store, engine = built
    other = RelatedEngine(store, settings())
    assert other.sync() == 0
    assert other._state is not None
    assert other._state.ids == engine._state.ids
    late = corpus(seed=12)[0].replace(
        id="late2", url="https://bao.example.vn/late2.html", published=T0 + timedelta(days=DAYS)
    )
    store.commit(IngestBatch(articles=[late]))
    assert other.sync() == 1
    assert store.get_related("late2")


def test_a_windowed_build_in_forked_processes_equals_a_serial_one(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(engine_module, "LIST_CHUNK", 5)
    monkeypatch.setattr(engine_module, "PARALLEL_LISTS_MIN", 0)
    monkeypatch.setattr(engine_module.os, "cpu_count", lambda: 2)
    got = {}
    for processes in (1, 2):
        store = SQLiteStore(f"sqlite:///{tmp_path / f'p{processes}.db'}")
        store.commit(IngestBatch(articles=corpus()))
        RelatedEngine(store, settings()).reindex(processes=processes)
        got[processes] = all_lists(store)
    assert got[1] == got[2]
