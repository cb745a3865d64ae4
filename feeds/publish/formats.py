"""One page of a category feed as RSS 2.0, Atom 1.0 or JSON Feed 1.1, and the OPML list of feeds.

Pure: data in, bytes out. The HTTP layer builds a `FeedPage` per format (the self and paging
URLs differ per format), renders it, and uses `content_etag` / `last_modified` for conditional
GET. What the renderers guarantee, because readers and the W3C Feed Validation Service check it:

- Stable bytes while the items are stable: no build time anywhere (the channel/feed date is the
  newest item's time), items newest first in a fixed order, so a hash of the bytes is an ETag.
- Absolute ASCII URIs everywhere, inside content too (relative links resolved against the
  article URL); RFC 822 dates in RSS, RFC 3339 in Atom and JSON Feed; a guid/id per item that is
  a permalink exactly when it is the article URL; dc:creator rather than RSS `author` (which
  needs an e-mail address); the lead image as media:thumbnail, media:content and an enclosure.
- Each item links its related stories (atom:link rel="related", in RSS through the Atom
  namespace, `_quantam.related` in JSON Feed); RFC 5005 paging links and WebSub hub links.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator

from feeds.publish import feedgen_ext
from feeds.publish.feedgen_ext import EntryExtras, Link, Media
from feeds.publish.markup import feed_html
from feeds.publish.opml import write_opml
from store.models import Article, Category, Image, Teaser
from store.urls import to_uri

RSS_MEDIA_TYPE = "application/rss+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"
JSON_FEED_MEDIA_TYPE = "application/feed+json"
OPML_MEDIA_TYPE = "text/x-opml"
RSS_CONTENT_TYPE = f"{RSS_MEDIA_TYPE}; charset=utf-8"
ATOM_CONTENT_TYPE = f"{ATOM_MEDIA_TYPE}; charset=utf-8"
JSON_FEED_CONTENT_TYPE = f"{JSON_FEED_MEDIA_TYPE}; charset=utf-8"
OPML_CONTENT_TYPE = f"{OPML_MEDIA_TYPE}; charset=utf-8"

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
HTML_MEDIA_TYPE = "text/html"


@dataclass(frozen=True)
class FeedItem:
    """One story of the page, with the related stories it links and its category's name."""

    article: Article
    # Only their titles and URLs are rendered, so teasers will do.
    related: Sequence[Article | Teaser] = ()
    category: Category | None = None


@dataclass(frozen=True)
class FeedPage:
    """Everything one rendered page says. URLs are absolute and specific to the format rendered.

    self_url is exactly the URL the page was requested at (validators compare them); feed_url is
    the feed's canonical URL (Atom id, JSON Feed feed_url), the same on every page and for every
    `?limit=`; it defaults to self_url. next_url leads to older items (RFC 5005 paged feeds).
    `updated` is needed only for a page without items: otherwise it is the newest item's time.
    """

    title: str
    self_url: str
    home_url: str
    items: Sequence[FeedItem] = ()
    description: str = ""
    language: str = "vi"
    feed_url: str | None = None
    first_url: str | None = None
    previous_url: str | None = None
    next_url: str | None = None
    current_url: str | None = None
    hub_url: str | None = None
    icon_url: str | None = None
    publisher: str = "quantam"
    generator: str = "quantam"
    ttl_minutes: int = 15
    updated: datetime | None = None


@dataclass(frozen=True)
class FeedListing:
    """One feed in the OPML list: a category and the URLs of its feed and its web page."""

    category: Category
    xml_url: str
    html_url: str | None = None


def render_rss(page: FeedPage) -> bytes:
    """RSS 2.0 with the content, Dublin Core, Media RSS and Atom namespaces."""
    entries = _entries(page)
    fg = _generator(page, rss=True)
    fg.link(href=to_uri(page.self_url), rel="self", type=RSS_MEDIA_TYPE)
    fg.link(href=to_uri(page.home_url), rel="alternate")  # feedgen's RSS <link> is the last one
    # Readers render RSS descriptions as HTML: escaped here (as item descriptions are), a
    # category named "<script>…" is shown as that text, not run as markup.
    fg.description(html.escape(_text(page.description) or _text(page.title), quote=False))
    fg.lastBuildDate(_newest(page, entries))
    fg.ttl(page.ttl_minutes)
    if page.icon_url:
        fg.image(url=to_uri(page.icon_url))
    getattr(fg, feedgen_ext.EXTENSION).links = _page_links(page, RSS_MEDIA_TYPE)
    for entry in entries:
        item = fg.add_entry(order="append")
        item.title(entry.title)
        item.link(href=entry.url)
        item.guid(entry.id, permalink=entry.is_permalink)
        item.description(html.escape(entry.summary, quote=False))
        if entry.html:
            item.content(entry.html)
        item.pubDate(entry.published)
        for term, label in entry.categories:
            item.category(term=label or term)
        if entry.enclosure is not None:
            item.enclosure(
                entry.enclosure.url, str(entry.enclosure.size or 0), entry.enclosure.type
            )
        extras: EntryExtras = getattr(item, feedgen_ext.EXTENSION)
        extras.creator = entry.author
        extras.media = entry.media
        extras.links = entry.related
    return _xml_bytes(fg.rss_str(pretty=True))


def render_atom(page: FeedPage) -> bytes:
    """Atom 1.0 (RFC 4287) with Media RSS; entries carry related and enclosure links."""
    entries = _entries(page)
    fg = _generator(page, rss=False)
    fg.id(to_uri(page.feed_url or page.self_url))
    fg.link(href=to_uri(page.self_url), rel="self", type=ATOM_MEDIA_TYPE)
    fg.link(href=to_uri(page.home_url), rel="alternate", type=HTML_MEDIA_TYPE)
    for link in _page_links(page, ATOM_MEDIA_TYPE):
        fg.link(href=link.href, rel=link.rel, **({"type": link.type} if link.type else {}))
    if page.description:
        fg.subtitle(_text(page.description))
    if page.icon_url:
        fg.icon(to_uri(page.icon_url))
    fg.author(name=_text(page.publisher))
    updated = _atom_times(entries)
    fg.updated(max(updated.values(), default=_newest(page, entries)))
    for entry in entries:
        item = fg.add_entry(order="append")
        item.id(entry.id)
        item.title(entry.title)
        item.updated(updated[entry.id])
        item.published(entry.published)
        if entry.author:
            item.author(name=entry.author)
        # A link without rel is the alternate; feedgen 1.0 drops rel, type and title from
        # entry links, so every other link is written by the extension.
        item.link(href=entry.url)
        if entry.html:
            item.content(entry.html, type="html")
        item.summary(entry.summary)
        for term, label in entry.categories:
            item.category(term=term, **({"label": label} if label else {}))
        extras: EntryExtras = getattr(item, feedgen_ext.EXTENSION)
        extras.media = entry.media
        extras.links = _enclosure_links(entry) + entry.related
        extras.language = entry.language if entry.language != page.language else None
    return _xml_bytes(fg.atom_str(pretty=True))


def render_json_feed(page: FeedPage) -> bytes:
    """JSON Feed 1.1; related stories go in the `_quantam` extension object of each item."""
    entries = _entries(page)
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": _text(page.title),
        "home_page_url": to_uri(page.home_url),
        "feed_url": to_uri(page.feed_url or page.self_url),
    }
    if page.description:
        feed["description"] = _text(page.description)
    if page.next_url:
        feed["next_url"] = to_uri(page.next_url)
    if page.icon_url:
        feed["icon"] = to_uri(page.icon_url)
    feed["authors"] = [{"name": _text(page.publisher)}]
    feed["language"] = page.language
    if page.hub_url:
        feed["hubs"] = [{"type": "WebSub", "url": to_uri(page.hub_url)}]
    feed["items"] = [_json_item(entry, page.language) for entry in entries]
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def render_opml(title: str, feeds: Sequence[FeedListing], created: datetime | None = None) -> bytes:
    """OPML 2.0 listing every category feed, one outline per category, readable by
    `feeds.ingest.opml.read_opml` (so a list exported here imports back as the same sources)."""
    no_extra: dict[str, str] = {}
    groups = [
        (
            _text(f.category.name),
            f.category.slug,
            [
                (
                    _text(f.category.name),
                    to_uri(f.xml_url),
                    to_uri(f.html_url) if f.html_url else None,
                    no_extra,
                )
            ],
        )
        for f in feeds
    ]
    return write_opml(_text(title), groups, created=created)


def content_etag(body: bytes) -> str:
    """A strong ETag for rendered bytes: equal bytes, equal tag (nothing time-based is hashed
    because the renderers put no build time in the bytes)."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def last_modified(page: FeedPage) -> datetime:
    """The page's Last-Modified: its newest item's time (published or updated), to the second.

    The ETag is the authority: a takedown of an older item or a change of related stories alters
    the bytes without a newer time, so If-None-Match must win over If-Modified-Since."""
    return _newest(page, _entries(page))


# -- the view of one item that every format renders ------------------------------------------


@dataclass(frozen=True)
class _Entry:
    id: str
    is_permalink: bool
    url: str
    title: str
    summary: str
    html: str
    author: str | None
    published: datetime
    updated: datetime
    categories: tuple[tuple[str, str | None], ...]
    enclosure: Media | None
    media: Media | None
    related: list[Link]
    language: str
    article_id: str


def _entries(page: FeedPage) -> list[_Entry]:
    """Items newest first (the store's order: published, then id, both descending), each with
    an id unique within the page."""
    items = sorted(
        page.items, key=lambda i: (_utc(i.article.published), i.article.id), reverse=True
    )
    entries: list[_Entry] = []
    seen: set[str] = set()
    for item in items:
        entry = _entry(item)
        if entry.id in seen:
            entry = _with_id(entry, _fallback_id(item.article))
        seen.add(entry.id)
        entries.append(entry)
    return entries


def _entry(item: FeedItem) -> _Entry:
    article = item.article
    url = to_uri(article.url)
    item_id, is_permalink = _identity(article, url)
    published = _utc(article.published)
    updated = max(_utc(article.updated), published) if article.updated else published
    body = _body(item)
    content = _content(body, url) if body else ""
    title = _text(article.title) or url
    summary = _text(article.summary) or _text(article.text)[:400] or title
    image = _image(article.image)
    return _Entry(
        id=item_id,
        is_permalink=is_permalink,
        url=url,
        title=title,
        summary=summary,
        html=content,
        author=_text(article.author) or None,
        published=published,
        updated=updated,
        categories=_categories(item),
        enclosure=image if image is not None and image.type else None,
        media=image,
        related=_related(item, url),
        language=article.language or "vi",
        article_id=article.id,
    )


def _body(item: FeedItem) -> str:
    """The story's HTML: the full text read from its page when there is one and its category
    wants it in feeds (the default), else what the feed or CMS gave."""
    article, page = item.article, item.article.fulltext
    wanted = item.category is None or item.category.feed_full_text
    if wanted and page is not None and page.origin == "page" and page.status == "full":
        return page.html or article.content_html
    return article.content_html


@functools.lru_cache(maxsize=4096)
def _content(safe_html: str, base_url: str) -> str:
    """Feed-ready HTML of a story; cached because re-sanitising dominates render time and a
    story appears on many pages and in every format."""
    return _text(feed_html(safe_html, base_url))


def _with_id(entry: _Entry, new_id: str) -> _Entry:
    return replace(entry, id=new_id, is_permalink=False)


def _identity(article: Article, url: str) -> tuple[str, bool]:
    """The item's guid / Atom id and whether it is the permalink.

    A source guid that is an http(s) URL is kept (stable across edits and URL changes);
    anything else (numbers, opaque strings) cannot serve as an Atom id and may collide between
    sources, so it becomes a UUID URN derived from quantam's own stable article id."""
    guid = (article.guid or "").strip()
    if not guid:
        return url, True
    if urlsplit(guid).scheme.lower() in ("http", "https"):
        as_uri = to_uri(guid)
        return as_uri, as_uri == url
    return _fallback_id(article), False


def _fallback_id(article: Article) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'quantam:article:' + article.id)}"


def _categories(item: FeedItem) -> tuple[tuple[str, str | None], ...]:
    """(term, label) pairs: the quantam category (slug, display name), then the story's tags."""
    pairs: list[tuple[str, str | None]] = []
    if item.category is not None:
        pairs.append((item.category.slug, _text(item.category.name) or None))
    elif item.article.category:
        pairs.append((item.article.category, None))
    seen = {label or term for term, label in pairs}
    for tag in item.article.tags:
        text = _text(tag)
        if text and text not in seen:
            seen.add(text)
            pairs.append((text, None))
    return tuple(pairs)


def _related(item: FeedItem, own_url: str) -> list[Link]:
    links: list[Link] = []
    seen = {own_url}
    for article in item.related:
        href = to_uri(article.url)
        if href in seen:
            continue
        seen.add(href)
        title = _text(article.title) or None
        links.append(Link(href=href, rel="related", type=HTML_MEDIA_TYPE, title=title))
    return links


_IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".svg": "image/svg+xml",
}
_MEDIA_TYPE = re.compile(r"^image/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")


def _image(image: Image | None) -> Media | None:
    """The lead image with what is known about it: a type from the store or the file name
    (an enclosure needs one), sizes only when positive (validators reject 0 as a size)."""
    if image is None or not image.url:
        return None
    url = to_uri(image.url)
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    media_type = (image.type or "").strip().lower()
    if not _MEDIA_TYPE.match(media_type):
        path = urlsplit(url).path.lower()
        media_type = next((t for ext, t in _IMAGE_TYPES.items() if path.endswith(ext)), "")
    return Media(
        url=url,
        type=media_type or None,
        size=_positive(image.length),
        width=_positive(image.width),
        height=_positive(image.height),
    )


def _positive(value: int | None) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


# -- formats --------------------------------------------------------------------------------


def _generator(page: FeedPage, *, rss: bool) -> FeedGenerator:
    fg = FeedGenerator()
    feedgen_ext.register(fg, rss=rss)
    fg.title(_text(page.title))
    fg.language(page.language)
    fg.generator(page.generator)
    return fg


def _page_links(page: FeedPage, media_type: str) -> list[Link]:
    """RFC 5005 paging links (same format as this page) and the WebSub hub."""
    links = [
        Link(href=to_uri(url), rel=rel, type=media_type)
        for rel, url in (
            ("first", page.first_url),
            ("previous", page.previous_url),
            ("next", page.next_url),
            ("current", page.current_url),
        )
        if url
    ]
    if page.hub_url:
        links.append(Link(href=to_uri(page.hub_url), rel="hub"))
    return links


def _enclosure_links(entry: _Entry) -> list[Link]:
    if entry.enclosure is None:
        return []
    image = entry.enclosure
    return [Link(href=image.url, rel="enclosure", type=image.type, length=image.size)]


def _atom_times(entries: list[_Entry]) -> dict[str, datetime]:
    """atom:updated per entry id, unique within the feed as Atom readers and the W3C validator
    (DuplicateUpdated) expect. News feeds stamp many stories with the same minute, so each time
    gets a sub-second offset derived from the article id: within the precision the source gave,
    stable across renders whatever else is on the page, never reordering whole seconds."""
    times: dict[str, datetime] = {}
    used: set[datetime] = set()
    for entry in entries:
        digest = hashlib.sha256(entry.article_id.encode()).digest()
        stamp = entry.updated + timedelta(microseconds=int.from_bytes(digest[:4]) % 1_000_000)
        while stamp in used:
            stamp += timedelta(microseconds=1)
        used.add(stamp)
        times[entry.id] = stamp
    return times


def _json_item(entry: _Entry, feed_language: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry.id, "url": entry.url, "title": entry.title}
    if entry.html:
        item["content_html"] = entry.html
    else:
        item["content_text"] = entry.summary
    item["summary"] = entry.summary
    if entry.media is not None:
        item["image"] = entry.media.url
    item["date_published"] = entry.published.isoformat()
    if entry.updated != entry.published:
        item["date_modified"] = entry.updated.isoformat()
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    tags = [label or term for term, label in entry.categories]
    if tags:
        item["tags"] = tags
    if entry.language != feed_language:
        item["language"] = entry.language
    if entry.enclosure is not None:
        attachment: dict[str, Any] = {"url": entry.enclosure.url, "mime_type": entry.enclosure.type}
        if entry.enclosure.size:
            attachment["size_in_bytes"] = entry.enclosure.size
        item["attachments"] = [attachment]
    if entry.related:
        item["_quantam"] = {
            "related": [{"url": link.href, "title": link.title} for link in entry.related]
        }
    return item


def _xml_bytes(body: bytes) -> bytes:
    """Serialised XML with & and < as hexadecimal character references, as the RSS Advisory
    Board's profile asks (the W3C validator warns about plain-text elements otherwise).

    Exactly equivalent XML: lxml writes & and < only as these two entity references (never in
    CDATA, comments or processing instructions, which quantam's feeds do not contain)."""
    if b"<![CDATA[" in body or b"<!--" in body:
        raise ValueError("feed XML unexpectedly holds CDATA or a comment")
    return body.replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")


# -- values ---------------------------------------------------------------------------------

# Characters XML 1.0 forbids, and C1 controls (mis-decoded Windows-1252) that validators flag.
_NOT_XML = re.compile("[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str | None) -> str:
    """NFC text that XML can carry: stored text is already clean, but a feed must never fail
    to render (lxml refuses control characters) nor show decomposed Vietnamese."""
    if not value:
        return ""
    return _NOT_XML.sub("", unicodedata.normalize("NFC", value)).strip()


def _utc(value: datetime | None) -> datetime:
    """UTC to the second: what RSS can say, so every format and Last-Modified agree."""
    if value is None:
        raise ValueError("a date is required")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def _newest(page: FeedPage, entries: list[_Entry]) -> datetime:
    if entries:
        return max(entry.updated for entry in entries)
    if page.updated is None:
        raise ValueError("a feed page without items needs `updated`")
    return _utc(page.updated)
