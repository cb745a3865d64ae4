"""Redis backend: the shared store when several web and polling workers run on several hosts.

Every key of one store carries the same hash tag, `{prefix}`, so the whole store lives in one
hash slot: a Lua script or a multi-key command may touch any of its keys, also on Redis Cluster.
Writes that check something before writing (commit, add/update/remove a source, a takedown) are
Lua scripts, which Redis runs atomically: all of a batch's writes happen or none do. Reads that
need two steps (index range, then documents) are read-only scripts, so they see one snapshot in
one round trip. docs/redis.md describes every key.

Connection problems become `StoreUnavailable` (the HTTP layer answers 503). Writes are never
retried behind the caller's back, because a write whose reply was lost may have been applied;
reads are retried once on a fresh connection.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.exceptions as rx
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.retry import Retry

from store import codec
from store.base import AliasKey, Cursor, Store
from store.editorial import EVERY_LIST, ListOverrides, SiteRules
from store.errors import (
    SchemaTooNew,
    SourceExists,
    SourceNotFound,
    StoreError,
    StoreUnavailable,
    redact,
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

SCHEMA_VERSION = 1
DEFAULT_PREFIX = "quantam"
# How long a command may wait before the store reports Redis unavailable. Overridable in the URL
# (?socket_timeout=…&socket_connect_timeout=…).
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 10.0
# Fields per HMGET and keys per UNLINK, to keep each command small. The range script uses the
# same 500 per HMGET inside Lua, where unpack() is bounded by the Lua stack.
_CHUNK = 500

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Errors that mean "Redis cannot serve us right now", as opposed to a bug in a command.
_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    rx.ConnectionError,  # also BusyLoadingError (LOADING) and AuthenticationError
    rx.TimeoutError,
    rx.ClusterError,  # ClusterDownError, MasterDownError
    rx.TryAgainError,
    rx.ReadOnlyError,  # a replica after failover, or a read-only endpoint
    rx.OutOfMemoryError,
    rx.SlotNotCoveredError,
)
_UNAVAILABLE_REPLIES = ("MISCONF", "NOREPLICAS", "BUSY", "LOADING", "MASTERDOWN", "CLUSTERDOWN")


# -- Lua --------------------------------------------------------------------------------------
# Every writing script receives the same KEYS, in this order (see `_Keys.write`).
_PREAMBLE = r"""#!lua
local K_ART, K_IX, K_IDS, K_LATEST, K_BYCAT, K_BYSRC = KEYS[1], KEYS[2], KEYS[3], KEYS[4],
  KEYS[5], KEYS[6]
local K_ALIAS, K_TAKEDOWN, K_SEQ, K_CHANGES, K_RELATED = KEYS[7], KEYS[8], KEYS[9], KEYS[10],
  KEYS[11]
local K_SRC, K_SRCURL, K_SRCNEXT, K_CAT, K_REV = KEYS[12], KEYS[13], KEYS[14], KEYS[15],
  KEYS[16]
local K_TEASER, K_FT, K_FTSRC, K_FTCOUNT = KEYS[17], KEYS[18], KEYS[19], KEYS[20]
local K_VER = KEYS[21]

-- The resources this script changed (store.base), given the store's next version by bump().
local changed = {}
local function touch(resource) changed[resource] = true end
local function touch_article(id, cat)
  touch('a:' .. id)
  touch('c:*')
  if cat then touch('c:' .. cat) end
end
local function bump()
  if next(changed) == nil then return end
  local v = redis.call('INCR', K_REV)
  redis.call('HSET', K_VER, '*', v)
  for resource in pairs(changed) do redis.call('HSET', K_VER, resource, v) end
end

-- Full-text statuses kept in the queues `fulltext_queue` reads (the others are only counted).
local QUEUED = {pending = true, failed = true}

-- Count an article under its source and full-text status, and queue it when its status is
-- one of QUEUED; `sign` 1 adds it, -1 takes it out.
local function index_fulltext(id, src, ts, ft, sign)
  if ft == '' then return end
  if redis.call('HINCRBY', K_FTCOUNT, src .. '\0' .. ft, sign) <= 0 then
    redis.call('HDEL', K_FTCOUNT, src .. '\0' .. ft)
  end
  if not QUEUED[ft] then return end
  local member = ft .. '\0' .. ts .. ' ' .. id
  local by_src = ft .. '\0' .. src .. '\0' .. ts .. ' ' .. id
  if sign > 0 then
    redis.call('ZADD', K_FT, 0, member)
    if src ~= '' then redis.call('ZADD', K_FTSRC, 0, by_src) end
  else
    redis.call('ZREM', K_FT, member)
    if src ~= '' then redis.call('ZREM', K_FTSRC, by_src) end
  end
end

-- Append one entry to the change log under the next sequence number.
local function log_change(id, op)
  local seq = redis.call('INCR', K_SEQ)
  redis.call('XADD', K_CHANGES, string.format('%d-0', seq), 'a', id, 'o', op)
end

-- Drop an article's index entries; its category, or false if it was not stored.
local function unindex(id)
  local ix = redis.call('HGET', K_IX, id)
  if not ix then return false end
  local src, ts, rest = string.match(ix, '^([^\t]*)\t([^\t]*)\t(.*)$')
  -- "<category>\t<full-text status>"; entries written before statuses have no status.
  local cat, ft = string.match(rest, '^([^\t]*)\t(.*)$')
  if not cat then cat, ft = rest, '' end
  index_fulltext(id, src, ts, ft, -1)
  redis.call('ZREM', K_LATEST, ts .. ' ' .. id)
  redis.call('ZREM', K_BYCAT, cat .. '\0' .. ts .. ' ' .. id)
  if src ~= '' and redis.call('HINCRBY', K_BYSRC, src, -1) <= 0 then
    redis.call('HDEL', K_BYSRC, src)
  end
  redis.call('HDEL', K_IX, id)
  return cat
end

-- Why a source cannot be saved under this id and URL, or nil if it can.
local function source_problem(id, url)
  local clash = redis.call('HGET', K_SRCURL, url)
  if clash and clash ~= id then return {'EXISTS', clash} end
  if redis.call('HEXISTS', K_SRC, id) == 0 then return {'NOTFOUND'} end
  return nil
end

local function save_source(id, url, doc)
  local old_url = cjson.decode(redis.call('HGET', K_SRC, id))['url']
  if old_url ~= url and redis.call('HGET', K_SRCURL, old_url) == id then
    redis.call('HDEL', K_SRCURL, old_url)
  end
  redis.call('HSET', K_SRCURL, url, id)
  redis.call('HSET', K_SRC, id, doc)
end
"""

# ARGV: category slug, category JSON or "", source id or "", source URL, source JSON,
# n articles, then per article (id, published, category, source id or "", JSON, teaser JSON,
# full-text status or ""), n aliases, then per alias ("kind:value", article id).
_COMMIT = r"""
local src_id, src_url, src_doc = ARGV[3], ARGV[4], ARGV[5]
if src_id ~= '' then
  local problem = source_problem(src_id, src_url)
  if problem then return problem end
end
if ARGV[2] ~= '' then
  redis.call('HSET', K_CAT, ARGV[1], ARGV[2])
  touch('c:' .. ARGV[1])
  touch('categories')
end
local n = tonumber(ARGV[6])
for i = 0, n - 1 do
  local b = 6 + i * 7
  local id, ts, cat, src, doc = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  local ft = ARGV[b + 7]
  log_change(id, 'upsert')
  touch_article(id, unindex(id))
  touch('c:' .. cat)
  redis.call('HSET', K_ART, id, doc)
  redis.call('HSET', K_TEASER, id, ARGV[b + 6])
  redis.call('HSET', K_IX, id, src .. '\t' .. ts .. '\t' .. cat .. '\t' .. ft)
  index_fulltext(id, src, ts, ft, 1)
  redis.call('ZADD', K_IDS, 0, id)
  redis.call('ZADD', K_LATEST, 0, ts .. ' ' .. id)
  redis.call('ZADD', K_BYCAT, 0, cat .. '\0' .. ts .. ' ' .. id)
  if src ~= '' then redis.call('HINCRBY', K_BYSRC, src, 1) end
  redis.call('HDEL', K_TAKEDOWN, id)
end
local a = 7 + n * 7
for i = 0, tonumber(ARGV[a]) - 1 do
  local alias, id = ARGV[a + 1 + i * 2], ARGV[a + 2 + i * 2]
  -- A URL (or guid) that led to another article leads there no more.
  local before = redis.call('HGET', K_ALIAS, alias)
  if before and before ~= id then touch('a:' .. before) end
  redis.call('HSET', K_ALIAS, alias, id)
end
if src_id ~= '' then save_source(src_id, src_url, src_doc) end
bump()
return {'OK'}
"""

# ARGV: pairs of article id and related list JSON.
_PUT_RELATED = r"""
for i = 1, #ARGV, 2 do
  redis.call('HSET', K_RELATED, ARGV[i], ARGV[i + 1])
  touch('a:' .. ARGV[i])
end
bump()
return 1
"""

# ARGV: resources.
_TOUCH = r"""
for i = 1, #ARGV do touch(ARGV[i]) end
bump()
return 1
"""

# One record of store/editorial.py in the hash KEYS[#KEYS] (after the write keys). ARGV: its key,
# "1" to store ARGV[3] or "0" to delete it, then the resources (store.base) the change moves.
_PUT_RECORD = r"""
local K_RECORDS = KEYS[#KEYS]
if ARGV[2] == '1' then
  redis.call('HSET', K_RECORDS, ARGV[1], ARGV[3])
else
  redis.call('HDEL', K_RECORDS, ARGV[1])
end
for i = 4, #ARGV do touch(ARGV[i]) end
bump()
return 1
"""

# ARGV: category slug, category JSON.
_PUT_CATEGORY = r"""
redis.call('HSET', K_CAT, ARGV[1], ARGV[2])
touch('c:' .. ARGV[1])
touch('categories')
bump()
return 1
"""

# ARGV: article id, takedown time.
_DELETE = r"""
local id = ARGV[1]
local gone = unindex(id)
if gone then
  redis.call('HDEL', K_ART, id)
  redis.call('HDEL', K_TEASER, id)
  redis.call('ZREM', K_IDS, id)
end
redis.call('HDEL', K_RELATED, id)
redis.call('HSETNX', K_TAKEDOWN, id, ARGV[2])
if gone then
  log_change(id, 'delete')
  touch_article(id, gone)
  bump()
  return 1
end
return 0
"""

# ARGV: URL, the source's JSON without its closing brace, ending in '"id":'.
_ADD_SOURCE = r"""
local clash = redis.call('HGET', K_SRCURL, ARGV[1])
if clash then return {'EXISTS', clash} end
local id = string.format('%d', redis.call('INCR', K_SRCNEXT))
redis.call('HSET', K_SRC, id, ARGV[2] .. id .. '}')
redis.call('HSET', K_SRCURL, ARGV[1], id)
return {'OK', id}
"""

# ARGV: source id, URL, JSON.
_UPDATE_SOURCE = r"""
local problem = source_problem(ARGV[1], ARGV[2])
if problem then return problem end
save_source(ARGV[1], ARGV[2], ARGV[3])
return {'OK'}
"""

# ARGV: source id.
_REMOVE_SOURCE = r"""
local doc = redis.call('HGET', K_SRC, ARGV[1])
if not doc then return 0 end
local url = cjson.decode(doc)['url']
if redis.call('HGET', K_SRCURL, url) == ARGV[1] then redis.call('HDEL', K_SRCURL, url) end
redis.call('HDEL', K_SRC, ARGV[1])
return 1
"""

# KEYS: an index sorted set, the article hash. ARGV: "rev" or "fwd", the two lex bounds in the
# command's order, a limit ("" for none), and how a member ends in the article id: "id" (the
# member is the id), "ts" ("<published> <id>"), "cat" ("<category>\0<published> <id>") or "cat2"
# ("<status>\0<source>\0<published> <id>").
# Returns the last member seen and the articles' JSON.
_RANGE = r"""#!lua flags=no-writes
local cmd = ARGV[1] == 'rev' and 'ZREVRANGEBYLEX' or 'ZRANGEBYLEX'
local members
if ARGV[4] == '' then
  members = redis.call(cmd, KEYS[1], ARGV[2], ARGV[3])
else
  members = redis.call(cmd, KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, ARGV[4])
end
local docs = {}
local ids = {}
local function fetch()
  if #ids == 0 then return end
  local got = redis.call('HMGET', KEYS[2], unpack(ids))
  for j = 1, #got do docs[#docs + 1] = got[j] end
  ids = {}
end
for _, m in ipairs(members) do
  local from = 1
  if ARGV[5] == 'cat' or ARGV[5] == 'cat2' then from = string.find(m, '\0', 1, true) + 1 end
  if ARGV[5] == 'cat2' then from = string.find(m, '\0', from, true) + 1 end
  if ARGV[5] ~= 'id' then from = string.find(m, ' ', from, true) + 1 end
  ids[#ids + 1] = string.sub(m, from)
  if #ids == 500 then fetch() end
end
fetch()
return {members[#members] or '', docs}
"""

# ARGV: source id, URL, JSON. Keeps the id (migration); the id counter moves past it.
_RESTORE_SOURCE = r"""
local clash = redis.call('HGET', K_SRCURL, ARGV[2])
if clash and clash ~= ARGV[1] then return {'EXISTS', clash} end
local old = redis.call('HGET', K_SRC, ARGV[1])
if old then
  local old_url = cjson.decode(old)['url']
  if redis.call('HGET', K_SRCURL, old_url) == ARGV[1] then redis.call('HDEL', K_SRCURL, old_url) end
end
redis.call('HSET', K_SRC, ARGV[1], ARGV[3])
redis.call('HSET', K_SRCURL, ARGV[2], ARGV[1])
if tonumber(redis.call('GET', K_SRCNEXT) or '0') < tonumber(ARGV[1]) then
  redis.call('SET', K_SRCNEXT, ARGV[1])
end
return {'OK'}
"""

# KEYS: the lock. ARGV: the holder's token. Deletes the lock only if this holder still has it.
_UNLOCK = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: the lock. ARGV: the holder's token, the new TTL in ms. Extends the lock only if this
# holder still has it.
_RENEW = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS: the URL -> id hash, the source hash. ARGV: URL.
_FIND_SOURCE = r"""#!lua flags=no-writes
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return redis.call('HGET', KEYS[2], id)
"""


class _Keys:
    """The names of one store's keys; every one starts with the hash tag `{prefix}`."""

    def __init__(self, prefix: str):
        if not prefix or "{" in prefix or "}" in prefix:
            raise StoreError(
                f"invalid Redis key prefix {prefix!r}: it must be non-empty and contain no braces "
                "(it becomes the hash tag that keeps the store in one cluster slot)"
            )
        self.prefix = prefix
        self.tag = "{" + prefix + "}"
        t = self.tag
        self.version = f"{t}:version"
        self.art = f"{t}:art"
        self.ix = f"{t}:art:ix"
        self.ids = f"{t}:art:ids"
        self.latest = f"{t}:art:latest"
        self.bycat = f"{t}:art:bycat"
        self.bysrc = f"{t}:art:bysrc"
        self.alias = f"{t}:alias"
        self.takedown = f"{t}:takedown"
        self.seq = f"{t}:seq"
        self.changes = f"{t}:changes"
        self.related = f"{t}:related"
        self.src = f"{t}:src"
        self.srcurl = f"{t}:src:url"
        self.srcnext = f"{t}:src:next"
        self.cat = f"{t}:cat"
        self.meta = f"{t}:meta"
        self.rev = f"{t}:rev"
        self.teaser = f"{t}:teaser"
        self.ft = f"{t}:art:ft"
        self.ftsrc = f"{t}:art:ftsrc"
        # Popularity: a hash per UTC hour (`pop:h:<hour>`: "c\0<id>" clicks, "i\0<id>"
        # impressions), and which hours have one (a sorted set scored by the hour's epoch).
        self.pop = f"{t}:pop:h"
        self.pophours = f"{t}:pop:hours"
        self.ftcount = f"{t}:art:ftcount"
        self.versions = f"{t}:versions"
        # store/editorial.py's records (hashes by kind) and the audit log (a list, oldest first).
        self.records = {"users": f"{t}:users", "overrides": f"{t}:overrides"}
        self.audit = f"{t}:audit"
        # The KEYS of every writing script, in the order _PREAMBLE names them.
        self.write = [
            self.art,
            self.ix,
            self.ids,
            self.latest,
            self.bycat,
            self.bysrc,
            self.alias,
            self.takedown,
            self.seq,
            self.changes,
            self.related,
            self.src,
            self.srcurl,
            self.srcnext,
            self.cat,
            self.rev,
            self.teaser,
            self.ft,
            self.ftsrc,
            self.ftcount,
            self.versions,
        ]
        self.all = [
            *self.write,
            self.version,
            self.meta,
            self.pophours,
            *self.records.values(),
            self.audit,
        ]


class RedisURL:
    """A parsed store URL: what to hand redis-py, plus quantam's own options.

    redis://[user:password@]host:port/db?prefix=NAME, rediss:// for TLS, unix:///path.sock?db=0,
    and redis+cluster://host:port (or ?cluster=1) for Redis Cluster, where any node will do.
    """

    def __init__(self, url: str):
        parts = urlsplit(url)
        scheme = parts.scheme
        self.cluster = scheme.endswith("+cluster")
        scheme = scheme.removesuffix("+cluster")
        if scheme not in ("redis", "rediss", "unix"):
            raise StoreError(f"not a Redis URL: {redact(url)}")
        self.prefix = DEFAULT_PREFIX
        passed: list[tuple[str, str]] = []
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name == "prefix":
                self.prefix = value
            elif name == "cluster":
                self.cluster = value.lower() in ("1", "true", "yes", "on")
            else:
                passed.append((name, value))
        if self.cluster and scheme == "unix":
            raise StoreError("Redis Cluster needs host:port addresses, not a unix socket")
        self.client_url = urlunsplit((scheme, parts.netloc, parts.path, urlencode(passed), ""))
        self.display = redact(url)


def _unavailable(exc: Exception) -> bool:
    if isinstance(exc, _UNAVAILABLE_ERRORS):
        return True
    if isinstance(exc, rx.RedisClusterException) and "cannot be connected" in str(exc):
        return True
    return isinstance(exc, rx.ResponseError) and str(exc).startswith(_UNAVAILABLE_REPLIES)


def _guard(*, retry: bool, schema: bool = True) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
    """Turn Redis being unreachable into StoreUnavailable; `retry` reads once on a new connection.

    A broken connection is dropped from the pool by redis-py, so the retry reconnects: this hides
    a connection that died while idle (a failed health check), not an outage. Timeouts are not
    retried: they have already cost a full socket timeout. `schema` checks the store's schema
    version on the first call.
    """

    def wrap(method: Callable[_P, _T]) -> Callable[_P, _T]:
        @functools.wraps(method)
        def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            store: RedisStore = args[0]  # type: ignore[assignment]

            def run() -> _T:
                if schema:
                    store._ensure_schema()
                return method(*args, **kwargs)

            try:
                try:
                    return run()
                except rx.ConnectionError:
                    if not retry:
                        raise
                return run()
            except (rx.RedisError, rx.RedisClusterException) as exc:
                if not _unavailable(exc):
                    raise
                raise StoreUnavailable(
                    f"Redis at {store.display} is unavailable: {exc} "
                    f"({type(exc).__name__}); quantam carries on when it is back",
                    public=f"Redis is unavailable ({type(exc).__name__})",
                ) from exc

        return guarded

    return wrap


def _ts(value: datetime) -> str:
    stamp = ts(value)
    assert stamp is not None
    return stamp


class RedisStore(Store):
    """The Store interface on Redis or Redis Cluster; one store per key prefix."""

    def __init__(self, url: str = f"redis://127.0.0.1:6379/0?prefix={DEFAULT_PREFIX}"):
        parsed = RedisURL(url)
        self.url = url
        self.display = parsed.display
        self.cluster = parsed.cluster
        self.prefix = parsed.prefix
        self._k = _Keys(parsed.prefix)
        self._client_url = parsed.client_url
        self._lock = threading.Lock()
        self._client: redis.Redis | RedisCluster | None = None
        self._scripts: dict[str, Script] = {}
        self._schema_checked = False
        if not self.cluster:
            # Connects lazily, so a store can be opened while Redis is still down.
            self._client = redis.Redis.from_url(self._client_url, **self._client_options())

    # -- connections ------------------------------------------------------------------------
    @staticmethod
    def _client_options() -> dict[str, Any]:
        return {
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": COMMAND_TIMEOUT,
            "health_check_interval": 30,
            "retry": Retry(NoBackoff(), 0),
        }

    @property
    def _r(self) -> Any:
        """The client; a cluster client is made on first use because making it needs a node."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = RedisCluster.from_url(  # type: ignore[no-untyped-call]
                        self._client_url, **self._client_options()
                    )
        return self._client

    def _script(self, name: str, body: str) -> Script:
        script = self._scripts.get(name)
        if script is None:
            script = self._r.register_script(body)
            self._scripts[name] = script
        return script

    def _write(self, name: str, body: str, args: list[Any]) -> Any:
        """Run a writing script over the store's write keys."""
        return self._script(name, _PREAMBLE + body)(keys=self._k.write, args=args)

    def _ensure_schema(self) -> None:
        """Mark a new store with the schema version, and refuse one written by a newer quantam."""
        if self._schema_checked:
            return
        r = self._r
        r.set(self._k.version, SCHEMA_VERSION, nx=True)
        found = int(r.get(self._k.version) or SCHEMA_VERSION)
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the Redis store {self.prefix!r} at {self.display} has schema version {found}, "
                f"this quantam knows {SCHEMA_VERSION}: upgrade quantam before opening it"
            )
        self._schema_checked = True

    @_guard(retry=True, schema=False)
    def schema_version(self) -> int:
        return int(self._r.get(self._k.version) or 0)

    @_guard(retry=True, schema=False)
    def ping(self) -> None:
        r = self._r
        if self.cluster:
            r.ping(target_nodes=r.get_node_from_key(self._k.version))
        else:
            r.ping()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self.cluster:
                self._client = None
                self._scripts.clear()

    @_guard(retry=False, schema=False)
    def destroy(self) -> None:
        """Delete every key under this store's prefix: for tests and for starting a copy over."""
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self._k.tag) + ":*"
        r = self._r
        batch: list[bytes] = []
        for key in r.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= _CHUNK:
                r.unlink(*batch)
                batch = []
        if batch:
            r.unlink(*batch)
        self._schema_checked = False

    # -- categories -------------------------------------------------------------------------
    @_guard(retry=False)
    def put_category(self, category: Category) -> None:
        doc = codec.dumps(codec.category_to_dict(category))
        self._write("put_category", _PUT_CATEGORY, [category.slug, doc])

    @_guard(retry=True)
    def get_category(self, slug: str) -> Category | None:
        raw = self._r.hget(self._k.cat, slug)
        return codec.category_from_dict(codec.loads(raw)) if raw is not None else None

    @_guard(retry=True)
    def list_categories(self) -> list[Category]:
        rows = self._r.hgetall(self._k.cat)
        return [codec.category_from_dict(codec.loads(rows[slug])) for slug in sorted(rows)]

    # -- sources ----------------------------------------------------------------------------
    @_guard(retry=False)
    def add_source(self, source: Source) -> Source:
        d = codec.source_to_dict(source)
        d.pop("id")
        head = codec.dumps(d)[:-1] + ',"id":'
        reply = self._write("add_source", _ADD_SOURCE, [source.url, head])
        if reply[0] == b"EXISTS":
            raise SourceExists(source.url, int(reply[1]))
        return source.replace(id=int(reply[1]))

    @_guard(retry=True)
    def get_source(self, source_id: int) -> Source | None:
        raw = self._r.hget(self._k.src, source_id)
        return codec.source_from_dict(codec.loads(raw)) if raw is not None else None

    @_guard(retry=True)
    def find_source(self, url: str) -> Source | None:
        raw = self._script("find_source", _FIND_SOURCE)(
            keys=[self._k.srcurl, self._k.src], args=[url]
        )
        return codec.source_from_dict(codec.loads(raw)) if raw is not None else None

    @_guard(retry=True)
    def list_sources(self) -> list[Source]:
        rows = self._r.hgetall(self._k.src)
        return [codec.source_from_dict(codec.loads(rows[i])) for i in sorted(rows, key=int)]

    @_guard(retry=False)
    def update_source(self, source: Source) -> None:
        if source.id is None:
            raise SourceNotFound("(none)")
        args = [source.id, source.url, codec.dumps(codec.source_to_dict(source))]
        self._raise_source_problem(self._write("update_source", _UPDATE_SOURCE, args), source)

    @staticmethod
    def _raise_source_problem(reply: list[bytes], source: Source) -> None:
        if reply[0] == b"EXISTS":
            raise SourceExists(source.url, int(reply[1]))
        if reply[0] == b"NOTFOUND":
            raise SourceNotFound(source.id if source.id is not None else "(none)")

    @_guard(retry=False)
    def remove_source(self, source_id: int) -> bool:
        return bool(self._write("remove_source", _REMOVE_SOURCE, [source_id]))

    @_guard(retry=True)
    def count_articles_by_source(self) -> dict[int, int]:
        rows = self._r.hgetall(self._k.bysrc)
        return {int(k): int(v) for k, v in rows.items() if int(v) > 0}

    @_guard(retry=True)
    def count_fulltext_by_source(self) -> dict[int | None, dict[str, int]]:
        out: dict[int | None, dict[str, int]] = {}
        for field, count in self._r.hgetall(self._k.ftcount).items():
            src, status = field.decode().split("\0", 1)
            if int(count) > 0:
                out.setdefault(int(src) if src else None, {})[status] = int(count)
        return out

    # -- articles ---------------------------------------------------------------------------
    @_guard(retry=True)
    def lookup_aliases(self, keys: Iterable[AliasKey]) -> dict[AliasKey, str]:
        wanted = list(set(keys))
        found: dict[AliasKey, str] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            values = self._r.hmget(self._k.alias, [f"{kind}:{value}" for kind, value in chunk])
            for key, article_id in zip(chunk, values, strict=True):
                if article_id is not None:
                    found[key] = article_id.decode()
        return found

    @_guard(retry=False)
    def commit(self, batch: IngestBatch) -> None:
        args: list[Any] = []
        if batch.category is not None:
            args += [batch.category.slug, codec.dumps(codec.category_to_dict(batch.category))]
        else:
            args += ["", ""]
        source = batch.source
        if source is not None:
            if source.id is None:
                raise SourceNotFound("(none)")
            args += [source.id, source.url, codec.dumps(codec.source_to_dict(source))]
        else:
            args += ["", "", ""]
        args.append(len(batch.articles))
        for a in batch.articles:
            args += [
                a.id,
                _ts(a.published),
                a.category,
                "" if a.source_id is None else a.source_id,
                codec.dumps(codec.article_to_dict(a)),
                codec.dumps(codec.teaser_to_dict(a)),
                a.fulltext_status or "",
            ]
        args.append(len(batch.aliases))
        for alias in batch.aliases:
            args += [f"{alias.kind}:{alias.value}", alias.article_id]
        reply = self._write("commit", _COMMIT, args)
        if source is not None:
            self._raise_source_problem(reply, source)

    @_guard(retry=True)
    def get_article(self, article_id: str) -> Article | None:
        raw = self._r.hget(self._k.art, article_id)
        return codec.article_from_dict(codec.loads(raw)) if raw is not None else None

    @_guard(retry=True)
    def get_articles(self, article_ids: Iterable[str]) -> list[Article]:
        ids = list(article_ids)
        out: list[Article] = []
        for i in range(0, len(ids), _CHUNK):
            for raw in self._r.hmget(self._k.art, ids[i : i + _CHUNK]):
                if raw is not None:
                    out.append(codec.article_from_dict(codec.loads(raw)))
        return out

    @_guard(retry=True)
    def get_teasers(self, article_ids: Iterable[str]) -> list[Teaser]:
        """From the teaser hash: a related answer reads several, and whole articles (bodies
        and all) cost ten times as much to move and decode. Articles stored before that hash
        existed are read whole."""
        ids = list(article_ids)
        found: dict[str, Teaser] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            missing = []
            for article_id, raw in zip(chunk, self._r.hmget(self._k.teaser, chunk), strict=True):
                if raw is not None:
                    found[article_id] = codec.teaser_from_dict(codec.loads(raw))
                else:
                    missing.append(article_id)
            if missing:
                for raw in self._r.hmget(self._k.art, missing):
                    if raw is not None:
                        teaser = codec.teaser_from_dict(codec.loads(raw))
                        found[teaser.id] = teaser
        return [found[i] for i in ids if i in found]

    @_guard(retry=False)
    def delete_article(self, article_id: str) -> bool:
        now = _ts(datetime.now(UTC))
        return bool(self._write("delete_article", _DELETE, [article_id, now]))

    @_guard(retry=True)
    def taken_down(self, article_ids: Iterable[str]) -> set[str]:
        ids = list(set(article_ids))
        out: set[str] = set()
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            stamps = self._r.hmget(self._k.takedown, chunk)
            out.update(a for a, at in zip(chunk, stamps, strict=True) if at is not None)
        return out

    @_guard(retry=True)
    def _range(
        self, key: str, rev: bool, first: str, second: str, limit: int, shape: str
    ) -> tuple[str, list[Article]]:
        """Articles along one index between two lex bounds, and the last index member seen."""
        if limit == 0:
            return "", []
        last, docs = self._script("range", _RANGE)(
            keys=[key, self._k.art],
            args=["rev" if rev else "fwd", first, second, "" if limit < 0 else limit, shape],
        )
        articles = [codec.article_from_dict(codec.loads(d)) for d in docs if d is not None]
        return last.decode(), articles

    def latest_articles(
        self,
        category: str | None = None,
        limit: int = 50,
        before: Cursor | None = None,
        since: datetime | None = None,
    ) -> list[Article]:
        if category is None:
            return self._newest_first(self._k.latest, "ts", "", limit, before, since)
        return self._newest_first(self._k.bycat, "cat", category + "\0", limit, before, since)

    def fulltext_queue(
        self,
        status: str = "pending",
        source_id: int | None = None,
        limit: int = 100,
        before: Cursor | None = None,
        since: datetime | None = None,
    ) -> list[Article]:
        if status not in ("pending", "failed"):
            raise ValueError(f"only pending and failed articles are queued, not {status!r}")
        if source_id is None:
            return self._newest_first(self._k.ft, "cat", status + "\0", limit, before, since)
        head = f"{status}\0{source_id}\0"
        return self._newest_first(self._k.ftsrc, "cat2", head, limit, before, since)

    def _newest_first(
        self,
        key: str,
        shape: str,
        head: str,
        limit: int,
        before: Cursor | None,
        since: datetime | None,
    ) -> list[Article]:
        """Articles of an index whose members are "<head><published> <id>", newest first.

        Members sort as text, so lex order is (published, id) order (published is codec.ts,
        fixed-width), and no member of a later instant sorts below "<since>!"."""
        high = "(" + head + _ts(before[0]) + " " + before[1] if before is not None else None
        low = "(" + head + _ts(since) + "!" if since is not None else None
        if head:
            high, low = high or "(" + head[:-1] + "\1", low or "[" + head
        else:
            high, low = high or "+", low or "-"
        return self._range(key, True, high, low, limit, shape)[1]

    def iter_articles(self, batch_size: int = 1000, after: str | None = None) -> Iterator[Article]:
        """By id, one script call per batch: an article edited meanwhile is still seen once."""
        low = "(" + after if after else "-"
        while True:
            last, articles = self._range(self._k.ids, False, low, "+", batch_size, "id")
            yield from articles
            if not last:
                return
            low = "(" + last

    def _time_page(
        self,
        since: datetime | None,
        until: datetime | None,
        newest_first: bool,
        after: Cursor | None,
        limit: int,
    ) -> list[Article]:
        # along the "<published> <id>" index; a member sorts after "<since>" from that instant
        low = "[" + _ts(since) if since is not None else "-"
        high = "(" + _ts(until) if until is not None else "+"
        if after is not None:
            # the last article read lies inside the window: strictly past it is the new bound
            past = "(" + _ts(after[0]) + " " + after[1]
            high, low = (past, low) if newest_first else (high, past)
        first, second = (high, low) if newest_first else (low, high)
        return self._range(self._k.latest, newest_first, first, second, limit, "ts")[1]

    @_guard(retry=True)
    def count_articles(self, category: str | None = None) -> int:
        if category is None:
            return int(self._r.zcard(self._k.ids))
        return int(self._r.zlexcount(self._k.bycat, f"[{category}\0", f"({category}\1"))

    # -- change log -------------------------------------------------------------------------
    @_guard(retry=True)
    def changes_since(self, seq: int, limit: int = 10_000) -> list[Change]:
        if limit == 0:
            return []
        start = "-" if seq < 0 else f"{seq + 1}-0"
        rows = self._r.xrange(self._k.changes, start, "+", count=None if limit < 0 else limit)
        return [
            Change(
                seq=int(entry_id.split(b"-", 1)[0]),
                article_id=fields[b"a"].decode(),
                op=fields[b"o"].decode(),
            )
            for entry_id, fields in rows
        ]

    @_guard(retry=True)
    def last_seq(self) -> int:
        return int(self._r.get(self._k.seq) or 0)

    # -- related lists ----------------------------------------------------------------------
    @_guard(retry=False)
    def put_related(self, lists: dict[str, list[RelatedItem]]) -> None:
        if lists:
            args = [x for aid, items in lists.items() for x in (aid, codec.related_to_json(items))]
            self._write("put_related", _PUT_RELATED, args)

    @_guard(retry=True)
    def get_related(self, article_id: str) -> list[RelatedItem] | None:
        raw = self._r.hget(self._k.related, article_id)
        return codec.related_from_json(raw) if raw is not None else None

    @_guard(retry=True)
    def related_as_edited(
        self, article_id: str
    ) -> tuple[list[RelatedItem] | None, ListOverrides, SiteRules]:
        pipe = self._r.pipeline(transaction=False)
        pipe.hget(self._k.related, article_id)
        pipe.hmget(self._k.records["overrides"], [article_id, EVERY_LIST])
        raw, (own, every) = pipe.execute()
        related = codec.related_from_json(raw) if raw is not None else None
        return related, *self._editorial_from(article_id, own, every)

    @_guard(retry=True)
    def get_related_many(self, article_ids: Iterable[str]) -> dict[str, list[RelatedItem]]:
        ids = list(dict.fromkeys(article_ids))
        out: dict[str, list[RelatedItem]] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            for aid, raw in zip(chunk, self._r.hmget(self._k.related, chunk), strict=True):
                if raw is not None:
                    out[aid] = codec.related_from_json(raw)
        return out

    # -- popularity -------------------------------------------------------------------------
    @_guard(retry=False)
    def add_event_counts(self, counts: Iterable[EventCount]) -> None:
        self._write_counts(counts, add=True)

    @_guard(retry=False)
    def put_event_counts(self, counts: Iterable[EventCount]) -> None:
        self._write_counts(counts, add=False)

    def _write_counts(self, counts: Iterable[EventCount], add: bool) -> None:
        """One transaction: each hour's hash of counters (added to, or set), its expiry and its
        place in the index of hours; adding also drops hours past the retention."""
        counts = list(counts)
        if not counts:
            return
        keep = int(POPULARITY_RETENTION.total_seconds())
        pipe = self._r.pipeline(transaction=True)
        newest = 0.0
        for c in counts:
            hour = hour_of(c.hour)
            key = f"{self._k.pop}:{_ts(hour)}"
            fields = {"i\0" + c.article_id: c.impressions, "c\0" + c.article_id: c.clicks}
            if add:
                for field, n in fields.items():
                    if n:
                        pipe.hincrby(key, field, n)
            else:
                pipe.hset(key, mapping=fields)
            pipe.expire(key, keep)
            pipe.zadd(self._k.pophours, {_ts(hour): hour.timestamp()})
            newest = max(newest, hour.timestamp())
        if add:
            pipe.zremrangebyscore(self._k.pophours, "-inf", f"({newest - keep}")
        pipe.execute()

    def iter_event_counts(self) -> Iterator[EventCount]:
        for hour in self._pop_hours():
            pairs: dict[str, list[int]] = {}
            for field, value in self._scan(f"{self._k.pop}:{hour}"):
                kind, article_id = field.decode().split("\0", 1)
                pairs.setdefault(article_id, [0, 0])[kind == "c"] = int(value)
            moment = parse_ts(hour)
            for article_id, (impressions, clicks) in sorted(pairs.items()):
                yield EventCount(article_id, moment, impressions, clicks)

    @_guard(retry=True)
    def _pop_hours(self) -> list[str]:
        return [h.decode() for h in self._r.zrange(self._k.pophours, 0, -1)]

    @_guard(retry=True)
    def popular(
        self, category: str | None, since: datetime, limit: int, exclude: Iterable[str] = ()
    ) -> list[Popularity]:
        skip = set(exclude)
        r = self._r
        hours = r.zrangebyscore(self._k.pophours, hour_of(since).timestamp(), "+inf")
        sums: dict[str, list[int]] = {}
        pipe = r.pipeline(transaction=False)
        for hour in hours:
            pipe.hgetall(f"{self._k.pop}:{hour.decode()}")
        for counters in pipe.execute() if hours else []:
            for field, value in counters.items():
                kind, article_id = field.decode().split("\0", 1)
                pair = sums.setdefault(article_id, [0, 0])
                pair[0 if kind == "c" else 1] += int(value)
        ids = [a for a, (c, i) in sums.items() if c + i > 0 and a not in skip]
        ranked: list[tuple[int, int, str, str]] = []
        for n in range(0, len(ids), _CHUNK):
            chunk = ids[n : n + _CHUNK]
            for article_id, ix in zip(chunk, r.hmget(self._k.ix, chunk), strict=True):
                if ix is None:  # unknown or taken down
                    continue
                _src, published, rest = ix.decode().split("\t", 2)
                if category is not None and rest.split("\t", 1)[0] != category:
                    continue
                clicks, impressions = sums[article_id]
                ranked.append((clicks, impressions, published, article_id))
        ranked.sort(reverse=True)
        return [Popularity(a, c, i) for c, i, _, a in ranked[:limit]]

    # -- coordination -----------------------------------------------------------------------
    def _lock_key(self, name: str) -> str:
        return f"{self._k.tag}:lock:{name}"

    @_guard(retry=False)
    def _try_lock(self, name: str, token: str, ttl: float) -> bool:
        return bool(self._r.set(self._lock_key(name), token, nx=True, px=max(1, int(ttl * 1000))))

    @_guard(retry=False)
    def _renew_lock(self, name: str, token: str, ttl: float) -> bool:
        key = self._lock_key(name)
        return bool(self._script("renew", _RENEW)(keys=[key], args=[token, int(ttl * 1000)]))

    @_guard(retry=False)
    def _unlock(self, name: str, token: str) -> None:
        self._script("unlock", _UNLOCK)(keys=[self._lock_key(name)], args=[token])

    # -- export -----------------------------------------------------------------------------
    def _scan(self, key: str) -> Iterator[tuple[bytes, bytes]]:
        cursor = 0
        while True:
            cursor, batch = self._scan_page(key, cursor)
            yield from batch.items()
            if cursor == 0:
                return

    @_guard(retry=True)
    def _scan_page(self, key: str, cursor: int) -> tuple[int, dict[bytes, bytes]]:
        page: tuple[int, dict[bytes, bytes]] = self._r.hscan(key, cursor, count=_CHUNK)
        return page

    def iter_aliases(self) -> Iterator[Alias]:
        for field, article_id in self._scan(self._k.alias):
            kind, value = field.decode().split(":", 1)
            yield Alias(kind, value, article_id.decode())

    def iter_related(self) -> Iterator[tuple[str, list[RelatedItem]]]:
        for article_id, items in self._scan(self._k.related):
            yield article_id.decode(), codec.related_from_json(items)

    def iter_takedowns(self) -> Iterator[str]:
        for article_id, _ in self._scan(self._k.takedown):
            yield article_id.decode()

    def iter_meta(self) -> Iterator[tuple[str, bytes]]:
        for key, value in self._scan(self._k.meta):
            yield key.decode(), bytes(value)

    @_guard(retry=False)
    def restore_source(self, source: Source) -> None:
        doc = codec.dumps(codec.source_to_dict(source))
        reply = self._write("restore_source", _RESTORE_SOURCE, [source.id, source.url, doc])
        self._raise_source_problem(reply, source)

    @_guard(retry=True)
    def version(self) -> int:
        return int(self._r.get(self._k.rev) or 0)

    @_guard(retry=True)
    def versions(self, resources: Sequence[str]) -> list[int]:
        if not resources:
            return []
        return [int(v or 0) for v in self._r.hmget(self._k.versions, list(resources))]

    @_guard(retry=False)
    def _touch(self, resources: Iterable[str]) -> None:
        self._write("touch", _TOUCH, list(resources))

    # -- editorial records (store/editorial.py) ----------------------------------------------
    @_guard(retry=True)
    def _get_records(self, kind: str, keys: Iterable[str]) -> list[bytes | None]:
        raw = self._r.hmget(self._k.records[kind], list(keys))
        return [bytes(v) if v is not None else None for v in raw]

    @_guard(retry=True)
    def _list_records(self, kind: str) -> list[tuple[str, bytes]]:
        rows = self._r.hgetall(self._k.records[kind])
        return sorted((k.decode(), bytes(v)) for k, v in rows.items())

    @_guard(retry=False)
    def _put_record(self, kind: str, key: str, value: bytes | None, changed: Sequence[str]) -> None:
        # One script: the record and the versions of what it changed move together.
        script = self._script("put_record", _PREAMBLE + _PUT_RECORD)
        present = "0" if value is None else "1"
        script(
            keys=[*self._k.write, self._k.records[kind]],
            args=[key, present, value or b"", *changed],
        )

    @_guard(retry=False)
    def _append_audit(self, entry: bytes) -> None:
        self._r.rpush(self._k.audit, entry)

    @_guard(retry=True)
    def _read_audit(self, limit: int, offset: int) -> list[bytes]:
        if limit <= 0:
            return []
        raw = self._r.lrange(self._k.audit, -(offset + limit), -(offset + 1))
        return [bytes(v) for v in reversed(raw)]

    # -- meta -------------------------------------------------------------------------------
    @_guard(retry=True)
    def get_meta(self, key: str) -> bytes | None:
        raw = self._r.hget(self._k.meta, key)
        return bytes(raw) if raw is not None else None

    @_guard(retry=False)
    def set_meta(self, key: str, value: bytes) -> None:
        self._r.hset(self._k.meta, key, value)
