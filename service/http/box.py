"""GET /api/box: every box of one page in one request, without the same story twice.

A page may carry several boxes ("Có thể bạn quan tâm", "Tin cùng chuyên mục", "Đọc nhiều"); the
script asks for all of them at once (`boxes=related:6,popular:4`) and each box leaves out what
the boxes before it show. For a page quantam does not know, the boxes still fill: with the
stories of its section when its address matches a category's sources (same host, and the
category's slug or feed name in the path), else with the site's, every item marked `fill`.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app
from pydantic import AfterValidator, BaseModel, Field

from recommender.read import related_for
from service.http.caching import cached_json, get_teasers, store_version
from service.http.contract import models, query
from service.http.contract.operations import read
from service.http.contract.query import PageURL, Query
from service.http.contract.shapes import article_item
from service.http.popular import POPULAR_MAX_AGE, ListItem, clock_expires, most_read
from service.http.response_cache import depends_on
from store.base import CATEGORIES, Store
from store.models import Teaser

bp = Blueprint("box", __name__)

Mode = Literal["related", "latest", "popular"]
MODES: tuple[Mode, ...] = ("related", "latest", "popular")
LANGS = ("vi", "en")
LAYOUTS = ("list", "grid", "text")
FLAGS = ("0", "1", "false", "true")
HEADINGS: dict[str, dict[str, str]] = {
    "vi": {
        "related": "Có thể bạn quan tâm",
        "latest": "Tin cùng chuyên mục",
        "popular": "Đọc nhiều",
    },
    "en": {
        "related": "You may also like",
        "latest": "More in this section",
        "popular": "Most read",
    },
}
DEFAULT_K = 6
MAX_K = 20
MAX_BOXES = 5
# "related:6,latest:4": a mode, optionally its count; /openapi.json states the same pattern.
_ONE_BOX = r"(related|latest|popular)(:([1-9]|1[0-9]|20))?"
BOXES_PATTERN = rf"^{_ONE_BOX}(,{_ONE_BOX}){{0,{MAX_BOXES - 1}}}$"
_BOXES = re.compile(BOXES_PATTERN)
POPULAR_WINDOW = timedelta(hours=24)
# Sections by host are read from the sources at most this often (seconds).
SECTIONS_TTL = 60.0


class BoxItem(ListItem):
    """A story in a box, with its section's name and whether it fills."""

    section: str | None = Field(description="the category's name")
    fill: bool = Field(description="not chosen for this page: its section's (or site's) stories")


class Box(BaseModel):
    mode: Mode
    heading: str
    items: list[BoxItem]


class BoxAnswer(BaseModel):
    """The answer of GET /api/box: the page's article (null when quantam does not know it), the
    section its boxes come from, and the boxes in the order asked."""

    article: models.ArticleItem | None
    section: str | None = Field(description="the category slug the boxes come from")
    fill: bool = Field(description="true when the page is unknown and every box is filled")
    boxes: list[Box]


@dataclass(frozen=True)
class Found:
    teaser: Teaser
    fill: bool


def _boxes(raw: str) -> str:
    if _BOXES.match(raw) is None:
        raise ValueError(
            f"must be up to {MAX_BOXES} of related, latest or popular, each with an optional "
            f":count from 1 to {MAX_K}, comma-separated (e.g. related:6,popular:4), not {raw!r}"
        )
    return raw


def _choice(choices: tuple[str, ...]) -> Any:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    return AfterValidator(check)


Lang = Annotated[
    str,
    Field(
        max_length=20,
        description="Headings and times in Vietnamese or English.",
        json_schema_extra={"enum": list(LANGS)},
    ),
    _choice(LANGS),
]
Flag = Annotated[str, Field(max_length=20, json_schema_extra={"enum": list(FLAGS)}), _choice(FLAGS)]


Layout = Annotated[
    str,
    Field(
        max_length=20,
        description="List, two-column grid, or text only.",
        json_schema_extra={"enum": list(LAYOUTS)},
    ),
    _choice(LAYOUTS),
]


def flag(value: str) -> bool:
    return value in ("1", "true")


class BoxOptions(Query):
    """What /api/box and the framed box share."""

    lang: Lang = "vi"
    fill: Flag = Field(
        "1",
        description="For a page quantam does not know: its section's (or the site's) stories, "
        "marked as fill (1), or nothing (0).",
    )


class BoxesQuery(BoxOptions):
    url: PageURL
    boxes: Annotated[
        str,
        Field(
            max_length=200,
            description=f"Up to {MAX_BOXES} boxes in order: `related`, `latest` or `popular`, "
            f"each with an optional `:count` (1 to {MAX_K}, default {DEFAULT_K}).",
            json_schema_extra={"pattern": BOXES_PATTERN},
        ),
        AfterValidator(_boxes),
    ] = f"related:{DEFAULT_K}"


def parse_boxes(raw: str) -> list[tuple[Mode, int]]:
    out: list[tuple[Mode, int]] = []
    for part in raw.split(","):
        mode, _, count = part.partition(":")
        out.append((mode, int(count) if count else DEFAULT_K))  # type: ignore[arg-type]
    return out


class Sections:
    """Which category a page of an unknown URL belongs to, from the sources' hosts and feed
    names (read from the store at most every SECTIONS_TTL seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0
        self._by_host: dict[str, list[tuple[str, set[str]]]] = {}

    def of(self, store: Store, url: str) -> str | None:
        parts = urlsplit(url)
        candidates = self._hosts(store).get(_host(parts.hostname or ""), [])
        if not candidates:
            return None
        path = parts.path.lower()
        for slug, names in candidates:
            if any(f"/{name}/" in path or f"/{name}." in path for name in names):
                return slug
        if len({slug for slug, _ in candidates}) == 1:
            return candidates[0][0]
        return None

    def _hosts(self, store: Store) -> dict[str, list[tuple[str, set[str]]]]:
        with self._lock:
            if time.monotonic() < self._until:
                return self._by_host
        by_host: dict[str, list[tuple[str, set[str]]]] = {}
        for source in store.list_sources():
            parts = urlsplit(source.url)
            stem = parts.path.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0].lower()
            names = {n for n in (source.category.lower(), stem) if n and n not in ("rss", "feed")}
            by_host.setdefault(_host(parts.hostname or ""), []).append((source.category, names))
        with self._lock:
            self._by_host, self._until = by_host, time.monotonic() + SECTIONS_TTL
        return by_host


def _host(name: str) -> str:
    return name.lower().removeprefix("www.")


def build_boxes(
    store: Store, page_url: str, asked: list[tuple[Mode, int]], lang: str = "vi", fill: bool = True
) -> dict[str, Any]:
    """The body of a box answer (also what /embed/related draws); with `fill` off, an unknown
    page's boxes stay empty."""
    article_id = store.article_id_at(page_url)
    found = get_teasers([article_id]) if article_id else []
    article = found[0] if found else None
    section = article.category if article else _sections().of(store, page_url)
    taken: set[str] = {article.id} if article else set()
    boxes = []
    for mode, k in asked:
        items = _box(store, mode, k, article, section, taken) if article or fill else []
        taken |= {f.teaser.id for f in items}
        boxes.append((mode, items))
    names = _category_names(store)
    return {
        "article": article_item(article) if article else None,
        "section": section,
        "fill": article is None,
        "boxes": [
            {
                "mode": mode,
                "heading": HEADINGS[lang][mode],
                "items": [
                    {
                        **article_item(f.teaser),
                        "section": names.get(f.teaser.category),
                        "fill": f.fill,
                    }
                    for f in items
                ],
            }
            for mode, items in boxes
        ],
    }


def _box(
    store: Store, mode: Mode, k: int, article: Teaser | None, section: str | None, taken: set[str]
) -> list[Found]:
    out: list[Found] = []
    if mode == "related" and article is not None:
        related = related_for(store, article, k, exclude_ids=taken, get_teasers=get_teasers)
        out = [Found(r.article, r.item.fill) for r in related]
    if mode in ("related", "popular") and len(out) < k:
        # Popular first: as the box of its own mode, and as what fills the others.
        skip = taken | {f.teaser.id for f in out}
        ranked = most_read(store, section, POPULAR_WINDOW, k - len(out), skip)
        out += [Found(t, mode != "popular" or article is None) for t, _ in ranked]
    if len(out) < k:
        skip = taken | {f.teaser.id for f in out}
        latest = store.latest_articles(section, limit=k - len(out) + len(skip))
        fill = mode != "latest" or article is None
        out += [Found(Teaser.of(a), fill) for a in latest if a.id not in skip]
    return out[:k]


def _category_names(store: Store) -> dict[str, str]:
    """Category names by slug, read once per store version: every box names its items' sections,
    and reading the categories on each request cost a built box ~45 us of ~400."""
    version = store_version()
    depends_on((CATEGORIES,))
    held: tuple[int, dict[str, str]] | None = current_app.extensions.get("quantam.category_names")
    if held is None or held[0] != version:
        held = (version, {c.slug: c.name for c in store.list_categories()})
        current_app.extensions["quantam.category_names"] = held
    return held[1]


def _sections() -> Sections:
    return current_app.extensions.setdefault("quantam.sections", Sections())  # type: ignore[no-any-return]


@bp.get("/api/box")
@read(
    "Every box of one page in one answer, without the same story twice",
    BoxAnswer,
    query=BoxesQuery,
    not_found=False,
)
def box() -> Response:
    asked = query.parse(BoxesQuery)
    page_url, boxes, lang, fill = asked.url, parse_boxes(asked.boxes), asked.lang, flag(asked.fill)
    store = current_app.extensions["quantam"].store
    return cached_json(
        lambda: build_boxes(store, page_url, boxes, lang, fill), POPULAR_MAX_AGE, clock_expires()
    )
