"""Sitemaps for search engines and aggregators: the Google News sitemap, category sitemaps, and
the index naming them (https://www.sitemaps.org/protocol.html).

Pure functions from plain data to bytes. The protocol's limits are data here and enforced: at most
50,000 URLs and 50 MB (uncompressed) per file, URLs under 2,048 characters; a news sitemap holds
articles first published in the last 48 hours, at most 1,000 of them (Google News' rules), each with
its publication's name and language, its original publication time and its headline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
CONTENT_TYPE = "application/xml; charset=utf-8"
MAX_URLS = 50_000
MAX_BYTES = 50 * 1024 * 1024
MAX_URL_CHARS = 2_047  # "less than 2,048 characters"
NEWS_MAX = 1_000
NEWS_WINDOW = timedelta(hours=48)


@dataclass(frozen=True)
class Entry:
    """One URL of a sitemap (`lastmod`: when its content last changed, if known)."""

    loc: str
    lastmod: datetime | None = None


@dataclass(frozen=True)
class NewsEntry:
    loc: str
    title: str
    published: datetime  # the original publication time


def w3c(moment: datetime) -> str:
    """A W3C Datetime (the protocol's date format) in UTC, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def fits(loc: str) -> bool:
    """Whether a URL may be listed: absolute http(s), under the protocol's length limit."""
    return loc.startswith(("http://", "https://")) and len(loc) <= MAX_URL_CHARS


def news_window(entries: Iterable[NewsEntry], now: datetime) -> list[NewsEntry]:
    """The entries a news sitemap may list: first published in the last 48 hours (none from
    the future), newest first, at most 1,000."""
    recent = [e for e in entries if now - NEWS_WINDOW <= e.published <= now and fits(e.loc)]
    recent.sort(key=lambda e: (e.published, e.loc), reverse=True)
    return recent[:NEWS_MAX]


def render_news(entries: Sequence[NewsEntry], publication: str, language: str) -> bytes:
    """A Google News sitemap of these entries (already chosen by `news_window`)."""
    if len(entries) > NEWS_MAX:
        raise ValueError(f"a news sitemap lists at most {NEWS_MAX} articles, not {len(entries)}")
    name, lang = escape(publication), escape(language)
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}" '
        f'xmlns:news="{NEWS_NS}">\n'
    ]
    for e in entries:
        parts.append(
            f"<url><loc>{escape(e.loc)}</loc><news:news><news:publication>"
            f"<news:name>{name}</news:name><news:language>{lang}</news:language>"
            f"</news:publication><news:publication_date>{w3c(e.published)}"
            f"</news:publication_date><news:title>{escape(e.title)}</news:title>"
            "</news:news></url>\n"
        )
    parts.append("</urlset>\n")
    return _checked("".join(parts))


def render_urlset(entries: Sequence[Entry]) -> bytes:
    """A sitemap of at most 50,000 URLs."""
    return _render_list("urlset", "url", entries)


def render_index(sitemaps: Sequence[Entry]) -> bytes:
    """A sitemap index naming at most 50,000 sitemaps."""
    return _render_list("sitemapindex", "sitemap", sitemaps)


def _render_list(root: str, item: str, entries: Sequence[Entry]) -> bytes:
    if len(entries) > MAX_URLS:
        raise ValueError(f"a {root} lists at most {MAX_URLS} URLs, not {len(entries)}")
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{SITEMAP_NS}">\n']
    parts += [f"<{item}>{_loc_lastmod(e)}</{item}>\n" for e in entries if fits(e.loc)]
    parts.append(f"</{root}>\n")
    return _checked("".join(parts))


def pages(count: int) -> int:
    """How many sitemaps of at most 50,000 URLs hold `count` URLs (at least one)."""
    return max(1, -(-count // MAX_URLS))


def robots_txt(sitemap_index: str, disallow: Sequence[str] = ()) -> str:
    """A robots.txt that lets every crawler in (but `disallow`) and names the sitemap index."""
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in disallow), "Allow: /", ""]
    lines.append(f"Sitemap: {sitemap_index}")
    return "\n".join(lines) + "\n"


def _loc_lastmod(entry: Entry) -> str:
    lastmod = f"<lastmod>{w3c(entry.lastmod)}</lastmod>" if entry.lastmod else ""
    return f"<loc>{escape(entry.loc)}</loc>{lastmod}"


def _checked(text: str) -> bytes:
    body = text.encode("utf-8")
    if len(body) > MAX_BYTES:
        raise ValueError(f"a sitemap is at most {MAX_BYTES} bytes uncompressed, not {len(body)}")
    return body
