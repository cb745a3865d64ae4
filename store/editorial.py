"""Operators, editors' overrides of related lists, and the audit log of who changed what.

Overrides are stored apart from the lists the engine computes and applied when a list is read
(recommender/read.py), so an editor's pin or block holds at once, through `quantam reindex` and
every incremental update, and is undone by removing it. Every backend stores these as small JSON
records through the few primitives at the bottom of `EditorialStore`. A write readers could see
gives the resource it changed (`overrides_resource`: one article's list as edited, or the rules
for every list) the store's next version in the same transaction (`_put_record`), so caches drop
the answers that applied it (store.base), and only those.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from store.models import parse_ts, ts, utcnow

# The record under which the rules for every list are kept, beside the per-article records
# (article ids are hex digests, so it can never be one).
EVERY_LIST = "*"
# Pins and blocks per list: a related list shows at most 20 items (the API's k), so more pins
# than that can never all show; the block list is bounded so one record stays small (~10 KB).
MAX_PINS = 20
MAX_BLOCKS = 200
# Articles blocked from every list: the rules are read with every list served, so they stay
# one small record (~20 KB); past this, taking an article down is the tool.
MAX_BLOCKED_EVERYWHERE = 1000


def overrides_resource(article_id: str) -> str:
    """One article's pins and blocks, as a resource (store.base): every answer that applied them
    (its related lists by id and URL, its box, feed pages with it) read it. EVERY_LIST's,
    "o:*", is the rules for every list, which every answer showing a related list read."""
    return "o:" + article_id


@dataclass(frozen=True)
class User:
    """An operator who signs in to the console; the password only as a slow hash."""

    name: str
    password_hash: str
    created: datetime


@dataclass(frozen=True)
class Pin:
    """Show `article_id` at `position` (1 = first) in one article's related list."""

    article_id: str
    position: int


@dataclass(frozen=True)
class ListOverrides:
    """An editor's changes to one article's related list."""

    article_id: str
    pins: tuple[Pin, ...] = ()
    blocks: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.pins or self.blocks)


@dataclass(frozen=True)
class SiteRules:
    """Rules for every list: articles shown in none, pairs of categories never shown together."""

    blocked: tuple[str, ...] = ()
    never_pair: tuple[tuple[str, str], ...] = ()

    def unpaired(self, category: str) -> set[str]:
        """The categories whose articles never appear in a list of an article of `category`."""
        return {b if a == category else a for a, b in self.never_pair if category in (a, b)}


@dataclass(frozen=True)
class AuditEntry:
    """Who changed what, when: `action` is a short verb phrase, `target` what it acted on."""

    who: str
    action: str
    target: str = ""
    detail: str = ""
    at: datetime | None = None


def _overrides_to_json(o: ListOverrides) -> bytes:
    return orjson.dumps(
        {"pins": [[p.article_id, p.position] for p in o.pins], "blocks": list(o.blocks)}
    )


def _overrides_from_json(article_id: str, raw: bytes | None) -> ListOverrides:
    if raw is None:
        return ListOverrides(article_id)
    d = orjson.loads(raw)
    pins = tuple(Pin(a, int(p)) for a, p in d.get("pins", ()))
    return ListOverrides(article_id, pins, tuple(d.get("blocks", ())))


def _rules_to_json(r: SiteRules) -> bytes:
    return orjson.dumps({"blocked": list(r.blocked), "never_pair": [list(p) for p in r.never_pair]})


def _rules_from_json(raw: bytes | None) -> SiteRules:
    if raw is None:
        return SiteRules()
    d = orjson.loads(raw)
    pairs = tuple((str(a), str(b)) for a, b in d.get("never_pair", ()))
    return SiteRules(tuple(d.get("blocked", ())), pairs)


def _user_to_json(u: User) -> bytes:
    return orjson.dumps({"hash": u.password_hash, "created": ts(u.created)})


def _user_from_json(name: str, raw: bytes) -> User:
    d = orjson.loads(raw)
    return User(name, d["hash"], parse_ts(d["created"]))


def _audit_to_json(e: AuditEntry) -> bytes:
    d: dict[str, Any] = {"who": e.who, "action": e.action, "target": e.target}
    d |= {"detail": e.detail, "at": ts(e.at or utcnow())}
    return orjson.dumps(d)


def _audit_from_json(raw: bytes) -> AuditEntry:
    d = orjson.loads(raw)
    return AuditEntry(d["who"], d["action"], d["target"], d["detail"], parse_ts(d["at"]))


class EditorialStore:
    """The part of `store.base.Store` that keeps operators, overrides and the audit log."""

    # -- operators ---------------------------------------------------------------------------
    def put_user(self, user: User) -> None:
        """Create a user or replace its password."""
        self._put_record("users", user.name, _user_to_json(user), changed=())

    def get_user(self, name: str) -> User | None:
        raw = self._get_records("users", [name])[0]
        return _user_from_json(name, raw) if raw is not None else None

    def list_users(self) -> list[User]:
        """Every user, by name."""
        return sorted(
            (_user_from_json(n, raw) for n, raw in self._list_records("users")),
            key=lambda u: u.name,
        )

    def remove_user(self, name: str) -> bool:
        if self.get_user(name) is None:
            return False
        self._put_record("users", name, None, changed=())
        return True

    # -- overrides ---------------------------------------------------------------------------
    def get_overrides(self, article_id: str) -> ListOverrides:
        """The editor's pins and blocks of one article's list (empty when there are none)."""
        return _overrides_from_json(article_id, self._get_records("overrides", [article_id])[0])

    def put_overrides(self, overrides: ListOverrides) -> None:
        """Replace one list's pins and blocks; empty ones remove the record."""
        raw = _overrides_to_json(overrides) if overrides else None
        resource = overrides_resource(overrides.article_id)
        self._put_record("overrides", overrides.article_id, raw, changed=(resource,))

    def get_site_rules(self) -> SiteRules:
        return _rules_from_json(self._get_records("overrides", [EVERY_LIST])[0])

    def put_site_rules(self, rules: SiteRules) -> None:
        raw = _rules_to_json(rules) if rules.blocked or rules.never_pair else None
        self._put_record("overrides", EVERY_LIST, raw, changed=(overrides_resource(EVERY_LIST),))

    def editorial_for(self, article_id: str) -> tuple[ListOverrides, SiteRules]:
        """One list's overrides and the rules for every list, in one read."""
        own, every = self._get_records("overrides", [article_id, EVERY_LIST])
        return self._editorial_from(article_id, own, every)

    @staticmethod
    def _editorial_from(
        article_id: str, own: bytes | None, every: bytes | None
    ) -> tuple[ListOverrides, SiteRules]:
        """The records as read (a backend that reads them with the list, `related_as_edited`)."""
        return _overrides_from_json(article_id, own), _rules_from_json(every)

    def list_overrides(self) -> list[ListOverrides]:
        """Every list with overrides, by article id (the console marks them)."""
        rows = [(k, raw) for k, raw in self._list_records("overrides") if k != EVERY_LIST]
        return [_overrides_from_json(k, raw) for k, raw in sorted(rows)]

    # -- audit log ---------------------------------------------------------------------------
    def add_audit(self, entry: AuditEntry) -> None:
        """Append to the audit log (stamped now unless `entry.at` is set)."""
        self._append_audit(_audit_to_json(entry))

    def audit_log(self, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
        """Newest first: `limit` entries after skipping the `offset` newest."""
        return [_audit_from_json(raw) for raw in self._read_audit(limit, offset)]

    # -- what each backend implements ----------------------------------------------------------
    @abstractmethod
    def _get_records(self, kind: str, keys: Iterable[str]) -> list[bytes | None]:
        """The records of `kind` ("users" or "overrides") under these keys, None if absent."""

    @abstractmethod
    def _list_records(self, kind: str) -> list[tuple[str, bytes]]: ...

    @abstractmethod
    def _put_record(self, kind: str, key: str, value: bytes | None, changed: Sequence[str]) -> None:
        """Store (None: delete) one record, and give the resources it `changed` (what readers
        see of it; none for users) the store's next version in the same transaction."""

    @abstractmethod
    def _append_audit(self, entry: bytes) -> None: ...

    @abstractmethod
    def _read_audit(self, limit: int, offset: int) -> list[bytes]:
        """Newest first."""
