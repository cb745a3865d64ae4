"""Nearest neighbours by cosine over L2-normalised sparse vectors, kept current without a refit.

All-pairs top-k goes through `sparse_dot_topn`: a compiled, multi-threaded sparse product that
keeps only each row's best `n` while it multiplies, in chunks of rows, so neither a dense N x N
matrix nor a whole similarity row is ever materialised or sorted. The product is exact (no
pruning); its cost is governed by the vectoriser's `max_df`, which drops the terms shared by so
many articles that they only add work and noise (docs/recommender.md has the measurements).

New articles go to a small row buffer that is searched by a sparse matrix-vector product; a full
buffer is sealed into a segment with its own inverted lists, and segments of one size are merged
four at a time up to a cap (as a search engine merges its segments), so an add never waits for a
transpose of the whole archive. Removed articles are masked out; a reindex starts over.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sparse_dot_topn import sp_matmul_topn

SMALL_BATCH = 16
# Up to this many rows, `vectors` gathers the CSR arrays itself (scipy's fancy indexing costs
# a fixed ~0.2 ms a call).
SMALL_GATHER = 256
# Up to this many rows, `rows` copies row slices one by one.
FEW_ROWS = 64
# Sealed segments of one size tier are merged this many at a time, up to SEGMENT_CAP buffers.
MERGE_FAN = 4
SEGMENT_CAP = 32

# Arrays by article: index positions (-1 pads), cosine similarities, and a CSR matrix's parts
# (bucket numbers, weights). Index arrays come as int32 or int64 (scipy picks by size).
Positions = npt.NDArray[np.int64]
Similarities = npt.NDArray[np.float32]
Columns = npt.NDArray[np.int32]
Weights = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int32 | np.int64]


@dataclass(frozen=True)
class Neighbours:
    """Rows of candidate positions and cosine similarities, best first; -1 pads short rows."""

    positions: Positions  # (rows, n)
    scores: Similarities  # (rows, n)

    def row(self, i: int) -> tuple[Positions, Similarities]:
        keep = self.positions[i] >= 0
        return self.positions[i][keep], self.scores[i][keep]


class Rows:
    """A few rows as bare CSR arrays (sorted indices, float32): what the per-article steps
    read, without a scipy matrix's construction and checks."""

    __slots__ = ("data", "indices", "indptr", "width")

    def __init__(self, indptr: IndexArray, indices: Columns, data: Weights, width: int):
        self.indptr, self.indices, self.data, self.width = indptr, indices, data, width

    @classmethod
    def of(cls, matrix: sp.csr_matrix) -> Rows:
        matrix = _csr32(matrix)
        return cls(matrix.indptr, matrix.indices, matrix.data, matrix.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.width

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def csr(self) -> sp.csr_matrix:
        out = sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape, copy=False)
        out.has_sorted_indices = True
        return out


class _Segment:
    """Sealed rows at positions start.. with inverted lists over only the columns they use (a
    transpose over the whole hashed width would cost 16 MB of pointers per segment)."""

    __slots__ = ("inverted", "matrix", "start", "terms")

    def __init__(self, start: int, matrix: sp.csr_matrix):
        self.start = start
        self.matrix = matrix
        # The columns in use, sorted, and each entry's number among them, by two tables over the
        # hashed width rather than a sort of every entry (np.unique took seconds for 64,000 rows).
        used = np.zeros(matrix.shape[1], dtype=bool)
        used[matrix.indices] = True
        self.terms = np.flatnonzero(used).astype(np.int32)
        number = np.empty(matrix.shape[1], dtype=np.int32)
        number[self.terms] = np.arange(len(self.terms), dtype=np.int32)
        compact = sp.csr_matrix(
            (matrix.data, number[matrix.indices], matrix.indptr),
            shape=(matrix.shape[0], len(self.terms)),
        )
        self.inverted = compact.T.tocsr()

    @property
    def rows(self) -> int:
        return int(self.matrix.shape[0])

    def local(self, indices: Columns) -> tuple[npt.NDArray[np.bool_], Positions]:
        """Which of these columns the segment uses (a mask), and their local numbers."""
        if not len(self.terms):
            return np.zeros(len(indices), dtype=bool), np.zeros(0, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.terms, indices), len(self.terms) - 1)
        hit = self.terms[at] == indices
        return hit, at[hit]

    def local_queries(self, queries: sp.csr_matrix) -> sp.csr_matrix:
        """The queries over the segment's own columns."""
        hit, at = self.local(queries.indices)
        rows = queries.shape[0]
        owner = np.repeat(np.arange(rows), np.diff(queries.indptr))
        indptr = np.zeros(rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[hit], minlength=rows), out=indptr[1:])
        return sp.csr_matrix(
            (queries.data[hit], at.astype(np.int32), indptr), shape=(rows, len(self.terms))
        )


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
        self._main_t_cache: sp.csr_matrix | None = None
        self._sealed: list[_Segment] = []
        self._reset_buffer()
        self.alive = np.ones(vectors.shape[0], dtype=bool)

    def _reset_buffer(self) -> None:
        # The buffer's rows as growing CSR arrays (capacity doubles): an add appends one row
        # instead of re-stacking the buffer.
        self._b_rows = 0
        self._b_nnz = 0
        self._b_indptr = np.zeros(64, dtype=np.int64)
        self._b_indices = np.zeros(1 << 14, dtype=np.int32)
        self._b_data = np.zeros(1 << 14, dtype=np.float32)
        # column -> its entry numbers as packed little-endian int32: a bytearray is invisible to
        # the cyclic GC, where a list per column made every full collection walk them all
        self._b_postings: dict[int, bytearray] = {}

    @property
    def _main_t(self) -> sp.csr_matrix:
        """The main matrix's inverted lists, transposed on first use: as large as the matrix,
        so a full build that searches by blocks (`windowed_neighbours`) never holds both
        while it computes every article's neighbours and lists."""
        if self._main_t_cache is None:
            self._main_t_cache = self._main.T.tocsr()
        return self._main_t_cache

    def prepare(self) -> None:
        """Build the inverted lists now rather than in the first search."""
        _ = self._main_t

    def matrix(self) -> sp.csr_matrix:
        """Every row in position order; the main matrix itself (no copy) when nothing is
        buffered."""
        if not self._b_rows and not self._sealed:
            return self._main
        return self.vectors(np.arange(self.size))

    @property
    def size(self) -> int:
        return self._buffer_start + self._b_rows

    @property
    def _buffer_start(self) -> int:
        if self._sealed:
            return self._sealed[-1].start + self._sealed[-1].rows
        return int(self._main.shape[0])

    def _sources(self) -> list[tuple[int, IndexArray, Columns, Weights]]:
        """(first position, indptr, indices, data) of the main matrix, each sealed segment and
        the buffer, in position order."""
        out: list[tuple[int, IndexArray, Columns, Weights]]
        out = [(0, self._main.indptr, self._main.indices, self._main.data)]
        out += [(g.start, g.matrix.indptr, g.matrix.indices, g.matrix.data) for g in self._sealed]
        out.append((self._buffer_start, self._b_indptr, self._b_indices, self._b_data))
        return out

    @property
    def n_features(self) -> int:
        return int(self._main.shape[1])

    @property
    def stored(self) -> int:
        """Entries held, removed rows included (what a copy of every row would hold)."""
        sealed = sum(int(g.matrix.nnz) for g in self._sealed)
        return int(self._main.nnz) + sealed + self._b_nnz

    def vector(self, position: int) -> sp.csr_matrix:
        return self.rows(np.array([position], dtype=np.int64)).csr()

    def vectors(self, positions: Positions) -> sp.csr_matrix:
        """Rows for these positions, in that order (sorted indices, float32)."""
        positions = np.asarray(positions, dtype=np.int64).ravel()
        if len(positions) > SMALL_GATHER and positions.max() < self._main.shape[0]:
            return self._main[positions]
        return self.rows(positions).csr()

    def rows(self, positions: Positions | Sequence[int]) -> Rows:
        """Rows for these positions, in that order, as bare CSR arrays (for a few rows)."""
        positions = np.asarray(positions, dtype=np.int64).ravel()
        if len(positions) <= FEW_ROWS:
            return self._few_rows(positions)
        main = self._main.shape[0]
        if len(positions) == 0 or positions.max() < main:
            starts = self._main.indptr[positions]
            lengths = self._main.indptr[positions + 1] - starts
            indptr = np.zeros(len(positions) + 1, dtype=np.int64)
            np.cumsum(lengths, out=indptr[1:])
            take = _ranges(starts, lengths)
            return Rows(indptr, self._main.indices[take], self._main.data[take], self.n_features)
        sources = self._sources()
        firsts = np.array([first for first, *_ in sources], dtype=np.int64)
        part = np.searchsorted(firsts, positions, side="right") - 1
        starts = np.empty(len(positions), dtype=np.int64)
        lengths = np.empty(len(positions), dtype=np.int64)
        for k, (first, source_indptr, _, _) in enumerate(sources):
            pick = part == k
            if pick.any():
                local = positions[pick] - first
                starts[pick] = source_indptr[local]
                lengths[pick] = source_indptr[local + 1] - starts[pick]
        indptr = np.zeros(len(positions) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        for k, (_, _, source_indices, source_data) in enumerate(sources):
            pick = part == k
            if not pick.any():
                continue
            src = _ranges(starts[pick], lengths[pick])
            dst = _ranges(indptr[:-1][pick], lengths[pick])
            indices[dst] = source_indices[src]
            data[dst] = source_data[src]
        return Rows(indptr, indices, data, self.n_features)

    def _few_rows(self, positions: Positions) -> Rows:
        """`rows` for a handful of positions: slices joined by one copy, cheaper than the
        vectorised gather's set-up at the sizes an add asks for."""
        main = self._main.shape[0]
        m_indptr, m_indices, m_data = self._main.indptr, self._main.indices, self._main.data
        sources = self._sources() if len(positions) and positions.max() >= main else []
        firsts = [first for first, *_ in sources]
        indices, data = [], []
        for p in positions.tolist():
            if p < main:
                lo, hi = m_indptr[p], m_indptr[p + 1]
                indices.append(m_indices[lo:hi])
                data.append(m_data[lo:hi])
            else:
                first, indptr, source_indices, source_data = sources[bisect_right(firsts, p) - 1]
                lo, hi = indptr[p - first], indptr[p - first + 1]
                indices.append(source_indices[lo:hi])
                data.append(source_data[lo:hi])
        indptr = np.zeros(len(positions) + 1, dtype=np.int64)
        if not indices:
            return Rows(indptr, np.zeros(0, np.int32), np.zeros(0, np.float32), self.n_features)
        np.cumsum([len(i) for i in indices], out=indptr[1:])
        return Rows(indptr, np.concatenate(indices), np.concatenate(data), self.n_features)

    def _buffered(self) -> sp.csr_matrix:
        n, nnz = self._b_rows, self._b_nnz
        return sp.csr_matrix(
            (self._b_data[:nnz], self._b_indices[:nnz], self._b_indptr[: n + 1]),
            shape=(n, self.n_features),
            copy=False,
        )

    def add(self, vector: sp.csr_matrix) -> int:
        """Append one vector; its position is returned."""
        row = _csr32(vector)
        nnz = row.nnz
        if self._b_rows + 2 > len(self._b_indptr):
            self._b_indptr = np.resize(self._b_indptr, 2 * len(self._b_indptr))
        if self._b_nnz + nnz > len(self._b_indices):
            capacity = max(2 * len(self._b_indices), self._b_nnz + nnz)
            self._b_indices = np.resize(self._b_indices, capacity)
            self._b_data = np.resize(self._b_data, capacity)
        self._b_indices[self._b_nnz : self._b_nnz + nnz] = row.indices
        postings = self._b_postings
        for entry, column in enumerate(row.indices.tolist(), self._b_nnz):
            packed = entry.to_bytes(4, "little")
            hit = postings.get(column)
            if hit is None:
                postings[column] = bytearray(packed)
            else:
                hit += packed
        self._b_data[self._b_nnz : self._b_nnz + nnz] = row.data
        self._b_nnz += nnz
        self._b_rows += 1
        self._b_indptr[self._b_rows] = self._b_nnz
        self.alive = np.append(self.alive, True)
        if self._b_rows >= self.buffer_max:
            self._seal()
        return self.size - 1

    def remove(self, position: int) -> None:
        self.alive[position] = False

    def _seal(self) -> None:
        """Turn the full buffer into a segment; merge the newest segments while MERGE_FAN of
        them share a size tier below the cap (each row is merged a few times, never the
        archive at once)."""
        buffered = self._buffered().copy()
        self._sealed.append(_Segment(self._buffer_start, buffered))
        self._reset_buffer()
        cap = SEGMENT_CAP * self.buffer_max
        while len(self._sealed) >= MERGE_FAN:
            last = self._sealed[-MERGE_FAN:]
            tier = {_tier(g.rows, self.buffer_max) for g in last}
            if len(tier) > 1 or sum(g.rows for g in last) > cap:
                break
            merged = sp.vstack([g.matrix for g in last], format="csr")
            del self._sealed[-MERGE_FAN:]
            self._sealed.append(_Segment(last[0].start, merged))

    def search(
        self, queries: sp.csr_matrix | Rows, n: int, exclude_self_from: int | None = None
    ) -> Neighbours:
        """The n most similar live articles for each query row.

        exclude_self_from: when the queries are the index's own rows starting at this position,
        each row's own position is left out.
        """
        if not isinstance(queries, Rows):
            queries = _csr32(queries)
        rows = queries.shape[0]
        positions = np.full((rows, n), -1, dtype=np.int64)
        scores = np.zeros((rows, n), dtype=np.float32)
        if rows <= SMALL_BATCH:
            # One query at a time over the inverted lists of its own terms: sparse_dot_topn's
            # and scipy's per-call set-up dominate a single query.
            for r in range(rows):
                lo, hi = queries.indptr[r], queries.indptr[r + 1]
                own = None if exclude_self_from is None else exclude_self_from + r
                pos, val = self._search_one(queries.indices[lo:hi], queries.data[lo:hi], n, own)
                positions[r, : len(pos)] = pos
                scores[r, : len(val)] = val
            return Neighbours(positions, scores)
        queries = queries.csr() if isinstance(queries, Rows) else queries
        dead = int((~self.alive).sum())
        want = n + dead + (1 if exclude_self_from is not None else 0)
        for start in range(0, rows, self.chunk_rows):
            stop = min(start + self.chunk_rows, rows)
            pos, val = self._search_chunk(queries[start:stop], want)
            if exclude_self_from is not None:
                itself = np.arange(start, stop)[:, None] + exclude_self_from
                val = np.where(pos == itself, -np.inf, val)
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

    def _search_one(
        self, indices: Columns, data: Weights, n: int, own: int | None
    ) -> tuple[Positions, Similarities]:
        """One query's n best live positions (score > 0), best first; ties by position."""
        return self.best(self.similarities(indices, data), n, own)

    def similarities(self, indices: Columns, data: Weights) -> Similarities:
        """One query's cosine with every position (removed ones included), by position:
        the query terms' inverted lists, weighted and summed (float32, as scipy's product)."""
        main = self._main.shape[0]
        scores = np.zeros(self.size, dtype=np.float32)
        if main and len(indices):
            scores[:main] = self._main_t[indices].T @ data
        for segment in self._sealed:
            hit, at = segment.local(indices)
            if len(at):
                lo = segment.start
                scores[lo : lo + segment.rows] = segment.inverted[at].T @ data[hit]
        if self._b_rows and len(indices):
            # The buffer: its inverted lists are packed entry numbers, one per column.
            hits = list(map(self._b_postings.get, indices.tolist()))
            picked = [i for i, hit in enumerate(hits) if hit is not None]
            if picked:
                found = [hit for hit in hits if hit is not None]
                entry = np.frombuffer(b"".join(found), dtype="<i4")
                lengths = np.fromiter(map(len, found), dtype=np.int64, count=len(found)) // 4
                owner = np.searchsorted(self._b_indptr[1 : self._b_rows + 1], entry, "right")
                scores[self._buffer_start :] = np.bincount(
                    owner,
                    weights=self._b_data[entry] * np.repeat(data[picked], lengths),
                    minlength=self._b_rows,
                )
        return scores

    def best(
        self, scores: Similarities, n: int, own: int | None = None
    ) -> tuple[Positions, Similarities]:
        """The n best live positions by these scores (> 0 only, `own` left out), best first;
        equal scores by position."""
        # Partition first: of all positions only the best n, plus as many as could be removed
        # or be the article itself, can be among the n best live ones.
        want = n + len(self.alive) - int(np.count_nonzero(self.alive)) + (own is not None)
        if want < len(scores):
            found = np.argpartition(scores, len(scores) - want)[len(scores) - want :]
            found = found[scores[found] > 0]
        else:
            found = np.flatnonzero(scores > 0)
        found = found[self.alive[found]]
        if own is not None:
            found = found[found != own]
        values = scores[found]
        order = np.lexsort((found, -values))[:n]
        return found[order], values[order]

    def _search_chunk(self, queries: sp.csr_matrix, want: int) -> tuple[Positions, Similarities]:
        """Candidate positions and scores (rows x m, -1 / -inf padded) from main and buffer."""
        parts_pos, parts_val = [], []
        if self._main.shape[0]:
            product = sp_matmul_topn(
                queries, self._main_t, top_n=want, n_threads=self.n_threads or None
            )
            p, v = _padded(product, want)
            parts_pos.append(p)
            parts_val.append(v)
        for segment in self._sealed:
            product = sp_matmul_topn(
                segment.local_queries(queries),
                segment.inverted,
                top_n=min(want, segment.rows),
                n_threads=self.n_threads or None,
            )
            p, v = _padded(product, min(want, segment.rows))
            p[p >= 0] += segment.start
            parts_pos.append(p)
            parts_val.append(v)
        if self._b_rows:
            # queries x buffer over only the columns the buffer uses (no hashed-width transpose)
            buffered = self._buffered()
            product = (queries @ buffered.T).toarray()
            dense = np.where(product > 0, product, -np.inf).astype(np.float32)
            offset = self._buffer_start
            parts_pos.append(
                np.broadcast_to(np.arange(dense.shape[1]) + offset, dense.shape).copy()
            )
            parts_val.append(dense)
        if not parts_pos:
            empty = np.zeros((queries.shape[0], 0))
            return empty.astype(np.int64), empty.astype(np.float32)
        return np.hstack(parts_pos), np.hstack(parts_val)


def _tier(rows: int, unit: int) -> int:
    """A segment's size tier: 0 for one buffer, 1 for MERGE_FAN buffers, and so on."""
    tier = 0
    while rows >= unit * MERGE_FAN:
        rows //= MERGE_FAN
        tier += 1
    return tier


def _ranges(starts: IndexArray, lengths: IndexArray) -> Positions:
    """The concatenation of range(start, start + length) for each pair (vectorised)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - lengths), lengths)
    out: Positions = np.arange(total, dtype=np.int64) + shift
    return out


_scratch = threading.local()


def gram(rows: sp.csr_matrix | Rows) -> Similarities:
    """Pairwise dot products of a few rows, over only the columns at least two of them use (a
    scipy product would transpose the whole hashed width): a per-thread table from column to
    one of its entries groups the entries by column without sorting them, then a small dense
    product; the diagonal from each row's own entries."""
    n, columns = rows.shape[0], rows.indices
    nnz = len(columns)
    slot = getattr(_scratch, "slot", None)
    if slot is None or len(slot) < rows.shape[1]:
        # never cleared: every column read below was written first
        slot = _scratch.slot = np.empty(rows.shape[1], dtype=np.int32)
    entry = np.arange(nnz, dtype=np.int32)
    slot[columns] = entry
    first = slot[columns]  # for each entry, the one entry standing for its column
    shared = np.bincount(first, minlength=nnz)[first] > 1
    standing = (first == entry) & shared
    number = np.cumsum(standing) - 1
    picked = np.flatnonzero(shared)
    owner = np.repeat(np.arange(n), np.diff(rows.indptr))
    dense = np.zeros((n, int(np.count_nonzero(standing))), dtype=np.float32)
    dense[owner[picked], number[first[picked]]] = rows.data[picked]
    # numpy's own loop, not BLAS: an add's product (28 x ~3,000) is too small for BLAS's
    # threads, which on a busy machine waited for a core: 130 ms per add on average at 10k
    # articles (load 10), against 0.6 ms here
    out: Similarities = np.einsum("ik,jk->ij", dense, dense)
    out[np.diag_indices(n)] = np.bincount(
        owner, weights=np.square(rows.data, dtype=np.float64), minlength=n
    )
    return out


def shared_terms(row: sp.csr_matrix | Rows, others: sp.csr_matrix | Rows, n: int) -> list[Columns]:
    """For each of `others`, the columns contributing most to its dot product with `row`."""
    if len(row.indices) == 0:
        return [np.zeros(0, dtype=np.int32) for _ in range(others.shape[0])]
    owner = np.repeat(np.arange(others.shape[0]), np.diff(others.indptr))
    weights = _row_weights(row, others.indices)
    hit = weights != 0
    owner, cols = owner[hit], others.indices[hit]
    product = others.data[hit] * weights[hit]
    order = np.lexsort((-product, owner))
    owner, cols = owner[order], cols[order]
    starts = np.searchsorted(owner, np.arange(others.shape[0] + 1))
    return [cols[starts[i] : min(starts[i + 1], starts[i] + n)] for i in range(others.shape[0])]


def _row_weights(row: sp.csr_matrix | Rows, columns: Columns) -> Weights:
    """The row's weight at each of these columns, 0 where it has none (a binary search in the
    row's sorted indices: small arrays stay in cache, a dense copy of the row would not)."""
    mine = row.indices
    at = np.minimum(np.searchsorted(mine, columns), len(mine) - 1)
    return np.where(mine[at] == columns, row.data[at], np.float32(0.0))


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

    def matrix(self, positions: Positions) -> Similarities:
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


def dots(row: sp.csr_matrix | Rows, others: sp.csr_matrix | Rows) -> Similarities:
    """Dot products of one row with each of `others`, without a transpose."""
    if len(row.indices) == 0 or others.nnz == 0:
        return np.zeros(others.shape[0], dtype=np.float32)
    owner = np.repeat(np.arange(others.shape[0]), np.diff(others.indptr))
    return np.bincount(
        owner, weights=others.data * _row_weights(row, others.indices), minlength=others.shape[0]
    ).astype(np.float32)


def _padded(product: sp.csr_matrix, width: int) -> tuple[Positions, Similarities]:
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


def _top_columns(values: Similarities, n: int) -> Positions:
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


def empty_rows(width: int) -> sp.csr_matrix:
    """A float32 CSR matrix of no rows."""
    data, indices, indptr = np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int32)
    return sp.csr_matrix((data, indices, indptr), shape=(0, width))


def _csr32(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32)
    out.sort_indices()
    return out


def windowed_neighbours(
    vectors: sp.csr_matrix,
    published: npt.NDArray[np.float64],
    window: float,
    n: int,
    n_threads: int = 2,
    chunk_rows: int = 2000,
) -> Neighbours:
    """Each row's n most similar rows published at most `window` seconds apart.

    Rows are cut, in time order, into blocks spanning at most half the window (`time_blocks`);
    everything within reach of a row lies in its own block or the two on each side, so the cost
    grows with the archive times the window instead of the archive squared (the recency window
    of a large archive). `block_neighbours` searches one block.
    """
    vectors = _csr32(vectors)
    published = np.asarray(published, dtype=np.float64)
    blocks = time_blocks(published, window)
    # Only the blocks within reach of the current one are transposed at a time (a transpose
    # of every block would be a second copy of the whole matrix).
    transposed: dict[int, sp.csr_matrix] = {}
    rows_total = vectors.shape[0]
    out = Neighbours(
        np.full((rows_total, n), -1, dtype=np.int64), np.zeros((rows_total, n), dtype=np.float32)
    )
    for b in range(len(blocks)):
        block_neighbours(
            vectors, published, blocks, b, window, out, transposed, n_threads, chunk_rows
        )
    return out


def time_blocks(published: npt.NDArray[np.float64], window: float) -> list[Positions]:
    """Positions cut in time order into blocks spanning at most half the window each."""
    order = np.argsort(published, kind="stable")
    times = published[order]
    if not len(times):
        return []
    starts = [0]
    while True:
        nxt = int(np.searchsorted(times, times[starts[-1]] + window / 2, side="right"))
        if nxt >= len(times):
            break
        starts.append(nxt)
    return [order[a:b] for a, b in pairwise([*starts, len(times)])]


def block_neighbours(
    vectors: sp.csr_matrix,
    published: npt.NDArray[np.float64],
    blocks: Sequence[Positions],
    b: int,
    window: float,
    out: Neighbours,
    transposed: dict[int, sp.csr_matrix],
    n_threads: int = 2,
    chunk_rows: int = 2000,
) -> None:
    """The rows of block b's neighbours within the window, written into `out`, searched in the
    blocks b - 2 .. b + 2 only. `transposed` caches those blocks' inverted lists (older ones are
    dropped). The edge blocks also hold rows just outside the window, which are dropped after
    each block's best are taken; taking twice n per block keeps that loss small (recall 0.97,
    docs/recommender.md)."""
    n = out.positions.shape[1]
    near = range(max(0, b - 2), min(len(blocks), b + 3))
    for gone in [k for k in transposed if k < near.start]:
        del transposed[gone]
    for other in near:
        if other not in transposed:
            transposed[other] = vectors[blocks[other]].T.tocsr()
    rows = blocks[b]
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
        out.positions[chunk] = np.where(ok, np.take_along_axis(pos, top, axis=1), -1)
        out.scores[chunk] = np.where(ok, chosen, 0.0)
