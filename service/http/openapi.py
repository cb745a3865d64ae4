"""/openapi.json: the document generated from the routes' declared operations and the models
(service/http/contract/), built once per app and base URL, with an ETag."""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Response, current_app

from service.http.caching import JSON, not_modified
from service.http.contract.document import document
from service.http.contract.models import OpenAPIDocument
from service.http.contract.operations import IF_NONE_MATCH, READ_HEADERS, Reply, operation

bp = Blueprint("openapi", __name__)

DOCUMENT_MAX_AGE = 3600
MAX_BODY_KEY = "MAX_CONTENT_LENGTH"


def _rendered() -> tuple[bytes, str]:
    base_url = current_app.config["QUANTAM_SETTINGS"].base_url
    cache = current_app.extensions.setdefault("quantam.openapi", {})
    if base_url not in cache:
        # MAX_CONTENT_LENGTH is one byte over the body limit (see service.http.app).
        max_body = current_app.config[MAX_BODY_KEY] - 1
        doc = document(current_app, base_url, max_body)
        body = json.dumps(doc, ensure_ascii=False, indent=1).encode()
        cache[base_url] = body, hashlib.blake2b(body, digest_size=8).hexdigest()
    found: tuple[bytes, str] = cache[base_url]
    return found


@bp.get("/openapi.json")
@operation(
    summary="This document",
    tag="operations",
    operation_id="openapi",
    headers=(IF_NONE_MATCH,),
    answers={
        200: Reply("The OpenAPI 3.1 document.", OpenAPIDocument, headers=READ_HEADERS),
        304: "NotModified",
    },
)
def openapi_json() -> Response:
    """The document, with an ETag so clients revalidate cheaply."""
    body, etag = _rendered()
    response = Response(status=304) if not_modified(etag) else Response(body, mimetype=JSON)
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={DOCUMENT_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
