"""Storage errors, each with a message an operator can act on."""


class StoreError(Exception):
    """Base class of everything the storage layer raises on purpose."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached (Redis stopped, SQLite file unwritable)."""


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
