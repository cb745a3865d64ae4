"""Feed ingestion and publishing: fetch, parse, normalise, dedupe, poll, publish."""

__version__ = "0.1.0"
