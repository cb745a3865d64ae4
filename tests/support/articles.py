"""Stored things made to order: numbered articles, and a store with every kind of record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.base import Store
from store.editorial import AuditEntry, ListOverrides, Pin, User
from store.models import (
    Alias,
    Article,
    Category,
    EventCount,
    FullText,
    Image,
    IngestBatch,
    RelatedItem,
    Source,
)

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def make_article(n: int, category: str = "the-thao", **kw) -> Article:
    fields = dict(
        id=f"a{n:04d}",
        url=f"https://news.example/bai-{n}.html",
        title=f"Bài viết số {n}: Đội tuyển Việt Nam thắng",
        category=category,
        guid=f"guid-{n}",
        summary="Tóm tắt ngắn",
        content_html="<p>Nội dung <b>đậm</b></p>",
        text="Nội dung đậm",
        index_text="Nội dung đậm",
        author="Nguyễn Văn A",
        published=T0 + timedelta(minutes=n),
        first_seen=T0 + timedelta(minutes=n, seconds=5),
        tags=("bóng đá", "V-League"),
        image=Image(url=f"https://img.example/{n}.jpg", type="image/jpeg", length=1234),
        language="vi",
        content_hash=f"h{n}",
        body_hash=f"b{n}",
    )
    fields.update(kw)
    return Article(**fields)


def fill_every_kind(s: Store) -> None:
    """Touch every kind of key the store has."""
    src = s.add_source(Source(url="https://a.example/rss", category="the-thao"))
    s.commit(
        IngestBatch(
            articles=[
                make_article(1, source_id=src.id, fulltext=FullText("pending")),
                make_article(2),
            ],
            aliases=[Alias("url", "https://news.example/bai-1.html", "a0001")],
            source=src.replace(etag='"x"'),
            category=Category("the-thao", "Thể thao"),
        )
    )
    s.delete_article("a0002")
    s.put_related({"a0001": [RelatedItem("a0002", 0.5)]})
    s.set_meta("index", b"v1")
    s.add_event_counts([EventCount("a0001", T0, impressions=2, clicks=1)])
    s.put_user(User("bientap", "$argon2id$not-a-real-hash", T0))
    s.put_overrides(ListOverrides("a0001", (Pin("a0002", 1),)))
    s.add_audit(AuditEntry("bientap", "pinned", "a0001"))
