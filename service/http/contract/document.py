"""The OpenAPI 3.1 document, generated: the app's routes, each one's declared operation
(operations.py), and the JSON Schemas of the models it names (models.py, query models, push).

tests/service/http/test_openapi.py runs schemathesis over the real application against it, and
checks that every route is described and every described path exists.
"""

from __future__ import annotations

import logging
import re
from importlib import metadata
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from service.http.contract.models import MAX_SOURCE_ID, Problem
from service.http.contract.operations import Operation, Reply, declared
from service.http.contract.query import Query, is_list
from service.http.errors import PROBLEM_JSON

log = logging.getLogger(__name__)
OPENAPI_VERSION = "3.1.0"
BEARER = "bearerAuth"
JSON = "application/json"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?(\w+)>")

DESCRIPTION = """\
quantam syndicates Vietnamese news: per-category feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1, OPML),
a related-stories API, an embeddable "Có thể bạn quan tâm" box, and a write API for a CMS.

* **Errors** are RFC 9457 problem details (`application/problem+json`): `type`, `title`,
  `status`, `detail`, and `parameter` naming the query parameter or body field at fault.
* **Times** are RFC 3339 in UTC with a `Z` (`2024-05-01T01:00:00Z`; fractions of a second
  only when there are some), in every answer.
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

TAGS = [
    {"name": "read", "description": "Public, cacheable JSON"},
    {"name": "cms", "description": "The CMS's write API, behind a bearer token"},
    {"name": "feeds", "description": "RSS, Atom, JSON Feed and OPML"},
    {"name": "sitemaps", "description": "Sitemaps and robots.txt, for search engines"},
    {"name": "embed", "description": "The embeddable related-stories box"},
    {"name": "operations", "description": "Health, metrics and this document"},
    {"name": "websub", "description": "The WebSub subscriber's callback, for hubs"},
]

# Path parameters by name: what each means wherever it appears.
PATH_PARAMETERS: dict[str, tuple[str, dict[str, Any]]] = {
    "article_id": ("The article's id.", {"type": "string"}),
    "slug": ("The category's slug.", {"type": "string"}),
    "source_id": (
        "The source's id.",
        {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_SOURCE_ID},
    ),
    "token": ("The subscription's random token (the callback's only secret).", {"type": "string"}),
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


def _ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _headers(names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _ref(name, "headers") for name in names}


def _problem(description: str, *headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": _ref("Problem")}},
    }
    if headers:
        response["headers"] = _headers(headers)
    return response


def _responses(max_body: int) -> dict[str, Any]:
    return {
        "NotModified": {
            "description": "The copy named in If-None-Match (or If-Modified-Since) is current.",
            "headers": _headers(("ETag", "Cache-Control", "Access-Control-Allow-Origin")),
        },
        "BadParameter": _problem(
            "A parameter is malformed or out of bounds; `parameter` names it."
        ),
        "BadBody": _problem("The body is not a JSON object, or a field is missing or malformed."),
        "Unauthorized": _problem("No bearer token was sent.", "WWW-Authenticate"),
        "Forbidden": _problem("The token is wrong, or the write API is disabled (no token set)."),
        "NotFound": _problem("No such article, category, source or feed format."),
        "MethodNotAllowed": _problem("The path does not accept this method.", "Allow"),
        "Conflict": _problem("A source with this URL exists; `source_id` names it."),
        "PayloadTooLarge": _problem(f"The body is larger than {max_body} bytes."),
        "UnsupportedMediaType": _problem("The body is not `application/json`."),
        "StoreUnavailable": _problem("The store cannot be reached; retry shortly.", "Retry-After"),
    }


class _Schema(GenerateJsonSchema):
    """Pydantic's JSON Schema without a title on every property (the name says it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def schema_of(model: type[BaseModel], mode: JsonSchemaMode = "validation") -> dict[str, Any]:
    return model.model_json_schema(mode=mode, schema_generator=_Schema)


class _Builder:
    def __init__(self) -> None:
        self.models: dict[type[BaseModel], JsonSchemaMode] = {Problem: "serialization"}

    def model(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, str]:
        self.models.setdefault(model, mode)
        return _ref(model.__name__)

    def reply(self, reply: Reply | str) -> dict[str, Any]:
        if isinstance(reply, str):
            return _ref(reply, "responses")
        rendered: dict[str, Any] = {"description": reply.description}
        if reply.headers:
            rendered["headers"] = _headers(reply.headers)
        content: dict[str, Any] = {}
        if reply.model is not None:
            content[reply.media_type] = {"schema": self.model(reply.model, "serialization")}
        elif reply.schema is not None:
            content[reply.media_type] = {"schema": reply.schema}
        for media_type, schema in reply.more.items():
            content[media_type] = {
                "schema": schema
                if isinstance(schema, dict)
                else self.model(schema, "serialization")
            }
        if content:
            rendered["content"] = content
        if reply.links:
            rendered["links"] = {
                op: {"operationId": op, "parameters": {name: "$response.body#/id"}}
                for op, name in reply.links.items()
            }
        return rendered

    def operation(self, op: Operation, arguments: list[str]) -> dict[str, Any]:
        parameters: list[dict[str, Any]] = []
        for name in arguments:
            description, schema = PATH_PARAMETERS[name]
            parameters.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "description": op.path_descriptions.get(name, description),
                    "schema": schema,
                }
            )
        if op.query is not None:
            parameters.extend(query_parameters(op.query))
        parameters.extend(op.headers)
        rendered: dict[str, Any] = {"operationId": op.operation_id, "tags": [op.tag]}
        rendered["summary"] = op.summary
        if op.description:
            rendered["description"] = op.description
        if op.secured:
            rendered["security"] = [{BEARER: []}]
        if parameters:
            rendered["parameters"] = parameters
        if op.body is not None:
            rendered["requestBody"] = {
                "required": True,
                "content": {JSON: {"schema": self.model(op.body, "validation")}},
            }
        elif op.body_media:
            rendered["requestBody"] = {"required": True, "content": op.body_media}
        rendered["responses"] = {
            str(status): self.reply(reply) for status, reply in sorted(op.answers.items())
        }
        return rendered

    def schemas(self) -> dict[str, Any]:
        _, top = models_json_schema(
            [(model, mode) for model, mode in self.models.items()],
            ref_template="#/components/schemas/{model}",
            schema_generator=_Schema,
        )
        defs: dict[str, Any] = top.get("$defs", {})
        return dict(sorted(defs.items()))


def query_parameters(model: type[Query]) -> list[dict[str, Any]]:
    """A query model's fields as OpenAPI parameters, with the wire rules quantam reads by."""
    schema = schema_of(model)
    required = set(schema.get("required", []))
    parameters = []
    for field_name, info in model.model_fields.items():
        name = info.alias or field_name
        prop = _not_null(schema["properties"][name])
        description = prop.pop("description", "")
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "description": description,
            "schema": prop,
        }
        if name in required:
            parameter["required"] = True
        elif is_list(info.annotation):
            parameter |= {"style": "form", "explode": False}
        else:
            parameter["allowEmptyValue"] = True
        parameters.append(parameter)
    return parameters


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter's schema without its `null`: absent is how a query says none."""
    members = [m for m in schema.get("anyOf", []) if m != {"type": "null"}]
    if len(members) != 1 or len(members) == len(schema.get("anyOf", [])):
        return dict(schema)
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    if schema.get("default") is not None:
        rest["default"] = schema["default"]
    return {**members[0], **rest}


def openapi_path(rule: str) -> tuple[str, list[str]]:
    """A Flask rule as an OpenAPI path template, and its arguments in order."""
    return _ARGUMENT.sub(r"{\1}", rule), _ARGUMENT.findall(rule)


def undocumented(app: Flask) -> list[str]:
    """The routes and methods no operation describes."""
    missing = []
    for rule in app.url_map.iter_rules():
        ops = declared(app.view_functions[rule.endpoint])
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            if not any(op.method in (None, method) for op in ops):
                missing.append(f"{method} {rule.rule}")
    return missing


def document(app: Flask, base_url: str, max_body: int) -> dict[str, Any]:
    """The OpenAPI document for a deployment at base_url (its only server)."""
    builder = _Builder()
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        template, arguments = openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            for op in declared(app.view_functions[rule.endpoint]):
                if op.method in (None, method) and op.published:
                    path = op.path or template
                    names = re.findall(r"\{(\w+)\}", op.path) if op.path else arguments
                    paths.setdefault(path, {})[method.lower()] = builder.operation(op, names)
    for missing in undocumented(app):
        log.warning("no operation is declared for %s: it is not in /openapi.json", missing)
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
        "tags": TAGS,
        "paths": paths,
        "components": {
            "schemas": builder.schemas(),
            "responses": _responses(max_body),
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


def _version() -> str:
    try:
        return metadata.version("quantam")
    except metadata.PackageNotFoundError:
        return "0.0.0"
