"""OPML 2.0 writing: the sources quantam polls, and the list of quantam's own feeds.

Feeds are grouped under one outline per category (its display name as text); each feed outline
also names its category slug in the standard `category` attribute ("/the-thao"), so an exported
file imports back (`feeds.ingest.opml.read_opml`) to exactly the same sources and categories.
"""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ET
from datetime import datetime


def write_opml(
    title: str,
    groups: list[tuple[str, str, list[tuple[str, str, str | None, dict[str, str]]]]],
    created: datetime | None = None,
    feed_type: str = "rss",
) -> bytes:
    """groups: (category name, category slug, [(feed title, xml URL, html URL, more
    attributes)]); quantam's own attributes (`fullText`) go in the last."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    if created is not None:
        ET.SubElement(head, "dateCreated").text = email.utils.format_datetime(created)
    body = ET.SubElement(root, "body")
    for name, slug, feeds in groups:
        # Only `text`: an outline with more attributes needs a `type` (W3C MissingOutlineType).
        group = ET.SubElement(body, "outline", text=name)
        for feed_title, xml_url, html_url, extra in feeds:
            attrs = {
                "type": feed_type,
                "text": feed_title,
                "title": feed_title,
                "xmlUrl": xml_url,
                "category": f"/{slug}",
            }
            if html_url:
                attrs["htmlUrl"] = html_url
            attrs.update(extra)
            ET.SubElement(group, "outline", attrs)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return document + b"\n"
