"""Operations endpoints: /healthz for load balancers, /metrics for Prometheus.

Request counts and latencies are counted per route (the URL rule, not the raw path, so article
ids do not explode the label set). Store-derived figures (articles stored, per-source errors)
are read from the store at scrape time, so they are right whichever process did the ingesting.
Under gunicorn, set PROMETHEUS_MULTIPROC_DIR so every worker's counters are summed.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from service.http.contract import models as contract
from service.http.contract.models import Health, Unhealthy
from service.http.contract.operations import Reply, operation, text
from service.http.errors import PROBLEM_JSON
from service.http.response_cache import ROUTE
from store.errors import StoreUnavailable
from store.models import utcnow

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)

REQUESTS = Counter(
    "quantam_http_requests_total",
    "HTTP requests by route and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "quantam_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
UNMATCHED = "unmatched"
INGESTED = Counter(
    "quantam_articles_ingested_total", "Articles stored or updated by this process", ["kind"]
)


def _quantam() -> Any:
    return current_app.extensions["quantam"]


@bp.get("/healthz")
@operation(
    tag="operations",
    summary="Whether the store answers, and the index's age (for load balancers)",
    answers={
        200: Reply("Healthy.", Health),
        503: Reply(
            "The store cannot be reached.", Unhealthy, more={PROBLEM_JSON: contract.Problem}
        ),
    },
)
def healthz() -> Response:
    quantam = _quantam()
    try:
        quantam.store.ping()
    except StoreUnavailable as exc:
        log.warning("health check: store unavailable: %s", exc)
        response = jsonify(status="unavailable", store=exc.public)
        response.status_code = 503
        return response
    body: dict[str, Any] = {"status": "ok", "store": quantam.settings.store.split("://")[0]}
    body["articles"] = quantam.store.count_articles()
    age = quantam.index_age()
    body["index_age_seconds"] = None if age is None else round(age, 1)
    return jsonify(body)


class StoreCollector:
    """Figures read from the store when Prometheus scrapes."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        quantam = self.app.extensions["quantam"]
        try:
            sources = quantam.store.list_sources()
            articles = quantam.store.count_articles()
        except StoreUnavailable:
            up = GaugeMetricFamily("quantam_store_up", "Whether the store answers")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("quantam_store_up", "Whether the store answers")
        up.add_metric([], 1)
        yield up
        stored = GaugeMetricFamily("quantam_articles", "Articles in the store")
        stored.add_metric([], articles)
        yield stored
        errors = GaugeMetricFamily(
            "quantam_source_consecutive_errors",
            "Failed polls in a row, per source",
            labels=["source_id", "host"],
        )
        last = GaugeMetricFamily(
            "quantam_source_last_success_age_seconds",
            "Seconds since the last good poll",
            labels=["source_id", "host"],
        )
        now = utcnow()
        for s in sources:
            errors.add_metric([str(s.id), s.host], s.error_count)
            if s.last_success_at:
                last.add_metric([str(s.id), s.host], (now - s.last_success_at).total_seconds())
        yield errors
        yield last


@bp.get("/metrics")
@operation(
    tag="operations",
    summary="Prometheus metrics: requests, latency, articles, per-source errors",
    answers={200: text("Prometheus text exposition format.", "text/plain")},
)
def metrics() -> Response:
    registry = current_app.extensions["quantam.metrics"]
    # content_type, not mimetype: CONTENT_TYPE_LATEST has its charset, which mimetype adds again.
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def install(app: Flask) -> None:
    """Time and count every request; build the registry /metrics serves."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (REQUESTS, LATENCY, INGESTED):
            registry.register(metric)
    registry.register(StoreCollector(app))
    app.extensions["quantam.metrics"] = registry

    @app.after_request
    def _route(response: Response) -> Response:
        request.environ[ROUTE] = request.url_rule.rule if request.url_rule else UNMATCHED
        return response


class Metrics:
    """WSGI middleware: counts and times every request, including those the response cache
    answers without Flask (which leaves their route in the environ, as the hook above does)."""

    def __init__(self, app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]):
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        status = "500"

        def counted(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status
            status = code
            return start_response(code, headers, exc_info)

        try:
            return self.app(environ, counted)
        finally:
            route = environ.get(ROUTE, UNMATCHED)
            count, latency = _series(route, environ.get("REQUEST_METHOD", ""), status[:3])
            count.inc()
            latency.observe(time.perf_counter() - started)


@functools.lru_cache(maxsize=1024)
def _series(route: str, method: str, status: str) -> tuple[Any, Any]:
    """The labelled counter and histogram of one kind of request. `labels()` takes a lock and
    builds its key on every call, a cost every request paid; the children never change."""
    return REQUESTS.labels(route, method, status), LATENCY.labels(route)
