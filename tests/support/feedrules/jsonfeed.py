"""JSON Feed 1.1's requirements (it has no W3C validator)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.support.feedrules.common import (
    ERROR,
    FULL_URI,
    HTTP_URL,
    ISO_639_1,
    MIME,
    RFC3339,
    WARNING,
    Finding,
)

# -- JSON Feed 1.1 ----------------------------------------------------------------------------

_JSON_FEED_KEYS = {
    "version",
    "title",
    "home_page_url",
    "feed_url",
    "description",
    "user_comment",
    "next_url",
    "icon",
    "favicon",
    "authors",
    "language",
    "expired",
    "hubs",
    "items",
}
_JSON_ITEM_KEYS = {
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "image",
    "banner_image",
    "date_published",
    "date_modified",
    "authors",
    "tags",
    "language",
    "attachments",
}


def check_json_feed(body: bytes, now: datetime | None = None) -> list[Finding]:
    """Findings against the JSON Feed 1.1 specification (https://jsonfeed.org/version/1.1)."""
    findings: list[Finding] = []
    now = now or datetime.now(UTC)

    def log(level: str, rule: str, where: str, detail: str = "") -> None:
        findings.append(Finding(level, rule, where, detail))

    try:
        feed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        log(ERROR, "NotJson", "document", str(exc))
        return findings
    if not isinstance(feed, dict):
        log(ERROR, "NotAnObject", "document")
        return findings
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        log(ERROR, "InvalidVersion", "version", str(feed.get("version")))
    if not isinstance(feed.get("title"), str) or not feed["title"].strip():
        log(ERROR, "MissingTitle", "title")
    _json_unknown_keys(feed, _JSON_FEED_KEYS, "feed", log)
    for key in ("home_page_url", "feed_url", "next_url", "icon", "favicon"):
        if key in feed:
            _json_url(feed[key], key, log)
    if "description" in feed and not isinstance(feed["description"], str):
        log(ERROR, "InvalidType", "description")
    _json_authors(feed.get("authors"), "authors", log)
    if "language" in feed:
        _json_language(feed["language"], "language", log)
    for i, hub in enumerate(feed.get("hubs") or []):
        if not (isinstance(hub, dict) and isinstance(hub.get("type"), str) and "url" in hub):
            log(ERROR, "InvalidHub", f"hubs[{i}]")
        else:
            _json_url(hub["url"], f"hubs[{i}].url", log)
    items = feed.get("items")
    if not isinstance(items, list):
        log(ERROR, "MissingItems", "items")
        return findings
    ids: set[str] = set()
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(item, dict):
            log(ERROR, "InvalidItem", where)
            continue
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            log(ERROR, "MissingId", f"{where}.id")
        elif item_id in ids:
            log(ERROR, "DuplicateId", f"{where}.id", item_id)
        else:
            ids.add(item_id)
        if not any(isinstance(item.get(k), str) for k in ("content_html", "content_text")):
            log(ERROR, "MissingContent", where, "content_html or content_text is required")
        _json_unknown_keys(item, _JSON_ITEM_KEYS, where, log)
        for key in ("url", "external_url", "image", "banner_image"):
            if key in item:
                _json_url(item[key], f"{where}.{key}", log)
        for key in ("title", "summary", "content_html", "content_text"):
            if key in item and not isinstance(item[key], str):
                log(ERROR, "InvalidType", f"{where}.{key}")
        for key in ("date_published", "date_modified"):
            if key in item:
                value = item[key]
                if not isinstance(value, str) or not RFC3339.match(value):
                    log(ERROR, "InvalidRFC3339Date", f"{where}.{key}", str(value))
                elif datetime.fromisoformat(value.replace("Z", "+00:00")) > now + timedelta(
                    minutes=10
                ):
                    log(WARNING, "ImplausibleDate", f"{where}.{key}", value)
        if "tags" in item and not (
            isinstance(item["tags"], list) and all(isinstance(t, str) for t in item["tags"])
        ):
            log(ERROR, "InvalidTags", f"{where}.tags")
        _json_authors(item.get("authors"), f"{where}.authors", log)
        if "language" in item:
            _json_language(item["language"], f"{where}.language", log)
        for j, attachment in enumerate(item.get("attachments") or []):
            at = f"{where}.attachments[{j}]"
            if not isinstance(attachment, dict) or "url" not in attachment:
                log(ERROR, "MissingAttachmentUrl", at)
                continue
            _json_url(attachment["url"], f"{at}.url", log)
            if not isinstance(attachment.get("mime_type"), str) or not MIME.match(
                attachment["mime_type"]
            ):
                log(ERROR, "InvalidMimeType", at, str(attachment.get("mime_type")))
            for key in ("size_in_bytes", "duration_in_seconds"):
                if key in attachment and not (
                    isinstance(attachment[key], int | float) and attachment[key] > 0
                ):
                    log(ERROR, "InvalidNumber", f"{at}.{key}")
    return findings


def _json_unknown_keys(obj: dict, known: set[str], where: str, log: Callable) -> None:
    for key in obj:
        if key not in known and not key.startswith("_"):
            level = WARNING if key in ("author", "banner_image") else ERROR
            log(level, "UnknownKey", f"{where}.{key}", "extensions must start with _")


def _json_url(value: object, where: str, log: Callable) -> None:
    if not isinstance(value, str) or not FULL_URI.match(value) or not HTTP_URL.match(value):
        log(ERROR, "InvalidURL", where, str(value))


def _json_language(value: object, where: str, log: Callable) -> None:
    if not isinstance(value, str) or value.split("-", 1)[0].lower() not in ISO_639_1:
        log(ERROR, "InvalidLanguage", where, str(value))


def _json_authors(value: object, where: str, log: Callable) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        log(ERROR, "InvalidAuthors", where)
        return
    for i, author in enumerate(value):
        if not isinstance(author, dict) or not any(k in author for k in ("name", "url", "avatar")):
            log(ERROR, "InvalidAuthor", f"{where}[{i}]")
