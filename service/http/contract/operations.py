"""Each route declares its operation next to itself; /openapi.json is generated from these.

    @bp.get("/categories/<slug>/latest")
    @read("A category's latest articles", CategoryLatest, query=LatestQuery)
    def category_latest(slug: str) -> Response: ...

`read` is a cached JSON read (ETag, 304, 400 for a bad parameter, 404, 503); `write` is the
CMS's (bearer token, 401/403, a JSON body's 400/413/415, 503); `operation` says everything
itself (feeds, the box, sitemaps, pages). A route without a declaration is left out of the
document, which tests/service/http/test_contract.py refuses. The console's pages (HTML forms for
signed-in operators, not an API) are declared with `published=False`: described beside their
routes, but left out of /openapi.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from service.http.contract.query import Query

JSON = "application/json"
F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__operations__"


@dataclass(frozen=True)
class Reply:
    """One documented answer: a JSON model, or another media type with its schema."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str = JSON
    schema: dict[str, Any] | None = None
    headers: tuple[str, ...] = ()
    links: dict[str, str] = field(default_factory=dict)  # operationId -> path parameter
    more: dict[str, type[BaseModel] | dict[str, Any]] = field(default_factory=dict)


def text(description: str, media_type: str = "text/plain", headers: tuple[str, ...] = ()) -> Reply:
    """An answer whose body is text of a media type (a feed, a page, a script)."""
    return Reply(description, media_type=media_type, schema={"type": "string"}, headers=headers)


# An answer is a Reply or the name of a shared one (components/responses, in document.py).
Answers = dict[int, "Reply | str"]


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    answers: Answers
    operation_id: str | None = None  # the view function's name when not given
    description: str | None = None
    query: type[Query] | None = None
    body: type[BaseModel] | None = None
    body_media: dict[str, dict[str, Any]] = field(default_factory=dict)  # non-JSON bodies
    headers: tuple[dict[str, Any], ...] = ()  # request header parameters
    secured: bool = False
    method: str | None = None  # for a view serving several methods
    path: str | None = None  # the documented path, when one rule serves several
    path_descriptions: dict[str, str] = field(default_factory=dict)
    published: bool = True  # False: declared, but not in /openapi.json (the console's pages)


def operation(**declared: Any) -> Callable[[F], F]:
    """Declare the operation a view serves (it may be stacked: one per method or path)."""

    def declare(view: F) -> F:
        op = Operation(**declared)
        if op.operation_id is None:
            op = Operation(**{**declared, "operation_id": view.__name__})
        setattr(view, ATTRIBUTE, [*getattr(view, ATTRIBUTE, []), op])
        return view

    return declare


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "description": "The ETag of the copy the client has: 304 when it is current.",
    "schema": {"type": "string"},
}
READ_HEADERS = ("ETag", "Cache-Control", "Access-Control-Allow-Origin")


def read(
    summary: str,
    model: type[BaseModel],
    *,
    query: type[Query] | None = None,
    not_found: bool = True,
    operation_id: str | None = None,
) -> Callable[[F], F]:
    """A cached JSON read: 200 with ETag, 304 on a match, 400 for a bad parameter, 404, 503."""
    answers: Answers = {200: Reply(summary, model, headers=READ_HEADERS), 304: "NotModified"}
    if query is not None:
        answers[400] = "BadParameter"
    if not_found:
        answers[404] = "NotFound"
    answers[503] = "StoreUnavailable"
    return operation(
        summary=summary,
        tag="read",
        answers=answers,
        query=query,
        headers=(IF_NONE_MATCH,),
        operation_id=operation_id,
    )


def write(
    summary: str,
    answers: Answers,
    *,
    body: type[BaseModel] | None = None,
    method: str | None = None,
    operation_id: str | None = None,
) -> Callable[[F], F]:
    """A write-API operation: bearer token, 401/403, a JSON body's 400/413/415, 503."""
    every: Answers = dict(answers)
    if body is not None:
        every |= {400: "BadBody", 413: "PayloadTooLarge", 415: "UnsupportedMediaType"}
    every |= {401: "Unauthorized", 403: "Forbidden", 503: "StoreUnavailable"}
    return operation(
        summary=summary,
        tag="cms",
        answers=every,
        body=body,
        secured=True,
        method=method,
        operation_id=operation_id,
    )


def declared(view: Callable[..., Any]) -> list[Operation]:
    found: list[Operation] = getattr(view, ATTRIBUTE, [])
    return found
