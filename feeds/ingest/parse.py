"""Feed bytes to plain data with feedparser, forgiving like feedparser and explicit about it.

A feed with recoverable problems (feedparser's "bozo") still yields what can be read, and the
problem is kept in `ParsedFeed.warning` for the source's status. A body that is not a feed at all
raises NotAFeed with a message saying what it looked like instead.
"""

from __future__ import annotations

import calendar
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from feeds.common.errors import NotAFeed

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Media:
    url: str
    type: str | None = None
    medium: str | None = None
    length: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class RawEntry:
    """One feed entry as the feed states it, before normalisation."""

    guid: str | None = None
    link: str | None = None
    title: str = ""
    title_is_html: bool = False
    summary_html: str = ""
    content_html: str = ""
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    tags: tuple[str, ...] = ()
    media_content: tuple[Media, ...] = ()
    media_thumbnails: tuple[Media, ...] = ()
    enclosures: tuple[Media, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    title: str = ""
    link: str | None = None
    language: str | None = None
    format: str = ""
    ttl_minutes: int | None = None
    skip_hours: tuple[int, ...] = ()
    skip_days: tuple[str, ...] = ()
    entries: list[RawEntry] = field(default_factory=list)
    # A recoverable problem (malformed XML read by the lenient parser, a wrong charset), in words.
    warning: str | None = None
    # WebSub: the hubs the feed names (<atom:link rel="hub">) and its own URL (rel="self").
    hubs: tuple[str, ...] = ()
    self_url: str | None = None


def parse_feed(body: bytes, url: str = "", content_type: str | None = None) -> ParsedFeed:
    """Parse RSS 0.9x/1.0/2.0 or Atom 0.3/1.0 bytes; relative links resolve against url."""
    if not body.strip():
        raise NotAFeed("the response body is empty: there is no feed here")
    headers = {"content-location": url} if url else {}
    if content_type:
        headers["content-type"] = content_type
    try:
        result = feedparser.parse(
            _repair_charrefs(body),
            response_headers=headers,
            sanitize_html=False,  # nh3 sanitises later, with quantam's own allow-list
            resolve_relative_uris=True,
        )
    except Exception as exc:  # feedparser is forgiving, but hostile bytes can still break it
        raise NotAFeed(f"the feed cannot be read: {type(exc).__name__}: {exc}") from exc
    version = result.get("version", "")
    entries = result.get("entries", [])
    if not version and not entries:
        raise NotAFeed(_describe_non_feed(body, content_type, result))
    feed = result.get("feed", {})
    warning = None
    problem = result.get("bozo_exception")
    unlabelled = content_type is None and type(problem).__name__ == "NonXMLContentType"
    if result.get("bozo") and not unlabelled:
        warning = _describe_bozo(problem)
    return ParsedFeed(
        title=feed.get("title", ""),
        link=feed.get("link"),
        language=feed.get("language"),
        format=version or "unknown (read leniently)",
        ttl_minutes=_int(feed.get("ttl")),
        skip_hours=_skip_hours(body),
        skip_days=_skip_days(body),
        entries=[_entry(e, feed.get("language")) for e in entries],
        warning=warning,
        hubs=tuple(_links(feed, "hub")),
        self_url=next(iter(_links(feed, "self")), None),
    )


def _links(feed: Any, rel: str) -> list[str]:
    """The feed-level <link>/<atom:link> hrefs with this rel, in document order."""
    out: list[str] = []
    for link in feed.get("links") or []:
        href = (link.get("href") or "").strip()
        if link.get("rel") == rel and href and href not in out:
            out.append(href)
    return out


# Character references to code points that cannot exist (surrogates, beyond U+10FFFF, NUL)
# crash feedparser's lenient parser; only long references can be such, so only those are checked.
_SUSPECT_CHARREF = re.compile(rb"&#(?:[xX]0*([0-9a-fA-F]{4,})|0*([0-9]{5,})|0+);")


def _repair_charrefs(body: bytes) -> bytes:
    if b"&#" not in body:
        return body
    return _SUSPECT_CHARREF.sub(_repair_one, body)


def _repair_one(match: re.Match[bytes]) -> bytes:
    hex_digits, dec_digits = match.group(1), match.group(2)
    if hex_digits is None and dec_digits is None:
        return b"&#xFFFD;"
    code = int(hex_digits, 16) if hex_digits is not None else int(dec_digits)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return b"&#xFFFD;"
    return match.group(0)


def _entry(e: dict[str, Any], feed_language: str | None) -> RawEntry:
    title_detail = e.get("title_detail") or {}
    content = e.get("content") or []
    html_parts = [c.get("value", "") for c in content if "html" in (c.get("type") or "html")]
    text_parts = [c.get("value", "") for c in content if "html" not in (c.get("type") or "html")]
    return RawEntry(
        guid=_str(dict.get(e, "id")),
        link=_str(dict.get(e, "link")),
        title=e.get("title", "") or "",
        title_is_html="html" in (title_detail.get("type") or ""),
        summary_html=dict.get(e, "summary", "") or "",
        content_html="".join(html_parts) or "".join(map(html.escape, text_parts)),
        author=_str(dict.get(e, "author")),
        published=_date(dict.get(e, "published_parsed")),
        updated=_date(dict.get(e, "updated_parsed")),
        tags=tuple(t.get("term") for t in e.get("tags") or () if t.get("term")),
        media_content=tuple(_media(m) for m in e.get("media_content") or () if m.get("url")),
        media_thumbnails=tuple(_media(m) for m in e.get("media_thumbnail") or () if m.get("url")),
        enclosures=tuple(
            Media(
                url=link["href"],
                type=link.get("type"),
                length=_int(link.get("length")),
            )
            for link in e.get("links") or ()
            if link.get("rel") == "enclosure" and link.get("href")
        ),
        language=(title_detail.get("language") or feed_language),
    )


def _media(m: dict[str, Any]) -> Media:
    return Media(
        url=m["url"],
        type=m.get("type"),
        medium=m.get("medium"),
        length=_int(m.get("filesize") or m.get("fileSize")),
        width=_int(m.get("width")),
        height=_int(m.get("height")),
    )


def _str(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _date(parsed: object) -> datetime | None:
    """feedparser's UTC struct_time to an aware datetime; impossible dates become None."""
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)  # type: ignore[arg-type]
    except (OverflowError, ValueError, OSError, TypeError):
        return None


# feedparser keeps only the last <hour>/<day> of these lists, so read them from the bytes.
_SKIP_HOURS = re.compile(rb"<skipHours>(.*?)</skipHours>", re.S | re.I)
_SKIP_DAYS = re.compile(rb"<skipDays>(.*?)</skipDays>", re.S | re.I)
_HOUR = re.compile(rb"<hour>\s*(\d{1,2})\s*</hour>", re.I)
_DAY = re.compile(rb"<day>\s*([A-Za-z]+)\s*</day>", re.I)


def _skip_hours(body: bytes) -> tuple[int, ...]:
    block = _SKIP_HOURS.search(body[:200_000])
    if not block:
        return ()
    return tuple(sorted({int(h) for h in _HOUR.findall(block.group(1)) if int(h) < 24}))


def _skip_days(body: bytes) -> tuple[str, ...]:
    block = _SKIP_DAYS.search(body[:200_000])
    if not block:
        return ()
    days = {d.decode().capitalize() for d in _DAY.findall(block.group(1))}
    return tuple(d for d in _DAYS if d in days)


def _describe_bozo(exc: BaseException | None) -> str:
    if exc is None:
        return "the feed has a recoverable problem"
    name = type(exc).__name__
    if name == "CharacterEncodingOverride":
        return f"the declared character encoding was wrong; read anyway ({exc})"
    if name == "NonXMLContentType":
        return f"the server did not label the feed as XML; read anyway ({exc})"
    line = getattr(exc, "getLineNumber", lambda: None)()
    where = f" at line {line}" if line else ""
    return f"the feed is not well-formed XML ({exc}){where}; read leniently, items may be missing"


def _describe_non_feed(body: bytes, content_type: str | None, result: dict[str, Any]) -> str:
    head = body.lstrip()[:512].lower()
    kind = f" (Content-Type {content_type})" if content_type else ""
    if head.startswith((b"{", b"[")):
        return f"the response is JSON{kind}, not an RSS or Atom feed"
    if b"<html" in head or b"<!doctype html" in head:
        return f"the response is an HTML page{kind}, not a feed: use the page's RSS link instead"
    exc = result.get("bozo_exception")
    detail = f": {exc}" if exc else ""
    return f"the response is not an RSS or Atom feed{kind}{detail}"
