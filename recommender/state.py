"""One engine's in-memory view of the store: the index, each position's article, the lists.

Articles are known by their position in the `SimilarityIndex` (the order they were read in, then
the order they were added); `ids`, `published` and `category` are columns by position. What the
engine wrote or loaded of the lists is kept beside them: the items of each list, the lists each
item is in (a takedown finds every list that holds it) and each list's floor (whether a new
article can enter it without a store read).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommender.analyzer import english_stopwords, vietnamese_stopwords
from recommender.evidence import Terms
from recommender.index import SimilarityIndex
from recommender.latent import LatentSpace, LatentVectors
from recommender.settings import RelatedSettings
from recommender.vectorize import ArticleVectorizer
from store.models import RelatedItem


@functools.cache
def stopwords() -> frozenset[str]:
    """Function words of both languages: the edges a concept or a reason does not count."""
    return vietnamese_stopwords() | english_stopwords()


@dataclass
class Columns:
    """What is kept of each article besides its vector, by position: a full build drops the
    text as soon as it is vectorised, so the archive's text is never in memory at once."""

    ids: list[str] = field(default_factory=list)
    published: list[float] = field(default_factory=list)
    category: list[str] = field(default_factory=list)


@dataclass
class IndexState:
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

    @classmethod
    def of(
        cls,
        vectorizer: ArticleVectorizer,
        vectors: sp.csr_matrix,
        columns: Columns,
        *,
        version: str,
        seq: int,
        latent: LatentSpace | None,
        settings: RelatedSettings,
        block_rows: int,
    ) -> IndexState:
        """The state of freshly vectorised articles, as a full build or a load finds them:
        indexed, placed in the latent space (if any), their categories' latest known (as
        many as a list holds, and two more)."""
        state = cls(
            vectorizer=vectorizer,
            index=SimilarityIndex(vectors, n_threads=settings.threads),
            version=version,
            seq=seq,
            ids=columns.ids,
            published=columns.published,
            category=columns.category,
            latent=latent,
            latest_size=settings.stored_k + 2,
        )
        state.place(vectors, block_rows)
        state.position = {aid: i for i, aid in enumerate(state.ids)}
        state.index_latest()
        return state

    @property
    def terms(self) -> Terms:
        if self._terms is None:
            v = self.vectorizer
            idf = v.tfidf_.idf_

            def idf_of(term: str) -> float:
                return float(idf[int(v.bucket_of([term])[0])])

            self._terms = Terms(idf_of, v.n_docs_, stopwords(), v.max_df_floor)
        return self._terms

    def place(self, vectors: sp.csr_matrix, block_rows: int) -> None:
        """Every indexed article's latent vector, from its TF-IDF vector, block_rows at a time:
        the projection's temporary arrays (several per stored entry) then exist for one block,
        never for the whole archive."""
        if self.latent is None:
            return
        out = np.zeros((vectors.shape[0], self.latent.dims), dtype=np.float32)
        for start in range(0, vectors.shape[0], block_rows):
            out[start : start + block_rows] = self.latent.project(
                vectors[start : start + block_rows]
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

    def latest_ids(self, category: str) -> list[str]:
        """The category's newest ids, newest first (fill candidates; no store round trip)."""
        return [self.ids[p] for p in self.latest.get(category, [])]

    def live(self, article_id: str) -> int | None:
        pos = self.position.get(article_id)
        return pos if pos is not None and self.index.alive[pos] else None

    def positions(self, items: Sequence[RelatedItem]) -> npt.NDArray[np.int64]:
        """The positions of these items' articles."""
        return np.array([self.position[i.article_id] for i in items], dtype=np.int64)

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
