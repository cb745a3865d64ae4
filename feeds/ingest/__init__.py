"""Ingestion: fetch, decode, parse, normalise, sanitise, dedupe and store other sites' feeds (or a
CMS's pushed articles), on a polite schedule; OPML import; full-text extraction and robots.txt."""
