"""Deciding which entries are new, which update a stored article and which are copies.

Pure functions over what the store already knows (looked up first, in one query). The rules:

* an entry is identified within its source by its key: the guid, or, for sources whose guids are
  broken, the link, then link + date + title (FreshRSS's "unicity criteria" with the same 5 %
  threshold for moving down);
* the same key from the same source updates the stored article when its content changed;
* the same canonical URL, or the same body text, from anywhere is the same article: the copy adds
  an alias so it is recognised next time, and creates nothing;
* an article that was taken down stays down, whatever its feed still says.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from feeds.ingest.parse import RawEntry
from store.base import AliasKey
from store.models import ID_POLICIES, Alias, Article

# More than this share of broken identifiers in one fetch moves a source to the next policy.
BROKEN_ID_SHARE = 0.05


@dataclass(frozen=True)
class Candidate:
    """A normalised article with the entry key that identifies it within its source."""

    article: Article
    key: str
    # Whether the entry itself carried a date (otherwise published is the first-seen time).
    dated: bool = True

    def alias_keys(self, scope: str) -> list[AliasKey]:
        keys = [("key", f"{scope}:{self.key}"), ("url", self.article.url)]
        if self.article.body_hash:
            keys.append(("body", self.article.body_hash))
        return keys


@dataclass
class Plan:
    """What one batch will write, and what it found, for the source's status line."""

    new: list[Article] = field(default_factory=list)
    updated: list[Article] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    unchanged: int = 0
    duplicates: int = 0
    taken_down: int = 0

    @property
    def articles(self) -> list[Article]:
        return self.new + self.updated


def entry_key(entry: RawEntry, article: Article, policy: str) -> str:
    if policy == "guid" and entry.guid:
        return entry.guid
    if policy in ("guid", "link"):
        return article.url
    stamp = entry.published.isoformat() if entry.published else ""
    return "ldt:" + hashlib.sha1(f"{article.url}\n{stamp}\n{article.title}".encode()).hexdigest()


def choose_policy(entries: list[RawEntry], urls: list[str], current: str) -> tuple[str, str | None]:
    """The id policy for this fetch, and the reason when it moves down from `current`.

    A policy never moves back up: a feed that broke its guids once is not trusted again."""
    if not entries:
        return current, None
    policy, reason = current, None
    if ID_POLICIES.index(policy) < 1:
        bad = _broken_share(
            [e.guid for e in entries], list(zip(urls, (e.title for e in entries), strict=False))
        )
        if bad > BROKEN_ID_SHARE:
            policy = "link"
            reason = (
                f"{bad:.0%} of entries had a missing or repeated guid: "
                "entries are identified by link"
            )
    if ID_POLICIES.index(policy) < 2:
        signature = [(e.title, e.published) for e in entries]
        bad = _broken_share(list(urls), signature)
        if bad > BROKEN_ID_SHARE:
            policy = "link_date_title"
            reason = (
                f"{bad:.0%} of entries repeated a link for different stories: "
                "entries are identified by link + date + title"
            )
    return policy, reason


def _broken_share(ids: list[str | None], what: Sequence[object]) -> float:
    """Share of entries whose id is missing or shared with an entry that differs."""
    owners: dict[str, set[object]] = {}
    for ident, thing in zip(ids, what, strict=True):
        if ident:
            owners.setdefault(ident, set()).add(thing)
    counts = Counter(i for i in ids if i)
    broken = sum(1 for i in ids if not i or (counts[i] > 1 and len(owners[i]) > 1))
    return broken / len(ids)


def plan_batch(
    candidates: list[Candidate],
    scope: str,
    found: dict[AliasKey, str],
    stored: dict[str, Article],
    taken_down: set[str],
    now: datetime,
    authoritative: bool = False,
) -> Plan:
    """Sort candidates into new, updated, unchanged and duplicates.

    scope: the source id (or "cms") that entry keys belong to.
    found: alias lookups for every candidate's alias keys; stored: the articles they point to.
    authoritative: the candidates come from the publisher itself (the CMS), so a stored copy
    found by URL or body is updated from them rather than kept as it is."""
    plan = Plan()
    known = dict(found)
    pending: dict[str, Article] = {}
    for cand in candidates:
        keys = cand.alias_keys(scope)
        match = known.get(keys[0])
        by_key = match is not None
        if match is None:
            match = next((known[k] for k in keys[1:] if k in known), None)
        if match is not None and match in taken_down:
            plan.taken_down += 1
            continue
        if match is None:
            article = cand.article
            pending[article.id] = article
            plan.new.append(article)
        elif match in pending:
            plan.duplicates += 1
            article = pending[match]
        else:
            old = stored.get(match)
            if old is None:
                # The alias points at an article that no longer exists; start afresh under it.
                article = cand.article.replace(id=match)
                plan.new.append(article)
            elif by_key or authoritative or old.source_id == cand.article.source_id:
                article = _updated(old, cand, now)
                if article is old:
                    plan.unchanged += 1
                else:
                    plan.updated.append(article)
            else:
                plan.duplicates += 1
                article = old
            pending[article.id] = article
        for alias_key in keys:
            if alias_key not in known:
                plan.aliases.append(Alias(*alias_key, article.id))
                known[alias_key] = article.id
    return plan


def _updated(old: Article, cand: Candidate, now: datetime) -> Article:
    """The stored article brought up to date, or `old` itself when nothing changed.

    Every field an entry or a push gives counts: a new image, author, summary or tags alone is
    an update (the CMS changing only the image was answered "updated" and ignored). What the
    article's page gave (its full text, and the image, author and dates the feed lacked) stays
    unless the new entry brings its own."""
    new = _keep_page(old, cand.article)
    if (
        new.content_hash == old.content_hash
        and new.url == old.url
        and new.summary == old.summary
        and new.image == old.image
        and new.author == old.author
        and new.tags == old.tags
    ):
        return old
    return new.replace(
        id=old.id,
        first_seen=old.first_seen,
        published=new.published if cand.dated else old.published,
        updated=new.updated or now,
    )


def _keep_page(old: Article, new: Article) -> Article:
    """`new` with what `old` got from its page: the page's outcome (full text or why not), the
    text it gave, and the fields it filled in that `new` still lacks. Not when `new` carries
    the whole article itself (a push with a body, a feed entry long enough)."""
    page = old.fulltext
    if page is None or page.origin != "page":
        return new
    if new.fulltext is not None and new.fulltext.status == "full":
        return new
    changes: dict[str, object] = {"fulltext": page}
    if page.status == "full":
        changes.update(text=old.text, index_text=old.index_text)
    for name in ("image", "author", "updated"):
        if name in page.filled and getattr(new, name) is None:
            changes[name] = getattr(old, name)
    return new.replace(**changes)
