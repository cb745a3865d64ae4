"""Storage behind one interface: `open_store(url)` picks the backend from the URL scheme."""

from store.base import Store
from store.errors import StoreError, StoreUnavailable, UnsupportedStoreURL, redact

REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")


def open_store(url: str, create: bool = True) -> Store:
    """sqlite:///path.db (the embedded default), redis://host:port/db, redis+cluster://host:port.

    create=False refuses to make a SQLite file (and its directories) that does not exist: for
    commands that only read, where a mistyped path should be an error, not an empty store."""
    # The backends are imported here, on demand: a process loads only the one it opens (the
    # Redis client stays out of a SQLite deployment, and its absence is an error in words).
    if url.startswith("sqlite://"):
        from store.sqlite import SQLiteStore

        return SQLiteStore(url, create=create)
    if url.startswith(REDIS_SCHEMES):
        try:
            from store.redis import RedisStore
        except ImportError as exc:
            raise UnsupportedStoreURL(f"the Redis backend is not available: {exc}") from exc
        return RedisStore(url)
    raise UnsupportedStoreURL(
        f"unsupported store URL {redact(url)!r}: use sqlite:///path/to/quantam.db or "
        "redis://host:6379/0"
    )


__all__ = [
    "Store",
    "StoreError",
    "StoreUnavailable",
    "UnsupportedStoreURL",
    "open_store",
    "redact",
]
