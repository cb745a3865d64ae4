"""The full build: every stored article read, vectorised, searched and given its list.

Memory stays bounded by the archive's vectors, not its text: the store is read batch by batch
and each batch vectorised (in forked workers from `Plan.workers`), its text dropped at once; the
batches' counts are stacked into blocks and weighed into one matrix block by block
(`weighed`). Every article's neighbours come from the index in one pass (or by recency window);
the lists are ranked in chunks of positions, each chunk handed back as arrays (`ListChunk`),
and decoded one list at a time as the store writes them (`BuiltLists`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from tqdm import tqdm

from recommender.analyzer import PiecesMemo, pieces_mark, pieces_since, remember_pieces
from recommender.index import IndexArray, Neighbours, PairLookup
from recommender.lists import PairMatrix, ranked, reason_buckets
from recommender.pool import fork_map
from recommender.settings import RelatedSettings
from recommender.state import Columns, IndexState
from recommender.vectorize import Analysed, ArticleText, ArticleVectorizer, Names, TermNames
from store.base import Store
from store.models import Article, RelatedItem

# Rows searched at a time for every article's neighbours.
SEARCH_ROWS = 5000


@dataclass(frozen=True)
class Plan:
    """How a build divides its work: processes (1: this one), the rows of a stacked block of
    counts, the lists of one chunk."""

    workers: int
    stack_rows: int
    list_chunk: int


def read_vectors(
    store: Store,
    vectorizer: ArticleVectorizer,
    names: TermNames | None,
    plan: Plan,
    progress: bool = False,
    articles: Iterable[Article] | None = None,
) -> tuple[sp.csr_matrix, Columns] | None:
    """Every stored article's vector (or those of `articles`), read and vectorised batch by
    batch; with `names`, the model is fitted on them first (and the buckets named). None for an
    empty store."""
    columns = Columns()
    df = np.zeros(vectorizer.n_features, dtype=np.int64) if names is not None else None
    blocks: list[sp.csr_matrix | None] = []
    pending: list[sp.csr_matrix] = []
    source = store.iter_articles() if articles is None else articles
    for counts in count_batches(source, columns, vectorizer, names, plan, progress):
        if df is not None:
            df += np.bincount(counts.indices, minlength=vectorizer.n_features)
        pending.append(counts)
        if sum(p.shape[0] for p in pending) >= plan.stack_rows:
            blocks.append(sp.vstack(pending, format="csr"))
            pending = []
    if pending:
        blocks.append(sp.vstack(pending, format="csr"))
    del pending
    if not columns.ids:
        return None
    if df is not None:
        vectorizer.fit_df(df, len(columns.ids))
    return weighed(vectorizer, blocks), columns


def count_batches(
    articles: Iterable[Article],
    columns: Columns,
    vectorizer: ArticleVectorizer,
    names: TermNames | None,
    plan: Plan,
    progress: bool = False,
) -> Iterator[sp.csr_matrix]:
    """The articles' term counts, batch by batch, in order (vectorised in `plan.workers` forked
    processes); with `names`, the batches' buckets are named as they come.

    Only a few batches' text is in memory at a time (at most two per worker read ahead: one in
    work and one waiting, so no worker waits for the reader); of the articles, ids, dates and
    categories stay (`columns`)."""
    job = partial(vectorise_batch, vectorizer, plan.workers > 1)
    batches = text_batches(articles, columns, vectorizer.batch_size, progress)
    for analysed, memo in tqdm(
        fork_map(job, batches, plan.workers, ahead=2 * plan.workers),
        desc="vectorising",
        unit=" batches",
        disable=not progress,
    ):
        if names is not None:
            names.learn(analysed.terms, analysed.buckets, analysed.spellings)
        remember_pieces(memo)
        yield analysed.vectors


def text_batches(
    articles: Iterable[Article], columns: Columns, size: int, progress: bool = False
) -> Iterator[list[ArticleText]]:
    """Articles as batches of vectoriser text; their ids, dates and categories go to `columns`
    as they are read."""
    batch: list[ArticleText] = []
    seen: dict[str, str] = {}
    for article in tqdm(articles, desc="reading", unit=" articles", disable=not progress):
        columns.ids.append(article.id)
        columns.published.append(article.published.timestamp())
        columns.category.append(seen.setdefault(article.category, article.category))
        batch.append(ArticleText.of(article))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def vectorise_batch(
    vectorizer: ArticleVectorizer, forked: bool, texts: Sequence[ArticleText]
) -> tuple[Analysed, PiecesMemo]:
    """One batch's counts and term buckets (its per-document terms are not needed), and, in a
    forked worker, what the analyzer memorised meanwhile (so the parent's adds start warm)."""
    mark = pieces_mark() if forked else None
    analysed = vectorizer.counts(texts)
    memo = pieces_since(mark) if mark is not None else {}
    return Analysed(analysed.vectors, [], analysed.buckets, analysed.spellings), memo


def weighed(vectorizer: ArticleVectorizer, blocks: list[sp.csr_matrix | None]) -> sp.csr_matrix:
    """The blocks' counts IDF-weighted and normalised, as one matrix: written into arrays of
    the final size block by block, each block freed once copied (never the whole matrix
    twice, as stacking then weighing would). Row by row the same as `weigh` of the stack."""
    idf = vectorizer.tfidf_.idf_
    rows = sum(b.shape[0] for b in blocks if b is not None)
    nnz = sum(int(np.count_nonzero(idf[b.indices])) for b in blocks if b is not None)
    index: type[np.int32] | type[np.int64] = np.int32 if max(nnz, rows) < 2**31 else np.int64
    indptr: IndexArray = np.zeros(rows + 1, dtype=index)
    indices: IndexArray = np.empty(nnz, dtype=index)
    data = np.empty(nnz, dtype=np.float32)
    row = at = 0
    for i, block in enumerate(blocks):
        if block is None:
            continue
        blocks[i] = None
        part = vectorizer.weigh(block)
        del block
        m, k = part.shape[0], part.nnz
        indptr[row + 1 : row + m + 1] = part.indptr[1:] + at
        indices[at : at + k] = part.indices
        data[at : at + k] = part.data
        row, at = row + m, at + k
        del part
    out = sp.csr_matrix((data, indices, indptr), shape=(rows, vectorizer.n_features), copy=False)
    out.has_sorted_indices = True
    return out


def neighbours(state: IndexState, settings: RelatedSettings, progress: bool = False) -> Neighbours:
    """Every article's `pool` most similar live articles over the whole index (a recency
    window builds in `recommender.window` instead)."""
    n = len(state.ids)
    with tqdm(total=n, desc="similarities", unit=" articles", disable=not progress) as bar:
        positions = np.full((n, settings.pool), -1, dtype=np.int64)
        scores = np.zeros((n, settings.pool), dtype=np.float32)
        for start in range(0, n, SEARCH_ROWS):
            stop = min(n, start + SEARCH_ROWS)
            rows = state.index.vectors(np.arange(start, stop))
            part = state.index.search(rows, settings.pool, exclude_self_from=start)
            positions[start:stop], scores[start:stop] = part.positions, part.scores
            bar.update(stop - start)
    return Neighbours(positions, scores)


@dataclass
class ListChunk:
    """The lists of the articles at positions start .. start + len - 1, as arrays: item
    positions (-1 pads), scores, fill flags and the buckets naming each item's reason (-1
    pads). A million lists of named tuples and strings would take gigabytes; these take a
    few hundred bytes a list, and are decoded as the store writes them."""

    start: int
    positions: npt.NDArray[np.int32]  # (m, k)
    scores: npt.NDArray[np.float64]  # (m, k): the rounded scores exactly
    fill: npt.NDArray[np.bool_]  # (m, k)
    reasons: npt.NDArray[np.int32]  # (m, k, explain_terms)


def all_lists(
    state: IndexState,
    settings: RelatedSettings,
    names: Names,
    found: Neighbours,
    plan: Plan,
    progress: bool = False,
) -> BuiltLists:
    """Every article's list, from its neighbour row (`neighbours`), in chunks of
    `plan.list_chunk` positions."""
    n = len(state.ids)
    latest = {c: [state.ids[p] for p in ps] for c, ps in state.latest.items()}
    job = partial(lists_in, state, settings, found, names, latest, PairLookup(found).matrix)
    ranges = [(a, min(n, a + plan.list_chunk)) for a in range(0, n, plan.list_chunk)]
    lists = BuiltLists(state, names, plan.list_chunk)
    with tqdm(total=n, desc="related lists", unit=" articles", disable=not progress) as bar:
        # Forked workers inherit the index and the neighbour table; only finished lists
        # travel back, as arrays. Plain functions of their inputs, so the result equals a
        # serial run.
        for bounds, part in zip(ranges, fork_map(job, ranges, plan.workers), strict=True):
            lists.chunks.append(part)
            bar.update(bounds[1] - bounds[0])
    return lists


def lists_in(
    state: IndexState,
    settings: RelatedSettings,
    found: Neighbours,
    names: Names,
    latest: dict[str, list[str]],
    pair_matrix: PairMatrix,
    bounds: tuple[int, int],
) -> ListChunk:
    """The lists of the articles at positions bounds[0] .. bounds[1] - 1."""
    m, k, n = bounds[1] - bounds[0], settings.stored_k, settings.explain_terms
    out = ListChunk(
        start=bounds[0],
        positions=np.full((m, k), -1, dtype=np.int32),
        scores=np.zeros((m, k), dtype=np.float64),
        fill=np.zeros((m, k), dtype=bool),
        reasons=np.full((m, k, n), -1, dtype=np.int32),
    )
    for row, pos in enumerate(range(*bounds)):
        cand_pos, cand_sim = found.row(pos)
        fill = latest[state.category[pos]]
        items, shared = ranked(state, settings, pos, cand_pos, cand_sim, names, fill, pair_matrix)
        where = [state.position[i.article_id] for i in items]
        out.positions[row, : len(items)] = where
        out.scores[row, : len(items)] = [i.score for i in items]
        out.fill[row, : len(items)] = [i.fill for i in items]
        real = [(j, p) for j, (i, p) in enumerate(zip(items, where, strict=True)) if not i.fill]
        buckets = reason_buckets(
            state, settings, pos, np.array([p for _, p in real], dtype=np.int64), names, shared
        )
        for (j, _), chosen in zip(real, buckets, strict=True):
            out.reasons[row, j, : len(chosen)] = chosen
    return out


class BuiltLists(Mapping[str, list[RelatedItem]]):
    """Every list of a full build, owner id -> items, decoded from `ListChunk`s on access
    (what `put_related` is given: the store encodes one list after another)."""

    def __init__(self, state: IndexState, names: Names, chunk: int):
        self._state, self._names, self._chunk = state, names, chunk
        self.chunks: list[ListChunk] = []

    def __len__(self) -> int:
        return sum(len(c.positions) for c in self.chunks)

    def __iter__(self) -> Iterator[str]:
        ids = self._state.ids
        for c in self.chunks:
            yield from ids[c.start : c.start + len(c.positions)]

    def __getitem__(self, owner: str) -> list[RelatedItem]:
        pos = self._state.position[owner]
        c = self.chunks[pos // self._chunk]
        row = pos - c.start
        if not 0 <= row < len(c.positions):
            raise KeyError(owner)
        return decoded(c, row, self._state.ids, self._names)

    def remember(self) -> None:
        """Record every list in the engine's state, as `IndexState.remember` does list by
        list."""
        state = self._state
        for c in self.chunks:
            for row, (positions, scores, fill) in enumerate(
                zip(c.positions.tolist(), c.scores.tolist(), c.fill.tolist(), strict=True)
            ):
                items = [p for p in positions if p >= 0]
                real = [s for s, f in zip(scores[: len(items)], fill, strict=False) if not f]
                state.remember_ids(
                    state.ids[c.start + row],
                    tuple(state.ids[p] for p in items),
                    len(real),
                    real[-1] if real else 0.0,
                )


def decoded(chunk: ListChunk, row: int, ids: Sequence[str], names: Names) -> list[RelatedItem]:
    """One list of a chunk as items; ids: the article id at each position."""
    out = []
    for p, score, fill, reason in zip(
        chunk.positions[row].tolist(),
        chunk.scores[row].tolist(),
        chunk.fill[row].tolist(),
        chunk.reasons[row].tolist(),
        strict=True,
    ):
        if p < 0:
            break
        terms = tuple(names.spelled(b) or "" for b in reason if b >= 0)
        out.append(RelatedItem(ids[p], score, fill, terms))
    return out
