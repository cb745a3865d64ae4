"""The index snapshot: a process that loads the model takes the stored vectors and replays only
the changes logged after them, and gets the same lists as the process that built them."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from recommender import snapshot
from recommender.engine import RelatedEngine
from recommender.settings import RelatedSettings
from recommender.sync import APPLIED_KEY, ChangeApplier
from store.models import IngestBatch
from store.sqlite import SQLiteStore
from tests.support.related_fixture import BASE, articles


@pytest.fixture
def engine(sqlite_store: SQLiteStore) -> RelatedEngine:
    every = articles()
    sqlite_store.commit(IngestBatch(articles=every[:-2]))
    engine = RelatedEngine(sqlite_store)
    engine.reindex()
    return engine


def loaded(store: SQLiteStore) -> RelatedEngine:
    """A new process's engine, after its first sync."""
    other = RelatedEngine(store, RelatedSettings(auto_reindex_max=0))
    other.sync()
    return other


def test_dump_and_load_keep_every_live_row_and_leave_out_removed_ones(
    engine: RelatedEngine,
) -> None:
    state = engine._ensure_state()
    assert state is not None
    gone = state.position["bao-2"]
    state.index.remove(gone)
    raw = snapshot.dump(snapshot.of_state(state, 0.0))
    back = snapshot.load(raw)
    live = [p for p in range(len(state.ids)) if p != gone]
    assert back.columns.ids == [state.ids[p] for p in live]
    assert back.columns.category == [state.category[p] for p in live]
    assert back.columns.published == [state.published[p] for p in live]
    expected = state.index.rows(np.array(live)).csr()
    assert (back.vectors != expected).nnz == 0
    assert back.vectors.shape == expected.shape
    assert (back.version, back.seq) == (state.version, state.seq)


def test_bytes_that_are_not_a_snapshot_are_refused_by_name() -> None:
    with pytest.raises(snapshot.SnapshotError, match="not a stored snapshot"):
        snapshot.load(b"\x80\x04pickle bytes")


def test_the_build_stores_the_snapshot_of_its_change_log_position(engine: RelatedEngine) -> None:
    store = engine.store
    stored = snapshot.load(store.get_meta(snapshot.SNAPSHOT_KEY) or b"")
    assert stored.seq == int(store.get_meta(snapshot.SNAPSHOT_SEQ_KEY) or -1)
    assert stored.seq == int(store.get_meta(APPLIED_KEY) or -1)
    assert sorted(stored.columns.ids) == sorted(a.id for a in store.iter_articles())


def test_a_loading_process_replays_what_was_logged_after_the_snapshot(
    engine: RelatedEngine,
) -> None:
    """Changes after the snapshot (a new article, an edit, a takedown) are in the loaded index:
    the new process's next add gives the list the building process would give."""
    store = engine.store
    every = articles()
    store.commit(IngestBatch(articles=[every[-2]]))
    edited = store.get_article("kinh-te-2").replace(title="Giá vàng SJC lập đỉnh mới")
    store.commit(IngestBatch(articles=[edited]))
    store.delete_article("bao-2")
    engine.sync()
    snap_seq = int(store.get_meta(snapshot.SNAPSHOT_SEQ_KEY) or 0)
    assert snap_seq < store.last_seq()  # the snapshot is older than these changes

    other = loaded(store)
    mine, theirs = engine._ensure_state(), other._ensure_state()
    assert mine is not None and theirs is not None
    live = lambda s: {s.ids[p] for p in np.flatnonzero(s.index.alive[: s.index.size])}  # noqa: E731
    assert live(theirs) == live(mine)
    assert "bao-2" not in live(theirs) and every[-2].id in live(theirs)

    # The new process takes the next push; its list is what the building process computes.
    last = every[-1]
    store.commit(IngestBatch(articles=[last]))
    other.sync()
    by_loaded = store.get_related(last.id)
    assert by_loaded
    # The building process, catching up, computes the same list for it.
    state = engine._ensure_state()
    assert state is not None
    engine.sync()
    store.put_related({last.id: []})
    ChangeApplier(store, engine.settings, state).upsert(store.get_article(last.id))
    assert store.get_related(last.id) == by_loaded


def test_a_snapshot_of_another_model_or_unreadable_is_not_used(
    engine: RelatedEngine, caplog: pytest.LogCaptureFixture
) -> None:
    store = engine.store
    good = store.get_meta(snapshot.SNAPSHOT_KEY) or b""
    expected = {a.id: store.get_related(a.id) for a in store.iter_articles()}

    stale = snapshot.load(good)
    stale.version = "an-older-model"
    stale.columns.ids = [f"x{i}" for i in range(len(stale.columns.ids))]
    store.set_meta(snapshot.SNAPSHOT_KEY, snapshot.dump(stale))
    other = loaded(store)
    state = other._ensure_state()
    assert state is not None and "x0" not in state.position
    assert set(state.position) == set(expected)

    # kept for no window: a process with a 7-day window reads its window's articles instead
    marked = snapshot.load(good)
    marked.columns.ids = [f"x{i}" for i in range(len(marked.columns.ids))]
    store.set_meta(snapshot.SNAPSHOT_KEY, snapshot.dump(marked))
    windowed = RelatedEngine(store, RelatedSettings(auto_reindex_max=0, max_age_days=7))
    windowed.sync()
    state = windowed._ensure_state()
    assert state is not None and "x0" not in state.position and set(state.position)

    store.set_meta(snapshot.SNAPSHOT_KEY, good[: len(good) // 2])
    with caplog.at_level(logging.WARNING):
        third = loaded(store)
    assert "snapshot is not used" in caplog.text
    state = third._ensure_state()
    assert state is not None and set(state.position) == set(expected)


def test_whoever_applies_the_log_refreshes_the_snapshot(engine: RelatedEngine) -> None:
    store = engine.store
    engine.snapshot_every = 2
    before = int(store.get_meta(snapshot.SNAPSHOT_SEQ_KEY) or 0)
    for i, article in enumerate(articles()[-2:]):
        store.commit(IngestBatch(articles=[article.replace(published=BASE)]))
        engine.sync()
        now = int(store.get_meta(snapshot.SNAPSHOT_SEQ_KEY) or 0)
        assert now == (before if i == 0 else store.last_seq())
    stored = snapshot.load(store.get_meta(snapshot.SNAPSHOT_KEY) or b"")
    assert {a.id for a in articles()[-2:]} <= set(stored.columns.ids)


def test_an_index_too_large_for_one_stored_value_is_vectorised_again_at_load(
    sqlite_store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    sqlite_store.commit(IngestBatch(articles=articles()))
    engine = RelatedEngine(sqlite_store)
    engine.snapshot_max_bytes = 1000  # a few rows' worth
    with caplog.at_level(logging.INFO):
        engine.reindex()
    assert "index snapshot not stored" in caplog.text
    assert sqlite_store.get_meta(snapshot.SNAPSHOT_KEY) is None
    other = loaded(sqlite_store)
    state = other._ensure_state()
    assert state is not None
    assert set(state.position) == {a.id for a in sqlite_store.iter_articles()}
