"""The read API: articles, categories and their latest items, as JSON.

Public and cacheable: CORS is open, responses carry Cache-Control and an ETag from their bytes,
so browsers, CDNs and the embed box revalidate cheaply.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from pydantic import Field

from recommender.read import related_for
from service.http.caching import cached_json, get_teasers
from service.http.contract import models, query
from service.http.contract.operations import read
from service.http.contract.query import (
    MAX_LIST_VALUES,
    Cursor,
    Ids,
    Int,
    Moment,
    PageURL,
    Query,
    Text,
    WholeNumber,
    encode_cursor,
)
from service.http.contract.shapes import article_detail, article_item, category_item, related_item
from service.http.errors import NotFound
from store.models import Article, Teaser

bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_PAGE = 50
MAX_PAGE = 200
DEFAULT_K = 6
MAX_K = 20
LATEST_MAX_K = 50


def _exclude() -> Any:
    return Field(
        [],
        description=f"Article ids never to return: comma-separated (or the parameter repeated), "
        f"at most {MAX_LIST_VALUES} values in all; blank ones count, then are ignored.",
    )


class LatestQuery(Query):
    k: WholeNumber = Int(DEFAULT_K, 1, LATEST_MAX_K, "How many articles.")
    exclude: Ids = _exclude()


class ArticlesQuery(Query):
    limit: WholeNumber = Int(DEFAULT_PAGE, 1, MAX_PAGE, "Page size.")
    category: Text | None = Field(None, description="Only this category (a slug).")
    since: Moment | None = Field(
        None, description="Only articles published at or after this time (no zone means UTC)."
    )
    until: Moment | None = Field(
        None, description="Only articles published before this time (no zone means UTC)."
    )
    cursor: Cursor | None = None


class RelatedQuery(Query):
    k: WholeNumber = Int(DEFAULT_K, 1, MAX_K, "How many related stories.")
    exclude: Ids = _exclude()
    exclude_category: Ids = Field(
        [], description="Category slugs never to return, given like `exclude`."
    )


class RelatedByURLQuery(RelatedQuery):
    url: PageURL


EVERY_DEFAULT = RelatedQuery()


def _quantam() -> Any:
    return current_app.extensions["quantam"]


@bp.get("/categories")
@read(
    "Every category with its article count and feed URLs",
    models.CategoryList,
    not_found=False,
    operation_id="list_categories",
)
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
@read("A category's latest articles", models.CategoryLatest, query=LatestQuery)
def category_latest(slug: str) -> Any:
    asked = query.parse(LatestQuery)
    k, exclude = asked.k, set(asked.exclude)

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
@read(
    "Articles, newest first, in pages",
    models.ArticlePage,
    query=ArticlesQuery,
    operation_id="list_articles",
)
def articles() -> Any:
    asked = query.parse(ArticlesQuery)
    limit, category, since, cursor = asked.limit, asked.category, asked.since, asked.cursor

    def build() -> dict[str, Any]:
        q = _quantam()
        if category is not None and q.store.get_category(category) is None:
            raise NotFound(f"no category {category!r}; GET /api/categories lists them")
        before = cursor
        if before is None and asked.until is not None:
            before = (asked.until, "\uffff")
        page = q.store.latest_articles(category, limit=limit + 1, before=before, since=since)
        more = len(page) > limit
        page = page[:limit]
        body: dict[str, Any] = {"items": [article_item(a) for a in page], "next_cursor": None}
        if more:
            body["next_cursor"] = encode_cursor((page[-1].published, page[-1].id))
        return body

    return cached_json(build)


@bp.get("/articles/<article_id>")
@read("One article, in full", models.ArticleDetail, operation_id="get_article")
def article(article_id: str) -> Any:
    def build() -> dict[str, Any]:
        return article_detail(_get_article(article_id))

    return cached_json(build)


@bp.get("/articles/<article_id>/related")
@read("An article's related stories", models.RelatedList, query=RelatedQuery)
def related(article_id: str) -> Any:
    k, exclude, exclude_categories = _related_params(RelatedQuery)

    def build() -> dict[str, Any]:
        return related_answer(_get_teaser(article_id), k, exclude, exclude_categories)

    return cached_json(build)


@bp.get("/related")
@read(
    "Related stories for a page known only by its URL (the embed's case)",
    models.RelatedList,
    query=RelatedByURLQuery,
)
def related_by_url() -> Any:
    """For the embed: the page knows only its own URL, canonicalised as at ingestion."""
    asked = query.parse(RelatedByURLQuery)
    url, k = asked.url, asked.k
    exclude, exclude_categories = set(asked.exclude), set(asked.exclude_category)

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


def _related_params(model: type[RelatedQuery]) -> tuple[int, set[str], set[str]]:
    # The embed's usual request has no query: every default, without validating nothing.
    asked = query.parse(model) if request.query_string else EVERY_DEFAULT
    return asked.k, set(asked.exclude), set(asked.exclude_category)


def related_answer(
    article: Teaser, k: int, exclude: set[str], exclude_categories: set[str]
) -> dict[str, Any]:
    """The related answer's body."""
    found = related_for(_quantam().store, article, k, exclude, exclude_categories, get_teasers)
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
