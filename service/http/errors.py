"""Errors become RFC 9457 problem details here, and only here.

Lower layers raise exceptions that say what went wrong (feeds.common.errors, store.errors,
store.urls.InvalidURL); this module decides the HTTP status each one means, so every endpoint
answers the same way: a JSON body with type, title, status and detail (and the bad parameter's
name where there is one), never a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from feeds.common.errors import BadURL, FeedError, InvalidArticle
from store.errors import SourceExists, SourceNotFound, StoreUnavailable
from store.urls import InvalidURL

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error with its HTTP status, raised by endpoints."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra: Any):
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


class BadParameter(Problem):
    def __init__(self, name: str, detail: str):
        super().__init__(400, "Bad parameter", f"{name}: {detail}", parameter=name)


class NotFound(Problem):
    def __init__(self, detail: str):
        super().__init__(404, "Not found", detail)


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.status, exc.title, exc.detail, headers, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        headers = {}
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return problem_response(exc.code or 500, exc.name, exc.description, headers)

    @app.errorhandler(StoreUnavailable)
    def _unavailable(exc: StoreUnavailable) -> Response:
        # The log names the store (its password redacted); the answer does not: its host, port
        # and database are of use only to an attacker.
        log.warning("store unavailable: %s", exc)
        return problem_response(
            503, "Store unavailable", f"{exc.public}. Retry shortly.", {"Retry-After": "5"}
        )

    @app.errorhandler(InvalidArticle)
    def _invalid(exc: InvalidArticle) -> Response:
        if exc.field:
            return problem_response(400, "Invalid article", str(exc), parameter=exc.field)
        return problem_response(400, "Invalid article", str(exc))

    # Both: a fetch's BadURL is also a FeedError, whose handler would otherwise come first.
    @app.errorhandler(InvalidURL)
    @app.errorhandler(BadURL)
    def _bad_url(exc: Exception) -> Response:
        return problem_response(400, "Bad URL", str(exc))

    @app.errorhandler(SourceExists)
    def _exists(exc: SourceExists) -> Response:
        return problem_response(409, "Source exists", str(exc), source_id=exc.source_id)

    @app.errorhandler(SourceNotFound)
    def _no_source(exc: SourceNotFound) -> Response:
        return problem_response(404, "Not found", str(exc))

    @app.errorhandler(FeedError)
    def _feed(exc: FeedError) -> Response:
        return problem_response(400, "Bad request", str(exc))

    @app.errorhandler(Exception)
    def _internal(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(500, "Internal server error", "The error was logged.")
