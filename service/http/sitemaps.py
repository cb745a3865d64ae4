"""Sitemaps and robots.txt over HTTP: /robots.txt, /sitemap.xml (the index), /sitemaps/news.xml
(the last 48 hours, for Google News) and /sitemaps/<slug>.xml?page=N (every article of a
category, 50,000 a page).

Rendering is `feeds.publish.sitemap`; this module reads the store and answers with the read side's
caching: an ETag from the bytes, 304s, and the response cache (a category sitemap of 50,000
articles reads them in pages of 1,000 and is then served again until its category changes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app

from feeds.publish import sitemap
from service.http.caching import (
    Rendered,
    body_response,
    content_tag,
    not_modified,
    offer,
    read_headers,
)
from service.http.contract import query
from service.http.contract.operations import IF_NONE_MATCH, READ_HEADERS, Reply, operation, text
from service.http.contract.query import Int, Query, WholeNumber
from service.http.errors import NotFound
from store.models import Article

bp = Blueprint("sitemaps", __name__)

# Crawlers may read a sitemap a few times an hour; news changes by the minute.
SITEMAP_MAX_AGE = 300
READ_BATCH = 1_000
# Not for crawlers: the editors' console.
DISALLOW = ("/admin",)


class PageQuery(Query):
    page: WholeNumber = Int(1, 1, 1_000_000, "Which page of 50,000 articles.")


def _sitemap(summary: str, paged: bool = False, operation_id: str | None = None) -> Any:
    answers: dict[int, Reply | str] = {
        200: text("The sitemap (sitemaps.org 0.9).", "application/xml", READ_HEADERS),
        304: "NotModified",
        503: "StoreUnavailable",
    }
    if paged:
        answers |= {400: "BadParameter", 404: "NotFound"}
    return operation(
        summary=summary,
        tag="sitemaps",
        operation_id=operation_id,
        query=PageQuery if paged else None,
        headers=(IF_NONE_MATCH,),
        path_descriptions={"slug": "A category slug."},
        answers=answers,
    )


def _quantam() -> Any:
    return current_app.extensions["quantam"]


def _base() -> str:
    return str(_quantam().settings.base_url).rstrip("/")


@bp.get("/robots.txt")
@operation(
    operation_id="robots_txt",
    tag="sitemaps",
    summary="robots.txt: crawlers welcome, the sitemap index named",
    answers={
        200: text(
            "robots.txt.",
            "text/plain",
            ("Cache-Control",),
        )
    },
)
def robots() -> Response:
    text = sitemap.robots_txt(f"{_base()}/sitemap.xml", DISALLOW)
    response = Response(text, mimetype="text/plain")
    response.headers["Cache-Control"] = f"public, max-age={SITEMAP_MAX_AGE}"
    return response


@bp.get("/sitemap.xml")
@_sitemap(
    "The sitemap index: the news sitemap and every category's sitemaps",
    operation_id="sitemap_index",
)
def index() -> Response:
    def build() -> bytes:
        store = _quantam().store
        entries = [sitemap.Entry(f"{_base()}/sitemaps/news.xml", _newest(None))]
        for category in store.list_categories():
            count = store.count_articles(category.slug)
            if count == 0:
                continue
            newest = _newest(category.slug)
            for page in range(1, sitemap.pages(count) + 1):
                query = "" if page == 1 else f"?page={page}"
                loc = f"{_base()}/sitemaps/{category.slug}.xml{query}"
                entries.append(sitemap.Entry(loc, newest if page == 1 else None))
        return sitemap.render_index(entries)

    return _answer(build)


@bp.get("/sitemaps/news.xml")
@_sitemap(
    "Google News sitemap: articles first published in the last 48 hours, at most 1,000",
    operation_id="sitemap_news",
)
def news() -> Response:
    def build() -> bytes:
        settings = _quantam().settings
        now = datetime.now(UTC)
        recent = _quantam().store.latest_articles(
            None, limit=sitemap.NEWS_MAX, since=now - sitemap.NEWS_WINDOW
        )
        entries = sitemap.news_window(
            (sitemap.NewsEntry(a.url, a.title, a.published) for a in recent), now
        )
        return sitemap.render_news(entries, settings.site_name, settings.site_language)

    return _answer(build)


@bp.get("/sitemaps/<slug>.xml")
@_sitemap(
    "Every article of a category, newest first, 50,000 a page",
    paged=True,
    operation_id="sitemap_category",
)
def category(slug: str) -> Response:
    store = _quantam().store
    if store.get_category(slug) is None:
        raise NotFound(f"no category {slug!r}; /sitemap.xml lists every sitemap")
    page = query.parse(PageQuery).page
    if page > sitemap.pages(store.count_articles(slug)):
        raise NotFound(f"category {slug!r} has no sitemap page {page}; /sitemap.xml lists them")

    def build() -> bytes:
        skip = (page - 1) * sitemap.MAX_URLS
        entries: list[sitemap.Entry] = []
        for n, article in enumerate(_articles(slug)):
            if n < skip:
                continue
            if len(entries) >= sitemap.MAX_URLS:
                break
            entries.append(sitemap.Entry(article.url, article.updated or article.published))
        return sitemap.render_urlset(entries)

    return _answer(build)


def _articles(slug: str) -> Iterator[Article]:
    """The category's articles, newest first, read a thousand at a time."""
    store = _quantam().store
    before = None
    while True:
        batch = store.latest_articles(slug, limit=READ_BATCH, before=before)
        yield from batch
        if len(batch) < READ_BATCH:
            return
        before = (batch[-1].published, batch[-1].id)


def _newest(slug: str | None) -> datetime | None:
    latest = _quantam().store.latest_articles(slug, limit=1)
    return latest[0].published if latest else None


def _answer(build: Callable[[], bytes]) -> Response:
    """The sitemap, or 304 when the client's copy has the same bytes."""
    rendered = Rendered(build())
    etag = content_tag(rendered.body)
    headers = read_headers(etag, SITEMAP_MAX_AGE)
    offer(etag)
    if not_modified(etag):
        return Response(status=304, headers=headers)
    response = body_response(rendered, "application/xml", headers)
    response.headers["Content-Type"] = sitemap.CONTENT_TYPE
    return response
