"""From similar articles to the list a reader sees: pure functions, no I/O.

Order of work for one article: drop its own copies and anything past the maximum age; weigh
similarity by recency and category; then pick greedily by maximal marginal relevance (MMR) so that
five items are not five takes on one angle, never taking two syndicated copies of one story;
finally fill empty places with the category's latest, marked as fill.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from store.models import RelatedItem

DAY = 86400.0


@dataclass(frozen=True)
class RankParams:
    """How lists are ranked; `recommender.settings.RelatedSettings` carries the defaults."""

    k: int = 6
    min_score: float = 0.05
    half_life_days: float = 0.0  # 0: no recency decay
    max_age_days: float = 0.0  # 0: any age
    category_boost: float = 0.0
    mmr_lambda: float = 0.8
    duplicate_threshold: float = 0.7
    # MMR weighs an item's similarity to those already picked only from this cosine on (two
    # takes on one story); below it, items are ranked by relevance alone
    diversity_threshold: float = 0.0
    # an item also needs this much TF-IDF cosine: words in common, not only a subject
    min_cosine: float = 0.0


@dataclass(frozen=True)
class Candidate:
    """A similar article as the ranking sees it."""

    article_id: str
    similarity: float  # what relevance starts from (TF-IDF cosine, or its blend)
    published: float  # POSIX seconds
    category: str
    cosine: float | None = None  # TF-IDF cosine, for copies; None: `similarity` is it
    # weight of the shared terms as evidence: below 1 when they are one short concept
    # (`recommender.evidence`)
    evidence: float = 1.0

    @property
    def lexical(self) -> float:
        return self.similarity if self.cosine is None else self.cosine


def decay(age_seconds: float, half_life_days: float) -> float:
    """Weight of an item this far in time from the article: 1 at zero, 1/2 at one half-life."""
    if half_life_days <= 0:
        return 1.0
    return math.pow(0.5, abs(age_seconds) / (half_life_days * DAY))


def relevance(candidate: Candidate, published: float, category: str, params: RankParams) -> float:
    """Similarity weighed by recency and the same-category boost; 0 when too old."""
    age = abs(candidate.published - published)
    if params.max_age_days > 0 and age > params.max_age_days * DAY:
        return 0.0
    score = candidate.similarity * candidate.evidence * decay(age, params.half_life_days)
    if params.category_boost and candidate.category == category:
        score *= 1.0 + params.category_boost
    return score


def rank(
    article_id: str,
    published: float,
    category: str,
    candidates: Sequence[Candidate],
    pair_similarity: npt.NDArray[np.float32],
    params: RankParams,
    fill: Iterable[str] = (),
) -> list[RelatedItem]:
    """The article's list: at most k items, best first, fill items last.

    pair_similarity[i, j] is the cosine between candidates i and j (for MMR and copies);
    fill is the category's latest article ids, newest first.
    """
    scores = [relevance(c, published, category, params) for c in candidates]
    copies = {c.article_id for c in candidates if c.lexical >= params.duplicate_threshold}
    eligible = [
        i
        for i, c in enumerate(candidates)
        if c.article_id != article_id
        and c.lexical < params.duplicate_threshold
        and scores[i] >= params.min_score
        and c.lexical >= params.min_cosine
    ]
    pairs = np.asarray(pair_similarity).tolist()  # plain floats: faster than numpy at this size
    redundancy = dict.fromkeys(eligible, 0.0)
    lam = params.mmr_lambda
    chosen: list[int] = []
    while redundancy and len(chosen) < params.k:
        pick = max(redundancy, key=lambda i: lam * scores[i] - (1 - lam) * redundancy[i])
        del redundancy[pick]
        chosen.append(pick)
        row = pairs[pick]
        for i in list(redundancy):
            if row[i] >= params.duplicate_threshold:
                # A syndicated copy of the story just picked never appears after it.
                copies.add(candidates[i].article_id)
                del redundancy[i]
            elif row[i] > redundancy[i] and row[i] >= params.diversity_threshold:
                redundancy[i] = row[i]
    items = [RelatedItem(candidates[i].article_id, round(float(scores[i]), 4)) for i in chosen]
    return with_fill(items, article_id, fill, params.k, skip=copies)


def with_fill(
    items: list[RelatedItem],
    article_id: str,
    fill: Iterable[str],
    k: int,
    skip: Iterable[str] = (),
) -> list[RelatedItem]:
    """Top up a list to k from `fill` (newest first), skipping the article, repeats and `skip`
    (copies of the article or of listed stories)."""
    taken = {article_id, *skip, *(item.article_id for item in items)}
    out = list(items)
    for other in fill:
        if len(out) >= k:
            break
        if other not in taken:
            out.append(RelatedItem(other, 0.0, fill=True))
            taken.add(other)
    return out
