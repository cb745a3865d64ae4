"""The web app over a real SQLite file with the-thao.rss (and world.atom) ingested: what the
console and overrides tests start from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from service.config import load_settings
from service.http.app import create_app
from tests.support.env import fixture_bytes


def news_app(tmp_path: Path, world: bool = False, **settings: Any) -> Flask:
    settings.setdefault("base_url", "https://news.example.vn")
    app = create_app(load_settings(environ={}, store=f"sqlite:///{tmp_path / 'q.db'}", **settings))
    ingestor = app.extensions["quantam"].ingestor
    ingestor.ensure_category("the-thao", "Thể thao")
    ingestor.ingest_bytes(fixture_bytes("the-thao.rss"), target="t.rss", category="the-thao")
    if world:
        ingestor.ingest_bytes(
            fixture_bytes("world.atom"),
            target="https://times.example.com/world.atom",
            category="the-gioi",
        )
    return app
