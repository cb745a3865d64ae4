"""The Flask application factory: `gunicorn 'service.app:create_app()'` in production."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

from service.config import Settings, load_settings
from service.core import Quantam


def create_app(settings: Settings | None = None, quantam: Quantam | None = None) -> Flask:
    app = Flask(__name__)
    settings = settings or (quantam.settings if quantam else load_settings())
    quantam = quantam or Quantam(settings)
    app.extensions["quantam"] = quantam
    app.config["QUANTAM_SETTINGS"] = settings
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    @app.get("/healthz")
    def healthz() -> Any:
        quantam.store.ping()
        return jsonify(status="ok", articles=quantam.store.count_articles())

    return app
