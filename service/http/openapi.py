"""The OpenAPI 3.1 description of quantam's HTTP API, served at /openapi.json.

The document is built here and only here, from the same constants the endpoints enforce (page
sizes, k bounds, parameter lengths, the body limit), so a bound changed in the code changes the
document with it. tests/service/http/test_openapi.py runs schemathesis over the real application
against this document: a response, status code, header or bound that drifts from what the code
does fails the suite.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import metadata
from typing import Any

from flask import Blueprint, Response, current_app

from feeds.ingest.pipeline import MAX_CATEGORY_LENGTH
from feeds.ingest.websub import SIGNATURE_HEADER
from feeds.ingest.websub import STATES as WEBSUB_STATES
from feeds.publish import formats
from service.core import LISTS_WAIT
from service.http import api, cms, embed, feed_routes, overrides
from service.http.caching import JSON, not_modified
from service.http.errors import PROBLEM_JSON
from service.http.params import (
    MAX_CURSOR_LENGTH,
    MAX_DATETIME_LENGTH,
    MAX_LIST_VALUES,
    MAX_TEXT_LENGTH,
)
from store.models import FULL_TEXT_POLICIES, FULL_TEXT_STATUSES, ID_POLICIES

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"
DOCUMENT_MAX_AGE = 3600
BEARER = "bearerAuth"
WRITE_SECURITY: list[dict[str, list[str]]] = [{BEARER: []}]
METRICS_MEDIA_TYPE = "text/plain"
JAVASCRIPT_MEDIA_TYPE = "text/javascript"
HTML_MEDIA_TYPE = "text/html"
PLAIN_MEDIA_TYPE = "text/plain"
XML_MEDIA_TYPE = "application/xml"

DESCRIPTION = """\
quantam syndicates Vietnamese news: per-category feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1, OPML),
a related-stories API, an embeddable "Có thể bạn quan tâm" box, and a write API for a CMS.

* **Errors** are RFC 9457 problem details (`application/problem+json`): `type`, `title`,
  `status`, `detail`, and `parameter` naming the query parameter or body field at fault.
* **Query parameters**: an optional one sent empty (`?k=`) counts as absent; one sent twice
  (`?k=5&k=6`) is a `400`; lists are comma-separated.
* **Caching**: read endpoints send `ETag` and `Cache-Control`; send the ETag back in
  `If-None-Match` to get `304 Not Modified`. Feeds also honour `If-Modified-Since`. Responses
  are gzipped when the request accepts it.
* **CORS** is open (`Access-Control-Allow-Origin: *`) on the read endpoints.
* **Write API** (`POST`/`DELETE /api/articles`, `/api/sources`): send the token configured as
  `QUANTAM_API_TOKEN` as `Authorization: Bearer <token>`. No token at all is `401`; a wrong one,
  or a server with no token configured, is `403`.
* **Methods**: any method a path does not list here answers `405` with an `Allow` header.
* **Store**: when the store (SQLite or Redis) cannot be reached, endpoints that read or write it
  answer `503` with `Retry-After`.
"""


def _ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _object(properties: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    """An object whose every property is always present, as serialize.py writes them."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
    }
    if description:
        schema["description"] = description
    return schema


DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = _nullable("string", format="date-time")
# A pushed date: a date-time with its zone, or a date alone (midnight in QUANTAM_TIMEZONE).
PUSHED_DATE = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date"},
        {"type": "null"},
    ],
    "description": "ISO 8601 with a zone (`2026-12-06T08:00:00+07:00`), or a date alone "
    "(`2026-12-06`: midnight in the site's time zone, QUANTAM_TIMEZONE).",
}
URL = {"type": "string", "description": "An absolute http(s) URL."}
XML = {"type": "string", "contentMediaType": "application/xml"}

ARTICLE_ITEM = {
    "id": {"type": "string", "description": "Stable id: a hash of the canonical URL."},
    "url": {**URL, "description": "The story's canonical URL."},
    "title": {"type": "string"},
    "summary": {"type": "string", "description": "Plain text, shortened."},
    "image": _nullable("string", description="The lead image's URL."),
    "published": {**DATE_TIME, "description": "UTC; when first seen if the source gave none."},
    "category": {"type": "string", "description": "The category's slug."},
}

ARTICLE_DETAIL = {
    **ARTICLE_ITEM,
    "guid": _nullable("string"),
    "content_html": {"type": "string", "description": "Sanitised HTML: no scripts, no styles."},
    "text": {"type": "string", "description": "The body as plain text."},
    "author": _nullable("string"),
    "updated": {**NULLABLE_DATE_TIME, "description": "When the story was last edited, if ever."},
    "first_seen": DATE_TIME,
    "tags": {"type": "array", "items": {"type": "string"}},
    "image": {"oneOf": [_ref("Image"), {"type": "null"}]},
    "language": {"type": "string", "description": "ISO 639 code, e.g. `vi`."},
    "source_id": _nullable("integer", description="The feed it came from; null when pushed."),
    "full_text": {
        "oneOf": [_ref("FullText"), {"type": "null"}],
        "description": "Whether `text` is the whole article; null for articles stored before "
        "quantam read article pages.",
    },
}

RELATED_ITEM = {
    **ARTICLE_ITEM,
    "score": {"type": "number", "description": "Similarity; 0 for a fill item."},
    "reason": {
        "type": "array",
        "items": {"type": "string"},
        "description": "The shared terms that make it related.",
    },
    "fill": {
        "type": "boolean",
        "description": "True for the category's latest story, used when too few are related.",
    },
}

SCHEMAS: dict[str, Any] = {
    "ArticleItem": _object(ARTICLE_ITEM, "An article as a list item: enough for a teaser."),
    "ArticleDetail": _object(ARTICLE_DETAIL, "Everything quantam knows about an article."),
    "PushResult": _object(
        {
            **ARTICLE_DETAIL,
            "related_lists": {
                "enum": ["updated", "pending"],
                "description": "Whether related lists included the article when the push "
                "answered; `pending` ones follow shortly (the push waits at most "
                f"{LISTS_WAIT:g} s for them).",
            },
        },
        "The article as stored, and what became of the related lists.",
    ),
    "RelatedItem": _object(RELATED_ITEM, "A related story, with why it was chosen."),
    "FullText": _object(
        {
            "status": {
                "enum": list(FULL_TEXT_STATUSES),
                "description": "`pending`: its page is still to be read; `full`: `text` is the "
                "whole article; `summary`: only the feed's summary (the source's policy); "
                "`failed`: the page gave no article (`reason` says why), the summary is kept.",
            },
            "origin": {
                "enum": ["feed", "push", "page"],
                "description": "Where the text came from: the feed entry, the CMS push, or the "
                "article's own page.",
            },
            "html": _nullable(
                "string", description="The page's main text as sanitised HTML (origin `page`)."
            ),
            "reason": _nullable("string", description="Why there is no full text, in words."),
            "fetched_at": {**NULLABLE_DATE_TIME, "description": "When the page was read."},
            "page_url": _nullable("string", description="The page read, after redirects."),
        },
        "Whether an article's text is the whole article, and where it came from.",
    ),
    "Image": {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": URL,
            "type": {"type": "string", "description": "Media type, e.g. `image/jpeg`."},
            "length": {"type": "integer", "description": "Size in bytes."},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
        },
    },
    "Category": _object(
        {
            "slug": {"type": "string", "examples": ["the-thao"]},
            "name": {"type": "string", "examples": ["Thể thao"]},
            "language": {"type": "string"},
            "articles": {"type": "integer", "minimum": 0},
            "feeds": _object({fmt: URL for fmt in ("rss", "atom", "json")}),
            "feed_full_text": {
                "type": "boolean",
                "description": "Whether the category's feeds carry articles' extracted full "
                "text (`quantam categories edit --feed-full-text`); the description stays the "
                "summary.",
            },
        }
    ),
    "CategoryList": _object({"categories": {"type": "array", "items": _ref("Category")}}),
    "CategoryLatest": _object(
        {"category": _ref("Category"), "items": {"type": "array", "items": _ref("ArticleItem")}}
    ),
    "ArticlePage": _object(
        {
            "items": {"type": "array", "items": _ref("ArticleItem")},
            "next_cursor": _nullable(
                "string",
                description="Pass as `cursor` for the next (older) page; null on the last page.",
            ),
        },
        "One page of articles, newest first.",
    ),
    "RelatedList": _object(
        {"article": _ref("ArticleItem"), "items": {"type": "array", "items": _ref("RelatedItem")}},
        "The article asked about and its related stories, best first. Exclusions always hold.",
    ),
    "Source": _object(
        {
            "id": {"type": "integer"},
            "url": URL,
            "name": {"type": "string"},
            "category": {"type": "string"},
            "status": {"type": "string", "enum": ["new", "ok", "error", "disabled"]},
            "enabled": {"type": "boolean"},
            "articles": {"type": "integer", "minimum": 0},
            "last_fetch_at": NULLABLE_DATE_TIME,
            "last_success_at": NULLABLE_DATE_TIME,
            "last_status": _nullable("integer", description="HTTP status of the last fetch."),
            "last_error": _nullable("string", description="The last failure, in words."),
            "last_warning": _nullable("string", description="A recoverable feed problem."),
            "disabled_reason": _nullable("string"),
            "next_due_at": NULLABLE_DATE_TIME,
            "id_policy": {
                "type": "string",
                "enum": list(ID_POLICIES),
                "description": "How the feed's entries are told apart.",
            },
            "id_policy_reason": _nullable("string"),
            "full_text": {
                "enum": list(FULL_TEXT_POLICIES),
                "description": "When article pages are read: `auto` when the feed's text is "
                "short (QUANTAM_FULL_TEXT_MIN_WORDS), `always`, `never`.",
            },
            "full_text_articles": _object(
                {status: {"type": "integer", "minimum": 0} for status in FULL_TEXT_STATUSES},
                "How many of the source's articles have each full-text status.",
            ),
            "full_text_error": _nullable(
                "string", description="Why the last article page that failed gave no text."
            ),
            "full_text_error_at": NULLABLE_DATE_TIME,
            "websub": _object(
                {
                    "state": {
                        "enum": [*WEBSUB_STATES, None],
                        "description": "The subscription to the hub the feed names; null when "
                        "it names none.",
                    },
                    "hub": _nullable("string"),
                    "topic": _nullable("string", description="The feed's self URL."),
                    "lease_until": NULLABLE_DATE_TIME,
                    "error": _nullable("string", description="The last problem, in words."),
                },
                "WebSub: pushed by the feed's hub (polling continues, less often).",
            ),
        },
        "A feed quantam polls, and how polling it went.",
    ),
    "SourceList": _object({"sources": {"type": "array", "items": _ref("Source")}}),
    "ArticlePush": {
        "type": "object",
        "description": (
            "One article from a CMS. Pushing the same guid or URL again updates it; pushing an "
            "article that was taken down publishes it again. Unknown fields are refused."
        ),
        "required": ["url", "title", "category"],
        "additionalProperties": False,
        "properties": {
            "url": {**URL, "minLength": 1},
            "title": {"type": "string", "minLength": 1, "description": "Not only spaces."},
            "category": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_CATEGORY_LENGTH,
                "description": "A category slug such as `the-thao`; created if new.",
            },
            "summary": _nullable("string"),
            "content_html": _nullable("string", description="HTML; it is sanitised."),
            "author": _nullable("string"),
            "language": _nullable(
                "string",
                description="ISO 639 code (`vi`, `en-US` is read as `en`); anything else, or "
                "none, means the category's language.",
            ),
            "guid": _nullable("string", description="Defaults to the URL."),
            "published": PUSHED_DATE,
            "updated": PUSHED_DATE,
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            "image": _nullable("string", description="The lead image's http(s) URL."),
        },
    },
    "SourceCreate": {
        "type": "object",
        "required": ["url", "category"],
        "additionalProperties": True,
        "description": "A feed to poll. Other fields are ignored.",
        "properties": {
            "url": {**URL, "minLength": 1},
            "category": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_CATEGORY_LENGTH,
                "description": "A category slug (letters or digits); created if new.",
            },
            "title": _nullable("string", description="The source's display name."),
            "name": _nullable("string", description="Names (or renames) the category."),
            "full_text": {
                "enum": [*FULL_TEXT_POLICIES, None],
                "description": "When article pages are read (default `auto`).",
            },
        },
    },
    "SourceEdit": {
        "type": "object",
        "additionalProperties": False,
        "description": "What can be changed about a source; fields left out stay as they are.",
        "properties": {
            "full_text": {
                "enum": [*FULL_TEXT_POLICIES, None],
                "description": "When article pages are read.",
            },
            "title": _nullable("string", description="The source's display name."),
        },
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status"],
        "additionalProperties": True,
        "properties": {
            "type": {"type": "string", "format": "uri-reference", "examples": ["about:blank"]},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "parameter": {
                "type": "string",
                "description": "The query parameter or body field at fault (400 only).",
            },
            "source_id": {"type": "integer", "description": "The existing source (409 only)."},
        },
    },
    "Health": _object(
        {
            "status": {"const": "ok"},
            "store": {"type": "string", "description": "The store's kind: `sqlite` or `redis`."},
            "articles": {"type": "integer", "minimum": 0},
            "index_age_seconds": _nullable(
                "number", description="Age of the related-stories index; null when none."
            ),
        }
    ),
    "Unhealthy": _object(
        {
            "status": {"const": "unavailable"},
            "store": {
                "type": "string",
                "description": "Why the store cannot be reached (never its address).",
            },
        }
    ),
    "OpenAPIDocument": {
        "type": "object",
        "required": ["openapi", "info", "paths"],
        "additionalProperties": True,
        "properties": {
            "openapi": {"const": OPENAPI_VERSION},
            "info": {"type": "object"},
            "paths": {"type": "object"},
        },
    },
    "JSONFeed": {
        "type": "object",
        "description": "JSON Feed 1.1 (https://jsonfeed.org/version/1.1).",
        "required": ["version", "title", "items"],
        "additionalProperties": True,
        "properties": {
            "version": {"const": "https://jsonfeed.org/version/1.1"},
            "title": {"type": "string"},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id"],
                    "additionalProperties": True,
                    "properties": {"id": {"type": "string"}},
                },
            },
        },
    },
}


def _header(description: str, **schema: Any) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": "string", **schema}}


HEADERS = {
    "ETag": _header("Entity tag; send it back in If-None-Match."),
    "Cache-Control": _header("Caching policy.", pattern="max-age=[0-9]+"),
    "Access-Control-Allow-Origin": _header("Open CORS.", const="*"),
    "Last-Modified": _header("The newest item's time (HTTP date)."),
    "Location": _header("Where the created or updated resource is read."),
    "WWW-Authenticate": _header("How to authenticate.", const="Bearer"),
    "Retry-After": _header("Seconds to wait before retrying.", pattern="^[0-9]+$"),
    "Allow": _header("The methods this path accepts."),
    "X-Content-Type-Options": _header("Never sniff another type.", const="nosniff"),
    "Content-Security-Policy": _header(
        "The framed box runs no script and loads only its style and thumbnails; any site may "
        "frame it."
    ),
}
FRAME_HEADERS = ("X-Content-Type-Options", "Content-Security-Policy")
READ_HEADERS = ("ETag", "Cache-Control", "Access-Control-Allow-Origin")


def _with_headers(*names: str) -> dict[str, Any]:
    return {name: _ref(name, "headers") for name in names}


def _problem(description: str, *headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": _ref("Problem")}},
    }
    if headers:
        response["headers"] = _with_headers(*headers)
    return response


RESPONSES = {
    "NotModified": {
        "description": "The copy named in If-None-Match (or If-Modified-Since) is current.",
        "headers": _with_headers(*READ_HEADERS),
    },
    "BadParameter": _problem("A parameter is malformed or out of bounds; `parameter` names it."),
    "BadBody": _problem("The body is not a JSON object, or a field is missing or malformed."),
    "Unauthorized": _problem("No bearer token was sent.", "WWW-Authenticate"),
    "Forbidden": _problem("The token is wrong, or the write API is disabled (no token set)."),
    "NotFound": _problem("No such article, category, source or feed format."),
    "MethodNotAllowed": _problem("The path does not accept this method.", "Allow"),
    "Conflict": _problem("A source with this URL exists; `source_id` names it."),
    "PayloadTooLarge": _problem(f"The body is larger than {cms.MAX_BODY} bytes."),
    "UnsupportedMediaType": _problem("The body is not `application/json`."),
    "StoreUnavailable": _problem("The store cannot be reached; retry shortly.", "Retry-After"),
}


def _query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A query parameter; an optional one sent empty (`?k=`) counts as not sent."""
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "description": description,
        "schema": schema,
    }
    if not extra.get("required") and schema.get("type") != "array":
        parameter["allowEmptyValue"] = True
    return {**parameter, **extra}


def _path(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _int(default: int, low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "default": default, "minimum": low, "maximum": high}


def _ids(name: str, description: str) -> dict[str, Any]:
    return _query(
        name,
        description,
        {"type": "array", "items": {"type": "string"}, "maxItems": MAX_LIST_VALUES},
        style="form",
        explode=False,
    )


def _cursor(name: str) -> dict[str, Any]:
    return _query(
        name,
        "An opaque cursor this service returned (`next_cursor`, or the feed's rel=next link); "
        "the page starts after it. Anything else is a 400.",
        {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
    )


PARAMETERS = {
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "description": "The ETag of the copy the client has: 304 when it is current.",
        "schema": {"type": "string"},
    },
    "ArticleId": _path("article_id", "The article's id."),
    "Exclude": _ids(
        "exclude",
        f"Article ids never to return: comma-separated (or the parameter repeated), at most "
        f"{MAX_LIST_VALUES} values in all; blank ones count, then are ignored.",
    ),
    "ExcludeCategory": _ids(
        "exclude_category", "Category slugs never to return, given like `exclude`."
    ),
    "RelatedK": _query("k", "How many related stories.", _int(api.DEFAULT_K, 1, api.MAX_K)),
}


def _json_ok(description: str, schema: str, *headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": _ref(schema)}},
    }
    if headers:
        response["headers"] = _with_headers(*headers)
    return response


def _links(parameter: str, *operation_ids: str) -> dict[str, Any]:
    """Where a created resource's id leads (clients and schemathesis follow these)."""
    return {
        operation_id: {
            "operationId": operation_id,
            "parameters": {parameter: "$response.body#/id"},
        }
        for operation_id in operation_ids
    }


def _read(
    operation_id: str,
    summary: str,
    schema: str,
    parameters: tuple[dict[str, Any], ...] = (),
    *,
    not_found: bool = True,
) -> dict[str, Any]:
    """A cached JSON read: 200 with ETag, 304 on a match, 400 for a bad parameter, 404, 503."""
    responses: dict[str, Any] = {
        "200": _json_ok(summary, schema, *READ_HEADERS),
        "304": _ref("NotModified", "responses"),
    }
    if parameters:
        responses["400"] = _ref("BadParameter", "responses")
    if not_found:
        responses["404"] = _ref("NotFound", "responses")
    responses["503"] = _ref("StoreUnavailable", "responses")
    return {
        "operationId": operation_id,
        "tags": ["read"],
        "summary": summary,
        "parameters": [*parameters, _ref("IfNoneMatch", "parameters")],
        "responses": responses,
    }


def _write(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    """A write-API operation: bearer token, 401/403, a JSON body's 400/413/415, 503."""
    all_responses = dict(responses)
    if body is not None:
        all_responses["400"] = _ref("BadBody", "responses")
    all_responses["401"] = _ref("Unauthorized", "responses")
    all_responses["403"] = _ref("Forbidden", "responses")
    if body is not None:
        all_responses["413"] = _ref("PayloadTooLarge", "responses")
        all_responses["415"] = _ref("UnsupportedMediaType", "responses")
    all_responses["503"] = _ref("StoreUnavailable", "responses")
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": ["cms"],
        "summary": summary,
        "security": WRITE_SECURITY,
        "responses": dict(sorted(all_responses.items())),
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": _ref(body)}},
        }
    return operation


def _feed(fmt: str, media_type: str, title: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": f"feed_{fmt}",
            "tags": ["feeds"],
            "summary": f"A category's {title}, newest first, with RFC 5005 paging",
            "description": (
                "Use the slug `all` for every category. Items link their top related stories. "
                "Pages are keyset-paged: follow the feed's `next` link (`?before=`)."
            ),
            "parameters": [
                _path("slug", "A category slug, or `all`."),
                _query(
                    "limit",
                    "Items per page.",
                    _int(feed_routes.DEFAULT_ITEMS, 1, feed_routes.MAX_ITEMS),
                ),
                _cursor("before"),
                _ref("IfNoneMatch", "parameters"),
                {
                    "name": "If-Modified-Since",
                    "in": "header",
                    "description": "An HTTP date; used only when If-None-Match is absent.",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": f"The {title}.",
                    "headers": _with_headers(*READ_HEADERS, "Last-Modified"),
                    "content": {media_type: {"schema": schema}},
                },
                "304": _ref("NotModified", "responses"),
                "400": _ref("BadParameter", "responses"),
                "404": _ref("NotFound", "responses"),
                "503": _ref("StoreUnavailable", "responses"),
            },
        }
    }


def _sitemap(operation: str, summary: str, *parameters: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "The sitemap (sitemaps.org 0.9).",
            "headers": _with_headers(*READ_HEADERS),
            "content": {"application/xml": {"schema": {"type": "string"}}},
        },
        "304": _ref("NotModified", "responses"),
        "503": _ref("StoreUnavailable", "responses"),
    }
    if parameters:
        responses["400"] = _ref("BadParameter", "responses")
        responses["404"] = _ref("NotFound", "responses")
    return {
        "get": {
            "operationId": operation,
            "tags": ["sitemaps"],
            "summary": summary,
            "parameters": [*parameters, _ref("IfNoneMatch", "parameters")],
            "responses": responses,
        }
    }


def _plain(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PLAIN_MEDIA_TYPE: {"schema": {"type": "string"}}},
    }


def _websub_callback() -> dict[str, Any]:
    """The WebSub subscriber's callback: hubs verify intent and deliver here (W3C WebSub)."""
    return {
        "parameters": [
            _path("token", "The subscription's random token (the callback's only secret)."),
        ],
        "get": {
            "operationId": "websub_verify",
            "tags": ["websub"],
            "summary": "A hub verifies a subscription request (or denies it)",
            "parameters": [
                _query(
                    "hub.mode",
                    "What the hub verifies, or `denied`.",
                    {"enum": ["subscribe", "unsubscribe", "denied"]},
                ),
                _query("hub.topic", "The feed subscribed to.", {"type": "string"}),
                _query("hub.challenge", "Echoed when the request is pending.", {"type": "string"}),
                _query(
                    "hub.lease_seconds", "The lease granted.", {"type": "integer", "minimum": 0}
                ),
                _query("hub.reason", "Why the hub denied it.", {"type": "string"}),
            ],
            "responses": {
                "200": _plain("The challenge, for a pending request of this mode and topic."),
                "404": _plain("No such subscription, or no such request pending."),
                "503": _ref("StoreUnavailable", "responses"),
            },
        },
        "post": {
            "operationId": "websub_deliver",
            "tags": ["websub"],
            "summary": "A hub delivers the feed's new entries",
            "description": "Signed with the subscription's secret: `X-Hub-Signature: "
            "sha256=<hex HMAC of the body>` (sha1, sha384 and sha512 too). The entries are "
            "stored as a poll would store them; pages and related lists follow off the request.",
            "parameters": [
                {
                    "name": SIGNATURE_HEADER,
                    "in": "header",
                    "description": "`<method>=<hex HMAC>` of the raw body.",
                    "schema": {"type": "string"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    media: {"schema": {"type": "string"}}
                    for media in (
                        formats.RSS_MEDIA_TYPE,
                        formats.ATOM_MEDIA_TYPE,
                        "application/xml",
                    )
                },
            },
            "responses": {
                "202": _plain("Received (and stored, when the body is a feed)."),
                "403": _plain("The signature is missing or wrong: nothing was stored."),
                "404": _plain("No such subscription."),
                "410": _plain("The subscription has ended (its source was removed)."),
                "413": _ref("PayloadTooLarge", "responses"),
                "503": _ref("StoreUnavailable", "responses"),
            },
        },
    }


# -- editors' overrides (service/http/overrides.py: pydantic models, their JSON Schema) ---------
SCHEMAS.update(overrides.SCHEMAS)


def _overrides_operations() -> dict[str, Any]:
    conflict = _problem(
        "The overrides contradict each other: the article in its own list, an article pinned "
        "twice or pinned and blocked, two pins at one position."
    )
    found = {"200": _json_ok("The overrides as stored.", "OverridesAnswer")}
    return {
        "parameters": [_ref("ArticleId", "parameters")],
        "get": _write(
            "get_overrides",
            "An article's related-list overrides (pins and blocks)",
            {**found, "404": _ref("NotFound", "responses")},
        ),
        "put": _write(
            "put_overrides",
            "Replace an article's related-list overrides: applied to the API, feeds and box "
            "on return",
            {**found, "404": _ref("NotFound", "responses"), "409": conflict},
            body="Overrides",
        ),
    }


def _home() -> dict[str, Any]:
    return {
        "get": {
            "operationId": "home",
            "tags": ["feeds"],
            "summary": "The public home page: every category's feeds and latest headlines",
            "responses": {
                "200": {
                    "description": "The page.",
                    "content": {HTML_MEDIA_TYPE: {"schema": {"type": "string"}}},
                },
                "503": _ref("StoreUnavailable", "responses"),
            },
        }
    }


ARTICLE_LINKS = _links("article_id", "get_article", "related", "take_down_article")


def _paths() -> dict[str, Any]:
    related_params = (
        _ref("RelatedK", "parameters"),
        _ref("Exclude", "parameters"),
        _ref("ExcludeCategory", "parameters"),
    )
    page_url = _query(
        "url",
        "The page's URL, canonicalised as at ingestion (tracking parameters dropped, host "
        "lower-cased).",
        {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH},
        required=True,
    )
    source_id = _path(
        "source_id",
        "The source's id.",
        {"type": "integer", "format": "int64", "minimum": 0, "maximum": cms.MAX_SOURCE_ID},
    )
    return {
        "/": _home(),
        "/api/categories": {
            "get": _read(
                "list_categories",
                "Every category with its article count and feed URLs",
                "CategoryList",
                not_found=False,
            )
        },
        "/api/categories/{slug}/latest": {
            "get": _read(
                "category_latest",
                "A category's latest articles",
                "CategoryLatest",
                (
                    _path("slug", "The category's slug."),
                    _query("k", "How many articles.", _int(api.DEFAULT_K, 1, api.LATEST_MAX_K)),
                    _ref("Exclude", "parameters"),
                ),
            )
        },
        "/api/articles": {
            "get": _read(
                "list_articles",
                "Articles, newest first, in pages",
                "ArticlePage",
                (
                    _query("limit", "Page size.", _int(api.DEFAULT_PAGE, 1, api.MAX_PAGE)),
                    _query(
                        "category",
                        "Only this category (a slug).",
                        {"type": "string", "maxLength": MAX_TEXT_LENGTH},
                    ),
                    _query(
                        "since",
                        "Only articles published at or after this time (no zone means UTC).",
                        {**DATE_TIME, "maxLength": MAX_DATETIME_LENGTH},
                    ),
                    _query(
                        "until",
                        "Only articles published before this time (no zone means UTC).",
                        {**DATE_TIME, "maxLength": MAX_DATETIME_LENGTH},
                    ),
                    _cursor("cursor"),
                ),
            ),
            "post": _write(
                "push_article",
                "Push an article (create or update); it is in feeds on return, and in related "
                "lists unless `related_lists` says they are pending",
                {
                    "200": {
                        **_json_ok("Updated an existing article.", "PushResult", "Location"),
                        "links": ARTICLE_LINKS,
                    },
                    "201": {
                        **_json_ok("Created.", "PushResult", "Location"),
                        "links": ARTICLE_LINKS,
                    },
                },
                body="ArticlePush",
            ),
        },
        "/api/articles/{article_id}": {
            "parameters": [_ref("ArticleId", "parameters")],
            "get": _read("get_article", "One article, in full", "ArticleDetail"),
            "delete": _write(
                "take_down_article",
                "Take an article down: gone from feeds, related answers and caches on return",
                {
                    "204": {"description": "Taken down."},
                    "404": _ref("NotFound", "responses"),
                },
            ),
        },
        "/api/articles/{article_id}/related": {
            "parameters": [_ref("ArticleId", "parameters")],
            "get": _read("related", "An article's related stories", "RelatedList", related_params),
        },
        "/api/articles/{article_id}/overrides": _overrides_operations(),
        "/api/related": {
            "get": _read(
                "related_by_url",
                "Related stories for a page known only by its URL (the embed's case)",
                "RelatedList",
                (page_url, *related_params),
            )
        },
        "/api/sources": {
            "get": _write(
                "list_sources",
                "Every source and how polling it went",
                {"200": _json_ok("The sources.", "SourceList")},
            ),
            "post": _write(
                "add_source",
                "Add a feed to poll",
                {
                    "201": {
                        **_json_ok("Added.", "Source", "Location"),
                        "links": _links("source_id", "edit_source", "remove_source"),
                    },
                    "409": _ref("Conflict", "responses"),
                },
                body="SourceCreate",
            ),
        },
        "/api/sources/{source_id}": {
            "patch": _write(
                "edit_source",
                "Change a source's full-text policy or display name",
                {
                    "200": _json_ok("The source as changed.", "Source"),
                    "404": _ref("NotFound", "responses"),
                },
                parameters=[source_id],
                body="SourceEdit",
            ),
            "delete": _write(
                "remove_source",
                "Stop polling a source (its articles stay)",
                {
                    "204": {"description": "Removed (and unsubscribed from its WebSub hub)."},
                    "404": _ref("NotFound", "responses"),
                },
                parameters=[source_id],
            ),
        },
        "/websub/callback/{token}": _websub_callback(),
        "/feeds/{slug}.rss": _feed("rss", formats.RSS_MEDIA_TYPE, "RSS 2.0 feed", XML),
        "/feeds/{slug}.atom": _feed("atom", formats.ATOM_MEDIA_TYPE, "Atom 1.0 feed", XML),
        "/feeds/{slug}.json": _feed(
            "json", formats.JSON_FEED_MEDIA_TYPE, "JSON Feed 1.1", _ref("JSONFeed")
        ),
        "/feeds.opml": {
            "get": {
                "operationId": "feeds_opml",
                "tags": ["feeds"],
                "summary": "OPML 2.0 list of every category's RSS feed",
                "responses": {
                    "200": {
                        "description": "The OPML document.",
                        "headers": _with_headers("Cache-Control"),
                        "content": {formats.OPML_MEDIA_TYPE: {"schema": {"type": "string"}}},
                    },
                    "503": _ref("StoreUnavailable", "responses"),
                },
            }
        },
        "/robots.txt": {
            "get": {
                "operationId": "robots_txt",
                "tags": ["sitemaps"],
                "summary": "robots.txt: crawlers welcome, the sitemap index named",
                "responses": {
                    "200": {
                        "description": "robots.txt.",
                        "headers": _with_headers("Cache-Control"),
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                },
            }
        },
        "/sitemap.xml": _sitemap(
            "sitemap_index", "The sitemap index: the news sitemap and every category's sitemaps"
        ),
        "/sitemaps/news.xml": _sitemap(
            "sitemap_news",
            "Google News sitemap: articles first published in the last 48 hours, at most 1,000",
        ),
        "/sitemaps/{slug}.xml": _sitemap(
            "sitemap_category",
            "Every article of a category, newest first, 50,000 a page",
            _path("slug", "A category slug."),
            _query("page", "Which page of 50,000 articles.", _int(1, 1, 1_000_000)),
        ),
        "/embed.js": {
            "get": {
                "operationId": "embed_script",
                "tags": ["embed"],
                "summary": "The related-stories box script a site pastes under its articles",
                "parameters": [_ref("IfNoneMatch", "parameters")],
                "responses": {
                    "200": {
                        "description": "The script.",
                        "headers": _with_headers(*READ_HEADERS),
                        "content": {JAVASCRIPT_MEDIA_TYPE: {"schema": {"type": "string"}}},
                    },
                    "304": _ref("NotModified", "responses"),
                },
            }
        },
        "/embed/related": {
            "get": {
                "operationId": "embed_related",
                "tags": ["embed"],
                "summary": "The box as a plain HTML page, for an iframe where there is no script",
                "parameters": [
                    page_url,
                    _query("k", "How many stories.", _int(api.DEFAULT_K, 1, api.MAX_K)),
                    _query(
                        "heading",
                        "The box's heading.",
                        {
                            "type": "string",
                            "default": embed.HEADING,
                            "maxLength": embed.HEADING_MAX_LENGTH,
                        },
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "The box.",
                        "headers": _with_headers("Cache-Control", *FRAME_HEADERS),
                        "content": {HTML_MEDIA_TYPE: {"schema": {"type": "string"}}},
                    },
                    "400": _ref("BadParameter", "responses"),
                    "404": {
                        "description": (
                            "Nothing to show (unknown page, or no related stories): an empty "
                            "page, so the iframe shows nothing rather than an error."
                        ),
                        "headers": _with_headers(*FRAME_HEADERS),
                        "content": {HTML_MEDIA_TYPE: {"schema": {"type": "string"}}},
                    },
                    "503": {
                        "description": (
                            "The store cannot be reached: an empty page too, so the iframe "
                            "shows nothing rather than an error's text."
                        ),
                        "headers": _with_headers("Retry-After", *FRAME_HEADERS),
                        "content": {HTML_MEDIA_TYPE: {"schema": {"type": "string"}}},
                    },
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "tags": ["operations"],
                "summary": "Whether the store answers, and the index's age (for load balancers)",
                "responses": {
                    "200": _json_ok("Healthy.", "Health"),
                    "503": {
                        "description": "The store cannot be reached.",
                        "content": {
                            JSON: {"schema": _ref("Unhealthy")},
                            PROBLEM_JSON: {"schema": _ref("Problem")},
                        },
                    },
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "tags": ["operations"],
                "summary": "Prometheus metrics: requests, latency, articles, per-source errors",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format.",
                        "content": {METRICS_MEDIA_TYPE: {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["operations"],
                "summary": "This document",
                "parameters": [_ref("IfNoneMatch", "parameters")],
                "responses": {
                    "200": _json_ok("The OpenAPI 3.1 document.", "OpenAPIDocument", *READ_HEADERS),
                    "304": _ref("NotModified", "responses"),
                },
            }
        },
    }


def _version() -> str:
    try:
        return metadata.version("quantam")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI document for a deployment at base_url (its only server)."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "quantam",
            "version": _version(),
            "summary": "Feeds and related stories for Vietnamese news sites",
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": base_url.rstrip("/")}],
        "tags": [
            {"name": "read", "description": "Public, cacheable JSON"},
            {"name": "cms", "description": "The CMS's write API, behind a bearer token"},
            {"name": "feeds", "description": "RSS, Atom, JSON Feed and OPML"},
            {"name": "embed", "description": "The embeddable related-stories box"},
            {"name": "operations", "description": "Health, metrics and this document"},
            {"name": "websub", "description": "The WebSub subscriber's callback, for hubs"},
        ],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The token configured as QUANTAM_API_TOKEN.",
                }
            },
        },
    }


@functools.lru_cache(maxsize=8)
def _rendered(base_url: str) -> tuple[bytes, str]:
    body = json.dumps(document(base_url), ensure_ascii=False, indent=1).encode()
    return body, hashlib.blake2b(body, digest_size=8).hexdigest()


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The document, built once per base URL, with an ETag so clients revalidate cheaply."""
    body, etag = _rendered(current_app.config["QUANTAM_SETTINGS"].base_url)
    response = Response(status=304) if not_modified(etag) else Response(body, mimetype=JSON)
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={DOCUMENT_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
