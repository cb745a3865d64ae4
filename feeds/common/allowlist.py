"""The HTML quantam keeps: one allow-list for what it stores (`feeds.ingest.sanitize`) and what it
republishes in feeds (`feeds.publish.markup`), so the two cannot drift apart.

nh3 (ammonia) applies it: no script, style, event attributes or javascript: URLs survive.
"""

from __future__ import annotations

from typing import Any

import nh3

ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
ATTRIBUTES["*"] = {"class", "data-role"}
ATTRIBUTES["a"] = ATTRIBUTES.get("a", set()) | {"title"}
ATTRIBUTES["img"] = ATTRIBUTES.get("img", set()) | {"title"}
TAGS = set(nh3.ALLOWED_TAGS) | {"section", "picture", "main"}
URL_SCHEMES = {"http", "https", "mailto"}
CLEAN_CONTENT_TAGS = {"script", "style", "noscript", "iframe", "object", "template"}
# nh3's options for the allow-list, as both sides pass them.
OPTIONS: dict[str, Any] = {
    "tags": TAGS,
    "attributes": ATTRIBUTES,
    "url_schemes": URL_SCHEMES,
    "clean_content_tags": CLEAN_CONTENT_TAGS,
    "strip_comments": True,
    "link_rel": "noopener noreferrer",
}
