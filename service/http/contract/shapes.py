"""The answers' bodies as plain dicts, one function per model in `models.py`.

Plain dicts written by orjson, not model instances: building a related answer through pydantic
objects cost more than the serve benchmark's budget (docs/benchmarks/serve.md).
tests/service/http/test_contract.py holds each function to its model's fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.base import Store
from store.editorial import ListOverrides
from store.models import FULL_TEXT_STATUSES, Article, Category, FullText, Source, Teaser, ts


def iso(moment: datetime | None) -> str | None:
    """The API's one time format: RFC 3339 in UTC with a `Z` (fractions only when present)."""
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def article_item(a: Article | Teaser) -> dict[str, Any]:
    """An article as a list item: enough to render a teaser."""
    return {
        "id": a.id,
        "url": a.url,
        "title": a.title,
        "summary": a.summary,
        "image": a.image.url if a.image else None,
        "published": iso(a.published),
        "category": a.category,
    }


def related_item(t: Teaser, score: float, reason: tuple[str, ...], fill: bool) -> dict[str, Any]:
    return {**article_item(t), "score": round(score, 4), "reason": list(reason), "fill": fill}


def article_detail(a: Article) -> dict[str, Any]:
    """Everything quantam knows about an article."""
    item = article_item(a)
    item.update(
        guid=a.guid,
        content_html=a.content_html,
        text=a.text,
        author=a.author,
        updated=iso(a.updated),
        first_seen=iso(a.first_seen),
        tags=list(a.tags),
        language=a.language,
        source_id=a.source_id,
        full_text=full_text_item(a.fulltext),
    )
    return item


def full_text_item(f: FullText | None) -> dict[str, Any] | None:
    """Whether `text` is the whole article; with the page's HTML when it was extracted."""
    if f is None:
        return None
    return {
        "status": f.status,
        "origin": f.origin,
        "html": f.html or None,
        "reason": f.reason,
        "fetched_at": iso(f.at),
        "page_url": f.page_url,
    }


def category_item(c: Category, store: Store, base_url: str) -> dict[str, Any]:
    base = base_url.rstrip("/")
    return {
        "slug": c.slug,
        "name": c.name,
        "language": c.language,
        "articles": store.count_articles(c.slug),
        "feeds": {fmt: f"{base}/feeds/{c.slug}.{fmt}" for fmt in ("rss", "atom", "json")},
        "feed_full_text": c.feed_full_text,
    }


def source_status(s: Source) -> str:
    if not s.enabled:
        return "disabled"
    if s.last_error:
        return "error"
    if s.last_fetch_at is None:
        return "new"
    return "ok"


def source_record(s: Source) -> dict[str, Any]:
    """Every field of a source, moments as fixed-width UTC timestamps (`sources list --json`)."""
    return {k: ts(v) if isinstance(v, datetime) else v for k, v in vars(s).items()}


def full_text_counts(counts: dict[str, int] | None) -> dict[str, int]:
    """How many of a source's articles have each full-text status (all four, zeros too)."""
    return {status: (counts or {}).get(status, 0) for status in FULL_TEXT_STATUSES}


NO_SUBSCRIPTION = {"state": None, "hub": None, "topic": None, "lease_until": None, "error": None}


def websub_item(described: dict[str, Any] | None) -> dict[str, Any]:
    """A source's WebSub subscription (its state, hub, topic, lease, last problem; never its
    callback token or secret)."""
    if not described:
        return dict(NO_SUBSCRIPTION)
    return {**described, "lease_until": iso(described.get("lease_until"))}


def source_item(
    s: Source,
    articles: int,
    fulltext: dict[str, int] | None = None,
    websub: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": s.id,
        "url": s.url,
        "name": s.name,
        "category": s.category,
        "status": source_status(s),
        "enabled": s.enabled,
        "articles": articles,
        "last_fetch_at": iso(s.last_fetch_at),
        "last_success_at": iso(s.last_success_at),
        "last_status": s.last_status,
        "last_error": s.last_error,
        "last_warning": s.last_warning,
        "disabled_reason": s.disabled_reason,
        "next_due_at": iso(s.next_due_at),
        "id_policy": s.id_policy,
        "id_policy_reason": s.id_policy_reason,
        "full_text": s.full_text,
        "full_text_articles": full_text_counts(fulltext),
        "full_text_error": s.fulltext_error,
        "full_text_error_at": iso(s.fulltext_error_at),
        "websub": websub_item(websub),
    }


def overrides_answer(o: ListOverrides) -> dict[str, Any]:
    """An article's overrides as stored (models.OverridesAnswer)."""
    return {
        "article_id": o.article_id,
        "pin": [{"id": p.article_id, "position": p.position} for p in o.pins],
        "block": list(o.blocks),
    }
