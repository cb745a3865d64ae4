"""Reading an article's related stories for a request, with its exclusions.

The recommender writes each article's ranked list (more items than any request shows) through
the store; web workers only read. A request's exclusions (articles, categories) always hold: the
list is filtered, and what is missing is filled with the category's latest stories, marked as
fill, so the box is never empty while the section has news.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.base import Store
from store.models import Article, RelatedItem


@dataclass(frozen=True)
class Related:
    article: Article
    item: RelatedItem


def related_for(
    store: Store,
    article: Article,
    k: int,
    exclude_ids: set[str] = frozenset(),  # type: ignore[assignment]
    exclude_categories: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[Related]:
    excluded = set(exclude_ids) | {article.id}
    ranked = [i for i in store.get_related(article.id) or [] if i.article_id not in excluded]
    found = {a.id: a for a in store.get_articles(i.article_id for i in ranked)}
    out = [
        Related(found[i.article_id], i)
        for i in ranked
        if i.article_id in found and found[i.article_id].category not in exclude_categories
    ][:k]
    if len(out) < k and article.category not in exclude_categories:
        taken = excluded | {r.article.id for r in out}
        latest = store.latest_articles(article.category, limit=k + len(taken))
        out += [Related(a, RelatedItem(a.id, 0.0, fill=True)) for a in latest if a.id not in taken]
    return out[:k]
