"""Reading related lists as they are served: "Có thể bạn quan tâm".

("Tin cùng chuyên mục", a section's latest, is the box's `latest` mode: service/http/box.py.)

The engine (recommender/engine.py) writes each article's ranked list (more items than any
request shows) through the store; everything that serves lists (web workers, the CLI) only reads
them, here. A request's exclusions (articles, categories) always hold: the list is filtered, and
what is missing is filled with the category's most read, then its latest stories, marked as
fill, so the box is never empty while the section has news.

Only teasers are read, and only as many as the answer shows (a few more when some may be gone or
excluded): reading stories is most of what a related answer costs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from store.base import Store
from store.models import RelatedItem, Teaser, utcnow

# What fills a short list: the category's most read of this long (the box's beacons), then
# its latest stories.
POPULAR_FILL_WINDOW = timedelta(hours=24)
# Teasers read beyond k in the first batch, for items taken down or in an excluded category.
SPARE = 2


@dataclass(frozen=True)
class Related:
    article: Teaser
    item: RelatedItem
    # Placed by an editor's pin (store/editorial.py), not by the ranking.
    pinned: bool = False


def related_for(
    store: Store,
    article: Teaser,
    k: int,
    exclude_ids: set[str] = frozenset(),  # type: ignore[assignment]
    exclude_categories: set[str] = frozenset(),  # type: ignore[assignment]
    get_teasers: Callable[[Iterable[str]], list[Teaser]] | None = None,
) -> list[Related]:
    """`get_teasers` reads the stories (the web service passes its cached reader); by default
    the store's.

    Editors' overrides apply here, as the list is read, so they hold through every rebuild:
    blocked articles and categories never paired with this one leave the list, and pinned
    articles take their positions (a request's exclusions still hold over a pin)."""
    get_teasers = get_teasers or store.get_teasers
    stored, own, rules = store.related_as_edited(article.id)
    stored = stored or []
    excluded = set(exclude_ids) | {article.id} | set(own.blocks) | set(rules.blocked)
    pins = sorted((p for p in own.pins if p.article_id not in excluded), key=lambda p: p.position)
    pinned_ids = {p.article_id for p in pins}
    ranked = [i for i in stored if i.article_id not in excluded and i.article_id not in pinned_ids]
    found: dict[str, Teaser] = {}

    def read(ids: list[str]) -> None:
        missing = [i for i in ids if i not in found]
        if missing:
            found.update((t.id, t) for t in get_teasers(missing))

    # The pinned stories are read with the first batch: one read, as without pins.
    read([*pinned_ids, *(i.article_id for i in ranked[: max(k - len(pins), 0) + SPARE])])
    scores = {i.article_id: i for i in stored}
    pinned = [
        (p.position, Related(found[a], scores.get(a, RelatedItem(a, 0.0)), pinned=True))
        for p in pins
        if (a := p.article_id) in found and found[a].category not in exclude_categories
    ]
    k_ranked = k - len(pinned)
    skip_categories = set(exclude_categories) | rules.unpaired(article.category)
    out: list[Related] = []
    start = 0
    while len(out) < k_ranked and start < len(ranked):
        batch = ranked[start : start + k_ranked - len(out) + SPARE]
        start += len(batch)
        read([i.article_id for i in batch])
        out += [
            Related(found[i.article_id], i)
            for i in batch
            if i.article_id in found and found[i.article_id].category not in skip_categories
        ]
    if len(out) < k_ranked and article.category not in exclude_categories:
        taken = excluded | pinned_ids | {r.article.id for r in out}
        since = utcnow() - POPULAR_FILL_WINDOW
        popular = store.popular(article.category, since, k_ranked - len(out), taken)
        if popular:
            read([p.article_id for p in popular])
            out += [
                Related(found[p.article_id], RelatedItem(p.article_id, 0.0, fill=True))
                for p in popular
                if p.article_id in found
            ]
            taken |= {r.article.id for r in out}
        if len(out) < k_ranked:
            latest = store.latest_articles(article.category, limit=k_ranked + len(taken))
            out += [
                Related(Teaser.of(a), RelatedItem(a.id, 0.0, fill=True))
                for a in latest
                if a.id not in taken
            ]
    out = out[: max(k_ranked, 0)]
    for position, related in pinned:
        out.insert(min(position - 1, len(out)), related)
    return out[:k]
