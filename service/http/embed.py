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
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, render_template
from markupsafe import Markup, escape
from pydantic import Field

from service.http.api import DEFAULT_K, MAX_K
from service.http.box import (
    HEADINGS,
    BoxOptions,
    Flag,
    Layout,
    Mode,
    build_boxes,
    flag,
)
from service.http.caching import Rendered, body_response, not_modified
from service.http.contract import query
from service.http.contract.operations import IF_NONE_MATCH, READ_HEADERS, operation, text
from service.http.contract.query import MAX_TEXT_LENGTH, Int, Stripped, WholeNumber
from store.errors import StoreUnavailable
from store.models import utcnow
from store.urls import InvalidURL, canonical_url

bp = Blueprint("embed", __name__, template_folder="templates")

STATIC = Path(__file__).parent / "static"
HEADING = HEADINGS["vi"]["related"]
HEADING_MAX_LENGTH = 80
HEADER_PX, ROW_PX = 44, 88
SCRIPT_MAX_AGE = 3600
FRAME_HEADERS = ("X-Content-Type-Options", "Content-Security-Policy")
HTML = "text/html"


class BoxQuery(BoxOptions):
    url: Annotated[str, Stripped] = Field(
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="The page's URL, canonicalised as at ingestion (tracking parameters "
        "dropped, host lower-cased).",
    )
    k: WholeNumber = Int(DEFAULT_K, 1, MAX_K, "How many stories.")
    mode: Mode = Field("related", description="Which box.")
    layout: Layout = "list"
    summary: Flag = Field("0", description="Show each story's lead.")
    section: Flag = Field("0", description="Show each story's section.")
    heading: Annotated[str, Stripped] | None = Field(
        None,
        max_length=HEADING_MAX_LENGTH,
        description="The box's heading (default: the mode's, in the language asked).",
    )


@functools.cache
def stylesheet() -> str:
    return (STATIC / "embed.css").read_text(encoding="utf-8")


def _inline(text: str) -> tuple[Markup, str]:
    """A block of ours for a <style> or <script> element, and the CSP source that allows exactly
    it (its hash). Markup: autoescaping would turn its quotes into entities, which drops the
    declarations that hold them (the no-JS box rendered in Times New Roman, issue 15)."""
    assert "</" not in text
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return Markup(text), f"'sha256-{digest}'"


@functools.cache
def frame_style() -> tuple[Markup, str]:
    """The framed page's one style block."""
    return _inline("body { margin: 0; container-type: inline-size; }\n" + stylesheet())


@functools.cache
def frame_script() -> tuple[Markup, str]:
    """The framed page's one script: its height to the parent, and broken thumbnails hidden."""
    return _inline((STATIC / "embed_frame.js").read_text(encoding="utf-8"))


def frame_policy() -> str:
    """Content-Security-Policy of the framed page: any site may frame it; it runs only its own
    script, submits nothing, and loads nothing but its style block and the stories' thumbnails."""
    return (
        f"default-src 'none'; style-src {frame_style()[1]}; script-src {frame_script()[1]}; "
        "img-src http: https:; base-uri 'none'; form-action 'none'; frame-ancestors *"
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


def iframe_snippet(
    base_url: str, page_url: str = "PAGE_URL", count: int = DEFAULT_K, **options: str
) -> str:
    """The HTML for a page that wants a frame: the framed box posts its height, the listener
    sizes the frame to it, and nothing to show or an outage posts 0, which folds the frame away
    rather than leaving a blank hole (docs/embed.md). `options`: the frame's other parameters."""
    base = base_url.rstrip("/")
    height = HEADER_PX + ROW_PX * count
    query = urlencode({"url": page_url, "k": count, **options})
    return (
        f'<iframe data-quantam-frame src="{base}/embed/related?{escape(query)}" '
        f'title="{HEADING}" loading="lazy" '
        f'style="width:100%;height:{height}px;border:0"></iframe>\n'
        '<script>addEventListener("message",function(e){var d=e.data;'
        f'if(e.origin!=="{origin(base)}"||!d||d.quantam!=="height")return;'
        'document.querySelectorAll("iframe[data-quantam-frame]").forEach(function(f){'
        'if(f.contentWindow===e.source)f.style.height=d.height+"px"})})</script>'
    )


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# (unit in minutes, Vietnamese, English singular, English plural): how news sites date teasers.
_UNITS = (
    (24 * 60, "ngày", "day", "days"),
    (60, "giờ", "hour", "hours"),
    (1, "phút", "minute", "minutes"),
)


def relative_time(moment: datetime, now: datetime, lang: str = "vi") -> str:
    """ "2 giờ trước" / "2 hours ago"; a date past a week."""
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 1:
        return "vừa xong" if lang == "vi" else "just now"
    if minutes >= 7 * 24 * 60:
        return moment.strftime("%d/%m/%Y" if lang == "vi" else "%Y-%m-%d")
    for size, vi, one, many in _UNITS:
        if minutes >= size:
            n = minutes // size
            return f"{n} {vi} trước" if lang == "vi" else f"{n} {one if n == 1 else many} ago"
    raise AssertionError(minutes)


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
    response.headers["X-Content-Type-Options"] = "nosniff"
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
    raw, k, mode, lang = asked.url, asked.k, asked.mode, asked.lang
    options = {
        "layout": asked.layout,
        "summary": flag(asked.summary),
        "section": flag(asked.section),
        "fill": flag(asked.fill),
    }
    heading = asked.heading or HEADINGS[lang][mode]
    try:
        return _framed(_page(raw, k, mode, lang, heading, options))
    except StoreUnavailable:
        # An iframe shows whatever body it gets: problem JSON would appear as raw text.
        response = _framed(_nothing(503))
        response.headers["Retry-After"] = "5"
        return response


def _page(
    raw: str, k: int, mode: Mode, lang: str, heading: str, options: dict[str, Any]
) -> Response:
    try:
        url = canonical_url(raw)
    except InvalidURL:
        return _nothing()
    answer = build_boxes(_quantam().store, url, [(mode, k)], lang, fill=options["fill"])
    found = answer["boxes"][0]["items"]
    if not found:
        return _nothing()
    now = utcnow()
    items = [
        {
            "url": item["url"],
            "title": item["title"],
            "image": item["image"],
            "published": item["published"],
            "ago": relative_time(datetime.fromisoformat(item["published"]), now, lang),
            "lead": item["summary"] if options["summary"] else None,
            "section": item["section"] if options["section"] else None,
        }
        for item in found
    ]
    classes = f"qt-layout-{options['layout']}" + (" qt-has-lead" if options["summary"] else "")
    html = _render(heading, items, lang=lang, classes=classes, fill=answer["fill"])
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def _framed(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = frame_policy()
    return response


def _render(heading: str, items: list[dict[str, Any]], **options: Any) -> str:
    options.setdefault("lang", "vi")
    options.setdefault("classes", "")
    options.setdefault("fill", False)
    return render_template(
        "embed_related.html",
        heading=heading,
        items=items,
        style=frame_style()[0],
        script=frame_script()[0],
        **options,
    )


def _nothing(status: int = 404) -> Response:
    """A page with an empty body (never problem JSON, which a frame would show as text): the
    frame's script posts height 0 and the iframe snippet folds the frame away."""
    return Response(_render("", []), status, mimetype="text/html")


def _quantam() -> Any:
    return current_app.extensions["quantam"]
