"""The vectorizer's own shortcuts against the scikit-learn steps they stand for."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher

from recommender.vectorize import ArticleText, ArticleVectorizer
from tests.support.related_fixture import articles


def test_buckets_are_feature_hashers() -> None:
    vectorizer = ArticleVectorizer(n_features=2**22)
    terms = ["bóng đá", "hlv", "thủy", "a", "", "Việt Nam", "😀 x", *map(str, range(500))]
    hasher = FeatureHasher(n_features=2**22, input_type="string", alternate_sign=False)
    want = [hasher.transform([[t]]).tocsr().indices[0] for t in terms]
    assert vectorizer.bucket_of(terms).tolist() == want
    small = ArticleVectorizer(n_features=1000)
    hasher = FeatureHasher(n_features=1000, input_type="string", alternate_sign=False)
    assert small.bucket_of(terms).tolist() == [
        hasher.transform([[t]]).tocsr().indices[0] for t in terms
    ]


def _hashed_counts(vectorizer: ArticleVectorizer, docs: list[ArticleText]) -> sp.csr_matrix:
    """The plain recipe: per field, FeatureHasher counts, 1 + ln, times the weight, summed."""
    from recommender.analyzer import TextAnalyzer

    analyzer = TextAnalyzer()
    hasher = FeatureHasher(
        n_features=vectorizer.n_features, input_type="string", alternate_sign=False
    )
    total = None
    for name, weight in (
        ("title", vectorizer.title_weight),
        ("summary", vectorizer.summary_weight),
        ("body", vectorizer.body_weight),
    ):
        counts = hasher.transform(
            [analyzer.analyze(getattr(d, name), d.language) for d in docs]
        ).astype(np.float32)
        counts = sp.csr_matrix(counts)
        np.log(counts.data, out=counts.data)
        counts.data += 1.0
        counts.data *= weight
        total = counts if total is None else total + counts
    return total.tocsr()


def test_counts_equal_the_feature_hasher_recipe_for_batches_and_single_articles() -> None:
    docs = [ArticleText.of(a) for a in articles()]
    vectorizer = ArticleVectorizer(title_weight=2.0, summary_weight=0.5)
    want = _hashed_counts(vectorizer, docs)
    got = vectorizer.counts(docs)
    assert (got.vectors != want).nnz == 0
    assert got.vectors.dtype == np.float32
    for i, doc in enumerate(docs):
        one = vectorizer.counts([doc])
        assert (one.vectors != want[i]).nnz == 0
        assert set(one.buckets) == set(got.terms[i])
        assert [one.buckets[t] for t in one.buckets] == vectorizer.bucket_of(
            list(one.buckets)
        ).tolist()


def test_idf_from_document_frequencies_is_scikit_learns() -> None:
    """`fit_df` lets a full build stream its counts; it must learn TfidfTransformer's IDF."""
    from sklearn.feature_extraction.text import TfidfTransformer

    docs = [ArticleText.of(a) for a in articles()]
    vectorizer = ArticleVectorizer(max_df=1.0)
    counts = vectorizer.counts(docs).vectors
    vectorizer.fit_counts(counts)
    want = TfidfTransformer(norm="l2", smooth_idf=True).fit(counts)
    assert vectorizer.tfidf_.idf_.dtype == want.idf_.dtype
    assert np.array_equal(vectorizer.tfidf_.idf_, want.idf_)
    assert (vectorizer.weigh(counts) != want.transform(counts)).nnz == 0
