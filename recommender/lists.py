"""One article's related list, from its similar articles: blend, evidence, rank, fill, reasons.

The candidates are the article's TF-IDF neighbours (positions and cosines, best first), from a
full build's neighbour table or an add's own search. Their order is the blend with the latent
space (`blended`); a candidate whose shared terms are one short concept weighs less
(`evidence`); `recommender.rank` ranks them; places left are filled from the category's latest,
never with a copy (`fill_without_copies`); each real item gets the shared terms that explain it
(`reasons`). Functions of the engine's state and settings, without I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from recommender.evidence import WEAK_MAX_TERMS, is_weak, without_parts
from recommender.index import Columns, Positions, Similarities, dots, gram, shared_terms
from recommender.latent import blend
from recommender.rank import Candidate, RankParams, rank
from recommender.settings import RelatedSettings
from recommender.state import IndexState
from recommender.vectorize import Names
from store.models import RelatedItem

# positions -> the (m x m) similarities between them (for MMR and copies)
PairMatrix = Callable[[Positions], Similarities]
# candidate position -> the columns (terms) it shares with the article, most contributing first:
# computed once per list, read by the evidence and by the reasons (two passes over the same
# rows cost a fifth of a full build at 10k articles)
Shared = dict[int, Columns]

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


def rank_params(state: IndexState, settings: RelatedSettings) -> RankParams:
    """The settings' ranking, with the floor on the scale of the similarity in use: the blend
    when a latent space is fitted, else the bare cosine (`LEXICAL_FLOOR`)."""
    params = settings.rank_params()
    lexical = params.min_score * LEXICAL_FLOOR
    if state.z is None or settings.latent_weight <= 0:
        return dataclasses.replace(params, min_score=lexical)
    # with a latent space, an item still needs words in common: a blend made mostly of the
    # latent part says "same subject", not "related story"
    return dataclasses.replace(params, min_cosine=lexical)


def list_for(
    state: IndexState,
    settings: RelatedSettings,
    pos: int,
    cand_pos: Positions,
    cand_sim: Similarities,
    names: Names,
    fill: Sequence[str],
    pair_matrix: PairMatrix | None = None,
    explain: bool = True,
    shared: Shared | None = None,
) -> list[RelatedItem]:
    """The article's ranked list; explain=False leaves the reasons to the caller.

    cand_sim: the candidates' TF-IDF cosines, best first; they are ranked by the blend with
    the latent space (`blended`), copies told by the cosine. pair_matrix: the candidates'
    similarities between them (default: computed from their vectors)."""
    items, shared = ranked(
        state, settings, pos, cand_pos, cand_sim, names, fill, pair_matrix, shared
    )
    if not explain:
        return items
    real = [i for i in items if not i.fill]
    found = iter(reasons(state, settings, pos, state.positions(real), names, shared))
    return [item if item.fill else item._replace(reason=next(found)) for item in items]


def ranked(
    state: IndexState,
    settings: RelatedSettings,
    pos: int,
    cand_pos: Positions,
    cand_sim: Similarities,
    names: Names,
    fill: Sequence[str],
    pair_matrix: PairMatrix | None = None,
    shared: Shared | None = None,
) -> tuple[list[RelatedItem], Shared]:
    """`list_for` without reasons, and the terms each candidate shares with the article (for
    the reasons); `shared`: those terms already found for every candidate (an add's)."""
    cand_pos, cand_sim, cand_cos = blended(state, settings, pos, cand_pos, cand_sim)
    window = min(len(cand_pos), 2 * settings.stored_k)  # MMR looks this deep
    cand_pos = cand_pos[:window]
    if shared is None:
        shared = shared_with(state, pos, cand_pos)
    weights = evidence(state, settings, pos, cand_pos, names, shared)
    candidates = [
        Candidate(state.ids[p], s, state.published[p], state.category[p], c, e)
        for p, s, c, e in zip(
            cand_pos.tolist(),
            cand_sim[:window].tolist(),
            cand_cos[:window].tolist(),
            weights,
            strict=True,
        )
    ]
    pairs = (pair_matrix or (lambda p: pair_similarity(state, p)))(cand_pos)
    items = rank(
        state.ids[pos],
        state.published[pos],
        state.category[pos],
        candidates,
        pairs,
        rank_params(state, settings),
        fill,
    )
    if any(i.fill for i in items):
        items = fill_without_copies(state, settings, pos, items, fill)
    return items, shared


def shared_with(state: IndexState, pos: int, others: Positions) -> Shared:
    """The terms each of `others` shares with the article, most contributing first (enough
    for its evidence and its reasons)."""
    if len(others) == 0:
        return {}
    found = shared_terms(state.index.rows([pos]), state.index.rows(others), REASON_POOL)
    return dict(zip(others.tolist(), found, strict=True))


def blended(
    state: IndexState,
    settings: RelatedSettings,
    pos: int,
    cand_pos: Positions,
    cand_cos: Similarities,
) -> tuple[Positions, Similarities, Similarities]:
    """Candidates re-ordered by the blended similarity: (positions, blend, cosine)."""
    weight = settings.latent_weight
    if state.z is None or weight <= 0 or len(cand_pos) == 0:
        return cand_pos, cand_cos, cand_cos
    sim = blend(cand_cos, state.z.cosines(pos, cand_pos), weight)
    order = np.lexsort((cand_pos, -sim))
    return cand_pos[order], sim[order], cand_cos[order]


def evidence(
    state: IndexState,
    settings: RelatedSettings,
    pos: int,
    cand_pos: Positions,
    names: Names,
    shared: Shared | None = None,
) -> list[float]:
    """Each candidate's evidence weight: `single_concept_weight` when the terms it shares
    with the article are one short concept, else 1."""
    weight = settings.single_concept_weight
    if weight >= 1.0 or len(cand_pos) == 0 or state.z is None:
        # without a latent space the store is too small (fewer than 10 x latent_dims
        # articles) for document frequencies to tell a function word from a name: in a
        # dozen articles "đầu" and "xếp" look as specific as "bóng đá"
        return [1.0] * len(cand_pos)
    if shared is None:
        shared = shared_with(state, pos, cand_pos)
    informative = state.terms.informative
    out = []
    for p in cand_pos.tolist():
        columns = shared[p][: WEAK_MAX_TERMS + 1]
        weak = False
        if len(columns) <= WEAK_MAX_TERMS:
            weak = is_weak([t for t in map(names.name, columns.tolist()) if t], informative)
        out.append(weight if weak else 1.0)
    return out


def fill_without_copies(
    state: IndexState,
    settings: RelatedSettings,
    pos: int,
    items: list[RelatedItem],
    fill: Sequence[str],
) -> list[RelatedItem]:
    """Redo the fill so that no fill item is a copy of the article, of a listed story or of
    another fill item (fill comes by date, not by similarity, so rank cannot see copies)."""
    threshold = settings.duplicate_threshold
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


def pair_similarity(state: IndexState, positions: Positions) -> Similarities:
    """The cosines between these articles, from their vectors."""
    if len(positions) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return gram(state.index.rows(positions))


def reasons(
    state: IndexState,
    settings: RelatedSettings,
    pos: int,
    others: Positions,
    names: Names,
    shared: Shared | None = None,
) -> list[tuple[str, ...]]:
    """Why each of `others` relates to the article: its reason terms, as spelled."""
    return [
        tuple(names.spelled(b) or "" for b in buckets)
        for buckets in reason_buckets(state, settings, pos, others, names, shared)
    ]


def reason_buckets(
    state: IndexState,
    settings: RelatedSettings,
    pos: int,
    others: Positions,
    names: Names,
    shared: Shared | None = None,
) -> list[list[int]]:
    """`reasons` as buckets: of the shared terms that contribute most to each similarity, the
    specific ones without a function word at an edge (`evidence.Terms.reason`), each phrase
    once ("Đà Nẵng", not also "Đà" and "Nẵng"), at most `explain_terms`."""
    if len(others) == 0:
        return []
    n = settings.explain_terms
    if shared is None or any(p not in shared for p in others.tolist()):
        shared = shared_with(state, pos, others)
    good = state.terms.reason
    out = []
    for cols in (shared[p] for p in others.tolist()):
        named: dict[str, int] = {}
        for b in map(int, cols):
            term = names.name(b)
            if term and good(term):
                named.setdefault(term, b)
        out.append([named[t] for t in without_parts(list(named), n)])
    return out
