"""Stored (sanitised) HTML made ready to republish in a feed."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import nh3

from feeds.common.allowlist import OPTIONS, TAGS, URL_SCHEMES
from store.urls import to_uri

# Republished in feeds, <bdo> counts as a security risk and <rtc> as not HTML for the W3C Feed
# Validation Service; their text is kept.
FEED_TAGS = TAGS - {"bdo", "rtc"}
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "longdesc"})


def feed_html(safe_html: str, base_url: str) -> str:
    """Sanitised HTML made ready to republish in a feed: every link and image source absolute
    (resolved against the article URL, as ASCII URIs), because readers resolve relative URLs
    against whatever base they like and validators reject them; and only tags that feed
    validators accept. Sanitised again on the way, so nothing unsafe can slip through."""
    if not safe_html:
        return ""

    def absolute(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in _URL_ATTRIBUTES:
            return value
        try:
            url = urljoin(base_url, value.strip())
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            return None
        if scheme not in URL_SCHEMES:
            return None
        return url if scheme == "mailto" else to_uri(url)

    return nh3.clean(safe_html, **{**OPTIONS, "tags": FEED_TAGS}, attribute_filter=absolute)
