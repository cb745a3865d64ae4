"""The write API a CMS uses: push and take down articles, manage sources. Bearer token only.

A push is stored and in feeds when the request returns, and in related lists too unless they
took longer than a short bound (service.core.LISTS_WAIT): the answer's `related_lists` says
"updated" or "pending" (pending lists follow on a background thread). A takedown is gone from
feeds, related answers and caches when it returns (caches key on the store's version, which the
takedown moves).
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, jsonify, request

from feeds.ingest.fulltext import BadPolicy, check_policy
from service.http.errors import NotFound, Problem
from service.http.serialize import article_detail, source_item
from store.urls import InvalidURL

bp = Blueprint("cms", __name__, url_prefix="/api")

MAX_BODY = 2 * 1024 * 1024
# Source ids are 64-bit signed integers in both stores; a larger one is no source (404).
MAX_SOURCE_ID = 2**63 - 1


def _quantam() -> Any:
    return current_app.extensions["quantam"]


@bp.before_request
def require_token() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") and request.endpoint != "cms.list_sources":
        return
    check_token()


def check_token() -> None:
    """Refuse the request unless it carries the API token (the overrides API uses it too)."""
    expected = _quantam().settings.api_token
    if not expected:
        raise Problem(403, "Forbidden", "the write API is disabled: set QUANTAM_API_TOKEN")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "Unauthorized", "send the API token as 'Authorization: Bearer <token>'")
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise Problem(403, "Forbidden", "the API token is wrong")


def json_body() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, "Payload too large", f"the body must be at most {MAX_BODY:,} bytes")
    if not request.is_json:
        raise Problem(415, "Unsupported media type", "send the body as application/json")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY:
        # A chunked body has no Content-Length: the app reads at most one byte past the limit.
        raise Problem(413, "Payload too large", f"the body must be at most {MAX_BODY:,} bytes")
    try:
        # orjson, not the json module: it stops at 1,024 levels of nesting (json recursed until
        # RecursionError on 100,000 "[", a 500) and refuses lone surrogates ("\ud800"), which
        # are not text and failed later, when hashed or stored.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "Bad request", f"the body is not valid JSON: {_why(exc)}") from None
    if not isinstance(data, dict):
        raise Problem(400, "Bad request", "the body must be a JSON object")
    return data


def _why(exc: orjson.JSONDecodeError) -> str:
    message = str(exc)
    if message.startswith("depth limit exceeded"):
        return "it nests arrays and objects more than 1,024 levels deep"
    if "surrogate" in message:
        return f"a string holds a lone UTF-16 surrogate, which is not Unicode text ({message})"
    return message


@bp.post("/articles")
def push_article() -> Response:
    quantam = _quantam()
    data = json_body()
    existed = _known(quantam, data)
    article, lists_updated = quantam.push_article(data)
    body = article_detail(article)
    body["related_lists"] = "updated" if lists_updated else "pending"
    response = jsonify(body)
    response.status_code = 200 if existed else 201
    response.headers["Location"] = f"/api/articles/{article.id}"
    return response


def _known(quantam: Any, data: dict[str, Any]) -> bool:
    """Whether a push would update an article that exists (200) rather than create one (201)."""
    url = data.get("url")
    if not isinstance(url, str):
        return False
    try:
        found = quantam.store.article_id_at(url)
    except InvalidURL:
        return False
    return found is not None and quantam.store.get_article(found) is not None


@bp.delete("/articles/<article_id>")
def take_down(article_id: str) -> Response:
    if not _quantam().take_down(article_id):
        raise NotFound(f"no article with id {article_id!r}")
    return Response(status=204)


@bp.get("/sources")
def list_sources() -> Response:
    quantam = _quantam()
    store = quantam.store
    counts = store.count_articles_by_source()
    fulltext = store.count_fulltext_by_source()
    return jsonify(
        {
            "sources": [
                source_item(s, counts.get(s.id, 0), fulltext.get(s.id), _websub(quantam, s.id))
                for s in store.list_sources()
            ]
        }
    )


def _websub(quantam: Any, source_id: int | None) -> dict[str, Any] | None:
    if source_id is None:
        return None
    return quantam.websub.describe(quantam.websub.get(source_id))


def _string_field(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        raise Problem(400, "Bad request", f"field '{field}' must be a string", parameter=field)
    return value


def _policy_field(data: dict[str, Any]) -> str | None:
    value = _string_field(data, "full_text")
    if value is None:
        return None
    try:
        return check_policy(value)
    except BadPolicy as exc:
        raise Problem(
            400, "Bad request", f"field 'full_text': {exc}", parameter="full_text"
        ) from None


@bp.post("/sources")
def add_source() -> Response:
    data = json_body()
    url, category = data.get("url"), data.get("category")
    if not isinstance(url, str) or not url.strip():
        raise Problem(400, "Bad request", "field 'url' is required", parameter="url")
    if not isinstance(category, str) or not category.strip():
        raise Problem(400, "Bad request", "field 'category' is required", parameter="category")
    title, name = _string_field(data, "title"), _string_field(data, "name")
    policy = _policy_field(data) or "auto"
    source = _quantam().ingestor.add_source(
        url, category, name=title or "", category_name=name, full_text=policy
    )
    response = jsonify(source_item(source, 0))
    response.status_code = 201
    response.headers["Location"] = f"/api/sources/{source.id}"
    return response


# One rule for both methods: with two, werkzeug answers an id above the converter's maximum
# with 405 for one of them instead of 404.
@bp.route(f"/sources/<int(max={MAX_SOURCE_ID}):source_id>", methods=["PATCH", "DELETE"])
def source(source_id: int) -> Response:
    if request.method == "DELETE":
        return remove_source(source_id)
    return edit_source(source_id)


def edit_source(source_id: int) -> Response:
    """Change a source's full-text policy or display name; other fields are refused."""
    data = json_body()
    unknown = sorted(set(data) - {"full_text", "title"})
    if unknown:
        raise Problem(
            400,
            "Bad request",
            f"only 'full_text' and 'title' can be changed, not {', '.join(unknown)}",
            parameter=unknown[0],
        )
    quantam = _quantam()
    source = quantam.edit_source(
        source_id, full_text=_policy_field(data), title=_string_field(data, "title")
    )
    if source is None:
        raise NotFound(f"no source with id {source_id}")
    store = quantam.store
    articles = store.count_articles_by_source().get(source_id, 0)
    return jsonify(
        source_item(
            source,
            articles,
            store.count_fulltext_by_source().get(source_id),
            _websub(quantam, source_id),
        )
    )


def remove_source(source_id: int) -> Response:
    if not _quantam().remove_source(source_id):
        raise NotFound(f"no source with id {source_id}")
    return Response(status=204)
