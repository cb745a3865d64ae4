"""The Flask application factory: `gunicorn 'service.app:create_app()'` in production."""

from __future__ import annotations

from flask import Flask

from service.config import Settings, load_settings
from service.core import Quantam
from service.http import (
    api,
    cms,
    embed,
    feed_routes,
    openapi,
    ops,
    overrides,
    sitemaps,
    websub_callback,
)
from service.http.caching import FEED_CACHE_ENTRIES, RenderCache, TeaserCache, gzip_response
from service.http.console import auth as console_auth
from service.http.console import home, views
from service.http.errors import register_error_handlers
from service.http.related_fastpath import RelatedFastPath
from service.http.response_cache import ResponseCache


def create_app(settings: Settings | None = None, quantam: Quantam | None = None) -> Flask:
    """One app per process; `quantam` may be passed in to share it with a poller thread."""
    # No static route: the embed blueprint serves its script and styles itself, filled in.
    app = Flask(__name__, static_folder=None)
    settings = settings or (quantam.settings if quantam else load_settings())
    quantam = quantam or Quantam(settings)
    app.extensions["quantam"] = quantam
    app.extensions["quantam.render_cache"] = RenderCache()
    # Feeds apart: a few pages that take tens of milliseconds to render, which the long tail of
    # cheap API answers would otherwise evict.
    app.extensions["quantam.feed_cache"] = RenderCache(max_entries=FEED_CACHE_ENTRIES)
    app.extensions["quantam.teaser_cache"] = TeaserCache()
    app.config["QUANTAM_SETTINGS"] = settings
    # Request bodies are never read past this (a chunked one stops a byte over cms.MAX_BODY,
    # which cms refuses with 413).
    app.config["MAX_CONTENT_LENGTH"] = cms.MAX_BODY + 1
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    register_error_handlers(app)
    console_auth.install(app)
    ops.install(app)
    quantam.ingestor.listeners.append(_count_ingested)
    for blueprint in (
        api.bp,
        cms.bp,
        embed.bp,
        feed_routes.bp,
        home.bp,
        views.bp,
        ops.bp,
        openapi.bp,
        overrides.bp,
        sitemaps.bp,
        websub_callback.bp,
    ):
        app.register_blueprint(blueprint)
    app.after_request(gzip_response)
    # Outside in: metrics, whole answers again, the plain related requests, then Flask.
    fastpath = RelatedFastPath(
        app.wsgi_app, quantam.store, app.extensions["quantam.teaser_cache"], settings.base_url
    )
    cache = ResponseCache(fastpath, quantam.store, settings.response_cache_mb * 1024 * 1024)
    app.extensions["quantam.response_cache"] = cache
    app.wsgi_app = ops.Metrics(cache)  # type: ignore[method-assign]
    return app


def _count_ingested(report: object) -> None:
    ops.INGESTED.labels("new").inc(len(report.new))  # type: ignore[attr-defined]
    ops.INGESTED.labels("updated").inc(len(report.updated))  # type: ignore[attr-defined]
