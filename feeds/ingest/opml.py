"""OPML 2.0 reading: a list of sources to poll, grouped by category.

Feeds are grouped under one outline per category (its display name as text); each feed outline
may also name its category slug in the standard `category` attribute ("/the-thao"), as
`feeds.publish.opml.write_opml` writes it, so an exported file imports back to exactly the same
sources and categories. quantam's own `fullText` attribute (auto, always, never) carries a
source's full-text policy there and back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from feeds.common.errors import FeedError
from feeds.ingest.text import clean_text, slugify
from store.models import FULL_TEXT_POLICIES


class BadOPML(FeedError):
    pass


@dataclass(frozen=True)
class OutlineFeed:
    url: str
    name: str
    category_slug: str
    category_name: str
    html_url: str | None = None
    # quantam's `fullText` attribute: when the source's article pages are read (None: auto).
    full_text: str | None = None


def read_opml(data: bytes, default_category: str | None = None) -> list[OutlineFeed]:
    """Every feed outline (one with xmlUrl) in the file, with the category it belongs to."""
    if b"<!ENTITY" in data[:4096]:
        raise BadOPML("OPML files with entity declarations are refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise BadOPML(f"not a well-formed OPML file: {exc}") from exc
    if root.tag != "opml":
        raise BadOPML(f"not an OPML file: the root element is <{root.tag}>")
    body = root.find("body")
    if body is None:
        raise BadOPML("the OPML file has no <body>")
    feeds: list[OutlineFeed] = []
    _walk(body, None, default_category, feeds)
    return feeds


def _walk(node: ET.Element, group: str | None, default: str | None, out: list[OutlineFeed]) -> None:
    for outline in node.findall("outline"):
        text = clean_text(outline.get("title") or outline.get("text") or "")
        url = (outline.get("xmlUrl") or "").strip()
        if not url:
            _walk(outline, text or group, default, out)
            continue
        slug, name = _category(outline.get("category"), group, default)
        if not slug:
            raise BadOPML(
                f"feed {url} has no category: put it under a category outline, give it a "
                "category attribute, or pass --category"
            )
        full_text = outline.get("fullText")
        if full_text is not None and full_text not in FULL_TEXT_POLICIES:
            raise BadOPML(
                f"feed {url} has fullText={full_text!r}: it must be one of "
                f"{', '.join(FULL_TEXT_POLICIES)}"
            )
        out.append(
            OutlineFeed(
                url=url,
                name=text,
                category_slug=slug,
                category_name=name,
                html_url=outline.get("htmlUrl"),
                full_text=full_text,
            )
        )


def _category(attr: str | None, group: str | None, default: str | None) -> tuple[str, str]:
    if attr:
        first = attr.split(",")[0].strip().strip("/")
        if first:
            slug = slugify(first.split("/")[-1])
            return slug, group if group and slugify(group) == slug else (group or first)
    if group:
        return slugify(group), group
    if default:
        return slugify(default), default
    return "", ""
