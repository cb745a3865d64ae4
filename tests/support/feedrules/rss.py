"""RSS 2.0's rules, with the content, Dublin Core, Media RSS and Atom namespaces in RSS."""

from __future__ import annotations

import re

from lxml import etree

from tests.support.feedrules.common import (
    ATOM,
    CONTENT,
    DC,
    EMAIL,
    ERROR,
    MEDIA,
    SY,
    WARNING,
    Checker,
    _text,
)


class RssRules(Checker):
    # .. RSS 2.0 .............................................................................
    def _rss(self, rss) -> None:
        self._expected(rss, {"version"})
        if rss.get("version") != "2.0":
            self.log(ERROR, "InvalidRSSVersion", rss, str(rss.get("version")))
        channels = [c for c in rss if c.tag == "channel"]
        if len(channels) != 1:
            self.log(
                ERROR, "MissingElement" if not channels else "DuplicateElement", rss, "channel"
            )
            return
        for child in rss:
            if isinstance(child.tag, str) and child.tag != "channel":
                self.log(ERROR, "UndefinedElement", child)
        self._channel(channels[0])

    def _channel(self, channel) -> None:
        docs = channel.find("docs")
        self.docs = (docs.text or "").strip() if docs is not None else ""
        core = {
            "title",
            "link",
            "description",
            "language",
            "copyright",
            "managingEditor",
            "webMaster",
            "pubDate",
            "lastBuildDate",
            "category",
            "generator",
            "docs",
            "cloud",
            "ttl",
            "image",
            "rating",
            "textInput",
            "skipHours",
            "skipDays",
            "item",
        }
        self.duplicates(channel, {t: "DuplicateElement" for t in core - {"category", "item"}})
        for name, rule in (
            ("title", "MissingTitle"),
            ("link", "MissingLink"),
            ("description", "MissingDescription"),
        ):
            if channel.find(name) is None:
                self.log(ERROR, rule, channel, name)
        seen_item = False
        links: list[dict[str, str]] = []
        channel_title = _text(channel.find("title"))
        channel_link = _text(channel.find("link"))
        guids: set[str] = set()
        for child in channel:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag
            if tag == "item":
                seen_item = True
                self._item(child, guids)
                continue
            if seen_item:
                self.log(WARNING, "MisplacedItem", child, "channel metadata after an item")
            if tag not in ("image", "cloud", "textInput", "skipHours", "skipDays"):
                self.leaf(child)
            value = _text(child)
            if tag in ("title", "description", "copyright"):
                self._expected(child, set())
                self.nonhtml(child, value)
                if tag == "title":
                    self.nonblank(child, value)
            elif tag in ("link", "docs"):
                self._expected(child, set())
                self.full_uri(child, value)
            elif tag == "language":
                self._language(child, value)
            elif tag in ("pubDate", "lastBuildDate"):
                self.rfc822(child, value)
            elif tag == "ttl":
                if not re.fullmatch(r"0*[1-9]\d*", value):
                    self.log(ERROR, "InvalidPositiveInteger", child, value)
            elif tag == "category":
                self._expected(child, {"domain"})
                self.nonhtml(child, value)
            elif tag in ("managingEditor", "webMaster"):
                self._email_with_name(child, value)
            elif tag == "image":
                self._image(child, channel_title, channel_link)
            elif tag in ("generator", "rating", "cloud", "textInput", "skipHours", "skipDays"):
                if tag == "textInput":
                    self.log(WARNING, "AvoidTextInput", child)
            elif tag == f"{{{ATOM}}}link":
                self.atom_link(child, links, "feed")
            elif tag in (f"{{{SY}}}updatePeriod",):
                if value not in ("hourly", "daily", "weekly", "monthly", "yearly"):
                    self.log(ERROR, "InvalidUpdatePeriod", child, value)
            elif tag == f"{{{SY}}}updateFrequency":
                if not re.fullmatch(r"0*[1-9]\d*", value):
                    self.log(ERROR, "InvalidPositiveInteger", child, value)
            elif etree.QName(child).namespace == DC:
                self._dc(child, channel)
            elif etree.QName(child).namespace == MEDIA:
                self.media(child)
            elif etree.QName(child).namespace in (None, ATOM, CONTENT, SY):
                self.log(ERROR, "UndefinedElement", child)
        if not any(link["rel"] == "self" for link in links):
            self.log(WARNING, "MissingAtomSelfLink", channel)

    def _image(self, image, channel_title: str, channel_link: str) -> None:
        for name in ("url", "title", "link"):
            if image.find(name) is None:
                self.log(ERROR, "MissingElement", image, name)
        if image.find("title") is not None and _text(image.find("title")) != channel_title:
            self.log(WARNING, "ImageTitleDoesntMatch", image)
        if image.find("link") is not None and _text(image.find("link")) != channel_link:
            self.log(WARNING, "ImageLinkDoesntMatch", image)
        if image.find("url") is not None:
            self.full_uri(image.find("url"), _text(image.find("url")))
        for name, limit in (("width", 144), ("height", 400)):
            node = image.find(name)
            if node is not None and not (_text(node).isdigit() and 0 < int(_text(node)) <= limit):
                self.log(ERROR, "InvalidWidth" if name == "width" else "InvalidHeight", node)

    def _email_with_name(self, element, value: str) -> None:
        if "@" in value and not value.endswith(")"):
            self.log(WARNING, "EmailFormat" if " " in value else "MissingRealName", element, value)
        elif "@" in value and not EMAIL.match(value.split(" ", 1)[0]):
            self.log(ERROR, "InvalidContact", element, value)

    def _item(self, item, guids: set[str]) -> None:
        self._expected(item, set())
        core = {
            "title",
            "link",
            "description",
            "author",
            "category",
            "comments",
            "enclosure",
            "guid",
            "pubDate",
            "source",
        }
        self.duplicates(
            item,
            {
                "title": "DuplicateElement",
                "link": "DuplicateElement",
                "description": "DuplicateElement",
                "guid": "DuplicateElement",
                "pubDate": "DuplicateElement",
                "comments": "DuplicateElement",
                "source": "DuplicateElement",
                "author": "DuplicateElement",
                f"{{{CONTENT}}}encoded": "DuplicateElement",
                "enclosure": "DuplicateEnclosure",
            },
        )
        present = {child.tag for child in item if isinstance(child.tag, str)}
        if "title" not in present and "description" not in present:
            self.log(ERROR, "ItemMustContainTitleOrDescription", item)
        if "guid" not in present:
            self.log(WARNING, "MissingGuid", item)
        for core_tag, ext_tag, names in (
            ("author", f"{{{DC}}}creator", "author/dc:creator"),
            ("category", f"{{{DC}}}subject", "category/dc:subject"),
            ("pubDate", f"{{{DC}}}date", "pubDate/dc:date"),
            ("guid", f"{{{ATOM}}}id", "guid/atom:id"),
            ("pubDate", f"{{{ATOM}}}published", "pubDate/atom:published"),
        ):
            if core_tag in present and ext_tag in present:
                self.log(WARNING, "DuplicateItemSemantics", item, names)
        links: list[dict[str, str]] = []
        seen_description = False
        for child in item:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag
            value = _text(child)
            namespace = etree.QName(child).namespace
            if namespace is None or namespace in (CONTENT, DC):
                self.leaf(child)
            if namespace is None and tag not in core:
                self.log(ERROR, "UndefinedElement", child)
            elif tag == "title":
                self._expected(child, set())
                self.nonhtml(child, value)
                self.nonblank(child, value)
            elif tag in ("link", "comments"):
                self._expected(child, set())
                self.full_uri(child, value)
            elif tag == "description":
                self._expected(child, set())
                seen_description = True
                self.safe_html(child, value)
            elif tag == f"{{{CONTENT}}}encoded":
                if not seen_description:
                    self.log(WARNING, "NeedDescriptionBeforeContent", child)
                self.safe_html(child, value)
            elif tag == "author":
                self._email_with_name(child, value)
            elif tag == "category":
                self._expected(child, {"domain"})
                self.nonhtml(child, value)
                self.nonblank(child, value)
            elif tag == "guid":
                self._guid(child, value, guids)
            elif tag == "pubDate":
                self._expected(child, set())
                self.rfc822(child, value)
            elif tag == "enclosure":
                self._enclosure(child)
            elif tag == "source":
                self._expected(child, {"url"})
                if child.get("url") is None:
                    self.log(ERROR, "MissingAttribute", child, "url")
                else:
                    self.full_uri(child, child.get("url"))
            elif tag == f"{{{ATOM}}}link":
                self.atom_link(child, links, "item")
            elif namespace == DC:
                self._dc(child, item)
            elif namespace == MEDIA:
                self.media(child)
            elif namespace in (ATOM, CONTENT, SY) and tag not in (
                f"{{{ATOM}}}id",
                f"{{{ATOM}}}updated",
                f"{{{ATOM}}}published",
            ):
                self.log(ERROR, "UndefinedElement", child)

    def _guid(self, guid, value: str, guids: set[str]) -> None:
        self._expected(guid, {"isPermaLink"})
        permalink = guid.get("isPermaLink", "true")
        if permalink not in ("true", "false"):
            self.log(ERROR, "InvalidBooleanAttribute", guid, permalink)
        if permalink == "true":
            if self.full_uri(guid, value, "InvalidHttpGUID") and value.lower().startswith(
                ("tag:", "urn:uuid:")
            ):
                self.log(ERROR, "InvalidPermalink", guid, value)
        elif len(value) < 9 and value.isdigit():
            self.log(WARNING, "NotSufficientlyUnique", guid, value)
        self.nonblank(guid, value)
        if value in guids:
            self.log(ERROR, "DuplicateValue", guid, value)
        guids.add(value)

    def _enclosure(self, enclosure) -> None:
        self._expected(enclosure, {"url", "length", "type"})
        length = enclosure.get("length")
        if length is None:
            self.log(ERROR, "MissingAttribute", enclosure, "length")
        else:
            try:
                number = int(length)
            except ValueError:
                self.log(ERROR, "InvalidIntegerAttribute", enclosure, f"length={length}")
            else:
                if number == -1:
                    self.log(ERROR, "UseZeroForUnknown", enclosure, "length=-1")
                elif number < 0:
                    self.log(ERROR, "InvalidNonNegativeInteger", enclosure, f"length={length}")
        self.mime(enclosure, enclosure.get("type"))
        if enclosure.get("url") is None:
            self.log(ERROR, "MissingAttribute", enclosure, "url")
        else:
            self.http_url(enclosure, enclosure.get("url"))
