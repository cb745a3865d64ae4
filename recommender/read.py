"""Reading related lists as they are served: "Có thể bạn quan tâm" and "Tin cùng chuyên mục".

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


def related_for(
    store: Store,
    article: Teaser,
    k: int,
    exclude_ids: set[str] = frozenset(),  # type: ignore[assignment]
    exclude_categories: set[str] = frozenset(),  # type: ignore[assignment]
    get_teasers: Callable[[Iterable[str]], list[Teaser]] | None = None,
) -> list[Related]:
    """`get_teasers` reads the stories (the web service passes its cached reader); by default
    the store's."""
    get_teasers = get_teasers or store.get_teasers
    excluded = set(exclude_ids) | {article.id}
    ranked = [i for i in store.get_related(article.id) or [] if i.article_id not in excluded]
    out: list[Related] = []
    start = 0
    while len(out) < k and start < len(ranked):
        batch = ranked[start : start + k - len(out) + SPARE]
        start += len(batch)
        found = {t.id: t for t in get_teasers(i.article_id for i in batch)}
        out += [
            Related(found[i.article_id], i)
            for i in batch
            if i.article_id in found and found[i.article_id].category not in exclude_categories
        ]
    if len(out) < k and article.category not in exclude_categories:
        taken = excluded | {r.article.id for r in out}
        since = utcnow() - POPULAR_FILL_WINDOW
        popular = store.popular(article.category, since, k - len(out), taken)
        if popular:
            read = {t.id: t for t in get_teasers(p.article_id for p in popular)}
            out += [
                Related(read[p.article_id], RelatedItem(p.article_id, 0.0, fill=True))
                for p in popular
                if p.article_id in read
            ]
            taken |= {r.article.id for r in out}
        if len(out) < k:
            latest = store.latest_articles(article.category, limit=k + len(taken))
            out += [
                Related(Teaser.of(a), RelatedItem(a.id, 0.0, fill=True))
                for a in latest
                if a.id not in taken
            ]
    return out[:k]


def same_category(
    store: Store, article: Teaser, n: int, exclude_ids: Iterable[str] = ()
) -> list[Teaser]:
    """ "Tin cùng chuyên mục": the category's latest n, without the article itself (and
    without whatever else is excluded, such as the article's related items)."""
    skip = {article.id, *exclude_ids}
    latest = store.latest_articles(article.category, limit=n + len(skip))
    return [Teaser.of(a) for a in latest if a.id not in skip][:n]
