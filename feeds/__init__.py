"""Feeds in and out: `feeds.ingest` reads other sites' feeds into the store, `feeds.publish` writes
quantam's own; `feeds.common` holds the little both need (errors, the SSRF guard, the HTML
allow-list). Neither side imports the other (the import-linter contracts in pyproject.toml)."""

__version__ = "0.1.0"
