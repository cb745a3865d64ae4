"""The Flask application factory: `gunicorn 'service.app:create_app()'` in production."""

from __future__ import annotations

import os
from typing import cast

from flask import Flask

from service.config import Settings, load_settings
from service.core import Quantam
from service.http import (
    api,
    box,
    cms,
    embed,
    events,
    feed_routes,
    openapi,
    ops,
    overrides,
    popular,
    sitemaps,
    websub_callback,
)
from service.http.caching import TeaserCache, gzip_response
from service.http.console import auth as console_auth
from service.http.console import home, views
from service.http.contract.body import MAX_BODY
from service.http.errors import register_error_handlers
from service.http.response_cache import ReadRecorder, ResponseCache
from store.base import Store


def create_app(settings: Settings | None = None, quantam: Quantam | None = None) -> Flask:
    """One app per process; `quantam` may be passed in to share it with a poller thread."""
    # No static route: the embed blueprint serves its script and styles itself, filled in.
    app = Flask(__name__, static_folder=None)
    settings = settings or (quantam.settings if quantam else load_settings())
    quantam = quantam or Quantam(settings)
    app.extensions["quantam"] = quantam
    store = quantam.store
    if isinstance(store, ReadRecorder):  # a second app over the same Quantam
        store = store.store
    # Views read through the recorder, so the response cache knows what each answer read.
    quantam.store = cast(Store, ReadRecorder(store))
    app.extensions["quantam.teaser_cache"] = TeaserCache()
    app.config["QUANTAM_SETTINGS"] = settings
    # Request bodies are never read past this (a chunked one stops a byte over MAX_BODY, which
    # is refused with 413).
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY + 1
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    register_error_handlers(app)
    console_auth.install(app)
    ops.install(app)
    multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    events.install(app, app.extensions["quantam.metrics"], multiprocess)
    quantam.ingestor.listeners.append(_count_ingested)
    for blueprint in (
        api.bp,
        box.bp,
        cms.bp,
        embed.bp,
        events.bp,
        feed_routes.bp,
        home.bp,
        views.bp,
        ops.bp,
        openapi.bp,
        popular.bp,
        overrides.bp,
        sitemaps.bp,
        websub_callback.bp,
    ):
        app.register_blueprint(blueprint)
    app.after_request(gzip_response)
    # Outside in: metrics, whole answers again, then Flask.
    cache = ResponseCache(app.wsgi_app, store, settings.response_cache_mb * 1024 * 1024)
    app.extensions["quantam.response_cache"] = cache
    app.wsgi_app = ops.Metrics(cache)  # type: ignore[method-assign]
    return app


def _count_ingested(report: object) -> None:
    ops.INGESTED.labels("new").inc(len(report.new))  # type: ignore[attr-defined]
    ops.INGESTED.labels("updated").inc(len(report.updated))  # type: ignore[attr-defined]
