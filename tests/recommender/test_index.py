"""The similarity index against brute force on small random data."""

from __future__ import annotations

import gc

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.index import (
    PairLookup,
    SimilarityIndex,
    dots,
    gram,
    shared_terms,
    windowed_neighbours,
)


def _vectors(rows: int = 300, seed: int = 7) -> sp.csr_matrix:
    matrix = sp.random(rows, 2**12, density=0.01, format="csr", random_state=seed, dtype=np.float32)
    return normalize(matrix).astype(np.float32).tocsr()


def _brute(x: sp.csr_matrix, allowed: np.ndarray, n: int) -> list[set[int]]:
    dense = (x @ x.T).toarray()
    np.fill_diagonal(dense, -1)
    dense[~allowed] = -1
    out = []
    for row in dense:
        best = np.argsort(-row)[:n]
        out.append({int(j) for j in best if row[j] > 0})
    return out


def test_search_is_exact_and_skips_self_and_removed() -> None:
    x = _vectors()
    index = SimilarityIndex(x, chunk_rows=64)
    index.remove(5)
    found = index.search(x, 10, exclude_self_from=0)
    allowed = np.ones((300, 300), dtype=bool)
    allowed[:, 5] = False
    want = _brute(x, allowed, 10)
    for i in range(300):
        got, scores = found.row(i)
        assert set(got.tolist()) == want[i]
        assert np.all(np.diff(scores) <= 1e-6)


def test_added_vectors_are_found_without_a_refit() -> None:
    x = _vectors()
    index = SimilarityIndex(x[:250])
    for i in range(250, 300):
        assert index.add(x[i]) == i
    found = index.search(x[:10], 10)
    dense = (x[:10] @ x.T).toarray()
    for i in range(10):
        got, scores = found.row(i)
        assert set(got.tolist()) == {int(j) for j in np.argsort(-dense[i])[:10] if dense[i, j] > 0}
        np.testing.assert_allclose(scores, dense[i, got], rtol=1e-5)


def test_full_buffers_become_segments_that_search_exactly_without_refolding_the_archive() -> None:
    x = _vectors(rows=400)
    index = SimilarityIndex(x[:100], chunk_rows=64, buffer_max=5)
    main = index._main
    for i in range(100, 400):
        assert index.add(x[i]) == i
    # 60 full buffers became a few merged segments; the archive's matrix was never rebuilt
    assert index._main is main
    assert 1 < len(index._sealed) <= 3 * 4
    index.remove(5)
    index.remove(333)
    allowed = np.ones((400, 400), dtype=bool)
    allowed[:, [5, 333]] = False
    want = _brute(x, allowed, 10)
    every = np.arange(400)
    np.testing.assert_allclose(index.matrix().toarray(), x.toarray())
    np.testing.assert_allclose(index.rows(every[::-7]).csr().toarray(), x[every[::-7]].toarray())
    batch = index.search(x, 10, exclude_self_from=0)  # sparse_dot_topn over every segment
    for i in [0, 99, 100, 104, 105, 250, 333, 398, 399]:
        single = index.search(x[[i]], 10, exclude_self_from=i)  # the inverted-list path
        assert set(single.row(0)[0].tolist()) == want[i]
        assert set(batch.row(i)[0].tolist()) == want[i]
        query = index.rows([i])
        np.testing.assert_allclose(
            index.similarities(query.indices, query.data),
            (x[i] @ x.T).toarray().ravel(),
            rtol=1e-5,
            atol=1e-6,
        )


def test_windowed_neighbours_stay_within_the_window() -> None:
    x = _vectors()
    published = np.random.default_rng(3).uniform(0, 100, size=300)
    found = windowed_neighbours(x, published, window=10.0, n=8, chunk_rows=50)
    allowed = np.abs(published[:, None] - published[None, :]) <= 10.0
    want = _brute(x, allowed, 8)
    hits = total = 0
    for i in range(300):
        got = found.row(i)[0]
        assert np.all(np.abs(published[got] - published[i]) <= 10.0)
        hits += len(set(got.tolist()) & want[i])
        total += len(want[i])
    assert hits / total >= 0.97


def test_gram_shared_terms_and_pair_lookup() -> None:
    x = _vectors()
    rows = np.array([1, 2, 3])
    np.testing.assert_allclose(gram(x[rows]), (x[rows] @ x[rows].T).toarray(), rtol=1e-5)
    # many rows, a repeated row (a copy) and an empty one
    many = sp.vstack([x[:80], x[[5]], sp.csr_matrix((1, x.shape[1]), dtype=np.float32)]).tocsr()
    np.testing.assert_allclose(gram(many), (many @ many.T).toarray(), rtol=1e-5, atol=1e-7)
    top = shared_terms(x[1], x[[2, 3]], 2)
    for other, cols in zip([2, 3], top, strict=True):
        product = x[1].multiply(x[other]).toarray().ravel()
        assert set(cols.tolist()) == set(np.argsort(-product)[: len(cols)].tolist())
    found = SimilarityIndex(x).search(x, 5, exclude_self_from=0)
    lookup = PairLookup(found).matrix(np.array([0, *found.row(0)[0][:2]]))
    assert lookup[0, 0] == 1.0
    np.testing.assert_allclose(lookup[0, 1:], found.row(0)[1][:2], rtol=1e-6)


def test_one_query_path_equals_the_batch_path_and_dots() -> None:
    x = _vectors()
    index = SimilarityIndex(x[:200])
    for i in range(200, 300):
        index.add(x[i])
    index.remove(7)
    index.remove(250)
    rows = np.arange(0, 300, 10)  # more than SMALL_BATCH: the batch (sparse_dot_topn) path
    batch = index.search(x[rows], 12)
    for r, position in enumerate(rows):
        single = index.search(x[[position]], 12)  # one row: the inverted-list path
        got, scores = single.row(0)
        want, want_scores = batch.row(r)
        np.testing.assert_allclose(scores, want_scores, rtol=1e-5)
        assert set(got.tolist()) == set(want.tolist()) or len(set(scores.tolist())) < len(scores)
        query = index.rows([position])
        similarity = index.similarities(query.indices, query.data)
        np.testing.assert_allclose(
            similarity, dots(query, index.rows(np.arange(300))), rtol=1e-5, atol=1e-6
        )


def test_best_skips_removed_positions_even_when_they_score_highest() -> None:
    x = _vectors()
    index = SimilarityIndex(x)
    query = index.rows([0])
    similarity = index.similarities(query.indices, query.data)
    ranked = [int(p) for p in np.argsort(-similarity, kind="stable") if similarity[p] > 0]
    for p in ranked[1:13]:  # the twelve best after the article itself are taken down
        index.remove(p)
    got, scores = index.best(similarity, 5, own=0)
    assert got.tolist() == ranked[13:18]
    np.testing.assert_allclose(scores, similarity[ranked[13:18]])


def test_rows_gather_main_and_buffer_in_order() -> None:
    x = _vectors()
    index = SimilarityIndex(x[:250])
    for i in range(250, 300):
        index.add(x[i])
    positions = np.array([260, 3, 299, 0, 251, 3, 120])
    got = index.rows(positions).csr()
    assert (got != x[positions]).nnz == 0
    assert (index.vectors(positions) != x[positions]).nnz == 0
    assert (index.vectors(np.arange(300)) != x).nnz == 0


def test_added_vectors_leave_nothing_for_the_cyclic_gc_to_walk() -> None:
    """A full collection walks every tracked object: adds must not pile them up (the tail)."""
    x = _vectors()
    index = SimilarityIndex(x[:100])
    gc.collect()
    before = len(gc.get_objects())
    for i in range(100, 300):
        index.add(x[i])
    gc.collect()
    assert len(gc.get_objects()) - before < 20
    assert not gc.is_tracked(index._b_postings)
