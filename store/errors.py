"""Storage errors, each with a message an operator can act on."""

from urllib.parse import urlsplit, urlunsplit


class StoreError(Exception):
    """Base class of everything the storage layer raises on purpose."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached (Redis stopped, SQLite file unwritable).

    The message names the store's address for the operator's logs; `public` says what went
    wrong without it, for HTTP answers anyone can read (an internal host, port and database are
    of use only to an attacker)."""

    def __init__(self, message: str, public: str = "the store is unavailable"):
        super().__init__(message)
        self.public = public


class StoreMissing(StoreError):
    """A command that only reads named a store that does not exist (it is not created)."""


class UnsupportedStoreURL(StoreError):
    """QUANTAM_STORE names a scheme quantam has no backend for."""


class SourceExists(StoreError):
    def __init__(self, url: str, source_id: int | None = None):
        self.url = url
        self.source_id = source_id
        super().__init__(f"a source with URL {url} already exists (id {source_id})")


class SourceNotFound(StoreError):
    def __init__(self, source_id: int | str):
        self.source_id = source_id
        super().__init__(f"no source with id {source_id}")


class SchemaTooNew(StoreError):
    """The database was written by a newer quantam; refusing to touch it."""


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))
