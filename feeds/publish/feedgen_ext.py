"""feedgen extensions for what quantam's feeds carry and feedgen cannot emit on its own.

feedgen writes only the rel="self" atom:link into RSS, has no per-item atom:link in RSS and
loses rel/type/title of Atom entry links (feedgen 1.0 shadows the link in its loop), puts every
media element inside a media:group (which the W3C validator rejects for a single image) and has
no per-entry xml:lang. These extensions add those elements to the lxml tree feedgen builds, so
every byte still comes from a real XML serialiser.

Register them with `register(generator, rss=...)` before adding entries; fill an entry's
`entry.quantam` with `EntryExtras`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_NS = "http://search.yahoo.com/mrss/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

EXTENSION = "quantam"


@dataclass(frozen=True)
class Link:
    """An atom:link; `length` only where it is known."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None
    length: int | None = None


@dataclass(frozen=True)
class Media:
    """The lead image as Media RSS describes it; unknown numbers stay None."""

    url: str
    type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class EntryExtras:
    creator: str | None = None
    media: Media | None = None
    links: list[Link] = field(default_factory=list)
    language: str | None = None


def register(generator: FeedGenerator, *, rss: bool) -> None:
    """Load quantam's extension for one output format (a generator renders one format)."""
    if rss:
        generator.register_extension(EXTENSION, _RssChannel, _RssItem, atom=False, rss=True)
    else:
        generator.register_extension(EXTENSION, _AtomFeed, _AtomEntry, atom=True, rss=False)


def _append_link(parent: etree._Element, link: Link, tag: str = f"{{{ATOM_NS}}}link") -> None:
    element = etree.SubElement(parent, tag, rel=link.rel, href=link.href)
    if link.type:
        element.set("type", link.type)
    if link.title:
        element.set("title", link.title)
    if link.length is not None:
        element.set("length", str(link.length))


def _append_media(parent: etree._Element, media: Media) -> None:
    # Directly under the item: a media:group needs at least two alternatives.
    thumbnail = etree.SubElement(parent, f"{{{MEDIA_NS}}}thumbnail", url=media.url)
    content = etree.SubElement(parent, f"{{{MEDIA_NS}}}content", url=media.url, medium="image")
    if media.type:
        content.set("type", media.type)
    if media.size:
        content.set("fileSize", str(media.size))
    for element in (thumbnail, content):
        if media.width:
            element.set("width", str(media.width))
        if media.height:
            element.set("height", str(media.height))


class _RssChannel(BaseExtension):  # type: ignore[misc]  # feedgen is untyped
    """Channel-level atom:links (paging, hub) that feedgen drops from RSS."""

    def __init__(self) -> None:
        self.links: list[Link] = []

    def extend_ns(self) -> dict[str, str]:
        return {"atom": ATOM_NS, "dc": DC_NS, "media": MEDIA_NS}

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        assert channel is not None  # feedgen's RSS always has one
        for link in self.links:
            _append_link(channel, link)
        return feed


class _RssItem(EntryExtras, BaseEntryExtension):  # type: ignore[misc]  # feedgen is untyped
    def extend_rss(self, item: etree._Element) -> etree._Element:
        if self.creator:
            etree.SubElement(item, f"{{{DC_NS}}}creator").text = self.creator
        if self.media:
            _append_media(item, self.media)
        for link in self.links:
            _append_link(item, link)
        return item


class _AtomFeed(BaseExtension):  # type: ignore[misc]  # feedgen is untyped
    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}


class _AtomEntry(EntryExtras, BaseEntryExtension):  # type: ignore[misc]  # feedgen is untyped
    """Links other than the alternate (feedgen 1.0 loses rel, type and title on entry links),
    media and a per-entry xml:lang."""

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self.language:
            entry.set(XML_LANG, self.language)
        for link in self.links:
            # feedgen builds Atom elements without a namespace and declares the Atom namespace
            # as the default one on <feed>: an unqualified tag serialises as an Atom element.
            _append_link(entry, link, tag="link")
        if self.media:
            _append_media(entry, self.media)
        return entry
