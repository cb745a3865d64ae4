"""Applying the store's change log to the index and the lists, change by change.

An upsert (a new or edited article) is vectorised with the stored model, searched, given its
list, and inserted into each older list where its score now beats the last real item. A
takedown leaves the index, and every list that held it is searched again and rewritten. Every
engine applies every change to its own index; only changes that no engine has applied yet (the
store's applied sequence number, `APPLIED_KEY`) are written to the lists, so each change reaches
the lists once, in order, by an engine whose index holds everything before it.

The caller holds the store-wide lists lock (`RelatedEngine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.index import Positions, Rows, Similarities
from recommender.lists import (
    Shared,
    blended,
    evidence,
    list_for,
    rank_params,
    reasons,
    shared_with,
)
from recommender.rank import Candidate, RankParams, relevance
from recommender.settings import RelatedSettings
from recommender.state import IndexState
from recommender.vectorize import ArticleText, BatchNames, Names
from store.base import Store
from store.models import Article, RelatedItem

# The last change applied to the stored lists, by whichever process applied it.
APPLIED_KEY = "related:applied-seq"
# Changes read from the log at a time.
CHANGES_BATCH = 1000


@dataclass(frozen=True)
class Entry:
    """An older list the new article may enter: the list's owner and the new article's score
    there."""

    owner: str
    score: float


@dataclass(frozen=True)
class ChangeApplier:
    """Applies the change log after `state.seq` to one engine's state and to the lists."""

    store: Store
    settings: RelatedSettings
    state: IndexState

    def apply(self) -> int:
        """Apply every change logged after the state's sequence number; returns how many."""
        store, state = self.store, self.state
        applied_seq = int(store.get_meta(APPLIED_KEY) or state.seq)
        applied = 0
        while True:
            changes = store.changes_since(state.seq, limit=CHANGES_BATCH)
            if not changes:
                return applied
            last = {c.article_id: i for i, c in enumerate(changes)}
            upserts = {c.article_id for c in changes if c.op == "upsert"}
            fresh = {a.id: a for a in store.get_articles(upserts)}
            for i, change in enumerate(changes):
                if last[change.article_id] != i:
                    continue  # only the last change of an article in this batch matters
                write = change.seq > applied_seq
                if change.op == "delete":
                    self.delete(change.article_id, write)
                elif change.article_id in fresh:
                    self.upsert(fresh[change.article_id], write)
                applied += 1
            state.seq = changes[-1].seq
            if state.seq > applied_seq:
                applied_seq = state.seq
                store.set_meta(APPLIED_KEY, str(applied_seq).encode())

    def upsert(self, article: Article, write: bool = True) -> None:
        """Index a new or edited article; with `write`, its list and its entries in older
        lists are written."""
        state, settings = self.state, self.settings
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
        cand_pos, cand_sim = state.index.best(similarity, settings.pool)
        fill = state.latest_ids(article.category)
        # the terms it shares with each candidate, found once for its list, the older lists'
        # evidence and the reasons (three passes over the same rows cost a fifth of an add)
        shared = shared_with(state, pos, cand_pos)
        lists = {
            article.id: list_for(
                state, settings, pos, cand_pos, cand_sim, own, fill, explain=False, shared=shared
            )
        }
        lists.update(self._insert_into_older(pos, cand_pos, cand_sim, similarity, own, shared))
        explain_add(state, settings, pos, lists, own, shared)
        self._write(lists)

    def _insert_into_older(
        self,
        pos: int,
        cand_pos: Positions,
        cand_sim: Similarities,
        similarity: Similarities,
        names: Names,
        shared: Shared,
    ) -> dict[str, list[RelatedItem]]:
        """Older lists the new article now belongs to, with it inserted by score (its reason
        is left to `explain_add`): the candidates judged from what this engine wrote
        (`entries`), their stored lists (another process may have written them) read in one
        round trip, the insertion itself by `inserted`."""
        params = rank_params(self.state, self.settings)
        wanted = entries(self.state, self.settings, params, pos, cand_pos, cand_sim, names, shared)
        if not wanted:
            return {}
        stored = self.store.get_related_many(e.owner for e in wanted)
        return inserted(self.state, params, pos, wanted, stored, similarity)

    def delete(self, article_id: str, write: bool = True) -> None:
        """Take an article out of the index; with `write`, every list that held it is
        searched again and rewritten."""
        state = self.state
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
            self._write(self._recompute(live))

    def _recompute(self, owners: Sequence[str]) -> dict[str, list[RelatedItem]]:
        """Fresh lists for these indexed articles, searched again (takedowns refill this way)."""
        state, settings = self.state, self.settings
        lists: dict[str, list[RelatedItem]] = {}
        for article in self.store.get_articles(owners):
            pos = state.live(article.id)
            if pos is None:
                continue
            analysed = state.vectorizer.counts([ArticleText.of(article)])
            own = BatchNames(analysed)
            found = state.index.search(state.index.rows([pos]), settings.pool + 1)
            cand_pos, cand_sim = found.row(0)
            keep = cand_pos != pos
            lists[article.id] = list_for(
                state,
                settings,
                pos,
                cand_pos[keep],
                cand_sim[keep],
                own,
                state.latest_ids(article.category),
            )
        return lists

    def _write(self, lists: dict[str, list[RelatedItem]]) -> None:
        if not lists:
            return
        self.store.put_related(lists)
        for owner, items in lists.items():
            self.state.remember(owner, items)


def entries(
    state: IndexState,
    settings: RelatedSettings,
    params: RankParams,
    pos: int,
    cand_pos: Positions,
    cand_sim: Similarities,
    names: Names,
    shared: Shared | None = None,
) -> list[Entry]:
    """The older lists the new article at `pos` may enter, judged from what this engine knows
    of them (`IndexState.floor`): its neighbours whose list it would enter at a score above
    the floors, and above the list's last real item when the list is full."""
    new_id = state.ids[pos]
    cand_pos, cand_blend, cand_sim = blended(state, settings, pos, cand_pos, cand_sim)
    weights = evidence(state, settings, pos, cand_pos, names, shared)
    out = []
    for other, sim, cosine, weight in zip(
        cand_pos.tolist(), cand_blend.tolist(), cand_sim.tolist(), weights, strict=True
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
        out.append(Entry(owner, score))
    return out


def inserted(
    state: IndexState,
    params: RankParams,
    pos: int,
    wanted: Sequence[Entry],
    stored: dict[str, list[RelatedItem]],
    similarity: Similarities,
) -> dict[str, list[RelatedItem]]:
    """The older lists with the new article at `pos` inserted by score, from their stored
    items; similarity: its cosine with every position (`SimilarityIndex.similarities`).

    An insertion, not a re-ranking: the new item goes where its score puts it unless a
    higher-scored copy of its story is listed (it replaces a lower-scored copy), and the last
    place (a fill item first) gives way. MMR is applied in full at the next reindex."""
    new_id = state.ids[pos]
    threshold = params.duplicate_threshold
    out: dict[str, list[RelatedItem]] = {}
    for entry in wanted:
        current = [i for i in stored.get(entry.owner) or [] if i.article_id != new_id]
        real = [i for i in current if not i.fill and state.live(i.article_id) is not None]
        fill = [i for i in current if i.fill]
        if len(real) >= params.k and entry.score <= real[-1].score:
            continue
        copies = [float(similarity[state.position[i.article_id]]) >= threshold for i in real]
        if any(i.score >= entry.score for i, copy in zip(real, copies, strict=True) if copy):
            continue
        kept = [i for i, copy in zip(real, copies, strict=True) if not copy]
        kept.append(RelatedItem(new_id, entry.score))
        kept.sort(key=lambda i: -i.score)
        out[entry.owner] = (kept + fill)[: params.k]
    return out


def explain_add(
    state: IndexState,
    settings: RelatedSettings,
    pos: int,
    lists: dict[str, list[RelatedItem]],
    names: Names,
    shared: Shared | None = None,
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
    found = reasons(state, settings, pos, np.array(others, dtype=np.int64), names, shared)
    for (items, i), reason in zip(targets, found, strict=True):
        items[i] = items[i]._replace(reason=reason)
