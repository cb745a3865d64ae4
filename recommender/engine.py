"""Keeps every article's related list current, through the `Store` interface only.

Web workers only read lists (recommender/read.py). The engine writes them: `reindex`
refits the text model and recomputes every list, then swaps them in with one `put_related`, so
readers see the old lists until the new ones are complete; `sync` follows the store's change log
and applies each new or edited article (its list, and its place in older lists where it now ranks)
and each takedown (removed from every list at once, the lists refilled).

Several processes can each run an engine: the fitted model is stored with `set_meta`, so all of
them vectorise alike without refitting, and each follows `changes_since` from the sequence number
its index reflects. Applying a change is idempotent, so every engine applies every change; two
engines inserting into the same older list at the same instant can lose one insertion until the
next reindex (the change log gives no compare-and-set).

This module holds the engine's state, its locking and the stored model; the work is done in
`recommender.build` (the full build), `recommender.sync` (the change log), `recommender.lists`
(one list) and `recommender.pool` (the build's worker processes).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass

import scipy.sparse as sp

from recommender import build, snapshot, window
from recommender import model as stored_model
from recommender.index import Neighbours, empty_rows
from recommender.latent import LatentSpace
from recommender.lists import rank_params as ranking_for
from recommender.pool import can_fork
from recommender.rank import RankParams
from recommender.settings import RelatedSettings
from recommender.state import Columns, IndexState
from recommender.sync import APPLIED_KEY, ChangeApplier
from recommender.vectorize import ArticleVectorizer, TermNames
from store.base import Store

__all__ = [
    "APPLIED_KEY",
    "FITTED_KEY",
    "MODEL_KEY",
    "SYNC_LOCK",
    "SYNC_LOCK_TTL",
    "SYNC_LOCK_WAIT",
    "VERSION_KEY",
    "NotIndexed",
    "ReindexReport",
    "RelatedEngine",
]

log = logging.getLogger(__name__)

MODEL_KEY = "related:model"
VERSION_KEY = "related:version"
FITTED_KEY = "related:fitted-at"
SYNC_LOCK = "related-lists"
# The holder renews the lock while it lives (store/base.py), so the TTL only bounds how long a
# killed holder blocks the others: 10 s (it was 600 s, and a SIGKILLed ingest stalled the next
# one for 4 minutes).
SYNC_LOCK_TTL = 10.0
SYNC_LOCK_WAIT = 120.0
_BUSY = "another process kept the related lists locked for 2 minutes"
# How a full build divides its work (`build.Plan`), read at each build (tests make them small).
# From this many articles it vectorises and ranks lists in forked processes (Linux); smaller
# builds, the on-the-fly fits of small stores among them, stay in this process.
PARALLEL_LISTS_MIN = 5000
# Lists ranked by one call of a worker.
LIST_CHUNK = 1000
# A full build stacks its vectorised batches into blocks of this many rows (and projects them
# into the latent space this many at a time): blocks this large are allocated apart from the
# small batches, so each is returned to the system when freed.
STACK_ROWS = 50_000
# Rows read back from the store at a time when a load remembers the stored lists.
LOAD_LISTS = 10_000


class NotIndexed(RuntimeError):
    """There is no fitted model yet and the store is too large to fit one on the fly."""


@dataclass
class ReindexReport:
    articles: int
    lists: int
    seconds: float
    seq: int


def _processes(n: int, wanted: int) -> int:
    """How many processes a full build of n articles uses for vectorising and ranking."""
    if n < PARALLEL_LISTS_MIN or not can_fork():
        return 1
    return max(1, min(wanted, os.cpu_count() or 1))


def _plan(workers: int) -> build.Plan:
    return build.Plan(workers=workers, stack_rows=STACK_ROWS, list_chunk=LIST_CHUNK)


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


class RelatedEngine:
    """Computes and maintains related lists for one store."""

    def __init__(self, store: Store, settings: RelatedSettings | None = None):
        self.store = store
        self.settings = settings or RelatedSettings()
        self._state: IndexState | None = None
        self._lock = threading.RLock()
        # The raw neighbour table of the last full build, by index position (for measurement).
        self.last_neighbours: Neighbours | None = None
        # a windowed build's: the article id at each of its (time-ordered) positions; it keeps
        # every neighbour row only if asked (measurement: 360 bytes an article)
        self.last_ids: list[str] | None = None
        self.keep_neighbours = False
        # Changes applied past the stored index snapshot before this engine stores a fresher one.
        self.snapshot_every = snapshot.REFRESH_EVERY
        self.snapshot_max_bytes = snapshot.MAX_BYTES

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
            plan = _plan(_processes(self.store.count_articles(), wanted))
            if window.seconds(self.settings) > 0:
                return self._rebuild_windowed(vectorizer, names, plan, seq, started, progress)
            read = build.read_vectors(self.store, vectorizer, names, plan, progress)
            if read is None:
                self._state = None
                return ReindexReport(0, 0, time.perf_counter() - started, seq)
            vectors, columns = read
            state = IndexState.of(
                vectorizer,
                vectors,
                columns,
                version=uuid.uuid4().hex,
                seq=seq,
                latent=self._fit_latent(vectors),
                settings=self.settings,
                block_rows=STACK_ROWS,
            )
            del vectors, columns, read
            found = build.neighbours(state, self.settings, progress)
            self.last_neighbours = found
            plan = _plan(_processes(len(state.ids), wanted))
            lists = build.all_lists(state, self.settings, names, found, plan, progress)
            count = len(lists)
            with self._writing() as held:
                if not held:
                    raise RuntimeError(_BUSY)
                # The swap: every list as of `seq`; changes after it are applied to these lists
                # again (by this engine, right below), whoever applied them to the old ones.
                self.store.put_related(lists)  # type: ignore[arg-type]  # a Mapping, read once
                self.store.set_meta(APPLIED_KEY, str(seq).encode())
                lists.remember()
                del lists
                self._save_model(state)
                state.index.prepare()
                self._state = state
                _settle()
                ChangeApplier(self.store, self.settings, state).apply()
            return ReindexReport(len(state.ids), count, time.perf_counter() - started, seq)

    def _rebuild_windowed(
        self,
        vectorizer: ArticleVectorizer,
        names: TermNames,
        plan: build.Plan,
        seq: int,
        started: float,
        progress: bool,
    ) -> ReindexReport:
        """`reindex` with a recency window: lists written block by block, the last window kept
        (`recommender.window`)."""
        built = window.rebuild(
            self.store,
            self.settings,
            vectorizer,
            names,
            plan,
            version=uuid.uuid4().hex,
            seq=seq,
            block_rows=STACK_ROWS,
            progress=progress,
            keep=self.keep_neighbours,
        )
        if built is None:
            self._state = None
            return ReindexReport(0, 0, time.perf_counter() - started, seq)
        self.last_neighbours, self.last_ids = built.neighbours, built.ids
        state = built.state
        with self._writing() as held:
            if not held:
                raise RuntimeError(_BUSY)
            self.store.set_meta(APPLIED_KEY, str(seq).encode())
            self._remember_stored(state)
            self._save_model(state)
            state.index.prepare()
            self._state = state
            _settle()
            ChangeApplier(self.store, self.settings, state).apply()
        return ReindexReport(len(built.ids), built.lists, time.perf_counter() - started, seq)

    def sync(self) -> int:
        """Apply every change logged since this engine's index; returns how many."""
        with self._lock:
            state = self._ensure_state()
            if state is None:
                return 0
            with self._writing() as held:
                if not held:
                    log.warning("%s; this process catches up at its next change", _BUSY)
                    return 0
                applied = ChangeApplier(self.store, self.settings, state).apply()
                stored = int(self.store.get_meta(snapshot.SNAPSHOT_SEQ_KEY) or 0)
                due = state.seq - stored >= self.snapshot_every
                if due and snapshot.fits(state, self.snapshot_max_bytes):
                    self._save_snapshot(state)
                return applied

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

    def rank_params(self) -> RankParams:
        """How lists are ranked now (the floor depends on whether a latent space is fitted)."""
        with self._lock:
            state = self._ensure_state()
        return ranking_for(state, self.settings) if state else self.settings.rank_params()

    def model_age(self) -> float | None:
        """Seconds since the stored model was fitted (by any process), None if never."""
        raw = self.store.get_meta(FITTED_KEY)
        return time.time() - float(raw) if raw else None

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

    def _ensure_state(self) -> IndexState | None:
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

    def _should_refit(self, state: IndexState) -> bool:
        live = int(state.index.alive.sum())
        return live <= self.settings.auto_reindex_max and live >= 2 * state.vectorizer.n_docs_

    def _save_model(self, state: IndexState) -> None:
        blob = stored_model.dump(stored_model.Model(state.vectorizer, state.latent, state.seq))
        self.store.set_meta(MODEL_KEY, blob)
        self.store.set_meta(VERSION_KEY, state.version.encode())
        self.store.set_meta(FITTED_KEY, repr(time.time()).encode())
        self._save_snapshot(state)

    def _save_snapshot(self, state: IndexState) -> None:
        """The index's live rows, for the next process that loads the model
        (recommender/snapshot.py); the caller holds the lists lock. An index too large for one
        stored value is not saved (a loading process vectorises the articles instead)."""
        if not snapshot.fits(state, self.snapshot_max_bytes):
            log.info(
                "index snapshot not stored: %d entries, more than %d MiB",
                state.index.stored,
                self.snapshot_max_bytes >> 20,
            )
            return
        taken = snapshot.of_state(state, window.seconds(self.settings))
        self.store.set_meta(snapshot.SNAPSHOT_KEY, snapshot.dump(taken))
        self.store.set_meta(snapshot.SNAPSHOT_SEQ_KEY, str(state.seq).encode())

    def _load(self) -> IndexState:
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
        seq = loaded.seq
        stored = self._stored_snapshot(version, vectorizer.n_features)
        if stored is not None:
            vectors, columns, seq = stored.vectors, stored.columns, stored.seq
        else:
            # with a recency window only the newest window matters to an add
            # (recommender/window.py)
            articles = (
                window.last_window(self.store, self.settings)
                if window.seconds(self.settings) > 0
                else None
            )
            read = build.read_vectors(
                self.store, vectorizer, None, _plan(workers=1), articles=articles
            )
            vectors, columns = read or (empty_rows(vectorizer.n_features), Columns())
            del read
        state = IndexState.of(
            vectorizer,
            vectors,
            columns,
            version=version,
            seq=seq,
            latent=loaded.latent,
            settings=self.settings,
            block_rows=STACK_ROWS,
        )
        del vectors, columns, stored
        self._remember_stored(state)
        # the inverted lists now: the first add would otherwise wait for them (1.6 s at 100k)
        state.index.prepare()
        _settle()
        return state

    def _stored_snapshot(self, version: str, width: int) -> snapshot.Snapshot | None:
        """The stored index rows, if they belong to this model version and were kept for this
        recency window (otherwise, or with none yet, the articles are analysed again)."""
        raw = self.store.get_meta(snapshot.SNAPSHOT_KEY)
        if raw is None:
            return None
        try:
            found = snapshot.load(raw)
        except snapshot.SnapshotError as exc:
            log.warning("the stored index snapshot is not used: %s", exc)
            return None
        if found.version != version or found.vectors.shape[1] != width:
            return None
        if found.window != window.seconds(self.settings):
            return None  # kept for another window: other rows are needed
        return found

    def _remember_stored(self, state: IndexState) -> None:
        """Record the stored lists of the state's articles in it."""
        for start in range(0, len(state.ids), LOAD_LISTS):
            chunk = state.ids[start : start + LOAD_LISTS]
            stored = self.store.get_related_many(chunk)
            for aid in chunk:
                state.remember(aid, stored.get(aid, []))

    def _writing(self) -> AbstractContextManager[bool]:
        """The store-wide lock every engine holds while it changes lists."""
        return self.store.lock(SYNC_LOCK, ttl=SYNC_LOCK_TTL, wait=SYNC_LOCK_WAIT)
