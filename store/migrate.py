"""Copy everything from one store to another (SQLite to Redis when a newsroom scales out).

Works through the `Store` interface only, so any backend can be the source or the target.
Resumable: after each batch of articles the target records the last id copied, and a new run
continues from there; every other step rewrites what it copies, so repeating it is harmless.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

from store.base import Store
from store.editorial import AuditEntry
from store.models import IngestBatch

_T = TypeVar("_T")
CHECKPOINT = "migrate:articles-after:"

# progress(step, done_in_this_step, total_for_this_step or None)
Progress = Callable[[str, int, int | None], None]


@dataclass
class MigrationReport:
    counts: dict[str, int] = field(default_factory=dict)
    resumed_after: str | None = None
    # (what, in the source, in the target) for every count that differs afterwards
    mismatches: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _batches(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def checkpoint_key(source: Store) -> str:
    """Per source store, so one target can receive several sources in turn."""
    return CHECKPOINT + hashlib.sha1(source.url.encode()).hexdigest()[:12]


def migrate(
    source: Store, target: Store, batch_size: int = 500, progress: Progress | None = None
) -> MigrationReport:
    report = MigrationReport()
    tick = progress or (lambda step, done, total: None)

    def count(step: str, n: int) -> None:
        report.counts[step] = report.counts.get(step, 0) + n

    for category in source.list_categories():
        target.put_category(category)
        count("categories", 1)
    for src in source.list_sources():
        target.restore_source(src)
        count("sources", 1)
    for key, value in source.iter_meta():
        if not key.startswith((CHECKPOINT, Store.DERIVED_META)):
            target.set_meta(key, value)
            count("meta", 1)

    key = checkpoint_key(source)
    after = (target.get_meta(key) or b"").decode() or None
    report.resumed_after = after
    total = source.count_articles()
    done = 0
    for batch in _batches(source.iter_articles(batch_size, after=after), batch_size):
        target.commit(IngestBatch(articles=batch))
        target.set_meta(key, batch[-1].id.encode())
        done += len(batch)
        count("articles", len(batch))
        tick("articles", done, total)

    for aliases in _batches(source.iter_aliases(), batch_size * 4):
        target.commit(IngestBatch(aliases=aliases))
        count("aliases", len(aliases))
        tick("aliases", report.counts["aliases"], None)
    for article_id in source.iter_takedowns():
        target.delete_article(article_id)
        count("takedowns", 1)
    for lists in _batches(source.iter_related(), batch_size):
        target.put_related(dict(lists))
        count("related lists", len(lists))
        tick("related lists", report.counts["related lists"], None)

    for counts in _batches(source.iter_event_counts(), batch_size * 4):
        target.put_event_counts(counts)
        count("popularity counts", len(counts))
        tick("popularity counts", report.counts["popularity counts"], None)

    _copy_editorial(source, target, count)
    report.mismatches = compare(source, target)
    return report


def _copy_editorial(source: Store, target: Store, count: Callable[[str, int], None]) -> None:
    """Operators, overrides and the audit log. The log is appended to, so a rerun copies only
    the entries the target lacks (it has received the oldest ones in order)."""
    for user in source.list_users():
        target.put_user(user)
        count("users", 1)
    for overrides in source.list_overrides():
        target.put_overrides(overrides)
        count("overrides", 1)
    target.put_site_rules(source.get_site_rules())
    entries = _all_audit(source)
    for entry in reversed(entries[: len(entries) - len(_all_audit(target))]):
        target.add_audit(entry)
        count("audit entries", 1)


def _all_audit(store: Store, page: int = 1000) -> list[AuditEntry]:
    """The whole audit log, newest first."""
    out: list[AuditEntry] = []
    while batch := store.audit_log(limit=page, offset=len(out)):
        out += batch
    return out


def compare(source: Store, target: Store) -> list[tuple[str, int, int]]:
    """Counts that differ between the two stores (empty when the copy is complete)."""
    pairs = {
        "articles": (source.count_articles(), target.count_articles()),
        "sources": (len(source.list_sources()), len(target.list_sources())),
        "categories": (len(source.list_categories()), len(target.list_categories())),
        "takedowns": (
            sum(1 for _ in source.iter_takedowns()),
            sum(1 for _ in target.iter_takedowns()),
        ),
        "related lists": (
            sum(1 for _ in source.iter_related()),
            sum(1 for _ in target.iter_related()),
        ),
        "users": (len(source.list_users()), len(target.list_users())),
        "overrides": (len(source.list_overrides()), len(target.list_overrides())),
        "audit entries": (len(_all_audit(source)), len(_all_audit(target))),
        "popularity counts": (
            sum(1 for _ in source.iter_event_counts()),
            sum(1 for _ in target.iter_event_counts()),
        ),
    }
    return [(what, a, b) for what, (a, b) in pairs.items() if a != b]
