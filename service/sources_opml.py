"""Sources to and from OPML: one implementation for `quantam sources import|export` and the
console's Sources page."""

from __future__ import annotations

from dataclasses import dataclass, field

from feeds.common.errors import FeedError
from feeds.ingest.opml import read_opml
from feeds.publish.opml import write_opml
from service.core import Quantam
from store.base import Store
from store.errors import SourceExists


@dataclass
class Imported:
    added: int = 0
    kept: int = 0
    # (feed URL, why it was skipped)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def import_opml(quantam: Quantam, data: bytes, default_category: str | None = None) -> Imported:
    """Add every feed of an OPML document; feeds already present are left as they are. Raises
    FeedError when the document is not OPML."""
    done = Imported()
    for item in read_opml(data, default_category=default_category):
        try:
            quantam.ingestor.add_source(
                item.url,
                item.category_slug,
                name=item.name,
                category_name=item.category_name,
                full_text=item.full_text or "auto",
            )
            done.added += 1
        except SourceExists:
            done.kept += 1
        except FeedError as exc:
            done.skipped.append((item.url, str(exc)))
    return done


def export_opml(store: Store) -> bytes:
    """Every source as OPML 2.0, grouped by category."""
    names = {c.slug: c.name for c in store.list_categories()}
    groups: dict[str, list[tuple[str, str, str | None, dict[str, str]]]] = {}
    for source in store.list_sources():
        # Only a policy other than the default is written: a file without it imports as auto.
        extra = {"fullText": source.full_text} if source.full_text != "auto" else {}
        groups.setdefault(source.category, []).append(
            (source.name or source.url, source.url, None, extra)
        )
    return write_opml(
        "quantam sources",
        [(names.get(slug, slug), slug, feeds) for slug, feeds in groups.items()],
    )
