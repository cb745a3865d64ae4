"""The real Flask app on a real SQLite file, with a few categories: the start of the box's and
popularity's HTTP tests."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from service.config import load_settings
from service.http.app import create_app
from store.models import Category


def app_with_categories(tmp_path: Path, *categories: Category) -> Flask:
    settings = load_settings(
        environ={}, store=f"sqlite:///{tmp_path / 'q.db'}", base_url="https://news.example.vn"
    )
    app = create_app(settings)
    for category in categories:
        app.extensions["quantam"].store.put_category(category)
    return app
