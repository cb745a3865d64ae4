"""Nearest neighbours by cosine over L2-normalised sparse vectors, kept current without a refit.

All-pairs top-k goes through `sparse_dot_topn`: a compiled, multi-threaded sparse product that
keeps only each row's best `n` while it multiplies, in chunks of rows, so neither a dense N x N
matrix nor a whole similarity row is ever materialised or sorted. The product is exact (no
pruning); its cost is governed by the vectoriser's `max_df`, which drops the terms shared by so
many articles that they only add work and noise (docs/recommender.md has the measurements).

New articles go to a small row buffer that is searched by a sparse matrix-vector product and
folded into the main inverted matrix when it grows; removed articles are masked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import scipy.sparse as sp
from sparse_dot_topn import sp_matmul_topn

SMALL_BATCH = 16


@dataclass(frozen=True)
class Neighbours:
    """Rows of candidate positions and cosine similarities, best first; -1 pads short rows."""

    positions: np.ndarray  # (rows, n) int64
    scores: np.ndarray  # (rows, n) float32

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        keep = self.positions[i] >= 0
        return self.positions[i][keep], self.scores[i][keep]


class SimilarityIndex:
    """Article vectors by position, searchable for the most similar live articles."""

    def __init__(
        self,
        vectors: sp.csr_matrix,
        n_threads: int = 2,
        chunk_rows: int = 2000,
        buffer_max: int = 2000,
    ):
        self.n_threads = n_threads
        self.chunk_rows = chunk_rows
        self.buffer_max = buffer_max
        self._main = _csr32(vectors)
        self._main_t = self._main.T.tocsr()
        self._buffer: list[sp.csr_matrix] = []
        self._buffer_matrix: sp.csr_matrix | None = None
        self.alive = np.ones(vectors.shape[0], dtype=bool)

    @property
    def size(self) -> int:
        return self._main.shape[0] + len(self._buffer)

    @property
    def n_features(self) -> int:
        return self._main.shape[1]

    def vector(self, position: int) -> sp.csr_matrix:
        main = self._main.shape[0]
        return self._main[position] if position < main else self._buffer[position - main]

    def vectors(self, positions: np.ndarray) -> sp.csr_matrix:
        """Rows for these positions, in that order."""
        positions = np.asarray(positions, dtype=np.int64)
        main = self._main.shape[0]
        if not positions.size or positions.max() < main:
            return self._main[positions]
        in_main = positions < main
        both = sp.vstack(
            [self._main[positions[in_main]], self._buffered()[positions[~in_main] - main]],
            format="csr",
        )
        order = np.empty(len(positions), dtype=np.int64)
        order[np.flatnonzero(in_main)] = np.arange(int(in_main.sum()))
        order[np.flatnonzero(~in_main)] = np.arange(int(in_main.sum()), len(positions))
        return both[order]

    def _buffered(self) -> sp.csr_matrix:
        if self._buffer_matrix is None:
            self._buffer_matrix = sp.vstack(self._buffer, format="csr")
        return self._buffer_matrix

    def add(self, vector: sp.csr_matrix) -> int:
        """Append one vector; its position is returned."""
        row = _csr32(vector)
        self._buffer.append(row)
        if self._buffer_matrix is not None:
            self._buffer_matrix = sp.vstack([self._buffer_matrix, row], format="csr")
        self.alive = np.append(self.alive, True)
        if len(self._buffer) >= self.buffer_max:
            self.compact()
        return self.size - 1

    def remove(self, position: int) -> None:
        self.alive[position] = False

    def compact(self) -> None:
        """Fold the buffer into the main matrix (a full transpose: rare, amortised)."""
        if not self._buffer:
            return
        self._main = sp.vstack([self._main, *self._buffer], format="csr")
        self._main_t = self._main.T.tocsr()
        self._buffer = []
        self._buffer_matrix = None

    def search(
        self, queries: sp.csr_matrix, n: int, exclude_self_from: int | None = None
    ) -> Neighbours:
        """The n most similar live articles for each query row.

        exclude_self_from: when the queries are the index's own rows starting at this position,
        each row's own position is left out.
        """
        queries = _csr32(queries)
        rows = queries.shape[0]
        dead = int((~self.alive).sum())
        want = n + dead + (1 if exclude_self_from is not None else 0)
        positions = np.full((rows, n), -1, dtype=np.int64)
        scores = np.zeros((rows, n), dtype=np.float32)
        for start in range(0, rows, self.chunk_rows):
            stop = min(start + self.chunk_rows, rows)
            pos, val = self._search_chunk(queries[start:stop], want)
            if exclude_self_from is not None:
                own = np.arange(start, stop)[:, None] + exclude_self_from
                val = np.where(pos == own, -np.inf, val)
            live = np.zeros_like(pos, dtype=bool)
            has = pos >= 0
            live[has] = self.alive[pos[has]]
            val = np.where(live, val, -np.inf)
            take = min(n, val.shape[1])
            top = _top_columns(val, take)
            chosen = np.take_along_axis(val, top, axis=1)
            chosen_pos = np.take_along_axis(pos, top, axis=1)
            ok = np.isfinite(chosen) & (chosen > 0)
            positions[start:stop, :take] = np.where(ok, chosen_pos, -1)
            scores[start:stop, :take] = np.where(ok, chosen, 0.0)
        return Neighbours(positions, scores)

    def _search_chunk(self, queries: sp.csr_matrix, want: int) -> tuple[np.ndarray, np.ndarray]:
        """Candidate positions and scores (rows x m, -1 / -inf padded) from main and buffer."""
        parts_pos, parts_val = [], []
        if self._main.shape[0]:
            if queries.shape[0] <= SMALL_BATCH:
                # A plain scipy product: sparse_dot_topn's per-call set-up dominates one query.
                product = _top_per_row(queries @ self._main_t, want)
            else:
                product = sp_matmul_topn(
                    queries, self._main_t, top_n=want, n_threads=self.n_threads or None
                )
            p, v = _padded(product, want)
            parts_pos.append(p)
            parts_val.append(v)
        if self._buffer:
            self._buffered()
            dense = np.full((queries.shape[0], len(self._buffer)), -np.inf, dtype=np.float32)
            for r in range(queries.shape[0]):
                # A dense query over the hashed space costs one calloc; the product only
                # reads the buffer's entries, and transposing a 2**22-wide matrix is avoided.
                q = np.zeros(queries.shape[1], dtype=np.float32)
                lo, hi = queries.indptr[r], queries.indptr[r + 1]
                q[queries.indices[lo:hi]] = queries.data[lo:hi]
                product = self._buffer_matrix @ q
                dense[r] = np.where(product > 0, product, -np.inf)
            offset = self._main.shape[0]
            parts_pos.append(
                np.broadcast_to(np.arange(dense.shape[1]) + offset, dense.shape).copy()
            )
            parts_val.append(dense)
        if not parts_pos:
            empty = np.zeros((queries.shape[0], 0))
            return empty.astype(np.int64), empty.astype(np.float32)
        return np.hstack(parts_pos), np.hstack(parts_val)


def gram(rows: sp.csr_matrix) -> np.ndarray:
    """Pairwise dot products of a few rows, over only the columns they use (a scipy product
    would transpose the whole hashed width)."""
    columns, inverse = np.unique(rows.indices, return_inverse=True)
    compact = sp.csr_matrix(
        (rows.data, inverse.astype(np.int32), rows.indptr), shape=(rows.shape[0], len(columns))
    )
    return (compact @ compact.T).toarray()


def shared_terms(row: sp.csr_matrix, others: sp.csr_matrix, n: int) -> list[np.ndarray]:
    """For each of `others`, the columns contributing most to its dot product with `row`."""
    mine, weights = row.indices, row.data  # sorted: every matrix here keeps sorted indices
    if len(mine) == 0:
        return [np.zeros(0, dtype=np.int32) for _ in range(others.shape[0])]
    owner = np.repeat(np.arange(others.shape[0]), np.diff(others.indptr))
    at = np.minimum(np.searchsorted(mine, others.indices), len(mine) - 1)
    hit = mine[at] == others.indices
    owner, cols = owner[hit], others.indices[hit]
    product = others.data[hit] * weights[at[hit]]
    order = np.lexsort((-product, owner))
    owner, cols = owner[order], cols[order]
    starts = np.searchsorted(owner, np.arange(others.shape[0] + 1))
    return [cols[starts[i] : min(starts[i + 1], starts[i] + n)] for i in range(others.shape[0])]


class PairLookup:
    """Similarities between articles read from their neighbour rows, for MMR and copies in a
    full build: a pair absent from both rows is less similar than either row's last entry,
    and MMR and copy detection only act on high similarities."""

    def __init__(self, neighbours: Neighbours):
        rows, width = neighbours.positions.shape
        owner = np.repeat(np.arange(rows, dtype=np.int64), width)
        other = neighbours.positions.ravel()
        keep = other >= 0
        owner, other = owner[keep], other[keep]
        keys = np.concatenate([owner * rows + other, other * rows + owner])
        values = np.concatenate([neighbours.scores.ravel()[keep]] * 2)
        order = np.argsort(keys, kind="stable")
        self._keys, self._values, self._n = keys[order], values[order], rows

    def matrix(self, positions: np.ndarray) -> np.ndarray:
        """The (m x m) similarity matrix of these positions (diagonal 1)."""
        p = np.asarray(positions, dtype=np.int64)
        out = np.zeros((len(p), len(p)), dtype=np.float32)
        if len(self._keys):
            query = (p[:, None] * self._n + p[None, :]).ravel()
            at = np.minimum(np.searchsorted(self._keys, query), len(self._keys) - 1)
            found = self._keys[at] == query
            out = np.where(found, self._values[at], 0.0).reshape(len(p), len(p))
        np.fill_diagonal(out, 1.0)
        return out


def dots(row: sp.csr_matrix, others: sp.csr_matrix) -> np.ndarray:
    """Dot products of one row with each of `others` (sorted indices), without a transpose."""
    mine, weights = row.indices, row.data
    if len(mine) == 0 or others.nnz == 0:
        return np.zeros(others.shape[0], dtype=np.float32)
    owner = np.repeat(np.arange(others.shape[0]), np.diff(others.indptr))
    at = np.minimum(np.searchsorted(mine, others.indices), len(mine) - 1)
    hit = mine[at] == others.indices
    return np.bincount(
        owner[hit], weights=others.data[hit] * weights[at[hit]], minlength=others.shape[0]
    ).astype(np.float32)


def _top_per_row(product: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Keep each row's n largest entries of a small sparse product."""
    product = product.tocsr()
    rows, cols, vals = [], [], []
    for i in range(product.shape[0]):
        lo, hi = product.indptr[i], product.indptr[i + 1]
        data = product.data[lo:hi]
        top = np.argpartition(-data, n - 1)[:n] if len(data) > n else np.arange(len(data))
        rows.append(np.full(len(top), i))
        cols.append(product.indices[lo:hi][top])
        vals.append(data[top])
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=product.shape
    )


def _padded(product: sp.csr_matrix, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A top-n CSR product as dense (rows x width) position and score arrays."""
    rows = product.shape[0]
    pos = np.full((rows, width), -1, dtype=np.int64)
    val = np.full((rows, width), -np.inf, dtype=np.float32)
    counts = np.diff(product.indptr)
    row_of = np.repeat(np.arange(rows), counts)
    col_of = np.arange(product.nnz) - np.repeat(product.indptr[:-1], counts)
    pos[row_of, col_of] = product.indices
    val[row_of, col_of] = product.data
    return pos, val


def _top_columns(values: np.ndarray, n: int) -> np.ndarray:
    """Column indices of each row's n largest values, largest first (argpartition, then a sort
    of only those n)."""
    if n <= 0:
        return np.zeros((values.shape[0], 0), dtype=np.int64)
    if values.shape[1] > n:
        part = np.argpartition(-values, n - 1, axis=1)[:, :n]
    else:
        part = np.broadcast_to(np.arange(values.shape[1]), values.shape).copy()
    order = np.argsort(-np.take_along_axis(values, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _csr32(matrix: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32)
    out.sort_indices()
    return out


def windowed_neighbours(
    vectors: sp.csr_matrix,
    published: np.ndarray,
    window: float,
    n: int,
    n_threads: int = 2,
    chunk_rows: int = 2000,
) -> Neighbours:
    """Each row's n most similar rows published at most `window` seconds apart.

    Rows are cut, in time order, into blocks spanning at most half the window; everything within
    reach of a row lies in its own block or the two on each side, so the cost grows with the
    archive times the window instead of the archive squared (the recency window of a large
    archive). The edge blocks also hold rows just outside the window, which are dropped after
    each block's best are taken; taking twice n per block keeps that loss small (recall is
    measured in docs/recommender.md).
    """
    vectors = _csr32(vectors)
    published = np.asarray(published, dtype=np.float64)
    order = np.argsort(published, kind="stable")
    times = published[order]
    starts = [0]
    while True:
        nxt = int(np.searchsorted(times, times[starts[-1]] + window / 2, side="right"))
        if nxt >= len(times):
            break
        starts.append(nxt)
    bounds = [*starts, len(times)]
    blocks = [order[a:b] for a, b in pairwise(bounds)]
    transposed = [vectors[rows].T.tocsr() for rows in blocks]
    rows_total = vectors.shape[0]
    positions = np.full((rows_total, n), -1, dtype=np.int64)
    scores = np.zeros((rows_total, n), dtype=np.float32)
    for b, rows in enumerate(blocks):
        near = range(max(0, b - 2), min(len(blocks), b + 3))
        for start in range(0, len(rows), chunk_rows):
            chunk = rows[start : start + chunk_rows]
            queries = vectors[chunk]
            parts_pos, parts_val = [], []
            for other in near:
                product = sp_matmul_topn(
                    queries, transposed[other], top_n=2 * n + 1, n_threads=n_threads or None
                )
                pos, val = _padded(product, 2 * n + 1)
                has = pos >= 0
                pos[has] = blocks[other][pos[has]]
                parts_pos.append(pos)
                parts_val.append(val)
            pos, val = np.hstack(parts_pos), np.hstack(parts_val)
            has = pos >= 0
            gap = np.full(pos.shape, np.inf)
            gap[has] = np.abs(
                published[pos[has]] - published[chunk][:, None].repeat(pos.shape[1], axis=1)[has]
            )
            val = np.where(has & (pos != chunk[:, None]) & (gap <= window), val, -np.inf)
            top = _top_columns(val, n)
            chosen = np.take_along_axis(val, top, axis=1)
            ok = np.isfinite(chosen) & (chosen > 0)
            positions[chunk] = np.where(ok, np.take_along_axis(pos, top, axis=1), -1)
            scores[chunk] = np.where(ok, chosen, 0.0)
    return Neighbours(positions, scores)
