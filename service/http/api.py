"""The read API: articles, categories and their latest items, as JSON.

Public and cacheable: CORS is open, responses carry Cache-Control and an ETag derived from the
store's version, so browsers, CDNs and the embed box revalidate cheaply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, current_app, request

from recommender.read import related_for
from service.http.box import page_url_param
from service.http.caching import cached_json, get_teasers
from service.http.errors import NotFound
from service.http.params import (
    cursor_param,
    datetime_param,
    encode_cursor,
    int_param,
    list_param,
    str_param,
)
from service.http.serialize import article_detail, article_item, category_item, related_item
from store.base import Store
from store.models import Article, Teaser

bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_PAGE = 50
MAX_PAGE = 200
DEFAULT_K = 6
MAX_K = 20
LATEST_MAX_K = 50


def _quantam() -> Any:
    return current_app.extensions["quantam"]


@bp.get("/categories")
def categories() -> Any:
    def build() -> dict[str, Any]:
        q = _quantam()
        return {
            "categories": [
                category_item(c, q.store, q.settings.base_url) for c in q.store.list_categories()
            ]
        }

    return cached_json(build)


@bp.get("/categories/<slug>/latest")
def category_latest(slug: str) -> Any:
    k = int_param("k", DEFAULT_K, 1, LATEST_MAX_K)
    exclude = set(list_param("exclude"))

    def build() -> dict[str, Any]:
        q = _quantam()
        category = q.store.get_category(slug)
        if category is None:
            raise NotFound(f"no category {slug!r}; GET /api/categories lists them")
        latest = q.store.latest_articles(slug, limit=k + len(exclude))
        items = [a for a in latest if a.id not in exclude][:k]
        return {
            "category": category_item(category, q.store, q.settings.base_url),
            "items": [article_item(a) for a in items],
        }

    return cached_json(build)


@bp.get("/articles")
def articles() -> Any:
    limit = int_param("limit", DEFAULT_PAGE, 1, MAX_PAGE)
    category = str_param("category")
    since = datetime_param("since")
    until = datetime_param("until")
    cursor = cursor_param()

    def build() -> dict[str, Any]:
        q = _quantam()
        if category is not None and q.store.get_category(category) is None:
            raise NotFound(f"no category {category!r}; GET /api/categories lists them")
        before = cursor
        if before is None and until is not None:
            before = (until, "\uffff")
        page = q.store.latest_articles(category, limit=limit + 1, before=before, since=since)
        more = len(page) > limit
        page = page[:limit]
        body: dict[str, Any] = {"items": [article_item(a) for a in page], "next_cursor": None}
        if more:
            body["next_cursor"] = encode_cursor((page[-1].published, page[-1].id))
        return body

    return cached_json(build)


@bp.get("/articles/<article_id>")
def article(article_id: str) -> Any:
    def build() -> dict[str, Any]:
        return article_detail(_get_article(article_id))

    return cached_json(build)


@bp.get("/articles/<article_id>/related")
def related(article_id: str) -> Any:
    k, exclude, exclude_categories = _related_params()

    def build() -> dict[str, Any]:
        return related_answer(_get_teaser(article_id), k, exclude, exclude_categories)

    return cached_json(build)


@bp.get("/related")
def related_by_url() -> Any:
    """For the embed: the page knows only its own URL, canonicalised as at ingestion."""
    url = page_url_param()
    k, exclude, exclude_categories = _related_params()

    def build() -> dict[str, Any]:
        return related_answer(article_at(url), k, exclude, exclude_categories)

    return cached_json(build)


def article_at(url: str) -> Teaser:
    """The article stored at this URL (its teaser: all a related answer shows), or 404; raises
    InvalidURL for a URL that is not http(s)."""
    article_id = _quantam().store.article_id_at(url)
    found = get_teasers([article_id]) if article_id else []
    if not found:
        raise NotFound(f"no article is known at {url}")
    return found[0]


def _related_params() -> tuple[int, set[str], set[str]]:
    if not request.query_string:  # the embed's usual request: every default
        return DEFAULT_K, set(), set()
    return (
        int_param("k", DEFAULT_K, 1, MAX_K),
        set(list_param("exclude")),
        set(list_param("exclude_category")),
    )


def related_answer(
    article: Teaser,
    k: int,
    exclude: set[str],
    exclude_categories: set[str],
    store: Store | None = None,
    teasers: Callable[[Iterable[str]], list[Teaser]] | None = None,
) -> dict[str, Any]:
    """The related answer's body; `store` and `teasers` default to this request's (the fast
    path, which answers without Flask, passes its own)."""
    store = store or _quantam().store
    found = related_for(store, article, k, exclude, exclude_categories, teasers or get_teasers)
    return {
        "article": article_item(article),
        "items": [related_item(r.article, r.item.score, r.item.reason, r.item.fill) for r in found],
    }


def _get_article(article_id: str) -> Article:
    found = _quantam().store.get_article(article_id)
    if found is None:
        raise NotFound(f"no article with id {article_id!r}")
    return found


def _get_teaser(article_id: str) -> Teaser:
    found = get_teasers([article_id])
    if not found:
        raise NotFound(f"no article with id {article_id!r}")
    return found[0]
