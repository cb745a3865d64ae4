"""The write API a CMS uses: push and take down articles, manage sources. Bearer token only.

A push is stored and in feeds when the request returns, and in related lists too unless they
took longer than a short bound (service.core.LISTS_WAIT): the answer's `related_lists` says
"updated" or "pending" (pending lists follow on a background thread). A takedown is gone from
feeds, related answers and caches when it returns (the takedown moves the versions of the
article and its category, which every cached answer that showed them is checked against).
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from feeds.ingest.push import ArticlePush
from service.http.contract import models
from service.http.contract.body import body_as, json_body
from service.http.contract.models import MAX_SOURCE_ID, SourceCreate, SourceEdit
from service.http.contract.operations import Reply, write
from service.http.contract.shapes import article_detail, source_item
from service.http.errors import NotFound, Problem
from store.urls import InvalidURL

bp = Blueprint("cms", __name__, url_prefix="/api")

ARTICLE_LINKS = {op: "article_id" for op in ("get_article", "related", "take_down_article")}


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


@bp.post("/articles")
@write(
    "Push an article (create or update); it is in feeds on return, and in related lists unless "
    "`related_lists` says they are pending",
    {
        200: Reply(
            "Updated an existing article.",
            models.PushResult,
            headers=("Location",),
            links=ARTICLE_LINKS,
        ),
        201: Reply("Created.", models.PushResult, headers=("Location",), links=ARTICLE_LINKS),
    },
    body=ArticlePush,
)
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
@write(
    "Take an article down: gone from feeds, related answers and caches on return",
    {204: Reply("Taken down."), 404: "NotFound"},
    operation_id="take_down_article",
)
def take_down(article_id: str) -> Response:
    if not _quantam().take_down(article_id):
        raise NotFound(f"no article with id {article_id!r}")
    return Response(status=204)


@bp.get("/sources")
@write("Every source and how polling it went", {200: Reply("The sources.", models.SourceList)})
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


SOURCE_LINKS = {"edit_source": "source_id", "remove_source": "source_id"}


@bp.post("/sources")
@write(
    "Add a feed to poll",
    {
        201: Reply("Added.", models.Source, headers=("Location",), links=SOURCE_LINKS),
        409: "Conflict",
    },
    body=SourceCreate,
)
def add_source() -> Response:
    body = body_as(SourceCreate)
    source = _quantam().ingestor.add_source(
        body.url,
        body.category,
        name=body.title or "",
        category_name=body.name,
        full_text=body.full_text or "auto",
    )
    response = jsonify(source_item(source, 0))
    response.status_code = 201
    response.headers["Location"] = f"/api/sources/{source.id}"
    return response


# One rule for both methods: with two, werkzeug answers an id above the converter's maximum
# with 405 for one of them instead of 404.
@bp.route(f"/sources/<int(max={MAX_SOURCE_ID}):source_id>", methods=["PATCH", "DELETE"])
@write(
    "Change a source's full-text policy or display name",
    {200: Reply("The source as changed.", models.Source), 404: "NotFound"},
    body=SourceEdit,
    method="PATCH",
    operation_id="edit_source",
)
@write(
    "Stop polling a source (its articles stay)",
    {204: Reply("Removed (and unsubscribed from its WebSub hub)."), 404: "NotFound"},
    method="DELETE",
    operation_id="remove_source",
)
def source(source_id: int) -> Response:
    if request.method == "DELETE":
        return remove_source(source_id)
    return edit_source(source_id)


def edit_source(source_id: int) -> Response:
    """Change a source's full-text policy or display name; other fields are refused."""
    body = body_as(SourceEdit)
    quantam = _quantam()
    source = quantam.edit_source(source_id, full_text=body.full_text, title=body.title)
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
