"""SQLite backend: the embedded default, one file, no server.

WAL mode lets web workers read while a poller writes; every `commit` is one IMMEDIATE transaction,
so a crash mid-ingest leaves all or none of a feed's changes. Rows keep the dataclass as JSON plus
the columns queries need; the schema is versioned in PRAGMA user_version and migrated forward.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from store import codec
from store.base import (
    ANY,
    CATEGORIES,
    AliasKey,
    Cursor,
    Store,
    article_change,
    article_resource,
    category_resource,
)
from store.checkpoint import BACKSTOP_PAGES, Checkpointer
from store.editorial import EVERY_LIST, ListOverrides, SiteRules
from store.errors import (
    SchemaTooNew,
    SourceExists,
    SourceNotFound,
    StoreMissing,
    StoreUnavailable,
)
from store.models import (
    POPULARITY_RETENTION,
    Alias,
    Article,
    Category,
    Change,
    EventCount,
    IngestBatch,
    Popularity,
    RelatedItem,
    Source,
    Teaser,
    hour_of,
    parse_ts,
    ts,
)

# Each entry moves the schema from version i to i + 1. Never edit a released one; append.
# Statements are idempotent where SQL allows (IF NOT EXISTS); each entry runs once, in the
# transaction that records its version.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE categories (slug TEXT PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL UNIQUE,
        data TEXT NOT NULL
    );
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        published TEXT NOT NULL,
        source_id INTEGER,
        seq INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX articles_by_time ON articles (published DESC, id DESC);
    CREATE INDEX articles_by_category ON articles (category, published DESC, id DESC);
    CREATE INDEX articles_by_source ON articles (source_id);
    CREATE TABLE aliases (
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        article_id TEXT NOT NULL,
        PRIMARY KEY (kind, value)
    ) WITHOUT ROWID;
    CREATE TABLE takedowns (article_id TEXT PRIMARY KEY, at TEXT NOT NULL);
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        article_id TEXT NOT NULL,
        op TEXT NOT NULL
    );
    CREATE TABLE related (article_id TEXT PRIMARY KEY, items TEXT NOT NULL);
    """,
    """
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters (name, value) VALUES ('version', 0);
    """,
    """
    CREATE TABLE IF NOT EXISTS locks (
        name TEXT PRIMARY KEY, token TEXT NOT NULL, expires REAL NOT NULL
    );
    """,
    # Teasers apart from `articles`, as plain columns: an article's JSON spans several overflow
    # pages, which SQLite walks to read any of it, and then costs a JSON decode; a teaser row
    # fits in one page and needs neither.
    """
    CREATE TABLE IF NOT EXISTS teasers (
        article_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        category TEXT NOT NULL,
        published TEXT NOT NULL,
        summary TEXT NOT NULL,
        image TEXT
    );
    INSERT OR IGNORE INTO teasers (article_id, url, title, category, published, summary, image)
    SELECT id, json_extract(data, '$.url'), json_extract(data, '$.title'), category, published,
        coalesce(json_extract(data, '$.summary'), ''), json_extract(data, '$.image')
    FROM articles
    """,
    # Each article's full-text status (NULL for articles stored before there were any), for
    # per-source counts and the queue of pages to fetch.
    """
    ALTER TABLE articles ADD COLUMN fulltext TEXT;
    CREATE INDEX IF NOT EXISTS articles_by_fulltext
        ON articles (fulltext, source_id, published DESC, id DESC)
    """,
    # Each resource's version (store.base: "*" is the store's, which `counters` held before),
    # so caches drop only the answers that read what a write changed.
    """
    CREATE TABLE IF NOT EXISTS versions (
        resource TEXT PRIMARY KEY, version INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO versions (resource, version)
    SELECT '*', value FROM counters WHERE name = 'version'
    """,
    # Popularity ("Đọc nhiều"): the box's impressions and clicks per article per UTC hour.
    """
    CREATE TABLE IF NOT EXISTS popularity (
        hour TEXT NOT NULL,
        article_id TEXT NOT NULL,
        impressions INTEGER NOT NULL DEFAULT 0,
        clicks INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, article_id)
    ) WITHOUT ROWID
    """,
    # The console's operators, editors' overrides of related lists (article id, or "*" for the
    # rules of every list) and the audit log (store/editorial.py).
    """
    CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS overrides (article_id TEXT PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL);
    """,
]
# The tables of store/editorial.py's records, by kind, with their key column.
_RECORDS = {"users": ("users", "name"), "overrides": ("overrides", "article_id")}

_CHUNK = 500
_VERSIONS_CHUNK = 32_000


def _count_rows(counts: Iterable[EventCount]) -> list[tuple[str, str, int, int]]:
    """Popularity rows; the hour's text once per hour (a flush holds thousands of counts of
    one or two hours, and formatting each was a tenth of its time)."""
    stamps: dict[datetime, str] = {}
    rows = []
    for c in counts:
        stamp = stamps.get(c.hour)
        if stamp is None:
            stamp = stamps[c.hour] = ts(hour_of(c.hour))
        rows.append((stamp, c.article_id, c.impressions, c.clicks))
    return rows


def path_from_url(url: str) -> str:
    """sqlite:///relative.db, sqlite:////abs/path.db or sqlite:///:memory: to a filename."""
    rest = url.removeprefix("sqlite://")
    if rest.startswith("/"):
        rest = rest[1:]
    return rest or ":memory:"


class SQLiteStore(Store):
    def __init__(
        self, url: str = "sqlite:///quantam.db", timeout: float = 30.0, create: bool = True
    ):
        """create=False: StoreMissing if the file does not exist, rather than making it."""
        self.url = url
        self.path = path_from_url(url)
        self._timeout = timeout
        self._local = threading.local()
        self._checkpointer: Checkpointer | None = None
        # Whether this open made the database file (the CLI says where).
        self.created = False
        if self.path != ":memory:":
            path = Path(self.path)
            if not path.exists():
                if not create:
                    raise StoreMissing(
                        f"no SQLite database at {path.absolute()} (check QUANTAM_STORE or "
                        "--store; commands that write, such as `quantam sources add`, create one)"
                    )
                path.parent.mkdir(parents=True, exist_ok=True)
                self.created = True
            self._checkpointer = Checkpointer(self.path, timeout)
        self._migrate()

    # -- connections ------------------------------------------------------------------------
    @property
    def _db(self) -> sqlite3.Connection:
        """One connection per thread: sqlite3 connections must not be shared across threads."""
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
                if self._checkpointer is not None:
                    db.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            except sqlite3.Error as exc:
                raise StoreUnavailable(
                    f"cannot open SQLite database {self.path}: {exc}",
                    public="the SQLite database cannot be opened",
                ) from exc
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(
                f"SQLite database {self.path} is busy or read-only: {exc}",
                public="the SQLite database is busy or read-only",
            ) from exc
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        if self._checkpointer is not None:
            self._checkpointer.wrote()

    def _migrate(self) -> None:
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise SchemaTooNew(
                    f"{self.path} has schema version {version}, this quantam knows "
                    f"{len(MIGRATIONS)}: upgrade quantam before opening it"
                )
            for number in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def ping(self) -> None:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(
                f"SQLite database {self.path} is unreadable: {exc}",
                public="the SQLite database is unreadable",
            ) from exc

    def close(self) -> None:
        """Close this thread's connection, and end and join the checkpoint thread: when no
        other thread holds a connection, the database is closed on return (SQLite has folded
        the log into the file and removed it)."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- categories -------------------------------------------------------------------------
    def put_category(self, category: Category) -> None:
        with self._tx() as db:
            self._put_category(db, category)
            self._bump(db, [category_resource(category.slug), CATEGORIES])

    @staticmethod
    def _put_category(db: sqlite3.Connection, category: Category) -> None:
        db.execute(
            "INSERT INTO categories (slug, data) VALUES (?, ?) "
            "ON CONFLICT (slug) DO UPDATE SET data = excluded.data",
            (category.slug, codec.dumps(codec.category_to_dict(category))),
        )

    def get_category(self, slug: str) -> Category | None:
        row = self._db.execute("SELECT data FROM categories WHERE slug = ?", (slug,)).fetchone()
        return codec.category_from_dict(codec.loads(row[0])) if row else None

    def list_categories(self) -> list[Category]:
        rows = self._db.execute("SELECT data FROM categories ORDER BY slug").fetchall()
        return [codec.category_from_dict(codec.loads(r[0])) for r in rows]

    # -- sources ----------------------------------------------------------------------------
    def add_source(self, source: Source) -> Source:
        with self._tx() as db:
            existing = db.execute("SELECT id FROM sources WHERE url = ?", (source.url,)).fetchone()
            if existing:
                raise SourceExists(source.url, existing[0])
            cur = db.execute("INSERT INTO sources (url, data) VALUES (?, '{}')", (source.url,))
            stored = source.replace(id=cur.lastrowid)
            db.execute(
                "UPDATE sources SET data = ? WHERE id = ?",
                (codec.dumps(codec.source_to_dict(stored)), stored.id),
            )
        return stored

    def get_source(self, source_id: int) -> Source | None:
        row = self._db.execute("SELECT data FROM sources WHERE id = ?", (source_id,)).fetchone()
        return codec.source_from_dict(codec.loads(row[0])) if row else None

    def find_source(self, url: str) -> Source | None:
        row = self._db.execute("SELECT data FROM sources WHERE url = ?", (url,)).fetchone()
        return codec.source_from_dict(codec.loads(row[0])) if row else None

    def list_sources(self) -> list[Source]:
        rows = self._db.execute("SELECT data FROM sources ORDER BY id").fetchall()
        return [codec.source_from_dict(codec.loads(r[0])) for r in rows]

    def update_source(self, source: Source) -> None:
        with self._tx() as db:
            self._update_source(db, source)

    @staticmethod
    def _update_source(db: sqlite3.Connection, source: Source) -> None:
        clash = db.execute(
            "SELECT id FROM sources WHERE url = ? AND id != ?", (source.url, source.id)
        ).fetchone()
        if clash:
            raise SourceExists(source.url, clash[0])
        cur = db.execute(
            "UPDATE sources SET url = ?, data = ? WHERE id = ?",
            (source.url, codec.dumps(codec.source_to_dict(source)), source.id),
        )
        if cur.rowcount == 0:
            raise SourceNotFound(source.id if source.id is not None else "(none)")

    def remove_source(self, source_id: int) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM sources WHERE id = ?", (source_id,)).rowcount > 0

    def count_articles_by_source(self) -> dict[int, int]:
        rows = self._db.execute(
            "SELECT source_id, COUNT(*) FROM articles "
            "WHERE source_id IS NOT NULL GROUP BY source_id"
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def count_fulltext_by_source(self) -> dict[int | None, dict[str, int]]:
        rows = self._db.execute(
            "SELECT source_id, fulltext, COUNT(*) FROM articles "
            "WHERE fulltext IS NOT NULL GROUP BY source_id, fulltext"
        ).fetchall()
        out: dict[int | None, dict[str, int]] = {}
        for source_id, status, count in rows:
            out.setdefault(source_id, {})[status] = count
        return out

    # -- articles ---------------------------------------------------------------------------
    def lookup_aliases(self, keys: Iterable[AliasKey]) -> dict[AliasKey, str]:
        by_kind: dict[str, list[str]] = {}
        for kind, value in set(keys):
            by_kind.setdefault(kind, []).append(value)
        found: dict[AliasKey, str] = {}
        db = self._db
        for kind, values in by_kind.items():
            for i in range(0, len(values), _CHUNK):
                chunk = values[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT value, article_id FROM aliases WHERE kind = ? AND value IN ({marks})",
                    (kind, *chunk),
                )
                for value, article_id in rows:
                    found[(kind, value)] = article_id
        return found

    def commit(self, batch: IngestBatch) -> None:
        with self._tx() as db:
            changed: list[str] = []
            if batch.category is not None:
                self._put_category(db, batch.category)
                changed += [category_resource(batch.category.slug), CATEGORIES]
            for article in batch.articles:
                before = db.execute(
                    "SELECT category FROM articles WHERE id = ?", (article.id,)
                ).fetchone()
                changed += article_change(article.id, article.category, before and before[0])
                cur = db.execute(
                    "INSERT INTO changes (article_id, op) VALUES (?, 'upsert')", (article.id,)
                )
                db.execute(
                    "INSERT INTO articles (id, category, published, source_id, seq, data, "
                    "fulltext) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "category = excluded.category, published = excluded.published, "
                    "source_id = excluded.source_id, seq = excluded.seq, data = excluded.data, "
                    "fulltext = excluded.fulltext",
                    (
                        article.id,
                        article.category,
                        ts(article.published),
                        article.source_id,
                        cur.lastrowid,
                        codec.dumps(codec.article_to_dict(article)),
                        article.fulltext_status,
                    ),
                )
                db.execute(
                    "INSERT OR REPLACE INTO teasers "
                    "(article_id, url, title, category, published, summary, image) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.id,
                        article.url,
                        article.title,
                        article.category,
                        ts(article.published),
                        article.summary,
                        codec.dumps(codec.image_to_dict(article.image)) if article.image else None,
                    ),
                )
            if batch.articles:
                db.executemany(
                    "DELETE FROM takedowns WHERE article_id = ?",
                    [(a.id,) for a in batch.articles],
                )
            # A URL (or guid) that led to another article leads there no more.
            pointed = self.lookup_aliases((a.kind, a.value) for a in batch.aliases)
            changed += [
                article_resource(pointed[(a.kind, a.value)])
                for a in batch.aliases
                if pointed.get((a.kind, a.value), a.article_id) != a.article_id
            ]
            db.executemany(
                "INSERT INTO aliases (kind, value, article_id) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, value) DO UPDATE SET article_id = excluded.article_id",
                [(a.kind, a.value, a.article_id) for a in batch.aliases],
            )
            if batch.source is not None:
                self._update_source(db, batch.source)
            if changed:
                self._bump(db, changed)

    def get_article(self, article_id: str) -> Article | None:
        row = self._db.execute("SELECT data FROM articles WHERE id = ?", (article_id,)).fetchone()
        return codec.article_from_dict(codec.loads(row[0])) if row else None

    def get_articles(self, article_ids: Iterable[str]) -> list[Article]:
        ids = list(article_ids)
        found: dict[str, Article] = {}
        db = self._db
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for (data,) in db.execute(f"SELECT data FROM articles WHERE id IN ({marks})", chunk):
                article = codec.article_from_dict(codec.loads(data))
                found[article.id] = article
        return [found[i] for i in ids if i in found]

    def get_teasers(self, article_ids: Iterable[str]) -> list[Teaser]:
        ids = list(article_ids)
        found: dict[str, Teaser] = {}
        db = self._db
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                "SELECT article_id, url, title, category, published, summary, image "
                f"FROM teasers WHERE article_id IN ({marks})",
                chunk,
            )
            for article_id, url, title, category, published, summary, image in rows:
                found[article_id] = Teaser(
                    id=article_id,
                    url=url,
                    title=title,
                    category=category,
                    published=parse_ts(published),
                    summary=summary,
                    image=codec.image_from_dict(codec.loads(image)) if image else None,
                )
        return [found[i] for i in ids if i in found]

    def delete_article(self, article_id: str) -> bool:
        with self._tx() as db:
            row = db.execute(
                "DELETE FROM articles WHERE id = ? RETURNING category", (article_id,)
            ).fetchone()
            gone = row is not None
            db.execute("DELETE FROM teasers WHERE article_id = ?", (article_id,))
            db.execute("DELETE FROM related WHERE article_id = ?", (article_id,))
            db.execute(
                "INSERT OR IGNORE INTO takedowns (article_id, at) VALUES (?, ?)",
                (article_id, ts(datetime.now().astimezone())),
            )
            if gone:
                db.execute(
                    "INSERT INTO changes (article_id, op) VALUES (?, 'delete')", (article_id,)
                )
                self._bump(db, article_change(article_id, row[0]))
        return gone

    def taken_down(self, article_ids: Iterable[str]) -> set[str]:
        ids = list(set(article_ids))
        out: set[str] = set()
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT article_id FROM takedowns WHERE article_id IN ({marks})", chunk
            )
            out.update(r[0] for r in rows)
        return out

    def latest_articles(
        self,
        category: str | None = None,
        limit: int = 50,
        before: Cursor | None = None,
        since: datetime | None = None,
    ) -> list[Article]:
        where: dict[str, object] = {"category = ?": category} if category is not None else {}
        return self._newest_first(where, limit, before, since)

    def fulltext_queue(
        self,
        status: str = "pending",
        source_id: int | None = None,
        limit: int = 100,
        before: Cursor | None = None,
        since: datetime | None = None,
    ) -> list[Article]:
        where: dict[str, object] = {"fulltext = ?": status}
        if source_id is not None:
            where["source_id = ?"] = source_id
        return self._newest_first(where, limit, before, since)

    def _newest_first(
        self,
        where: dict[str, object],
        limit: int,
        before: Cursor | None,
        since: datetime | None,
    ) -> list[Article]:
        """Articles matching every `condition = ?` of `where`, newest first (published, then
        id), strictly older than the `before` cursor and strictly after `since`."""
        conditions, params = list(where), list(where.values())
        if before is not None:
            conditions.append("(published < ? OR (published = ? AND id < ?))")
            stamp = ts(before[0])
            params += [stamp, stamp, before[1]]
        if since is not None:
            conditions.append("published > ?")
            params.append(ts(since))
        sql = "SELECT data FROM articles"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY published DESC, id DESC LIMIT ?"
        rows = self._db.execute(sql, (*params, limit)).fetchall()
        return [codec.article_from_dict(codec.loads(r[0])) for r in rows]

    def iter_articles(self, batch_size: int = 1000, after: str | None = None) -> Iterator[Article]:
        last = after or ""
        while True:
            rows = self._db.execute(
                "SELECT id, data FROM articles WHERE id > ? ORDER BY id LIMIT ?",
                (last, batch_size),
            ).fetchall()
            if not rows:
                return
            for _, data in rows:
                yield codec.article_from_dict(codec.loads(data))
            last = rows[-1][0]

    def _time_page(
        self,
        since: datetime | None,
        until: datetime | None,
        newest_first: bool,
        after: Cursor | None,
        limit: int,
    ) -> list[Article]:
        # keyset paging on the articles_by_time index: each page is one indexed range read
        step, order = ("<", "DESC") if newest_first else (">", "ASC")
        where: list[str] = []
        args: list[object] = []
        if since is not None:
            where.append("published >= ?")
            args.append(ts(since))
        if until is not None:
            where.append("published < ?")
            args.append(ts(until))
        if after is not None:
            where.append(f"(published {step} ? OR (published = ? AND id {step} ?))")
            stamp = ts(after[0])
            args += [stamp, stamp, after[1]]
        sql = "SELECT data FROM articles"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY published {order}, id {order} LIMIT ?"
        rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [codec.article_from_dict(codec.loads(r[0])) for r in rows]

    def count_articles(self, category: str | None = None) -> int:
        if category is None:
            return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM articles WHERE category = ?", (category,)
            ).fetchone()[0]
        )

    # -- change log -------------------------------------------------------------------------
    def changes_since(self, seq: int, limit: int = 10_000) -> list[Change]:
        rows = self._db.execute(
            "SELECT seq, article_id, op FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        return [Change(seq=r[0], article_id=r[1], op=r[2]) for r in rows]

    def last_seq(self) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM changes").fetchone()
        return row[0] or 0

    # -- related lists ----------------------------------------------------------------------
    def put_related(self, lists: dict[str, list[RelatedItem]]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT INTO related (article_id, items) VALUES (?, ?) "
                "ON CONFLICT (article_id) DO UPDATE SET items = excluded.items",
                ((aid, codec.related_to_json(items)) for aid, items in lists.items()),
            )
            self._bump(db, map(article_resource, lists))

    def get_related(self, article_id: str) -> list[RelatedItem] | None:
        row = self._db.execute(
            "SELECT items FROM related WHERE article_id = ?", (article_id,)
        ).fetchone()
        return codec.related_from_json(row[0]) if row else None

    def related_as_edited(
        self, article_id: str
    ) -> tuple[list[RelatedItem] | None, ListOverrides, SiteRules]:
        items, own, every = self._db.execute(
            "SELECT (SELECT items FROM related WHERE article_id = ?1),"
            " (SELECT data FROM overrides WHERE article_id = ?1),"
            " (SELECT data FROM overrides WHERE article_id = ?2)",
            (article_id, EVERY_LIST),
        ).fetchone()
        related = codec.related_from_json(items) if items is not None else None
        return related, *self._editorial_from(article_id, own, every)

    def get_related_many(self, article_ids: Iterable[str]) -> dict[str, list[RelatedItem]]:
        ids = list(dict.fromkeys(article_ids))
        out: dict[str, list[RelatedItem]] = {}
        db = self._db
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for aid, items in db.execute(
                f"SELECT article_id, items FROM related WHERE article_id IN ({marks})", chunk
            ):
                out[aid] = codec.related_from_json(items)
        return out

    # -- popularity -------------------------------------------------------------------------
    def add_event_counts(self, counts: Iterable[EventCount]) -> None:
        rows = _count_rows(counts)
        if not rows:
            return
        with self._tx() as db:
            db.executemany(
                "INSERT INTO popularity (hour, article_id, impressions, clicks) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (hour, article_id) DO UPDATE SET "
                "impressions = impressions + excluded.impressions, "
                "clicks = clicks + excluded.clicks",
                rows,
            )
            newest = parse_ts(max(r[0] for r in rows))
            db.execute(
                "DELETE FROM popularity WHERE hour < ?", (ts(newest - POPULARITY_RETENTION),)
            )

    def put_event_counts(self, counts: Iterable[EventCount]) -> None:
        rows = _count_rows(counts)
        with self._tx() as db:
            db.executemany(
                "INSERT INTO popularity (hour, article_id, impressions, clicks) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (hour, article_id) DO UPDATE SET "
                "impressions = excluded.impressions, clicks = excluded.clicks",
                rows,
            )

    def iter_event_counts(self) -> Iterator[EventCount]:
        columns = "hour, article_id, impressions, clicks"
        rows = self._keyset("popularity", ("hour", "article_id"), columns)
        yield from (EventCount(a, parse_ts(h), i, c) for h, a, i, c in rows)

    def popular(
        self, category: str | None, since: datetime, limit: int, exclude: Iterable[str] = ()
    ) -> list[Popularity]:
        skip = set(exclude)
        sql = (
            "SELECT p.article_id, SUM(p.clicks) AS c, SUM(p.impressions) AS i "
            "FROM popularity p JOIN articles a ON a.id = p.article_id WHERE p.hour >= ?"
        )
        params: list[object] = [ts(hour_of(since))]
        if category is not None:
            sql += " AND a.category = ?"
            params.append(category)
        sql += (
            " GROUP BY p.article_id HAVING c + i > 0"
            " ORDER BY c DESC, i DESC, a.published DESC, a.id DESC LIMIT ?"
        )
        rows = self._db.execute(sql, (*params, limit + len(skip))).fetchall()
        return [Popularity(r[0], r[1], r[2]) for r in rows if r[0] not in skip][:limit]

    # -- coordination -----------------------------------------------------------------------
    def _try_lock(self, name: str, token: str, ttl: float) -> bool:
        # A lock counts as expired only if it had expired before this transaction began to wait
        # for the database: a writer that kept the database busy may also have kept the
        # holder's renewal waiting, and the holder gets its turn before the lock is taken.
        asked = time.time()
        with self._tx() as db:
            row = db.execute("SELECT expires FROM locks WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] > asked:
                return False
            db.execute(
                "INSERT OR REPLACE INTO locks (name, token, expires) VALUES (?, ?, ?)",
                (name, token, time.time() + ttl),
            )
        return True

    def _renew_lock(self, name: str, token: str, ttl: float) -> bool:
        with self._tx() as db:
            return (
                db.execute(
                    "UPDATE locks SET expires = ? WHERE name = ? AND token = ?",
                    (time.time() + ttl, name, token),
                ).rowcount
                > 0
            )

    def _unlock(self, name: str, token: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM locks WHERE name = ? AND token = ?", (name, token))

    # -- export -----------------------------------------------------------------------------
    def _keyset(self, table: str, key: tuple[str, ...], columns: str) -> Iterator[Any]:
        """Every row of `table`, `columns` (the key's first), in key order, _CHUNK rows a
        query: paged by the last key seen, so a large table is never read at once."""
        cols, marks = ", ".join(key), ", ".join("?" * len(key))
        sql = f"SELECT {columns} FROM {table} WHERE ({cols}) > ({marks}) ORDER BY {cols} LIMIT ?"
        last: tuple[Any, ...] = ("",) * len(key)
        while rows := self._db.execute(sql, (*last, _CHUNK)).fetchall():
            yield from rows
            last = tuple(rows[-1][: len(key)])

    def iter_aliases(self) -> Iterator[Alias]:
        rows = self._keyset("aliases", ("kind", "value"), "kind, value, article_id")
        yield from (Alias(kind, value, article_id) for kind, value, article_id in rows)

    def iter_related(self) -> Iterator[tuple[str, list[RelatedItem]]]:
        rows = self._keyset("related", ("article_id",), "article_id, items")
        yield from ((aid, codec.related_from_json(items)) for aid, items in rows)

    def iter_takedowns(self) -> Iterator[str]:
        rows = self._db.execute("SELECT article_id FROM takedowns ORDER BY article_id").fetchall()
        yield from (r[0] for r in rows)

    def iter_meta(self) -> Iterator[tuple[str, bytes]]:
        rows = self._db.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
        yield from ((k, bytes(v)) for k, v in rows)

    def restore_source(self, source: Source) -> None:
        with self._tx() as db:
            clash = db.execute(
                "SELECT id FROM sources WHERE url = ? AND id != ?", (source.url, source.id)
            ).fetchone()
            if clash:
                raise SourceExists(source.url, clash[0])
            db.execute(
                "INSERT OR REPLACE INTO sources (id, url, data) VALUES (?, ?, ?)",
                (source.id, source.url, codec.dumps(codec.source_to_dict(source))),
            )

    # -- editorial records (store/editorial.py) ----------------------------------------------
    def _get_records(self, kind: str, keys: Iterable[str]) -> list[bytes | None]:
        table, column = _RECORDS[kind]
        wanted = list(keys)
        marks = ",".join("?" * len(wanted))
        found = dict(
            self._db.execute(
                f"SELECT {column}, data FROM {table} WHERE {column} IN ({marks})", wanted
            )
        )
        return [bytes(found[k]) if k in found else None for k in wanted]

    def _list_records(self, kind: str) -> list[tuple[str, bytes]]:
        table, column = _RECORDS[kind]
        rows = self._db.execute(f"SELECT {column}, data FROM {table} ORDER BY {column}")
        return [(k, bytes(v)) for k, v in rows]

    def _put_record(self, kind: str, key: str, value: bytes | None, changed: Sequence[str]) -> None:
        table, column = _RECORDS[kind]
        with self._tx() as db:
            if value is None:
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))
            else:
                db.execute(
                    f"INSERT INTO {table} ({column}, data) VALUES (?, ?) "
                    f"ON CONFLICT ({column}) DO UPDATE SET data = excluded.data",
                    (key, value),
                )
            if changed:
                self._bump(db, changed)

    def _append_audit(self, entry: bytes) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO audit (data) VALUES (?)", (entry,))

    def _read_audit(self, limit: int, offset: int) -> list[bytes]:
        rows = self._db.execute(
            "SELECT data FROM audit ORDER BY seq DESC LIMIT ? OFFSET ?", (limit, offset)
        )
        return [bytes(r[0]) for r in rows]

    # -- versions and meta ------------------------------------------------------------------
    @staticmethod
    def _bump(db: sqlite3.Connection, resources: Iterable[str]) -> None:
        """Move the store's version and give it to each resource changed (store.base)."""
        (version,) = db.execute(
            "UPDATE versions SET version = version + 1 WHERE resource = ? RETURNING version",
            (ANY,),
        ).fetchone()
        db.executemany(
            "INSERT INTO versions (resource, version) VALUES (?, ?) "
            "ON CONFLICT (resource) DO UPDATE SET version = excluded.version",
            [(r, version) for r in set(resources)],
        )

    def _touch(self, resources: Iterable[str]) -> None:
        with self._tx() as db:
            self._bump(db, resources)

    def version(self) -> int:
        # Read by every answer built and every cache hit: its own statement, not versions()'
        # general one, which builds a statement for any number of resources (3.5 against 4.7 us
        # in a loop).
        row = self._db.execute("SELECT version FROM versions WHERE resource = ?", (ANY,)).fetchone()
        return row[0] if row else 0

    def versions(self, resources: Sequence[str]) -> list[int]:
        # One statement is read from one snapshot: up to 32,766 resources (SQLite's limit on
        # parameters), where an answer reads a few (a feed page of 200 items with 3 related
        # stories each, ~800).
        found: dict[str, int] = {}
        wanted = list(dict.fromkeys(resources))
        for i in range(0, len(wanted), _VERSIONS_CHUNK):
            chunk = wanted[i : i + _VERSIONS_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                self._db.execute(
                    f"SELECT resource, version FROM versions WHERE resource IN ({marks})", chunk
                ).fetchall()
            )
        return [found.get(r, 0) for r in resources]

    def get_meta(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def set_meta(self, key: str, value: bytes) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
