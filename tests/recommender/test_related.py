"""Related lists on a real SQLite file store, from short Vietnamese articles written for this."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from recommender.engine import RelatedEngine
from recommender.rank import DAY, Candidate, RankParams, decay, rank
from recommender.read import related_for
from recommender.settings import RelatedSettings, SettingsError
from store.models import IngestBatch, RelatedItem, Teaser
from store.sqlite import SQLiteStore
from tests.support.related_fixture import BASE, articles


@pytest.fixture
def engine(sqlite_store: SQLiteStore) -> RelatedEngine:
    sqlite_store.commit(IngestBatch(articles=articles()))
    engine = RelatedEngine(sqlite_store)
    engine.reindex()
    return engine


def served(engine: RelatedEngine, article_id: str, k: int = 6, **exclusions) -> list[RelatedItem]:
    """The list as the API serves it."""
    article = Teaser.of(engine.store.get_article(article_id))
    return [r.item for r in related_for(engine.store, article, k, **exclusions)]


def lists(store: SQLiteStore) -> dict[str, list]:
    return {a.id: store.get_related(a.id) for a in store.iter_articles()}


def test_obviously_related_articles_rank_first(engine: RelatedEngine) -> None:
    store = engine.store
    assert store.get_related("bong-da-1")[0].article_id == "bong-da-2"
    assert store.get_related("bong-da-2")[0].article_id == "bong-da-1"
    assert store.get_related("bao-2")[0].article_id in {"bao-1", "bao-1-copy"}
    first = store.get_related("bong-da-1")[0]
    assert not first.fill and first.score > 0.2
    # reasons as the articles spell them, not the index forms ("aff cup")
    assert "AFF Cup" in first.reason or "Xuân Son" in first.reason


def test_no_self_no_repeats_and_at_most_k(engine: RelatedEngine) -> None:
    for owner, items in lists(engine.store).items():
        ids = [i.article_id for i in items]
        assert owner not in ids
        assert len(ids) == len(set(ids))
        assert len(ids) <= engine.settings.stored_k
        assert len(served(engine, owner)) <= engine.settings.k


def test_syndicated_copies_appear_once_and_never_beside_the_original(
    engine: RelatedEngine,
) -> None:
    store = engine.store
    assert "bao-1-copy" not in [i.article_id for i in store.get_related("bao-1")]
    assert "bao-1" not in [i.article_id for i in store.get_related("bao-1-copy")]
    storm = [i.article_id for i in store.get_related("bao-2") if not i.fill]
    assert len({"bao-1", "bao-1-copy"} & set(storm)) == 1


def test_fill_items_are_marked_and_from_the_same_category(engine: RelatedEngine) -> None:
    store = engine.store
    items = store.get_related("kinh-te-2")
    fills = [i for i in items if i.fill]
    assert all(i.score == 0.0 and i.reason == () for i in fills)
    for item in fills:
        assert store.get_article(item.article_id).category == "kinh-doanh"
    real = [i for i in items if not i.fill]
    # a store this small has no latent space: the floor is on the bare cosine
    floor = engine.rank_params().min_score
    assert floor < engine.settings.min_score
    assert all(i.score >= floor for i in real)
    # fill only ever follows the real items
    assert items == real + fills


def test_takedown_leaves_every_list_at_once_and_lists_are_refilled(
    engine: RelatedEngine,
) -> None:
    store = engine.store
    before = lists(store)
    holders = [o for o, items in before.items() if "bong-da-1" in {i.article_id for i in items}]
    assert holders
    assert store.delete_article("bong-da-1")
    engine.on_change("takedown")
    after = lists(store)
    for items in after.values():
        assert "bong-da-1" not in [i.article_id for i in items]
    for owner in holders:
        if owner != "bong-da-2":  # the only other football story has nothing left to show
            assert len(after[owner]) == len(before[owner]), owner
    assert "bong-da-1" not in [i.article_id for i in served(engine, "bong-da-2")]
    assert store.get_related("bong-da-1") is None


def test_reads_honour_exclusions(engine: RelatedEngine) -> None:
    first = served(engine, "bao-2")[0].article_id
    items = served(engine, "bao-2", k=3, exclude_ids={first})
    assert first not in [i.article_id for i in items]
    items = served(engine, "bao-2", k=3, exclude_categories={"thoi-su"})
    cats = {engine.store.get_article(i.article_id).category for i in items}
    assert "thoi-su" not in cats


def test_incremental_add_matches_a_refit_up_to_idf_drift(tmp_path) -> None:
    every = articles()
    late = {"bong-da-2", "kinh-te-2"}
    inc = SQLiteStore(f"sqlite:///{tmp_path / 'inc.db'}")
    inc.commit(IngestBatch(articles=[a for a in every if a.id not in late]))
    engine = RelatedEngine(inc, RelatedSettings(auto_reindex_max=0))
    engine.reindex()
    inc.commit(IngestBatch(articles=[a for a in every if a.id in late]))
    assert engine.sync() == 2
    full = SQLiteStore(f"sqlite:///{tmp_path / 'full.db'}")
    full.commit(IngestBatch(articles=every))
    RelatedEngine(full).reindex()
    for article in every:
        got = [i for i in inc.get_related(article.id) if not i.fill]
        want = [i for i in full.get_related(article.id) if not i.fill]
        assert [i.article_id for i in got] == [i.article_id for i in want], article.id
        for a, b in zip(got, want, strict=True):
            assert a.score == pytest.approx(b.score, abs=0.1)
    # the new article entered the older list where it now ranks first
    assert inc.get_related("bong-da-1")[0].article_id == "bong-da-2"


def test_an_add_explains_its_own_items_and_its_entries_in_older_lists(tmp_path) -> None:
    every = articles()
    late = {"bong-da-2", "kinh-te-2"}
    store = SQLiteStore(f"sqlite:///{tmp_path / 'inc.db'}")
    store.commit(IngestBatch(articles=[a for a in every if a.id not in late]))
    engine = RelatedEngine(store, RelatedSettings(auto_reindex_max=0))
    engine.reindex()
    before = {a.id: store.get_related(a.id) for a in every if a.id not in late}
    store.commit(IngestBatch(articles=[a for a in every if a.id in late]))
    assert engine.sync() == 2
    entered = 0
    for article in every:
        items = store.get_related(article.id)
        for item in items:
            assert bool(item.reason) != item.fill, (article.id, item)
        if article.id in late:
            continue
        for item in items:
            if item.article_id in late:
                entered += 1
            elif not item.fill:  # older items keep the reasons they were written with
                assert item in before[article.id], (article.id, item)
    assert entered
    # the entry's reason names terms the two articles share, as the full build's does
    first = store.get_related("bong-da-1")[0]
    assert first.article_id == "bong-da-2"
    assert set(first.reason) & {"Xuân Son", "AFF Cup"}


def test_ingest_listener_keeps_lists_current(sqlite_store: SQLiteStore) -> None:
    every = articles()
    engine = RelatedEngine(sqlite_store)
    sqlite_store.commit(IngestBatch(articles=every[:4]))
    engine.on_change()  # first use fits the small store on the fly
    assert sqlite_store.get_related("bong-da-1")[0].article_id == "bong-da-2"
    sqlite_store.commit(IngestBatch(articles=every[4:]))
    engine.on_change()
    assert sqlite_store.get_related("kinh-te-1") is not None


def test_a_second_engine_loads_the_stored_model_and_catches_up(engine: RelatedEngine) -> None:
    store = engine.store
    other = RelatedEngine(store, RelatedSettings(auto_reindex_max=0))
    assert other.sync() == 0
    edited = store.get_article("kinh-te-2").replace(
        title="Người dân xếp hàng mua vàng miếng SJC",
        index_text="Hàng trăm người dân xếp hàng từ sáng sớm để mua vàng miếng SJC khi giá vàng "
        "liên tục lập đỉnh mới. Các cửa hàng giới hạn mỗi người mua một lượng.",
    )
    store.commit(IngestBatch(articles=[edited]))
    assert other.sync() == 1
    assert store.get_related("kinh-te-2")[0].article_id == "kinh-te-1"
    assert store.get_related("kinh-te-1")[0].article_id == "kinh-te-2"


# -- pure ranking ----------------------------------------------------------------------------------
def _candidates(similarities, ages_days, category="a"):
    now = BASE.timestamp()
    return [
        Candidate(f"c{i}", s, now - age * DAY, category)
        for i, (s, age) in enumerate(zip(similarities, ages_days, strict=True))
    ]


def test_decay_halves_at_the_half_life() -> None:
    assert decay(0, 30) == 1.0
    assert decay(30 * DAY, 30) == pytest.approx(0.5)
    assert decay(-30 * DAY, 30) == pytest.approx(0.5)
    assert decay(1000 * DAY, 0) == 1.0


def test_recency_decides_between_equally_similar_items() -> None:
    cands = _candidates([0.4, 0.4], [60, 1])
    params = RankParams(k=2, half_life_days=30, mmr_lambda=1.0)
    items = rank("me", BASE.timestamp(), "a", cands, np.eye(2), params)
    assert [i.article_id for i in items] == ["c1", "c0"]
    assert items[1].score == pytest.approx(0.4 * 0.25, abs=1e-3)
    too_old = RankParams(k=2, half_life_days=30, max_age_days=30, mmr_lambda=1.0)
    assert [i.article_id for i in rank("me", BASE.timestamp(), "a", cands, np.eye(2), too_old)] == [
        "c1"
    ]


def test_category_boost_and_mmr() -> None:
    now = BASE.timestamp()
    cands = [
        Candidate("same-story-a", 0.50, now, "x"),
        Candidate("same-story-b", 0.49, now, "x"),
        Candidate("other-angle", 0.45, now, "x"),
    ]
    pairs = np.array([[1.0, 0.55, 0.1], [0.55, 1.0, 0.1], [0.1, 0.1, 1.0]])
    plain = rank("me", now, "x", cands, pairs, RankParams(k=2, mmr_lambda=1.0))
    assert [i.article_id for i in plain] == ["same-story-a", "same-story-b"]
    diverse = rank("me", now, "x", cands, pairs, RankParams(k=2, mmr_lambda=0.7))
    assert [i.article_id for i in diverse] == ["same-story-a", "other-angle"]
    boosted = rank("me", now, "y", cands[:1], np.eye(1), RankParams(k=1, category_boost=0.5))
    assert boosted[0].score == pytest.approx(0.5)
    boosted = rank("me", now, "x", cands[:1], np.eye(1), RankParams(k=1, category_boost=0.5))
    assert boosted[0].score == pytest.approx(0.75)


def test_copies_and_low_scores_are_replaced_by_marked_fill() -> None:
    now = BASE.timestamp()
    cands = [
        Candidate("own-copy", 0.95, now, "x"),
        Candidate("weak", 0.01, now, "x"),
        Candidate("good", 0.3, now, "x"),
    ]
    items = rank(
        "me", now, "x", cands, np.eye(3), RankParams(k=3), fill=["own-copy", "me", "good", "new"]
    )
    assert [(i.article_id, i.fill) for i in items] == [("good", False), ("new", True)]


def test_settings_are_validated() -> None:
    with pytest.raises(SettingsError, match="related_k"):
        RelatedSettings(k=21)
    with pytest.raises(SettingsError, match="power of two"):
        RelatedSettings(n_features=1000)
    assert timedelta(days=RelatedSettings().half_life_days).days == 180


def test_a_build_in_forked_processes_equals_a_serial_build(tmp_path, monkeypatch) -> None:
    import multiprocessing

    import recommender.engine as engine_module

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    built = {}
    for processes in (1, 2):
        store = SQLiteStore(f"sqlite:///{tmp_path / f'p{processes}.db'}")
        store.commit(IngestBatch(articles=articles()))
        monkeypatch.setattr(engine_module, "PARALLEL_LISTS_MIN", 0)
        monkeypatch.setattr(engine_module, "LIST_CHUNK", 3)
        make = RelatedEngine._new_vectorizer
        monkeypatch.setattr(
            RelatedEngine,
            "_new_vectorizer",
            lambda self, make=make: make(self).set_params(batch_size=4),
        )
        monkeypatch.setattr(engine_module.os, "cpu_count", lambda: 2)
        RelatedEngine(store).reindex(processes=processes)
        built[processes] = lists(store)
    assert built[1] == built[2]
    assert any(built[2].values())


def test_a_build_streamed_in_small_blocks_equals_one_fit_transform(tmp_path, monkeypatch) -> None:
    """Reindex reads and vectorises batch by batch and stacks blocks; the index must hold what
    vectorising every article at once gives."""
    import recommender.engine as engine_module
    from recommender.vectorize import ArticleText

    store = SQLiteStore(f"sqlite:///{tmp_path / 'blocks.db'}")
    store.commit(IngestBatch(articles=articles()))
    monkeypatch.setattr(engine_module, "STACK_ROWS", 5)
    make = RelatedEngine._new_vectorizer
    monkeypatch.setattr(
        RelatedEngine,
        "_new_vectorizer",
        lambda self, make=make: make(self).set_params(batch_size=2),
    )
    engine = RelatedEngine(store)
    report = engine.reindex(processes=1)
    texts = [ArticleText.of(a) for a in store.iter_articles()]
    want = make(engine).fit_transform(texts)
    got = engine._state.index.matrix()
    assert report.articles == report.lists == len(texts)
    assert got.shape == want.shape
    assert (got != want).nnz == 0
    assert np.array_equal(engine._state.vectorizer.tfidf_.idf_, make(engine).fit(texts).tfidf_.idf_)
