"""Per-category feeds over HTTP: /feeds/<slug>.rss|.atom|.json, the `all` feed, /feeds.opml.

Rendering is `feeds.publish.formats`; this module adds what HTTP clients rely on: absolute self and
paging URLs (RFC 5005, `?before=` is a keyset cursor so pages never shift), a bounded `?limit=`,
strong ETags over the bytes and Last-Modified from the newest item, 304s, Cache-Control, gzip;
the response cache keeps a rendered page until what it read changes (its category's articles,
their related lists and stories), so a takedown is never served stale.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flask import Blueprint, Response, current_app, request

from feeds.publish import formats
from recommender.read import related_for
from service.http.caching import (
    Rendered,
    body_response,
    get_teasers,
    not_modified,
    offer,
    store_version,
)
from service.http.contract import query
from service.http.contract.models import JSONFeed
from service.http.contract.operations import IF_NONE_MATCH, READ_HEADERS, Reply, operation, text
from service.http.contract.query import Cursor, Int, Query, WholeNumber, encode_cursor
from service.http.errors import NotFound
from service.http.popular import (
    Window,
    clock_bucket,
    clock_cache,
    clock_expires,
    most_read,
    window_delta,
)
from store.models import Article, Category, Teaser

bp = Blueprint("feeds", __name__)

ALL = "all"
DEFAULT_ITEMS = 50
MAX_ITEMS = 200
RELATED_PER_ITEM = 3
FEED_MAX_AGE = 300
EMPTY_FEED_DATE = datetime(2024, 1, 1, tzinfo=UTC)
_FORMATS = {
    "rss": (formats.render_rss, formats.RSS_CONTENT_TYPE),
    "atom": (formats.render_atom, formats.ATOM_CONTENT_TYPE),
    "json": (formats.render_json_feed, formats.JSON_FEED_CONTENT_TYPE),
}


@dataclass(frozen=True)
class RenderedFeed:
    rendered: Rendered
    mimetype: str
    etag: str
    last_modified: datetime

    @functools.cached_property
    def headers(self) -> dict[str, str]:
        """The caching headers of every answer with this feed, formatted once."""
        return {
            "ETag": f'"{self.etag}"',
            "Last-Modified": format_datetime(self.last_modified, usegmt=True),
            "Cache-Control": f"public, max-age={FEED_MAX_AGE}",
            "Access-Control-Allow-Origin": "*",
        }


def _quantam() -> Any:
    return current_app.extensions["quantam"]


def _base() -> str:
    return _quantam().settings.base_url.rstrip("/")


class FeedQuery(Query):
    limit: WholeNumber = Int(DEFAULT_ITEMS, 1, MAX_ITEMS, "Items per page.")
    before: Cursor | None = None


class PopularFeedQuery(Query):
    limit: WholeNumber = Int(DEFAULT_ITEMS, 1, MAX_ITEMS, "Items.")
    window: Window = "24h"


IF_MODIFIED_SINCE = {
    "name": "If-Modified-Since",
    "in": "header",
    "description": "An HTTP date; used only when If-None-Match is absent.",
    "schema": {"type": "string"},
}
XML = {"type": "string", "contentMediaType": "application/xml"}


def _feed_operation(
    fmt: str, media_type: str, title: str, schema: Any, popular: bool = False
) -> Any:
    """One documented path per format (one Flask rule serves the three)."""
    body: dict[str, Any] = {"model": schema} if isinstance(schema, type) else {"schema": schema}
    query_model: type[Query]
    if popular:
        path, operation_id, query_model = (
            f"/feeds/{{slug}}/popular.{fmt}",
            f"popular_feed_{fmt}",
            PopularFeedQuery,
        )
        summary = f"A category's most read stories as an {title}, most read first"
        description = "Use the slug `all` for every category. One page, kept for a minute."
    else:
        path, operation_id, query_model = f"/feeds/{{slug}}.{fmt}", f"feed_{fmt}", FeedQuery
        summary = f"A category's {title}, newest first, with RFC 5005 paging"
        description = (
            "Use the slug `all` for every category. Items link their top related "
            "stories. Pages are keyset-paged: follow the feed's `next` link (`?before=`)."
        )
    return operation(
        path=path,
        operation_id=operation_id,
        tag="feeds",
        summary=summary,
        description=description,
        query=query_model,
        headers=(IF_NONE_MATCH, IF_MODIFIED_SINCE),
        path_descriptions={"slug": "A category slug, or `all`."},
        answers={
            200: Reply(
                f"The {title}.",
                media_type=media_type,
                headers=(*READ_HEADERS, "Last-Modified"),
                **body,
            ),
            304: "NotModified",
            400: "BadParameter",
            404: "NotFound",
            503: "StoreUnavailable",
        },
    )


@bp.get("/feeds/<slug>.<fmt>")
@_feed_operation("rss", formats.RSS_MEDIA_TYPE, "RSS 2.0 feed", XML)
@_feed_operation("atom", formats.ATOM_MEDIA_TYPE, "Atom 1.0 feed", XML)
@_feed_operation("json", formats.JSON_FEED_MEDIA_TYPE, "JSON Feed 1.1", JSONFeed)
def feed(slug: str, fmt: str) -> Response:
    if fmt not in _FORMATS:
        raise NotFound(f"no feed format {fmt!r}: use .rss, .atom or .json")
    asked = query.parse(FeedQuery)
    rendered = _render(slug, fmt, asked.limit, asked.before)
    response = _conditional(rendered)
    offer(rendered.etag)
    return response


def _render(slug: str, fmt: str, limit: int, before: Any) -> RenderedFeed:
    store = _quantam().store
    category = _category(slug)
    articles = store.latest_articles(None if slug == ALL else slug, limit=limit + 1, before=before)
    more = len(articles) > limit
    articles = articles[:limit]
    page = _page(
        category,
        f"{category.name} – {_quantam().settings.site_name}",
        f"Tin mới nhất: {category.name}",
        f"{slug}.{fmt}",
        _first_url(slug, fmt, limit),
        _page_url(slug, fmt, limit, articles[-1]) if more and articles else None,
        articles,
    )
    return _rendered(fmt, page)


def _page(
    category: Category,
    title: str,
    description: str,
    path: str,
    first_url: str,
    next_url: str | None,
    articles: list[Article],
) -> formats.FeedPage:
    return formats.FeedPage(
        title=title,
        description=description,
        language=category.language,
        self_url=_self_url(),
        feed_url=f"{_base()}/feeds/{path}",
        home_url=f"{_base()}/",
        first_url=first_url,
        next_url=next_url,
        hub_url=_quantam().settings.websub_hub or None,
        items=_items(articles),
        # An empty feed still needs a date; a fixed one keeps its bytes (and ETag) stable.
        updated=None if articles else EMPTY_FEED_DATE,
    )


@bp.get("/feeds/<slug>/popular.<fmt>")
@_feed_operation("rss", formats.RSS_MEDIA_TYPE, "RSS 2.0 feed", XML, popular=True)
@_feed_operation("atom", formats.ATOM_MEDIA_TYPE, "Atom 1.0 feed", XML, popular=True)
@_feed_operation("json", formats.JSON_FEED_MEDIA_TYPE, "JSON Feed 1.1", JSONFeed, popular=True)
def popular_feed(slug: str, fmt: str) -> Response:
    """ "Đọc nhiều" as a feed: the category's most read stories of the window, most read first;
    one page, kept for a minute (counts do not move the store's version)."""
    if fmt not in _FORMATS:
        raise NotFound(f"no feed format {fmt!r}: use .rss, .atom or .json")
    asked = query.parse(PopularFeedQuery)
    limit, label = asked.limit, asked.window
    window = window_delta(label)
    key = (f"{request.full_path}|{clock_bucket()}", store_version())
    cache = clock_cache("quantam.popular_feeds", 256)
    cached: RenderedFeed | None = cache.get(key)
    if cached is None:
        category = _category(slug)
        ranked = most_read(_quantam().store, None if slug == ALL else slug, window, limit)
        articles = _quantam().store.get_articles(t.id for t, _ in ranked)
        path = f"{slug}/popular.{fmt}"
        page = _page(
            category,
            f"Đọc nhiều: {category.name} – {_quantam().settings.site_name}",
            f"Đọc nhiều nhất {label} qua: {category.name}",
            path,
            f"{_base()}/feeds/{path}",
            None,
            articles,
        )
        cached = _rendered(fmt, page)
        cache.put(key, cached)
    offer(cached.etag, expires=clock_expires())
    return _conditional(cached)


def _rendered(fmt: str, page: formats.FeedPage) -> RenderedFeed:
    render, mimetype = _FORMATS[fmt]
    body = render(page)
    return RenderedFeed(
        rendered=Rendered(body),
        mimetype=mimetype,
        etag=formats.content_etag(body).strip('"'),
        last_modified=formats.last_modified(page),
    )


def _category(slug: str) -> Category:
    if slug == ALL:
        return Category(ALL, "Tất cả chuyên mục", "vi")
    category = _quantam().store.get_category(slug)
    if category is None:
        raise NotFound(f"no category {slug!r}; /feeds.opml lists every feed")
    return category


def _items(articles: list[Article]) -> list[formats.FeedItem]:
    """Each article with its first related stories, editors' overrides applied (as the API
    and the box show them), fill left out: a feed links only stories related by content or
    chosen by an editor."""
    store = _quantam().store
    categories = {c.slug: c for c in store.list_categories()}
    return [
        formats.FeedItem(
            article=a,
            related=[
                r.article
                for r in related_for(store, Teaser.of(a), RELATED_PER_ITEM, get_teasers=get_teasers)
                if not r.item.fill
            ],
            category=categories.get(a.category),
        )
        for a in articles
    ]


def _self_url() -> str:
    path = request.full_path
    return _base() + (path[:-1] if path.endswith("?") else path)


def _first_url(slug: str, fmt: str, limit: int) -> str:
    query = f"?limit={limit}" if limit != DEFAULT_ITEMS else ""
    return f"{_base()}/feeds/{slug}.{fmt}{query}"


def _page_url(slug: str, fmt: str, limit: int, last: Article) -> str:
    query = f"before={encode_cursor((last.published, last.id))}"
    if limit != DEFAULT_ITEMS:
        query += f"&limit={limit}"
    return f"{_base()}/feeds/{slug}.{fmt}?{query}"


def _conditional(feed: RenderedFeed) -> Response:
    """304 when the client's copy is current: If-None-Match decides when sent (a takedown of an
    older item changes the bytes but not the newest item's time), else If-Modified-Since."""
    if request.if_none_match:
        fresh = not_modified(feed.etag)
    else:
        since = request.if_modified_since
        fresh = since is not None and feed.last_modified.replace(microsecond=0) <= since
    if fresh:
        response = Response(status=304, headers=feed.headers)
    else:
        response = body_response(feed.rendered, feed.mimetype, feed.headers)
        response.headers["Content-Type"] = feed.mimetype
    hub = _quantam().settings.websub_hub
    if hub:
        response.headers.add("Link", f'<{hub}>; rel="hub"')
        response.headers.add("Link", f'<{_self_url()}>; rel="self"')
    return response


@bp.get("/feeds.opml")
@operation(
    operation_id="feeds_opml",
    tag="feeds",
    summary="OPML 2.0 list of every category's RSS feed",
    answers={
        200: text(
            "The OPML document.",
            formats.OPML_MEDIA_TYPE,
            ("Cache-Control",),
        ),
        503: "StoreUnavailable",
    },
)
def opml() -> Response:
    store = _quantam().store
    base = _base()
    listings = [formats.FeedListing(_category(ALL), f"{base}/feeds/{ALL}.rss", f"{base}/")]
    listings += [
        formats.FeedListing(c, f"{base}/feeds/{c.slug}.rss", f"{base}/")
        for c in store.list_categories()
    ]
    body = formats.render_opml("quantam – các chuyên mục", listings)
    response = body_response(Rendered(body), formats.OPML_MEDIA_TYPE)
    response.headers["Content-Type"] = formats.OPML_CONTENT_TYPE
    response.headers["Cache-Control"] = f"public, max-age={FEED_MAX_AGE}"
    return response
