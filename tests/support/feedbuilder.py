"""Build RSS 2.0 bytes for tests from plain dicts (with ElementTree, so the XML is well-formed)."""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
ET.register_namespace("content", CONTENT_NS)


def rss(items: list[dict[str, Any]], title: str = "Báo thử nghiệm", **channel: Any) -> bytes:
    """items: dicts with title, link, guid, description, content, pub (datetime), author."""
    root = ET.Element("rss", version="2.0")
    ch = ET.SubElement(root, "channel")
    ET.SubElement(ch, "title").text = title
    ET.SubElement(ch, "link").text = channel.pop("link", "https://bao.example.vn/")
    ET.SubElement(ch, "description").text = channel.pop("description", "Tin tức")
    for name, value in channel.items():
        ET.SubElement(ch, name).text = str(value)
    for item in items:
        it = ET.SubElement(ch, "item")
        for name in ("title", "link", "description", "author"):
            if item.get(name) is not None:
                ET.SubElement(it, name).text = item[name]
        if item.get("guid") is not None:
            ET.SubElement(it, "guid", isPermaLink="false").text = item["guid"]
        if item.get("content") is not None:
            ET.SubElement(it, f"{{{CONTENT_NS}}}encoded").text = item["content"]
        if isinstance(item.get("pub"), datetime):
            ET.SubElement(it, "pubDate").text = email.utils.format_datetime(item["pub"])
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def story(n: int, **kw: Any) -> dict[str, Any]:
    """A distinct Vietnamese news item number n."""
    topics = ["bóng đá", "giá vàng", "thời tiết", "giao thông", "giáo dục", "y tế", "du lịch"]
    topic = topics[n % len(topics)]
    item = {
        "title": f"Tin số {n} về {topic}",
        "link": f"https://bao.example.vn/tin-{n}.html",
        "guid": f"tin-{n}",
        "description": (
            f"Bài viết số {n} nói về {topic} với nhiều chi tiết mới: phóng viên ghi nhận "
            f"tại hiện trường lúc {n} giờ, người dân và chính quyền địa phương cùng theo dõi."
        ),
    }
    item.update(kw)
    return item
