"""One feed entry (or one pushed article) to one clean `Article`.

Pure functions: NFC text, canonical URL, sanitised HTML and its plain text, UTC dates (a missing
or impossible date becomes the first-seen time), lead image, language and content hashes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from feeds.common.errors import BadURL, InvalidArticle
from feeds.ingest.parse import Media, RawEntry
from feeds.ingest.push import ArticlePush, parse_push
from feeds.ingest.sanitize import extract_texts, first_image, sanitize_html
from feeds.ingest.text import clean_text
from store.language import guess_language, language_code
from store.models import Article, Image
from store.urls import InvalidURL, article_id_for, canonical_url

SUMMARY_CHARS = 400
# Identical bodies shorter than this many words are not taken as the same story.
BODY_HASH_MIN_WORDS = 15
# Dates further in the future than this are feed errors; the article counts as published now.
FUTURE_TOLERANCE = timedelta(hours=1)
# The site's time zone (QUANTAM_TIMEZONE): a pushed date without a time is midnight there.
SITE_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class EntryContext:
    """What normalising an entry needs to know about where it came from."""

    category: str
    now: datetime
    source_id: int | None = None
    # The category's (or source's) language, used when the entry declares none.
    language: str = "vi"


def normalize_entry(entry: RawEntry, ctx: EntryContext) -> Article:
    """Raises InvalidArticle when the entry has no usable link (nothing to point readers to)."""
    url = _entry_url(entry)
    content_raw = entry.content_html or entry.summary_html
    content_html = sanitize_html(content_raw)
    texts = extract_texts(content_html)
    if entry.summary_html and entry.summary_html != content_raw:
        summary_texts = extract_texts(sanitize_html(entry.summary_html))
        summary = summary_texts.index_text or summary_texts.text
    else:
        summary = texts.index_text or texts.text
    title = _title(entry) or _shorten(summary or texts.text, 120) or url
    published = _date(entry.published or entry.updated, ctx.now) or ctx.now
    updated = _date(entry.updated, ctx.now)
    if updated is not None and updated <= published:
        updated = None
    language = _language(entry.language, ctx.language, f"{title} {texts.text}")
    return Article(
        id=article_id_for(url),
        url=url,
        guid=entry.guid,
        title=title,
        category=ctx.category,
        summary=_shorten(summary, SUMMARY_CHARS),
        content_html=content_html,
        text=texts.text,
        index_text=texts.index_text,
        author=clean_text(entry.author) or None,
        published=published,
        updated=updated,
        first_seen=ctx.now,
        tags=tuple(dict.fromkeys(t for t in (clean_text(t) for t in entry.tags) if t)),
        image=lead_image(entry, content_html),
        language=language,
        source_id=ctx.source_id,
        content_hash=_sha1(f"{title}\n{content_html}"),
        body_hash=body_hash(texts.index_text or texts.text),
    )


def body_hash(text: str) -> str:
    """Hash of the body with case and spacing folded; "" when too short to identify a story."""
    words = text.lower().split()
    if len(words) < BODY_HASH_MIN_WORDS:
        return ""
    return _sha1(" ".join(words))


def lead_image(entry: RawEntry, safe_html: str) -> Image | None:
    """media:content, then media:thumbnail, then an image enclosure, then the first <img>."""
    candidates = [m for m in entry.media_content if _is_image(m)]
    candidates.sort(key=lambda m: -(m.width or 0))
    candidates += list(entry.media_thumbnails)
    candidates += [m for m in entry.enclosures if (m.type or "").startswith("image/")]
    for media in candidates:
        try:
            url = _http_url(media.url)
        except BadURL:
            continue
        return Image(
            url=url, type=media.type, length=media.length, width=media.width, height=media.height
        )
    src = first_image(safe_html) or first_image(sanitize_html(entry.summary_html))
    if src:
        try:
            return Image(url=_http_url(src), type=guess_image_type(src))
        except BadURL:
            return None
    return None


def _is_image(m: Media) -> bool:
    return (
        m.medium == "image"
        or (m.type or "").startswith("image/")
        or (m.medium is None and m.type is None)
    )


def _http_url(url: str) -> str:
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise BadURL(f"not an http(s) URL: {url!r}")
    return url


def guess_image_type(url: str) -> str | None:
    """An image's media type from its file name, when it has a known extension."""
    path = url.split("?", 1)[0].lower()
    for ext, mime in (
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".png", "image/png"),
        (".webp", "image/webp"),
        (".gif", "image/gif"),
        (".avif", "image/avif"),
    ):
        if path.endswith(ext):
            return mime
    return None


def _entry_url(entry: RawEntry) -> str:
    for candidate in (entry.link, entry.guid):
        if candidate:
            try:
                return canonical_url(candidate)
            except InvalidURL:
                continue
    raise InvalidArticle(
        f"entry {entry.title[:60]!r} has no http(s) link (link={entry.link!r}, guid={entry.guid!r})"
    )


def _title(entry: RawEntry) -> str:
    if entry.title_is_html or "<" in entry.title:
        return clean_text(extract_texts(sanitize_html(entry.title)).text)
    return clean_text(entry.title)


def _date(value: datetime | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    value = value.astimezone(UTC)
    if value > now + FUTURE_TOLERANCE:
        return now
    return value


def _language(declared: str | None, default: str, text: str) -> str:
    """The ISO 639 code declared ("vi-VN" -> "vi"); anything that is not one (a pushed article's
    language is free text) would end up in xml:lang, so it means the default."""
    if declared:
        return language_code(declared) or default
    return guess_language(text, default)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


# -- the CMS path ------------------------------------------------------------------------------


def entry_from_data(data: dict[str, Any], site_timezone: tzinfo = SITE_TIMEZONE) -> RawEntry:
    """A pushed article (JSON from a CMS) as a RawEntry, so it is normalised like feed entries.

    Checked by the one push model (feeds.ingest.push.ArticlePush): a date without a time
    ("2026-12-06") is midnight in `site_timezone`; raises InvalidArticle naming the field that
    is missing or wrong."""
    return entry_from_push(parse_push(data, site_timezone))


def entry_from_push(push: ArticlePush) -> RawEntry:
    """A checked push as a RawEntry."""
    return RawEntry(
        guid=push.guid or push.url,
        link=push.url,
        title=push.title,
        title_is_html=False,
        summary_html=push.summary or "",
        content_html=push.content_html or "",
        author=push.author,
        published=push.published,
        updated=push.updated,
        tags=tuple(push.tags or ()),
        media_content=(Media(url=push.image, medium="image"),) if push.image else (),
        language=push.language,
    )
