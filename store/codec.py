"""Turn the store's dataclasses into JSON-ready dicts and back; shared by every backend.

The backends' private encoding: nothing outside `store` imports it (an import-linter contract),
so it can change with a schema version without changing what the API or the CLI print."""

from __future__ import annotations

from typing import Any

import orjson

from store.models import (
    Article,
    Category,
    FullText,
    Image,
    RelatedItem,
    Source,
    Teaser,
    parse_ts,
    ts,
)


def article_to_dict(a: Article) -> dict[str, Any]:
    return {
        "id": a.id,
        "url": a.url,
        "title": a.title,
        "category": a.category,
        "guid": a.guid,
        "summary": a.summary,
        "content_html": a.content_html,
        "text": a.text,
        "index_text": a.index_text,
        "author": a.author,
        "published": ts(a.published),
        "updated": ts(a.updated),
        "first_seen": ts(a.first_seen),
        "tags": list(a.tags),
        "image": image_to_dict(a.image),
        "language": a.language,
        "source_id": a.source_id,
        "content_hash": a.content_hash,
        "body_hash": a.body_hash,
        "fulltext": fulltext_to_dict(a.fulltext),
    }


def article_from_dict(d: dict[str, Any]) -> Article:
    return Article(
        id=d["id"],
        url=d["url"],
        title=d["title"],
        category=d["category"],
        guid=d.get("guid"),
        summary=d.get("summary", ""),
        content_html=d.get("content_html", ""),
        text=d.get("text", ""),
        index_text=d.get("index_text", ""),
        author=d.get("author"),
        published=parse_ts(d["published"]),
        updated=parse_ts(d.get("updated")),
        first_seen=parse_ts(d["first_seen"]),
        tags=tuple(d.get("tags") or ()),
        image=image_from_dict(d.get("image")),
        language=d.get("language", "vi"),
        source_id=d.get("source_id"),
        content_hash=d.get("content_hash", ""),
        body_hash=d.get("body_hash", ""),
        fulltext=fulltext_from_dict(d.get("fulltext")),
    )


def fulltext_to_dict(f: FullText | None) -> dict[str, Any] | None:
    if f is None:
        return None
    d: dict[str, Any] = {"status": f.status, "origin": f.origin}
    if f.html:
        d["html"] = f.html
    if f.reason is not None:
        d["reason"] = f.reason
    if f.at is not None:
        d["at"] = ts(f.at)
    if f.page_url is not None:
        d["page_url"] = f.page_url
    if f.filled:
        d["filled"] = list(f.filled)
    return d


def fulltext_from_dict(d: dict[str, Any] | None) -> FullText | None:
    if not d:
        return None
    return FullText(
        status=d["status"],
        origin=d.get("origin", "feed"),
        html=d.get("html", ""),
        reason=d.get("reason"),
        at=parse_ts(d.get("at")),
        page_url=d.get("page_url"),
        filled=tuple(d.get("filled") or ()),
    )


def image_to_dict(image: Image | None) -> dict[str, Any] | None:
    if image is None:
        return None
    return {k: v for k, v in vars(image).items() if v is not None}


def teaser_to_dict(a: Article | Teaser) -> dict[str, Any]:
    return {
        "id": a.id,
        "url": a.url,
        "title": a.title,
        "category": a.category,
        "published": ts(a.published),
        "summary": a.summary,
        "image": image_to_dict(a.image),
    }


def teaser_from_dict(d: dict[str, Any]) -> Teaser:
    """A teaser from its own stored fields or a stored article's: no Article (with its body
    and four dates) built only to be cut down."""
    return Teaser(
        id=d["id"],
        url=d["url"],
        title=d["title"],
        category=d["category"],
        published=parse_ts(d["published"]),
        summary=d.get("summary", ""),
        image=image_from_dict(d.get("image")),
    )


def image_from_dict(d: dict[str, Any] | None) -> Image | None:
    return Image(**d) if d else None


_SOURCE_TIMES = (
    "last_fetch_at",
    "last_success_at",
    "next_due_at",
    "created_at",
    "fulltext_error_at",
)


def source_to_dict(s: Source) -> dict[str, Any]:
    d = dict(vars(s))
    for name in _SOURCE_TIMES:
        d[name] = ts(d[name])
    d["skip_hours"] = list(s.skip_hours)
    d["skip_days"] = list(s.skip_days)
    d["failed_days"] = [list(pair) for pair in s.failed_days]
    return d


def source_from_dict(d: dict[str, Any]) -> Source:
    d = dict(d)
    for name in _SOURCE_TIMES:
        d[name] = parse_ts(d.get(name))
    d["skip_hours"] = tuple(d.get("skip_hours") or ())
    d["skip_days"] = tuple(d.get("skip_days") or ())
    d["failed_days"] = tuple((str(day), int(n)) for day, n in d.get("failed_days") or ())
    known = Source.__dataclass_fields__
    return Source(**{k: v for k, v in d.items() if k in known})


def category_to_dict(c: Category) -> dict[str, Any]:
    return {
        "slug": c.slug,
        "name": c.name,
        "language": c.language,
        "feed_full_text": c.feed_full_text,
    }


def category_from_dict(d: dict[str, Any]) -> Category:
    return Category(
        slug=d["slug"],
        name=d["name"],
        language=d.get("language", "vi"),
        feed_full_text=d.get("feed_full_text", True),
    )


def related_to_json(items: list[RelatedItem]) -> str:
    return dumps([[i.article_id, round(i.score, 6), int(i.fill), list(i.reason)] for i in items])


def related_from_json(raw: str | bytes) -> list[RelatedItem]:
    return [RelatedItem(a, s, bool(f), tuple(r)) for a, s, f, r in loads(raw)]


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept as is (orjson: stored JSON is read on every request)."""
    return orjson.dumps(value).decode()


def loads(raw: str | bytes) -> Any:
    return orjson.loads(raw)
