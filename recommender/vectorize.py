"""Articles to TF-IDF vectors: field-weighted, hashed, L2-normalised.

Terms are hashed (scikit-learn's `FeatureHasher`) rather than looked up in a fitted vocabulary, so
an article that arrives after the fit is vectorised with all its terms: the names of a breaking
story are new words, and a vocabulary frozen at the last reindex would ignore exactly those. A
term unseen at fit time gets the highest IDF, as scikit-learn's smoothed IDF gives a zero
document frequency. Between reindexes only the IDF drifts.

Each field contributes its log-scaled term counts (1 + ln count) times the field's weight, so a
headline word counts more than a body word without repeating the headline.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.utils import murmurhash3_32
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2
from sklearn.utils.validation import check_is_fitted

from recommender.analyzer import TextAnalyzer, capitals
from recommender.index import empty_rows
from store.models import Article

FIELDS = ("title", "summary", "body")
# None as an object array: what `np.equal` compares an unnamed bucket with.
_NONE = np.array(None, dtype=object)


@dataclass(frozen=True)
class ArticleText:
    """The parts of an article the vectorizer reads."""

    title: str
    summary: str
    body: str
    language: str = "vi"

    @classmethod
    def of(cls, article: Article) -> ArticleText:
        """Body without in-body related-link boxes (`index_text`), else the plain text. The
        summary counts only where the body does not already hold it: a feed entry without
        content is stored with its lead as both, and a lead counted twice outweighs the
        headline (precision@5 on headline + lead, Dân trí 0.641 -> 0.669, VNTC 0.597 -> 0.620)."""
        body = article.index_text or article.text
        summary = article.summary
        if summary and _squashed(summary).removesuffix("…").rstrip() in _squashed(body):
            summary = ""
        return cls(
            title=article.title,
            summary=summary,
            body=body,
            language=article.language or "vi",
        )


def _squashed(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Analysed:
    """Vectors of a batch and the terms behind them (for naming shared terms)."""

    vectors: sp.csr_matrix
    terms: list[list[str]]
    # every term of the batch -> its hash bucket, in order of first occurrence
    buckets: dict[str, int] = field(default_factory=dict)
    # terms -> a spelling of theirs in the batch's texts (for reasons shown to readers)
    spellings: dict[str, str] = field(default_factory=dict)


class ArticleVectorizer(TransformerMixin, BaseEstimator):  # type: ignore[misc]  # no types
    """Field-weighted TF-IDF over hashed syllable n-grams.

    max_df drops terms found in more than that share of the articles (but never terms found in
    `max_df_floor` articles or fewer, so that a small archive keeps its shared words).

    Learned state: `tfidf_` (scikit-learn's transformer; its IDF is zero for buckets above
    `max_df`) and `n_docs_`.
    """

    def __init__(
        self,
        title_weight: float = 2.0,
        summary_weight: float = 1.0,
        body_weight: float = 1.0,
        n_features: int = 2**22,
        max_df: float = 0.1,
        max_df_floor: int = 50,
        ngram_range: tuple[int, int] = (1, 2),
        stop_words: bool = True,
        batch_size: int = 1000,
    ):
        self.title_weight = title_weight
        self.summary_weight = summary_weight
        self.body_weight = body_weight
        self.n_features = n_features
        self.max_df = max_df
        self.max_df_floor = max_df_floor
        self.ngram_range = ngram_range
        self.stop_words = stop_words
        self.batch_size = batch_size

    # -- scikit-learn API -------------------------------------------------------------------
    def fit(self, docs: Sequence[ArticleText], y: object = None) -> ArticleVectorizer:
        self.fit_counts(_vstack(list(self._counts_in_batches(docs)), self.n_features))
        return self

    def transform(self, docs: Sequence[ArticleText]) -> sp.csr_matrix:
        check_is_fitted(self, "tfidf_")
        parts = [self.weigh(c) for c in self._counts_in_batches(docs)]
        return _vstack(parts, self.n_features)

    def fit_transform(self, docs: Sequence[ArticleText], y: object = None) -> sp.csr_matrix:
        counts = _vstack(list(self._counts_in_batches(docs)), self.n_features)
        self.fit_counts(counts)
        return self.weigh(counts)

    # -- the steps, for callers that stream or name terms -------------------------------------
    def fit_counts(self, counts: sp.csr_matrix) -> None:
        """Learn the IDF from field-weighted counts (as `counts` returns them)."""
        self.fit_df(np.bincount(counts.indices, minlength=self.n_features), counts.shape[0])

    def set_idf(self, idf: npt.NDArray[np.float32], n_docs: int) -> None:
        """Take a learned IDF (as `fit_df` computes it), e.g. from a stored model."""
        if idf.shape != (self.n_features,):
            raise ValueError(f"an IDF of {idf.shape} does not fit {self.n_features} features")
        tfidf = TfidfTransformer(norm="l2", smooth_idf=True)
        tfidf.idf_ = np.asarray(idf, dtype=np.float32)
        tfidf.n_features_in_ = self.n_features
        self.tfidf_ = tfidf
        self.n_docs_ = n_docs

    def fit_df(self, df: npt.NDArray[np.int64], n_docs: int) -> None:
        """Learn the IDF from each bucket's document frequency over n_docs articles: what
        `fit_counts` learns, for a caller that streams the counts and keeps no whole matrix.
        The same float32 arithmetic as scikit-learn's smoothed IDF over float32 counts."""
        if n_docs == 0:
            raise ValueError("cannot fit the related-articles model on zero articles")
        df = np.asarray(df)
        smoothed = df.astype(np.float32) + np.float32(1.0)
        idf = np.full_like(smoothed, fill_value=n_docs + 1, dtype=np.float32)
        idf /= smoothed
        np.log(idf, out=idf)
        idf += 1.0
        if self.max_df < 1.0:
            limit = max(self.max_df * n_docs, self.max_df_floor)
            idf[df > limit] = 0.0
        self.set_idf(idf, n_docs)

    def counts(self, docs: Sequence[ArticleText]) -> Analysed:
        """Field-weighted log counts of a batch, with the terms each document produced.

        Each distinct term of the batch is hashed once (the same buckets `FeatureHasher` gives
        term by term); occurrences are then counted per bucket."""
        analyzer = TextAnalyzer(ngram_range=self.ngram_range, stop_words=self.stop_words)
        weights = {
            "title": self.title_weight,
            "summary": self.summary_weight,
            "body": self.body_weight,
        }
        fields = [name for name in FIELDS if weights[name] > 0]
        if not fields:
            raise ValueError("every field weight is zero: nothing to vectorise")
        by_field = {
            name: [analyzer.analyze(getattr(d, name), d.language) for d in docs] for name in fields
        }
        all_terms: list[list[str]] = [
            [t for name in fields for t in by_field[name][i]] for i in range(len(docs))
        ]
        spellings: dict[str, str] = {}
        for d in docs:
            for name in fields:
                analyzer.spellings(getattr(d, name), d.language, spellings)
        unique = list(dict.fromkeys(chain.from_iterable(all_terms)))
        buckets = dict(zip(unique, self.bucket_of(unique).tolist(), strict=True))
        n_docs, width = len(docs), self.n_features
        keys, values = [], []
        for name in fields:
            terms = by_field[name]
            lengths = np.fromiter(map(len, terms), dtype=np.int64, count=n_docs)
            columns = np.array(
                list(map(buckets.__getitem__, chain.from_iterable(terms))), dtype=np.int64
            )
            rows = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
            key, count = np.unique(rows * width + columns, return_counts=True)
            value = count.astype(np.float32)
            np.log(value, out=value)
            value += 1.0
            value *= weights[name]
            keys.append(key)
            values.append(value)
        # The fields' sum, accumulated in float32 in field order (as sparse sums would).
        key, where = np.unique(np.concatenate(keys), return_inverse=True)
        data = np.zeros(len(key), dtype=np.float32)
        np.add.at(data, where, np.concatenate(values))
        rows, columns = np.divmod(key, width)
        indptr = np.searchsorted(rows, np.arange(n_docs + 1))
        vectors = sp.csr_matrix(
            (data, columns.astype(np.int32), indptr), shape=(n_docs, width), copy=False
        )
        vectors.has_sorted_indices = True
        return Analysed(vectors=vectors, terms=all_terms, buckets=buckets, spellings=spellings)

    def weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """IDF-weight and L2-normalise counts; empty rows stay empty (never NaN)."""
        x = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        # TfidfTransformer.transform's diagonal product costs milliseconds at 2**22 columns
        # for a single new article; this is the same product, then scikit-learn's L2 norm
        # (the kernel `normalize` calls, without its input checks).
        x.data *= self.tfidf_.idf_[x.indices].astype(np.float32)
        x.eliminate_zeros()
        x.sort_indices()
        inplace_csr_row_normalize_l2(x)
        return x

    def bucket_of(self, terms: Sequence[str]) -> npt.NDArray[np.int32]:
        """The hash bucket of each term: `FeatureHasher`'s (signed 32-bit MurmurHash3 of the
        UTF-8 bytes, seed 0; its absolute value modulo the width), one term at a time."""
        if not terms:
            return np.zeros(0, dtype=np.int32)
        h = np.fromiter(map(murmurhash3_32, terms), dtype=np.int64, count=len(terms))
        out = np.abs(h) % self.n_features
        # FeatureHasher's rule for the one hash whose absolute value overflows int32
        out[h == -(2**31)] = (2**31 - 1 - (self.n_features - 1)) % self.n_features
        return out.astype(np.int32)

    def _counts_in_batches(self, docs: Sequence[ArticleText]) -> Iterator[sp.csr_matrix]:
        for start in range(0, len(docs), self.batch_size):
            yield self.counts(docs[start : start + self.batch_size]).vectors


class Names(Protocol):
    """Which term a hash bucket stands for, and how a reader would write it."""

    def name(self, bucket: int) -> str | None: ...

    def spelled(self, bucket: int) -> str | None: ...


class BatchNames:
    """`Names` of the terms of one analysed batch (an added article's own terms)."""

    def __init__(self, analysed: Analysed):
        self._names = {bucket: term for term, bucket in analysed.buckets.items()}
        self._spellings = analysed.spellings

    def name(self, bucket: int) -> str | None:
        return self._names.get(bucket)

    def spelled(self, bucket: int) -> str | None:
        name = self._names.get(bucket)
        return None if name is None else self._spellings.get(name, name)


class TermNames:
    """Which term each hash bucket stands for: the first term seen there, for explanations."""

    def __init__(self, vectorizer: ArticleVectorizer):
        self.vectorizer = vectorizer
        self.names = np.full(vectorizer.n_features, None, dtype=object)
        self.spellings: dict[str, str] = {}

    def spelled(self, bucket: int) -> str | None:
        """The bucket's term as a reader would write it (its index form if never seen)."""
        name = self.names[bucket]
        return None if name is None else self.spellings.get(name, name)

    def learn(
        self,
        terms: Sequence[Sequence[str]],
        buckets: dict[str, int] | None = None,
        spellings: dict[str, str] | None = None,
    ) -> None:
        """Name the buckets of these terms; `buckets` (an `Analysed.buckets` of the same terms)
        saves hashing them again; `spellings` (an `Analysed.spellings`) how they are written."""
        for term, spelling in (spellings or {}).items():
            known = self.spellings.get(term)
            if known is None or capitals(spelling) < capitals(known):
                self.spellings[term] = spelling
        if buckets is None:
            unique = list(dict.fromkeys(chain.from_iterable(terms)))
            where = self.vectorizer.bucket_of(unique)
        else:
            unique = list(buckets)
            where = np.fromiter(buckets.values(), dtype=np.int64, count=len(buckets))
        if not unique:
            return
        new = np.flatnonzero(np.equal(self.names[where], _NONE))
        if len(new):
            # only the still unnamed buckets' terms become an object array
            self.names[where[new]] = np.array([unique[i] for i in new.tolist()], dtype=object)

    def name(self, bucket: int) -> str | None:
        name: str | None = self.names[bucket]
        return name

    __getitem__ = name


def _vstack(parts: list[sp.csr_matrix], n_features: int) -> sp.csr_matrix:
    if not parts:
        return empty_rows(n_features)
    out: sp.csr_matrix = sp.vstack(parts, format="csr")
    return out
