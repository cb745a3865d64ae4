"""The read API: articles, categories and their latest items, as JSON.

Public and cacheable: CORS is open, responses carry Cache-Control and an ETag derived from the
store's version, so browsers, CDNs and the embed box revalidate cheaply.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from service.caching import cached_json
from service.errors import NotFound
from service.params import cursor_param, datetime_param, encode_cursor, int_param, list_param
from service.serialize import article_detail, article_item, category_item
from store.models import Article

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PAGE = 200


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
    k = int_param("k", 6, 1, 50)
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
    limit = int_param("limit", 50, 1, MAX_PAGE)
    category = request.args.get("category") or None
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


def _get_article(article_id: str) -> Article:
    found = _quantam().store.get_article(article_id)
    if found is None:
        raise NotFound(f"no article with id {article_id!r}")
    return found
