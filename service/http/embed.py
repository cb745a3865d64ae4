"""The embeddable related-stories box: /embed.js for pages with JavaScript, and
/embed/related?url=... as a plain HTML page for an iframe when there is none.

Both draw the same box with the same stylesheet (static/embed.css): fixed row heights, so the
space a page reserves (44 px + 88 px per item) is exactly what the box fills and nothing below
it moves; texts inserted as text (the script) or auto-escaped (the template), so a hostile title
cannot run script; nothing at all when quantam has no answer.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from flask import Blueprint, Response, current_app, render_template
from markupsafe import Markup
from pydantic import Field

from recommender.read import related_for
from service.http.api import DEFAULT_K, MAX_K, article_at
from service.http.caching import Rendered, body_response, get_teasers, not_modified
from service.http.contract import query
from service.http.contract.operations import IF_NONE_MATCH, READ_HEADERS, operation, text
from service.http.contract.query import MAX_TEXT_LENGTH, Int, Query, Stripped, WholeNumber
from service.http.contract.shapes import iso
from service.http.errors import NotFound
from store.errors import StoreUnavailable
from store.models import utcnow
from store.urls import InvalidURL

bp = Blueprint("embed", __name__, template_folder="templates")

STATIC = Path(__file__).parent / "static"
HEADING = "Có thể bạn quan tâm"
HEADING_MAX_LENGTH = 80
HEADER_PX, ROW_PX = 44, 88
SCRIPT_MAX_AGE = 3600
FRAME_HEADERS = ("X-Content-Type-Options", "Content-Security-Policy")
HTML = "text/html"


class BoxQuery(Query):
    url: Annotated[str, Stripped] = Field(
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="The page's URL, canonicalised as at ingestion (tracking parameters "
        "dropped, host lower-cased).",
    )
    k: WholeNumber = Int(DEFAULT_K, 1, MAX_K, "How many stories.")
    heading: Annotated[str, Stripped] = Field(
        HEADING, max_length=HEADING_MAX_LENGTH, description="The box's heading."
    )


@functools.cache
def stylesheet() -> str:
    return (STATIC / "embed.css").read_text(encoding="utf-8")


@functools.cache
def frame_style() -> tuple[Markup, str]:
    """The framed page's one style block, and the CSP source that allows exactly it (its hash).
    Markup: the stylesheet is ours, and autoescaping turned its quotes into entities."""
    css = "body { margin: 0; }\n" + stylesheet()
    assert "</" not in css
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return Markup(css), f"'sha256-{digest}'"


def frame_policy() -> str:
    """Content-Security-Policy of the framed page: any site may frame it; it runs no script,
    submits nothing, and loads nothing but its style block and the stories' thumbnails."""
    return (
        f"default-src 'none'; style-src {frame_style()[1]}; img-src http: https:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors *"
    )


@functools.cache
def script() -> tuple[Rendered, str]:
    source = (STATIC / "embed.js").read_text(encoding="utf-8")
    body = source.replace("__QUANTAM_CSS__", json.dumps(stylesheet())).encode()
    return Rendered(body), hashlib.blake2b(body, digest_size=8).hexdigest()


def snippet(base_url: str, count: int = DEFAULT_K, heading: str = HEADING) -> str:
    """The HTML a site pastes under its articles: the box's space is reserved so nothing moves
    when it fills, and given back if the script cannot even be loaded."""
    height = HEADER_PX + ROW_PX * count
    return (
        f'<div data-quantam-related data-count="{count}" data-heading="{heading}" '
        f'style="min-height:{height}px"></div>\n'
        f'<script async src="{base_url.rstrip("/")}/embed.js" '
        """onerror="this.previousElementSibling.style.minHeight='0'"></script>"""
    )


def relative_time_vi(moment: datetime, now: datetime) -> str:
    """ "2 giờ trước", the way Vietnamese news sites date their teasers."""
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 1:
        return "vừa xong"
    if minutes < 60:
        return f"{minutes} phút trước"
    if minutes < 24 * 60:
        return f"{minutes // 60} giờ trước"
    if minutes < 7 * 24 * 60:
        return f"{minutes // (24 * 60)} ngày trước"
    return moment.strftime("%d/%m/%Y")


@bp.get("/embed.js")
@operation(
    tag="embed",
    summary="The related-stories box script a site pastes under its articles",
    headers=(IF_NONE_MATCH,),
    answers={
        200: text("The script.", "text/javascript", READ_HEADERS),
        304: "NotModified",
    },
)
def embed_script() -> Response:
    rendered, etag = script()
    response = (
        Response(status=304) if not_modified(etag) else body_response(rendered, "text/javascript")
    )
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={SCRIPT_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/embed/related")
@operation(
    operation_id="embed_related",
    tag="embed",
    summary="The box as a plain HTML page, for an iframe where there is no script",
    query=BoxQuery,
    answers={
        200: text("The box.", HTML, ("Cache-Control", *FRAME_HEADERS)),
        400: "BadParameter",
        404: text(
            "Nothing to show (unknown page, or no related stories): an empty page, so the "
            "iframe shows nothing rather than an error.",
            HTML,
            FRAME_HEADERS,
        ),
        503: text(
            "The store cannot be reached: an empty page too, so the iframe shows nothing "
            "rather than an error's text.",
            HTML,
            ("Retry-After", *FRAME_HEADERS),
        ),
    },
)
def embed_page() -> Response:
    asked = query.parse(BoxQuery)
    raw, k, heading = asked.url, asked.k, asked.heading
    try:
        return _framed(_page(raw, k, heading))
    except StoreUnavailable:
        # An iframe shows whatever body it gets: problem JSON would appear as raw text.
        response = _framed(_nothing(503))
        response.headers["Retry-After"] = "5"
        return response


def _page(raw: str, k: int, heading: str) -> Response:
    try:
        article = article_at(raw)
    except (InvalidURL, NotFound):
        return _nothing()
    found = related_for(_quantam().store, article, k, get_teasers=get_teasers)
    if not found:
        return _nothing()
    now = utcnow()
    items = [
        {
            "url": r.article.url,
            "title": r.article.title,
            "image": r.article.image.url if r.article.image else None,
            "published": iso(r.article.published),
            "ago": relative_time_vi(r.article.published, now),
        }
        for r in found
    ]
    html = render_template(
        "embed_related.html", heading=heading, items=items, style=frame_style()[0]
    )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def _framed(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = frame_policy()
    return response


def _nothing(status: int = 404) -> Response:
    """An empty page: an iframe of it shows nothing rather than an error."""
    return Response("<!DOCTYPE html><title></title>", status, mimetype="text/html")


def _quantam() -> Any:
    return current_app.extensions["quantam"]
