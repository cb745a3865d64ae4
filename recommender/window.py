"""The recency window (`related_max_age_days` > 0): a full build and a load that hold only a
window's rows in memory, whatever the archive's size.

With a window no list holds an article published further from its owner than the window, fill
items included, so nothing else matters to a list. The full build (`rebuild`) reads the store in
time order (`Store.iter_articles_by_time`), so positions are time order and every window is a
range of rows; it vectorises batch by batch and spills the counts to a temporary file (`Spill`),
fits the IDF and the latent space, then walks the archive block by block (blocks of half a
window, `index.time_blocks`): the neighbours of block b + 2 are searched in blocks b .. b + 4,
and the lists of block b are ranked in an `IndexState` of blocks b - 2 .. b + 2 (every candidate
and every neighbour row the ranking reads), written with one `put_related` per block. Seven
blocks' rows are in memory at a time: at 1,000 articles a day and a 7-day window, 24,500.

The engine keeps the last window only (`last_window`): an add searches, ranks and enters only
lists of articles within the window, at a cost set by the window, not the archive. A new process
loads the same (`Store.iter_articles_by_time` from the newest article minus the window).

Unlike the in-memory build, lists are written block by block: while a rebuild runs, readers see
new lists for the blocks already done and the old ones for the rest (each list whole).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from tqdm import tqdm

from recommender.build import ListChunk, Plan, count_batches, decoded, lists_in
from recommender.index import (
    IndexArray,
    Neighbours,
    PairLookup,
    _ranges,
    block_neighbours,
    time_blocks,
)
from recommender.latent import FIT_ROWS, LatentSpace
from recommender.pool import fork_map
from recommender.rank import DAY
from recommender.settings import RelatedSettings
from recommender.state import Columns, IndexState
from recommender.vectorize import ArticleVectorizer, Names, TermNames
from store.base import Store
from store.models import Article, RelatedItem


def seconds(settings: RelatedSettings) -> float:
    """The window in seconds; 0: no window."""
    return settings.max_age_days * DAY


def last_window(store: Store, settings: RelatedSettings) -> Iterator[Article]:
    """The articles of the newest window, oldest first: what an engine keeps in memory."""
    newest = store.latest_articles(limit=1)
    if not newest:
        return iter(())
    since = newest[0].published - timedelta(seconds=seconds(settings))
    return store.iter_articles_by_time(since=since)


class Spill:
    """Term counts on disk, appended batch by batch, read back by ranges of rows: the archive's
    counts never in memory at once (at 1M articles they take 2 GB)."""

    def __init__(self, folder: Path, width: int):
        self.width = width
        self._folder = folder
        self._indices: BinaryIO | None = open(folder / "indices", "wb")  # noqa: SIM115
        self._data: BinaryIO | None = open(folder / "data", "wb")  # noqa: SIM115
        self._indptr = [np.zeros(1, dtype=np.int64)]
        self._nnz = 0

    def append(self, counts: sp.csr_matrix) -> None:
        assert self._indices is not None and self._data is not None, "sealed"
        self._indices.write(np.ascontiguousarray(counts.indices, dtype=np.int32).tobytes())
        self._data.write(np.ascontiguousarray(counts.data, dtype=np.float32).tobytes())
        self._indptr.append(np.asarray(counts.indptr[1:], dtype=np.int64) + self._nnz)
        self._nnz += counts.nnz

    def seal(self) -> None:
        """Stop appending; from now on rows are read back (memory-mapped)."""
        assert self._indices is not None and self._data is not None, "sealed twice"
        self._indices.close()
        self._data.close()
        self._indices = self._data = None
        self.indptr = np.concatenate(self._indptr)
        self._indptr = []
        self._all_indices: npt.NDArray[np.int32]
        self._all_data: npt.NDArray[np.float32]
        if self._nnz:
            self._all_indices = np.memmap(self._folder / "indices", dtype=np.int32, mode="r")
            self._all_data = np.memmap(self._folder / "data", dtype=np.float32, mode="r")
        else:
            self._all_indices = np.zeros(0, dtype=np.int32)
            self._all_data = np.zeros(0, dtype=np.float32)

    def rows(self, start: int, stop: int) -> sp.csr_matrix:
        """The counts of rows start .. stop - 1, copied into memory."""
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        return sp.csr_matrix(
            (
                np.array(self._all_data[lo:hi]),
                np.array(self._all_indices[lo:hi]),
                self.indptr[start : stop + 1] - lo,
            ),
            shape=(stop - start, self.width),
        )

    def gather(self, positions: IndexArray) -> sp.csr_matrix:
        """The counts of these rows, in this order, copied into memory."""
        starts = self.indptr[positions]
        lengths = self.indptr[positions + 1] - starts
        indptr = np.zeros(len(positions) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        take = _ranges(starts, lengths)
        return sp.csr_matrix(
            (np.asarray(self._all_data[take]), np.asarray(self._all_indices[take]), indptr),
            shape=(len(positions), self.width),
        )


@dataclass
class Built:
    """A windowed build: the engine's state (the last window), every article's neighbour row
    by time-ordered position (with `keep`), the ids at those positions, lists written."""

    state: IndexState
    neighbours: Neighbours | None
    ids: list[str]
    lists: int


def rebuild(
    store: Store,
    settings: RelatedSettings,
    vectorizer: ArticleVectorizer,
    names: TermNames,
    plan: Plan,
    *,
    version: str,
    seq: int,
    block_rows: int,
    progress: bool = False,
    keep: bool = False,
) -> Built | None:
    """Fit the model on every stored article and write every list, a window's rows in memory
    at a time (the module's docstring). None for an empty store. keep: every article's
    neighbour row is kept for `Built.neighbours` (measurement), not only the blocks' in use."""
    columns = Columns()
    with tempfile.TemporaryDirectory(prefix="quantam-reindex-") as folder:
        spill = Spill(Path(folder), vectorizer.n_features)
        df = np.zeros(vectorizer.n_features, dtype=np.int64)
        articles = store.iter_articles_by_time()
        for counts in count_batches(articles, columns, vectorizer, names, plan, progress):
            df += np.bincount(counts.indices, minlength=vectorizer.n_features)
            spill.append(counts)
        spill.seal()
        n = len(columns.ids)
        if not n:
            return None
        vectorizer.fit_df(df, n)
        del df
        latent = _fit_latent(spill, vectorizer, settings)
        walk = _Walk(spill, vectorizer, settings, names, plan, columns, latent, version, seq, keep)
        blocks = time_blocks(np.asarray(columns.published, dtype=np.float64), seconds(settings))
        bounds = [(int(b[0]), int(b[-1]) + 1) for b in blocks]
        written = 0
        for b in tqdm(range(len(bounds)), desc="windows", unit=" blocks", disable=not progress):
            lists = walk.lists_of(bounds, b, block_rows)
            store.put_related(lists)
            written += len(lists)
        walk.weighed.clear()
        newest = columns.published[-1] - seconds(settings)
        first = int(np.searchsorted(np.asarray(columns.published), newest, side="left"))
        state = walk.state_of(first, n, vectorizer.weigh(spill.rows(first, n)), block_rows)
    return Built(state, walk.neighbours() if keep else None, columns.ids, written)


def _fit_latent(
    spill: Spill, vectorizer: ArticleVectorizer, settings: RelatedSettings
) -> LatentSpace | None:
    """The latent space, fitted on the rows `LatentSpace.fit` would sample of the whole
    matrix (the same seed), read back from the spill."""
    if settings.latent_weight <= 0:
        return None
    n = len(spill.indptr) - 1
    if n > FIT_ROWS:
        pick = np.sort(np.random.default_rng(0).choice(n, FIT_ROWS, replace=False))
    else:
        pick = np.arange(n)
    sample = spill.gather(pick)
    return LatentSpace.fit(vectorizer.weigh(sample), settings.latent_dims, fit_rows=FIT_ROWS)


class _Walk:
    """The block-by-block part of `rebuild`: weighed blocks cached while within reach, the
    neighbour table filled two blocks ahead of the lists."""

    def __init__(
        self,
        spill: Spill,
        vectorizer: ArticleVectorizer,
        settings: RelatedSettings,
        names: Names,
        plan: Plan,
        columns: Columns,
        latent: LatentSpace | None,
        version: str,
        seq: int,
        keep: bool,
    ):
        self.spill, self.vectorizer, self.settings, self.names = spill, vectorizer, settings, names
        self.plan, self.columns, self.latent, self.version, self.seq = (
            plan,
            columns,
            latent,
            version,
            seq,
        )
        self.published = np.asarray(columns.published, dtype=np.float64)
        # each searched block's neighbour rows (global positions), dropped once no list needs
        # them unless `keep` (measurement: 360 bytes an article)
        self.found: dict[int, Neighbours] = {}
        self.keep = keep
        self.weighed: dict[int, sp.csr_matrix] = {}
        self.searched = 0  # blocks searched so far

    def _block(self, bounds: list[tuple[int, int]], k: int) -> sp.csr_matrix:
        if k not in self.weighed:
            self.weighed[k] = self.vectorizer.weigh(self.spill.rows(*bounds[k]))
        return self.weighed[k]

    def _search(self, bounds: list[tuple[int, int]], c: int) -> None:
        """Block c's neighbours, searched in the blocks c - 2 .. c + 2."""
        near = range(max(0, c - 2), min(len(bounds), c + 3))
        base = bounds[near.start][0]
        matrix = sp.vstack([self._block(bounds, k) for k in near], format="csr")
        local = [np.arange(bounds[k][0] - base, bounds[k][1] - base) for k in near]
        rows = bounds[near.stop - 1][1] - base
        out = Neighbours(
            np.full((rows, self.settings.pool), -1, dtype=np.int64),
            np.zeros((rows, self.settings.pool), dtype=np.float32),
        )
        block_neighbours(
            matrix,
            self.published[base : base + rows],
            local,
            c - near.start,
            seconds(self.settings),
            out,
            {},
            self.settings.threads,
        )
        lo, hi = bounds[c]
        got = out.positions[lo - base : hi - base]
        self.found[c] = Neighbours(
            np.where(got >= 0, got + base, -1), out.scores[lo - base : hi - base].copy()
        )

    def neighbours(self) -> Neighbours:
        """Every kept block's neighbour rows, in position order (`keep`: all of them)."""
        if not self.found:
            pool = self.settings.pool
            return Neighbours(np.zeros((0, pool), np.int64), np.zeros((0, pool), np.float32))
        parts = [self.found[k] for k in sorted(self.found)]
        return Neighbours(
            np.vstack([p.positions for p in parts]), np.vstack([p.scores for p in parts])
        )

    def state_of(self, lo: int, hi: int, vectors: sp.csr_matrix, block_rows: int) -> IndexState:
        """An engine state of the rows lo .. hi - 1."""
        c = self.columns
        return IndexState.of(
            self.vectorizer,
            vectors,
            Columns(c.ids[lo:hi], c.published[lo:hi], c.category[lo:hi]),
            version=self.version,
            seq=self.seq,
            latent=self.latent,
            settings=self.settings,
            block_rows=block_rows,
        )

    def lists_of(
        self, bounds: list[tuple[int, int]], b: int, block_rows: int
    ) -> dict[str, list[RelatedItem]]:
        """Block b's lists, ranked in an engine state of blocks b - 2 .. b + 2."""
        while self.searched < min(len(bounds), b + 3):
            self._search(bounds, self.searched)
            self.searched += 1
        for gone in [k for k in self.weighed if k < b - 2]:
            del self.weighed[gone]
        for gone in [k for k in self.found if k < b - 2 and not self.keep]:
            del self.found[gone]
        near = range(max(0, b - 2), min(len(bounds), b + 3))
        lo, hi = bounds[near.start][0], bounds[near.stop - 1][1]
        matrix = sp.vstack([self._block(bounds, k) for k in near], format="csr")
        state = self.state_of(lo, hi, matrix, block_rows)
        positions = np.vstack([self.found[k].positions for k in near])
        scores = np.vstack([self.found[k].scores for k in near])
        inside = (positions >= lo) & (positions < hi)
        found = Neighbours(np.where(inside, positions - lo, -1), scores)
        start, stop = bounds[b][0] - lo, bounds[b][1] - lo
        latest = self._fill(state, start, stop)
        job = partial(
            lists_in, state, self.settings, found, self.names, latest, PairLookup(found).matrix
        )
        step = self.plan.list_chunk
        ranges = [(a, min(stop, a + step)) for a in range(start, stop, step)]
        lists: dict[str, list[RelatedItem]] = {}
        chunk: ListChunk
        for chunk in fork_map(job, ranges, self.plan.workers if len(ranges) > 1 else 1):
            for row in range(len(chunk.positions)):
                owner = state.ids[chunk.start + row]
                lists[owner] = decoded(chunk, row, state.ids, self.names)
        return lists

    def _fill(self, state: IndexState, start: int, stop: int) -> dict[str, list[str]]:
        """Each category's newest articles within the window of every article of the block
        (positions start .. stop - 1 of the state): what its lists are filled from."""
        published = np.asarray(state.published)
        reach = seconds(self.settings)
        near = (published >= published[stop - 1] - reach) & (published <= published[start] + reach)
        out: dict[str, list[str]] = {}
        for p in np.flatnonzero(near)[::-1].tolist():
            bucket = out.setdefault(state.category[p], [])
            if len(bucket) < state.latest_size:
                bucket.append(state.ids[p])
        return out
