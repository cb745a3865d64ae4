"""How much two articles' shared terms say: concepts, not counts of n-grams.

A shared bigram brings its two syllables along ("thiệt mạng" is three terms: "thiệt mạng",
"thiệt", "mạng"), so counting shared terms overstates a match on one word. Shared terms are
grouped into concepts instead: a bigram joins the syllables it is made of, and bigrams that
overlap ("ủy ban", "ban nhân", "nhân dân") form one phrase. Two headlines that share one short
concept ("thiệt mạng", "Cà Mau", a surname "Tạ") are about different things more often than
not; two that share two concepts ("Ukraine" and "Nga") rarely are.

Measured on headline + lead (docs/recommender.md), label precision of listed items sharing one
concept of at most three syllables: Dân trí 0.44, VNTC 0.41; two or more concepts: 0.66, 0.68.
Such an item keeps its place only when nothing better supported is close, and it can be a
reason, never the whole case, for a list.

Terms are index forms (`recommender.analyzer`): syllables joined by one space.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

# A single shared concept of this many syllables or fewer is weak evidence; a longer one is a
# name or a phrase specific enough to relate two stories on its own ("trường Ischool Nha Trang").
WEAK_CONCEPT_SYLLABLES = 3
# Candidates sharing more terms than this are not weak and need no grouping: one weak concept
# is at most 5 informative terms (3 syllables: 3 unigrams, 2 bigrams), plus a few bigrams with
# a function word at an edge ("mạng và", "người bị"), which count for nothing.
WEAK_MAX_TERMS = 8


def concepts(terms: Iterable[str]) -> list[frozenset[str]]:
    """The shared terms grouped into concepts, each given by its syllables."""
    groups: list[set[str]] = []
    for term in terms:
        syllables = set(term.split())
        touching = [g for g in groups if g & syllables]
        merged = syllables.union(*touching)
        groups = [g for g in groups if not g & syllables]
        groups.append(merged)
    return [frozenset(g) for g in groups]


# A reason shown to readers is a term found in at most this share of the articles: beyond it
# a term says no more than "both are news" (the share at which `max_df` drops terms).
REASON_MAX_SHARE = 0.10


class Terms:
    """What the store's statistics say of a term: whether it is specific enough to be shown
    as a reason.

    idf_of: a term's IDF in the fitted model (scikit-learn's smoothed IDF, 1 + ln((n + 1) /
    (df + 1)); 0 for terms dropped as too frequent); n_docs: the articles it was fitted on."""

    def __init__(
        self,
        idf_of: Callable[[str], float],
        n_docs: int,
        stopwords: frozenset[str],
        floor: int = 50,
    ):
        """floor: a term in this many articles or fewer is specific however small the store
        (the vectoriser's `max_df_floor`, for the same reason)."""
        self.stopwords = stopwords
        self._reason_idf = _idf_at(max(REASON_MAX_SHARE * n_docs, floor), n_docs)
        self._idf = lru_cache(maxsize=100_000)(idf_of)
        # a pure function of the term, asked 2.1M times in a full build of 10k articles (16
        # shared terms of every listed item) for far fewer distinct terms: 41 s of a 595-s
        # profiled build
        self.reason = lru_cache(maxsize=200_000)(self._reason)

    def informative(self, term: str) -> bool:
        """No function word at either edge ("mạng và", "bạn đang" say nothing of their own;
        "cho phép", a compound, has one inside only in the reader's mind: "cho" is listed, so
        it is not informative either, which costs a reason now and then, never a wrong one)."""
        words = term.split()
        return bool(words) and words[0] not in self.stopwords and words[-1] not in self.stopwords

    def _reason(self, term: str) -> bool:
        """Informative and specific: what a reader would accept as why two stories relate."""
        return self.informative(term) and self._idf(term) >= self._reason_idf


def _idf_at(df: float, n_docs: int) -> float:
    """The smoothed IDF of a term in df of n_docs articles."""
    return 1.0 + math.log((n_docs + 1) / (df + 1))


def is_weak(terms: Sequence[str], informative: Callable[[str], bool]) -> bool:
    """Whether these shared terms are at most one concept of at most WEAK_CONCEPT_SYLLABLES
    syllables. Only informative terms count: a bigram with a function word at an edge ("mạng
    và", "người bị", "bị thương") says little about what two stories are about."""
    if len(terms) > WEAK_MAX_TERMS:
        return False
    found = concepts(t for t in terms if informative(t))
    return len(found) == 0 or (len(found) == 1 and len(found[0]) <= WEAK_CONCEPT_SYLLABLES)


def without_parts(terms: Sequence[str], limit: int | None = None) -> list[str]:
    """The terms, best first, without those that only repeat part of an earlier one ("đà
    nẵng" already given, "nẵng" and "đà" add nothing) or overlap a phrase already given ("động
    đất" given, "trận động" is the same words again); a phrase takes the place of the first of
    its words already given. At most `limit` of them. Terms are index terms: a word or a
    bigram. Sets, not pairwise comparisons: it runs for every listed item of a full build."""
    out: list[str | None] = []
    in_phrases: set[str] = set()
    word_at: dict[str, int] = {}
    for term in terms:
        words = term.split()
        if any(w in in_phrases for w in words):
            continue
        if len(words) == 1:
            if words[0] not in word_at:
                word_at[words[0]] = len(out)
                out.append(term)
            continue
        in_phrases.update(words)
        parts = sorted(word_at.pop(w) for w in set(words) if w in word_at)
        if parts:
            out[parts[0]] = term
            for i in parts[1:]:
                out[i] = None
        else:
            out.append(term)
    return [t for t in out if t is not None][:limit]
