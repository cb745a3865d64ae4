"""Keeps every article's related list current, through the `Store` interface only.

Web workers only read lists (`related`, `same_category`). The engine writes them: `reindex`
refits the text model and recomputes every list, then swaps them in with one `put_related`, so
readers see the old lists until the new ones are complete; `sync` follows the store's change log
and applies each new or edited article (its list, and its place in older lists where it now ranks)
and each takedown (removed from every list at once, the lists refilled).

Several processes can each run an engine: the fitted model is stored with `set_meta`, so all of
them vectorise alike without refitting, and each follows `changes_since` from the sequence number
its index reflects. Applying a change is idempotent, so every engine applies every change; two
engines inserting into the same older list at the same instant can lose one insertion until the
next reindex (the change log gives no compare-and-set).
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import logging
import multiprocessing
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from tqdm import tqdm

from recommender import model as stored_model
from recommender.analyzer import (
    pieces_mark,
    pieces_since,
    remember_pieces,
    vietnamese_stopwords,
)
from recommender.evidence import WEAK_MAX_TERMS, Terms, is_weak, without_parts
from recommender.index import (
    Neighbours,
    PairLookup,
    Rows,
    SimilarityIndex,
    dots,
    gram,
    shared_terms,
    windowed_neighbours,
)
from recommender.latent import LatentSpace, LatentVectors, blend
from recommender.rank import DAY, Candidate, RankParams, rank, relevance
from recommender.settings import RelatedSettings
from recommender.vectorize import (
    Analysed,
    ArticleText,
    ArticleVectorizer,
    BatchNames,
    Names,
    TermNames,
)
from store.base import Store
from store.models import Article, RelatedItem

log = logging.getLogger(__name__)

MODEL_KEY = "related:model"
VERSION_KEY = "related:version"
# The last change applied to the stored lists, by whichever process applied it.
APPLIED_KEY = "related:applied-seq"
SYNC_LOCK = "related-lists"
# The holder renews the lock while it lives (store/base.py), so the TTL only bounds how long a
# killed holder blocks the others: 10 s (it was 600 s, and a SIGKILLed ingest stalled the next
# one for 4 minutes).
SYNC_LOCK_TTL = 10.0
SYNC_LOCK_WAIT = 120.0
_BUSY = "another process kept the related lists locked for 2 minutes"
FITTED_KEY = "related:fitted-at"
# A full build vectorises and ranks lists in forked processes (Linux) from this many articles.
PARALLEL_LISTS_MIN = 5000
LIST_CHUNK = 1000
# A full build stacks its vectorised batches into blocks of this many rows: blocks this large
# are allocated apart from the small batches, so each is returned to the system when freed.
STACK_ROWS = 50_000
# Without a latent space (a store of fewer than 10 x latent_dims articles) the floor applies to
# the bare TF-IDF cosine, at this share of min_score (0.02, the floor before the blend): label
# precision of items at a cosine of 0.02-0.05 on headline + lead (0.36-0.39) is that of a blend
# of 0.125-0.15 (0.31-0.41).
# With one, the same cosine is required besides the blend's floor (no change on the three
# corpora, where TF-IDF neighbours always share that much; it keeps out items related only in
# the latent space).
LEXICAL_FLOOR = 0.2
# Shared terms looked at for an item's reasons, most contributing first: enough that three
# specific ones remain after dropping function-word bigrams and the parts of phrases.
REASON_POOL = 16
# The job of forked workers (set only while their pool runs; they inherit it by forking).
_JOB: Callable[[Any], Any] | None = None
_FORKING = threading.Lock()


def _settle() -> None:
    """Move every object alive now out of the cyclic garbage collector's sight.

    A built or loaded index is millions of long-lived Python objects (ids, lists, memo entries)
    that a full collection would traverse on some unlucky add: tens to hundreds of milliseconds
    at 10k articles, seconds at 1M, the tail of the add time. They stay freed by reference
    counting as usual; only reference cycles among them would now outlive a later rebuild (the
    engine's state holds none). The young generations are collected first, so the build's
    recent garbage is not frozen with them; a full collection would cost the build seconds."""
    gc.collect(1)
    gc.freeze()


@functools.cache
def _stopwords() -> frozenset[str]:
    """Function words of both languages: the edges a concept or a reason does not count."""
    return vietnamese_stopwords() | ENGLISH_STOP_WORDS


def _run_job(arg: Any) -> Any:
    assert _JOB is not None
    return _JOB(arg)


def _processes(n: int, wanted: int) -> int:
    """How many processes a full build of n articles uses for vectorising and ranking."""
    if n < PARALLEL_LISTS_MIN or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(wanted, os.cpu_count() or 1))


def _forked_imap(
    job: Callable[[Any], Any], args: Iterable[Any], workers: int, ahead: int = 0
) -> Iterator[Any]:
    """job(arg) for each arg, results in order: in `workers` forked processes, or here.

    ahead > 0: at most that many args are taken from `args` before their results are taken
    (a generator that reads the store then never runs far ahead of the workers)."""
    global _JOB
    if workers <= 1:
        yield from map(job, args)
        return
    with _FORKING:  # the workers fork with the pool: each pool's with its own job
        _JOB = job
        try:
            pool = multiprocessing.get_context("fork").Pool(workers)
        finally:
            _JOB = None
    with pool:
        if ahead <= 0:
            yield from pool.imap(_run_job, args)
            return
        pending: deque[Any] = deque()
        for arg in args:
            pending.append(pool.apply_async(_run_job, (arg,)))
            if len(pending) >= ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _vectorise(
    vectorizer: ArticleVectorizer,
    forked: bool,
    texts: Sequence[ArticleText],
) -> tuple[Analysed, dict[str, list[tuple[str, tuple[str | None, ...]]]]]:
    """One batch's counts and term buckets (its per-document terms are not needed), and, in a
    forked worker, what the analyzer memorised meanwhile (so the parent's adds start warm)."""
    mark = pieces_mark() if forked else None
    analysed = vectorizer.counts(texts)
    memo = pieces_since(mark) if mark is not None else {}
    return Analysed(analysed.vectors, [], analysed.buckets, analysed.spellings), memo


@dataclass
class _Columns:
    """What a full build keeps of each article besides its vector: the text goes as soon as
    it is vectorised, so the archive's text is never in memory at once."""

    ids: list[str] = field(default_factory=list)
    published: list[float] = field(default_factory=list)
    category: list[str] = field(default_factory=list)


def _weighed(vectorizer: ArticleVectorizer, blocks: list[sp.csr_matrix | None]) -> sp.csr_matrix:
    """The blocks' counts IDF-weighted and normalised, as one matrix: written into arrays of
    the final size block by block, each block freed once copied (never the whole matrix
    twice, as stacking then weighing would). Row by row the same as `weigh` of the stack."""
    idf = vectorizer.tfidf_.idf_
    rows = sum(b.shape[0] for b in blocks if b is not None)
    nnz = sum(int(np.count_nonzero(idf[b.indices])) for b in blocks if b is not None)
    index = np.int32 if max(nnz, rows) < 2**31 else np.int64
    indptr = np.zeros(rows + 1, dtype=index)
    indices = np.empty(nnz, dtype=index)
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


@dataclass
class _ListChunk:
    """The lists of the articles at positions start .. start + len - 1, as arrays: item
    positions (-1 pads), scores, fill flags and the buckets naming each item's reason (-1
    pads). A million lists of named tuples and strings would take gigabytes; these take a
    few hundred bytes a list, and are decoded as the store writes them."""

    start: int
    positions: np.ndarray  # (m, k) int32
    scores: np.ndarray  # (m, k) float64: the rounded scores exactly
    fill: np.ndarray  # (m, k) bool
    reasons: np.ndarray  # (m, k, explain_terms) int32


class _BuiltLists(Mapping[str, list[RelatedItem]]):
    """Every list of a full build, owner id -> items, decoded from `_ListChunk`s on access
    (what `put_related` is given: the store encodes one list after another)."""

    def __init__(self, state: _State, names: Names, chunk: int):
        self._state, self._names, self._chunk = state, names, chunk
        self.chunks: list[_ListChunk] = []

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
        ids, spelled = self._state.ids, self._names.spelled
        out = []
        for p, score, fill, reason in zip(
            c.positions[row].tolist(),
            c.scores[row].tolist(),
            c.fill[row].tolist(),
            c.reasons[row].tolist(),
            strict=True,
        ):
            if p < 0:
                break
            terms = tuple(spelled(b) or "" for b in reason if b >= 0)
            out.append(RelatedItem(ids[p], score, fill, terms))
        return out

    def remember(self) -> None:
        """Record every list in the engine's state, as `_State.remember` does item by item."""
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


class NotIndexed(RuntimeError):
    """There is no fitted model yet and the store is too large to fit one on the fly."""


@dataclass
class ReindexReport:
    articles: int
    lists: int
    seconds: float
    seq: int


@dataclass
class _State:
    """One engine's in-memory index, valid for the change log up to `seq`."""

    vectorizer: ArticleVectorizer
    index: SimilarityIndex
    version: str
    seq: int
    ids: list[str] = field(default_factory=list)
    position: dict[str, int] = field(default_factory=dict)
    published: list[float] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    # list owner -> its item ids, and item -> owners whose lists contain it (for takedowns)
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    listed_in: dict[str, set[str]] = field(default_factory=dict)
    # list owner -> (real items, last real score): lets an insertion skip the store read
    floor: dict[str, tuple[int, float]] = field(default_factory=dict)
    # category -> positions of its newest live articles, newest first (fill candidates)
    latest: dict[str, list[int]] = field(default_factory=dict)
    latest_size: int = 12
    # the store's statistics on terms, for evidence and reasons (`terms`)
    _terms: Terms | None = None
    # the latent space and every position's vector in it (None: similarity is TF-IDF only)
    latent: LatentSpace | None = None
    z: LatentVectors | None = None

    @property
    def terms(self) -> Terms:
        if self._terms is None:
            v = self.vectorizer
            idf = v.tfidf_.idf_

            def idf_of(term: str) -> float:
                return float(idf[int(v.bucket_of([term])[0])])

            self._terms = Terms(idf_of, v.n_docs_, _stopwords(), v.max_df_floor)
        return self._terms

    def place(self, vectors: sp.csr_matrix) -> None:
        """Every indexed article's latent vector, from its TF-IDF vector (in blocks)."""
        if self.latent is None:
            return
        out = np.zeros((vectors.shape[0], self.latent.dims), dtype=np.float32)
        for start in range(0, vectors.shape[0], STACK_ROWS):
            out[start : start + STACK_ROWS] = self.latent.project(
                vectors[start : start + STACK_ROWS]
            )
        self.z = LatentVectors(out)

    def index_latest(self) -> None:
        self.latest = {}
        for p in np.argsort(-np.asarray(self.published), kind="stable").tolist():
            bucket = self.latest.setdefault(self.category[p], [])
            if len(bucket) < self.latest_size and self.index.alive[p]:
                bucket.append(p)

    def note_latest(self, pos: int) -> None:
        bucket = [p for p in self.latest.get(self.category[pos], []) if self.index.alive[p]]
        bucket.append(pos)
        bucket.sort(key=lambda p: (-self.published[p], self.ids[p]))
        if len(bucket) < self.latest_size // 2:
            self.index_latest()
        else:
            self.latest[self.category[pos]] = bucket[: self.latest_size]

    def live(self, article_id: str) -> int | None:
        pos = self.position.get(article_id)
        return pos if pos is not None and self.index.alive[pos] else None

    def remember(self, owner: str, items: Sequence[RelatedItem]) -> None:
        real = [item.score for item in items if not item.fill]
        self.remember_ids(
            owner,
            tuple(item.article_id for item in items),
            len(real),
            real[-1] if real else 0.0,
        )

    def remember_ids(self, owner: str, ids: tuple[str, ...], real: int, last: float) -> None:
        """`remember` from the item ids, how many are real (not fill) and the last real score."""
        for old in self.lists.get(owner, ()):
            self.listed_in.get(old, set()).discard(owner)
        self.lists[owner] = ids
        self.floor[owner] = (real, last)
        for item in ids:
            self.listed_in.setdefault(item, set()).add(owner)


class RelatedEngine:
    """Computes and maintains related lists for one store."""

    def __init__(self, store: Store, settings: RelatedSettings | None = None):
        self.store = store
        self.settings = settings or RelatedSettings()
        self._state: _State | None = None
        self._lock = threading.RLock()
        # The raw neighbour table of the last full build, by index position (for measurement).
        self.last_neighbours: Neighbours | None = None

    # -- reading (any process) --------------------------------------------------------------
    # -- writing ----------------------------------------------------------------------------
    def reindex(self, progress: bool = False, processes: int | None = None) -> ReindexReport:
        """Refit the model on every stored article and recompute every list, then swap.

        Run it in its own process (`quantam reindex`): this engine's own syncs wait for it,
        while reads, which only touch the store, go on serving the old lists. From
        `PARALLEL_LISTS_MIN` articles on, articles are vectorised and lists ranked in
        `processes` forked processes (default: the `threads` setting; 1: in this process)."""
        started = time.perf_counter()
        with self._lock:
            seq = self.store.last_seq()
            vectorizer = self._new_vectorizer()
            names = TermNames(vectorizer)
            wanted = self.settings.threads if processes is None else processes
            read = self._read_vectors(vectorizer, names, progress, wanted)
            if read is None:
                self._state = None
                return ReindexReport(0, 0, time.perf_counter() - started, seq)
            vectors, columns = read
            state = _State(
                vectorizer=vectorizer,
                index=SimilarityIndex(vectors, n_threads=self.settings.threads),
                version=uuid.uuid4().hex,
                seq=seq,
                ids=columns.ids,
                published=columns.published,
                category=columns.category,
                latent=self._fit_latent(vectors),
            )
            state.place(vectors)
            del vectors, columns, read
            state.position = {aid: i for i, aid in enumerate(state.ids)}
            state.latest_size = self.settings.stored_k + 2
            state.index_latest()
            lists = self._all_lists(state, names, progress, processes)
            count = len(lists)
            with self._writing() as held:
                if not held:
                    raise RuntimeError(_BUSY)
                # The swap: every list as of `seq`; changes after it are applied to these lists
                # again (by this engine, right below), whoever applied them to the old ones.
                self.store.put_related(lists)  # type: ignore[arg-type]
                self.store.set_meta(APPLIED_KEY, str(seq).encode())
                lists.remember()
                del lists
                self._save_model(state)
                state.index.prepare()
                self._state = state
                _settle()
                self._sync_locked(state)
            return ReindexReport(len(state.ids), count, time.perf_counter() - started, seq)

    def _read_vectors(
        self,
        vectorizer: ArticleVectorizer,
        names: TermNames | None,
        progress: bool,
        processes: int,
    ) -> tuple[sp.csr_matrix, _Columns] | None:
        """Every stored article's vector, read and vectorised batch by batch; with `names`,
        the model is fitted on them first (and the buckets named). None for an empty store.

        Only a batch's text is in memory at a time (forked workers get the batches in turn);
        of the articles, ids, dates and categories stay."""
        columns = _Columns()
        size = vectorizer.batch_size
        workers = _processes(self.store.count_articles(), processes)
        job = partial(_vectorise, vectorizer, workers > 1)
        df = np.zeros(vectorizer.n_features, dtype=np.int64) if names is not None else None
        blocks: list[sp.csr_matrix | None] = []
        pending: list[sp.csr_matrix] = []
        for analysed, memo in tqdm(
            _forked_imap(job, self._text_batches(columns, size, progress), workers, 2 * workers),
            desc="vectorising",
            unit=" batches",
            disable=not progress,
        ):
            if names is not None:
                names.learn(analysed.terms, analysed.buckets, analysed.spellings)
            if df is not None:
                df += np.bincount(analysed.vectors.indices, minlength=vectorizer.n_features)
            pending.append(analysed.vectors)
            remember_pieces(memo)
            if sum(p.shape[0] for p in pending) >= STACK_ROWS:
                blocks.append(sp.vstack(pending, format="csr"))
                pending = []
        if pending:
            blocks.append(sp.vstack(pending, format="csr"))
        del pending
        if not columns.ids:
            return None
        if df is not None:
            vectorizer.fit_df(df, len(columns.ids))
        return _weighed(vectorizer, blocks), columns

    def _text_batches(
        self, columns: _Columns, size: int, progress: bool
    ) -> Iterator[list[ArticleText]]:
        """The store's articles as batches of vectoriser text; their ids, dates and categories
        go to `columns` as they are read."""
        batch: list[ArticleText] = []
        seen: dict[str, str] = {}
        for article in tqdm(
            self.store.iter_articles(), desc="reading", unit=" articles", disable=not progress
        ):
            columns.ids.append(article.id)
            columns.published.append(article.published.timestamp())
            columns.category.append(seen.setdefault(article.category, article.category))
            batch.append(ArticleText.of(article))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def sync(self) -> int:
        """Apply every change logged since this engine's index; returns how many."""
        with self._lock:
            state = self._ensure_state()
            if state is None:
                return 0
            return self._sync(state)

    def behind(self) -> bool:
        """Whether the store logged changes that no engine has applied to the lists yet."""
        applied = self.store.get_meta(APPLIED_KEY)
        return applied is None or int(applied) < self.store.last_seq()

    def on_change(self, event: object = None) -> None:
        """Listener for ingests and takedowns: apply the change log to the lists right away.

        Never raises: a failure here must not undo or fail the ingest or takedown that caused it
        (the next change or reindex catches up)."""
        try:
            self.sync()
        except NotIndexed as exc:
            log.warning("related lists not updated: %s", exc)
        except Exception:
            log.exception("related lists not updated after %s", getattr(event, "target", event))

    # -- internals --------------------------------------------------------------------------
    def _new_vectorizer(self) -> ArticleVectorizer:
        s = self.settings
        return ArticleVectorizer(
            title_weight=s.title_weight,
            summary_weight=s.summary_weight,
            body_weight=s.body_weight,
            n_features=s.n_features,
            max_df=s.max_df,
        )

    def _fit_latent(self, vectors: sp.csr_matrix) -> LatentSpace | None:
        s = self.settings
        if s.latent_weight <= 0:
            return None
        return LatentSpace.fit(vectors, s.latent_dims)

    def _ensure_state(self) -> _State | None:
        version = self.store.get_meta(VERSION_KEY)
        if (
            self._state is not None
            and version is not None
            and version.decode() == self._state.version
        ):
            if self._should_refit(self._state):
                self.reindex(processes=1)
            return self._state
        if version is None:
            count = self.store.count_articles()
            if count == 0:
                return None
            if count > self.settings.auto_reindex_max:
                raise NotIndexed(
                    f"no related-articles model for these {count} articles: run `quantam reindex`"
                )
            self.reindex(processes=1)
            return self._state
        self._state = self._load()
        return self._state

    def _should_refit(self, state: _State) -> bool:
        live = int(state.index.alive.sum())
        return live <= self.settings.auto_reindex_max and live >= 2 * state.vectorizer.n_docs_

    def _save_model(self, state: _State) -> None:
        blob = stored_model.dump(stored_model.Model(state.vectorizer, state.latent, state.seq))
        self.store.set_meta(MODEL_KEY, blob)
        self.store.set_meta(VERSION_KEY, state.version.encode())
        self.store.set_meta(FITTED_KEY, repr(time.time()).encode())

    def model_age(self) -> float | None:
        """Seconds since the stored model was fitted (by any process), None if never."""
        raw = self.store.get_meta(FITTED_KEY)
        return time.time() - float(raw) if raw else None

    def _load(self) -> _State:
        """Another process fitted the model: vectorise the stored articles with it."""
        version = (self.store.get_meta(VERSION_KEY) or b"").decode()
        raw = self.store.get_meta(MODEL_KEY)
        if raw is None:
            raise NotIndexed("the related-articles model is missing: run `quantam reindex`")
        try:
            loaded = stored_model.load(raw)
        except stored_model.ModelError as exc:
            raise NotIndexed(
                f"the stored related-articles model cannot be read ({exc}): run `quantam reindex`"
            ) from exc
        vectorizer = loaded.vectorizer
        read = self._read_vectors(vectorizer, None, False, 1)
        vectors, columns = read or (
            sp.csr_matrix((0, vectorizer.n_features), dtype=np.float32),
            _Columns(),
        )
        state = _State(
            vectorizer=vectorizer,
            index=SimilarityIndex(vectors, n_threads=self.settings.threads),
            version=version,
            seq=loaded.seq,
            ids=columns.ids,
            published=columns.published,
            category=columns.category,
            latent=loaded.latent,
        )
        state.place(vectors)
        del vectors, columns, read
        state.position = {aid: i for i, aid in enumerate(state.ids)}
        state.latest_size = self.settings.stored_k + 2
        state.index_latest()
        for start in range(0, len(state.ids), 10_000):
            chunk = state.ids[start : start + 10_000]
            stored = self.store.get_related_many(chunk)
            for aid in chunk:
                state.remember(aid, stored.get(aid, []))
        # the inverted lists now: the first add would otherwise wait for them (1.6 s at 100k)
        state.index.prepare()
        _settle()
        return state

    def _writing(self) -> AbstractContextManager[bool]:
        """The store-wide lock every engine holds while it changes lists."""
        return self.store.lock(SYNC_LOCK, ttl=SYNC_LOCK_TTL, wait=SYNC_LOCK_WAIT)

    def _sync(self, state: _State) -> int:
        with self._writing() as held:
            if not held:
                log.warning("%s; this process catches up at its next change", _BUSY)
                return 0
            return self._sync_locked(state)

    def _sync_locked(self, state: _State) -> int:
        """Apply changes after this engine's index to the index, and to the lists only those
        no engine has applied yet (the store's applied sequence number): several processes
        each keep an index, but each change reaches the lists once, in order, by an engine
        whose index holds everything before it."""
        applied_seq = int(self.store.get_meta(APPLIED_KEY) or state.seq)
        applied = 0
        while True:
            changes = self.store.changes_since(state.seq, limit=1000)
            if not changes:
                return applied
            last = {c.article_id: i for i, c in enumerate(changes)}
            upserts = {c.article_id for c in changes if c.op == "upsert"}
            fresh = {a.id: a for a in self.store.get_articles(upserts)}
            for i, change in enumerate(changes):
                if last[change.article_id] != i:
                    continue  # only the last change of an article in this batch matters
                write = change.seq > applied_seq
                if change.op == "delete":
                    self._apply_delete(state, change.article_id, write)
                elif change.article_id in fresh:
                    self._apply_upsert(state, fresh[change.article_id], write)
                applied += 1
            state.seq = changes[-1].seq
            if state.seq > applied_seq:
                applied_seq = state.seq
                self.store.set_meta(APPLIED_KEY, str(applied_seq).encode())

    def _apply_upsert(self, state: _State, article: Article, write: bool = True) -> None:
        analysed = state.vectorizer.counts([ArticleText.of(article)])
        vector = state.vectorizer.weigh(analysed.vectors)
        own = BatchNames(analysed)
        old = state.live(article.id)
        if old is not None:
            state.index.remove(old)
        pos = state.index.add(vector)
        if state.z is not None and state.latent is not None:
            state.z.add(state.latent.project(vector)[0])
        state.ids.append(article.id)
        state.position[article.id] = pos
        state.published.append(article.published.timestamp())
        state.category.append(article.category)
        state.note_latest(pos)
        if not write:
            return
        query = Rows.of(vector)
        # the article's cosine with every indexed article: its neighbours, and later its
        # similarity to the items of the lists it enters (copies), without another product
        similarity = state.index.similarities(query.indices, query.data)
        cand_pos, cand_sim = state.index.best(similarity, self.settings.pool)
        fill = self._latest_ids(article.category)
        lists = {
            article.id: self._list_for(state, pos, cand_pos, cand_sim, own, fill, explain=False)
        }
        lists.update(self._insert_into_older(state, pos, cand_pos, cand_sim, similarity, own))
        self._explain_add(state, pos, lists, own)
        self._write(state, lists)

    def _explain_add(
        self,
        state: _State,
        pos: int,
        lists: dict[str, list[RelatedItem]],
        names: Names,
    ) -> None:
        """Reasons for the new article's own items and for its entries in older lists, in one
        pass over its row: the terms two articles share are the same either way round."""
        new_id = state.ids[pos]
        targets: list[tuple[list[RelatedItem], int]] = []
        others: list[int] = []
        for owner, items in lists.items():
            for i, item in enumerate(items):
                if owner == new_id and not item.fill:
                    others.append(state.position[item.article_id])
                elif owner != new_id and item.article_id == new_id:
                    others.append(state.position[owner])
                else:
                    continue
                targets.append((items, i))
        for (items, i), reason in zip(
            targets, self._reasons(state, pos, np.array(others, dtype=np.int64), names), strict=True
        ):
            items[i] = items[i]._replace(reason=reason)

    def _insert_into_older(
        self,
        state: _State,
        pos: int,
        cand_pos: np.ndarray,
        cand_sim: np.ndarray,
        similarity: np.ndarray,
        names: Names,
    ) -> dict[str, list[RelatedItem]]:
        """Older lists the new article now belongs to, with it inserted by score (its reason
        is left to `_explain_add`).

        similarity: the new article's cosine with every position (`SimilarityIndex.similarities`).

        An insertion, not a re-ranking: the new item goes where its score puts it unless a
        higher-scored copy of its story is listed (it replaces a lower-scored copy), and the last
        place (a fill item first) gives way. MMR is applied in full at the next reindex."""
        params = self._rank_params(state)
        new_id = state.ids[pos]
        cand_pos, blended, cand_sim = self._blended(state, pos, cand_pos, cand_sim)
        evidence = self._evidence(state, pos, cand_pos, names)
        # Owners whose list the new article can enter, judged from what this engine wrote
        # (no store read for the rest).
        wanted: list[tuple[str, int, float]] = []
        for other, sim, cosine, weight in zip(
            cand_pos.tolist(), blended.tolist(), cand_sim.tolist(), evidence, strict=True
        ):
            owner = state.ids[other]
            me = Candidate(new_id, sim, state.published[pos], state.category[pos], cosine, weight)
            score = round(relevance(me, state.published[other], state.category[other], params), 4)
            if (
                score < params.min_score
                or cosine < params.min_cosine
                or cosine >= params.duplicate_threshold
            ):
                continue
            count, last = state.floor.get(owner, (0, 0.0))
            if count >= params.k and score <= last:
                continue
            wanted.append((owner, other, score))
        if not wanted:
            return {}
        # Their stored lists (another process may have written them) in one round trip.
        stored = self.store.get_related_many(owner for owner, _, _ in wanted)
        staged = []
        for owner, other, score in wanted:
            current = [i for i in stored.get(owner) or [] if i.article_id != new_id]
            real = [i for i in current if not i.fill and state.live(i.article_id) is not None]
            fill = [i for i in current if i.fill]
            if len(real) >= params.k and score <= real[-1].score:
                continue
            staged.append((owner, other, score, real, fill))
        if not staged:
            return {}
        threshold = params.duplicate_threshold
        entering = []
        for owner, other, score, real, fill in staged:
            copies = [float(similarity[state.position[i.article_id]]) >= threshold for i in real]
            if any(i.score >= score for i, copy in zip(real, copies, strict=True) if copy):
                continue
            kept = [i for i, copy in zip(real, copies, strict=True) if not copy]
            entering.append((owner, other, score, kept, fill))
        out: dict[str, list[RelatedItem]] = {}
        for owner, _, score, real, fill in entering:
            real.append(RelatedItem(new_id, score))
            real.sort(key=lambda i: -i.score)
            out[owner] = (real + fill)[: params.k]
        return out

    def _apply_delete(self, state: _State, article_id: str, write: bool = True) -> None:
        pos = state.live(article_id)
        owners = set(state.listed_in.pop(article_id, set()))
        state.lists.pop(article_id, None)
        if pos is not None and write:
            # Lists another process wrote are not in listed_in; by symmetry of similarity they
            # belong to the article's nearest neighbours, so those lists are checked too.
            cand_pos, _ = state.index.search(state.index.rows([pos]), 2 * self.settings.pool).row(0)
            for other in cand_pos.tolist():
                owner = state.ids[other]
                if owner != article_id and owner not in owners:
                    items = self.store.get_related(owner) or []
                    if any(i.article_id == article_id for i in items):
                        owners.add(owner)
        if pos is not None:
            state.index.remove(pos)
            state.index_latest()
        if write:
            live = [o for o in owners if state.live(o) is not None]
            self._write(state, self._recompute(state, live))

    def _recompute(self, state: _State, owners: Sequence[str]) -> dict[str, list[RelatedItem]]:
        """Fresh lists for these indexed articles, searched again (takedowns refill this way)."""
        lists: dict[str, list[RelatedItem]] = {}
        for article in self.store.get_articles(owners):
            pos = state.live(article.id)
            if pos is None:
                continue
            analysed = state.vectorizer.counts([ArticleText.of(article)])
            own = BatchNames(analysed)
            found = state.index.search(state.index.rows([pos]), self.settings.pool + 1)
            cand_pos, cand_sim = found.row(0)
            keep = cand_pos != pos
            lists[article.id] = self._list_for(
                state,
                pos,
                cand_pos[keep],
                cand_sim[keep],
                own,
                self._latest_ids(article.category),
            )
        return lists

    def _write(self, state: _State, lists: dict[str, list[RelatedItem]]) -> None:
        if not lists:
            return
        self.store.put_related(lists)
        for owner, items in lists.items():
            state.remember(owner, items)

    def _latest_ids(self, category: str) -> list[str]:
        """The category's newest ids, newest first, from the index (no store round trip)."""
        state = self._state
        if state is None:
            latest = self.store.latest_articles(category, limit=self.settings.stored_k + 2)
            return [a.id for a in latest]
        return [state.ids[p] for p in state.latest.get(category, [])]

    def _all_lists(
        self,
        state: _State,
        names: Names,
        progress: bool,
        processes: int | None = None,
    ) -> _BuiltLists:
        latest = {c: [state.ids[p] for p in ps] for c, ps in state.latest.items()}
        n = len(state.ids)
        step = 5000
        window = self.settings.max_age_days * DAY
        with tqdm(total=n, desc="similarities", unit=" articles", disable=not progress) as bar:
            if window > 0:
                found = windowed_neighbours(
                    state.index.matrix(),
                    np.asarray(state.published),
                    window,
                    self.settings.pool,
                    self.settings.threads,
                )
                positions, scores = found.positions, found.scores
                del found
                bar.update(n)
            else:
                positions = np.full((n, self.settings.pool), -1, dtype=np.int64)
                scores = np.zeros((n, self.settings.pool), dtype=np.float32)
            for start in range(0, n if window <= 0 else 0, step):
                stop = min(n, start + step)
                rows = state.index.vectors(np.arange(start, stop))
                found = state.index.search(rows, self.settings.pool, exclude_self_from=start)
                positions[start:stop], scores[start:stop] = found.positions, found.scores
                bar.update(stop - start)
        self.last_neighbours = Neighbours(positions, scores)
        pairs = PairLookup(self.last_neighbours)
        job = partial(self._lists_in, state, positions, scores, names, latest, pairs.matrix)
        ranges = [(a, min(n, a + LIST_CHUNK)) for a in range(0, n, LIST_CHUNK)]
        lists = _BuiltLists(state, names, LIST_CHUNK)
        workers = _processes(n, self.settings.threads if processes is None else processes)
        with tqdm(total=n, desc="related lists", unit=" articles", disable=not progress) as bar:
            # Forked workers inherit the index and the neighbour table; only finished lists
            # travel back, as arrays. Plain functions of their inputs, so the result equals a
            # serial run.
            for bounds, part in zip(ranges, _forked_imap(job, ranges, workers), strict=True):
                lists.chunks.append(part)
                bar.update(bounds[1] - bounds[0])
        return lists

    def _lists_in(
        self,
        state: _State,
        positions: np.ndarray,
        scores: np.ndarray,
        names: Names,
        latest: dict[str, list[str]],
        pair_matrix: Callable[[np.ndarray], np.ndarray],
        bounds: tuple[int, int],
    ) -> _ListChunk:
        """The lists of the articles at positions bounds[0] .. bounds[1] - 1 (a full build)."""
        m, k, n = bounds[1] - bounds[0], self.settings.stored_k, self.settings.explain_terms
        out = _ListChunk(
            start=bounds[0],
            positions=np.full((m, k), -1, dtype=np.int32),
            scores=np.zeros((m, k), dtype=np.float64),
            fill=np.zeros((m, k), dtype=bool),
            reasons=np.full((m, k, n), -1, dtype=np.int32),
        )
        for row, pos in enumerate(range(*bounds)):
            keep = positions[pos] >= 0
            cand_pos, cand_sim = positions[pos][keep], scores[pos][keep]
            fill = latest[state.category[pos]]
            items = self._list_for(
                state, pos, cand_pos, cand_sim, names, fill, pair_matrix, explain=False
            )
            where = [state.position[i.article_id] for i in items]
            out.positions[row, : len(items)] = where
            out.scores[row, : len(items)] = [i.score for i in items]
            out.fill[row, : len(items)] = [i.fill for i in items]
            real = [(j, p) for j, (i, p) in enumerate(zip(items, where, strict=True)) if not i.fill]
            buckets = self._reason_buckets(
                state, pos, np.array([p for _, p in real], dtype=np.int64), names
            )
            for (j, _), chosen in zip(real, buckets, strict=True):
                out.reasons[row, j, : len(chosen)] = chosen
        return out

    def _list_for(
        self,
        state: _State,
        pos: int,
        cand_pos: np.ndarray,
        cand_sim: np.ndarray,
        names: Names,
        fill: Sequence[str],
        pair_matrix: Callable[[np.ndarray], np.ndarray] | None = None,
        explain: bool = True,
    ) -> list[RelatedItem]:
        """The article's ranked list; explain=False leaves the reasons to the caller.

        cand_sim: the candidates' TF-IDF cosines, best first; they are ranked by the blend
        with the latent space (`_blended`), copies told by the cosine."""
        cand_pos, cand_sim, cand_cos = self._blended(state, pos, cand_pos, cand_sim)
        window = min(len(cand_pos), 2 * self.settings.stored_k)  # MMR looks this deep
        cand_pos = cand_pos[:window]
        evidence = self._evidence(state, pos, cand_pos, names)
        candidates = [
            Candidate(state.ids[p], s, state.published[p], state.category[p], c, e)
            for p, s, c, e in zip(
                cand_pos.tolist(),
                cand_sim[:window].tolist(),
                cand_cos[:window].tolist(),
                evidence,
                strict=True,
            )
        ]
        items = rank(
            state.ids[pos],
            state.published[pos],
            state.category[pos],
            candidates,
            (pair_matrix or partial(self._pair_similarity, state))(cand_pos),
            self._rank_params(state),
            fill,
        )
        if any(i.fill for i in items):
            items = self._fill_without_copies(state, pos, items, fill)
        if not explain:
            return items
        chosen = [state.position[i.article_id] for i in items if not i.fill]
        reasons = self._reasons(state, pos, np.array(chosen, dtype=np.int64), names)
        out = []
        for item in items:
            out.append(item._replace(reason=reasons.pop(0)) if not item.fill else item)
        return out

    def rank_params(self) -> RankParams:
        """How lists are ranked now (the floor depends on whether a latent space is fitted)."""
        with self._lock:
            state = self._ensure_state()
        return self._rank_params(state) if state else self.settings.rank_params()

    def _rank_params(self, state: _State) -> RankParams:
        """The settings' ranking, with the floor on the scale of the similarity in use: the
        blend when a latent space is fitted, else the bare cosine (`LEXICAL_FLOOR`)."""
        params = self.settings.rank_params()
        lexical = params.min_score * LEXICAL_FLOOR
        if state.z is None or self.settings.latent_weight <= 0:
            return dataclasses.replace(params, min_score=lexical)
        # with a latent space, an item still needs words in common: a blend made mostly of the
        # latent part says "same subject", not "related story"
        return dataclasses.replace(params, min_cosine=lexical)

    def _evidence(self, state: _State, pos: int, cand_pos: np.ndarray, names: Names) -> list[float]:
        """Each candidate's evidence weight: `single_concept_weight` when the terms it shares
        with the article are one short concept, else 1."""
        weight = self.settings.single_concept_weight
        if weight >= 1.0 or len(cand_pos) == 0 or state.z is None:
            # without a latent space the store is too small (fewer than 10 x latent_dims
            # articles) for document frequencies to tell a function word from a name: in a
            # dozen articles "đầu" and "xếp" look as specific as "bóng đá"
            return [1.0] * len(cand_pos)
        rows = state.index.rows(cand_pos)
        shared = shared_terms(state.index.rows([pos]), rows, WEAK_MAX_TERMS + 1)
        informative = state.terms.informative
        out = []
        for columns in shared:
            weak = False
            if len(columns) <= WEAK_MAX_TERMS:
                weak = is_weak([t for t in map(names.name, columns.tolist()) if t], informative)
            out.append(weight if weak else 1.0)
        return out

    def _blended(
        self, state: _State, pos: int, cand_pos: np.ndarray, cand_cos: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidates re-ordered by the blended similarity: (positions, blend, cosine)."""
        weight = self.settings.latent_weight
        if state.z is None or weight <= 0 or len(cand_pos) == 0:
            return cand_pos, cand_cos, cand_cos
        sim = blend(cand_cos, state.z.cosines(pos, cand_pos), weight)
        order = np.lexsort((cand_pos, -sim))
        return cand_pos[order], sim[order], cand_cos[order]

    def _fill_without_copies(
        self, state: _State, pos: int, items: list[RelatedItem], fill: Sequence[str]
    ) -> list[RelatedItem]:
        """Redo the fill so that no fill item is a copy of the article, of a listed story or of
        another fill item (fill comes by date, not by similarity, so rank cannot see copies)."""
        threshold = self.settings.duplicate_threshold
        kept = [i for i in items if not i.fill]
        taken = [pos, *(state.position[i.article_id] for i in kept)]
        seen = {state.ids[p] for p in taken}
        for other in fill:
            if len(kept) >= len(items):
                break
            p = state.live(other) if other not in seen else None
            if p is None:
                continue
            seen.add(other)
            if dots(state.index.rows([p]), state.index.rows(taken)).max() >= threshold:
                continue
            kept.append(RelatedItem(other, 0.0, fill=True))
            taken.append(p)
        return kept

    def _pair_similarity(self, state: _State, positions: np.ndarray) -> np.ndarray:
        if len(positions) == 0:
            return np.zeros((0, 0), dtype=np.float32)
        return gram(state.index.rows(positions))

    def _reasons(
        self, state: _State, pos: int, others: np.ndarray, names: Names
    ) -> list[tuple[str, ...]]:
        """Why each of `others` relates to the article: its reason terms, as spelled."""
        return [
            tuple(names.spelled(b) or "" for b in buckets)
            for buckets in self._reason_buckets(state, pos, others, names)
        ]

    def _reason_buckets(
        self, state: _State, pos: int, others: np.ndarray, names: Names
    ) -> list[list[int]]:
        """`_reasons` as buckets: of the shared terms that contribute most to each similarity,
        the specific ones without a function word at an edge (`evidence.Terms.reason`), each
        phrase once ("Đà Nẵng", not also "Đà" and "Nẵng"), at most `explain_terms`."""
        if len(others) == 0:
            return []
        n = self.settings.explain_terms
        columns = shared_terms(state.index.rows([pos]), state.index.rows(others), REASON_POOL)
        good = state.terms.reason
        out = []
        for cols in columns:
            named = {}
            for b in map(int, cols):
                term = names.name(b)
                if term and good(term):
                    named.setdefault(term, b)
            out.append([named[t] for t in without_parts(list(named), n)])
        return out
