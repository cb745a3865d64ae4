"""Editors' overrides of one article's related list, for a CMS: `GET`/`PUT
/api/articles/<id>/overrides` with the bearer token. The console (service/http/console/) changes
lists through `apply_overrides` too, so both check, store and audit alike.

The stored overrides are applied when lists are read (recommender/read.py), so a PUT shows in
the API, the feeds and the box on return: the write moves the store's version, which every cache
keys on.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, Response, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.http import cms
from service.http.errors import NotFound, Problem
from store.base import Store
from store.editorial import MAX_BLOCKS, MAX_PINS, AuditEntry, ListOverrides, Pin

bp = Blueprint("overrides", __name__, url_prefix="/api")

# Article ids are hex digests of 16 characters; 200 leaves room for ids a CMS made, and bounds
# what one body can make us look up (MAX_PINS + MAX_BLOCKS ids).
MAX_ID_LENGTH = 200


class OverridePin(BaseModel):
    """Show the article `id` at `position` (1 = first) of this article's related list."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, description="The pinned article.")
    position: int = Field(ge=1, le=MAX_PINS, description="1 is the first place.")


class Overrides(BaseModel):
    """The whole set of an article's overrides: a PUT replaces what was there; `{}` clears."""

    model_config = ConfigDict(extra="forbid")
    pin: list[OverridePin] = Field(default_factory=list, max_length=MAX_PINS)
    block: list[Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]] = Field(
        default_factory=list, max_length=MAX_BLOCKS, description="Articles never in this list."
    )


class OverridesAnswer(Overrides):
    """The overrides as stored."""

    model_config = ConfigDict(extra="forbid")
    article_id: str


# The block of the OpenAPI document these models make (service/http/openapi.py adds it).
SCHEMAS = {
    "OverridePin": OverridePin.model_json_schema(),
    "Overrides": Overrides.model_json_schema(ref_template="#/components/schemas/{model}"),
    "OverridesAnswer": OverridesAnswer.model_json_schema(
        ref_template="#/components/schemas/{model}"
    ),
}
for _schema in SCHEMAS.values():
    _schema.pop("$defs", None)


def _store() -> Store:
    store: Store = current_app.extensions["quantam"].store
    return store


def answer(overrides: ListOverrides) -> dict[str, Any]:
    return {
        "article_id": overrides.article_id,
        "pin": [{"id": p.article_id, "position": p.position} for p in overrides.pins],
        "block": list(overrides.blocks),
    }


def apply_overrides(
    store: Store, article_id: str, pins: list[Pin], blocks: list[str], who: str
) -> ListOverrides:
    """Check, store and audit one list's overrides. Problem 404 for an article not stored,
    409 for overrides that contradict each other (the article in its own list, an article
    pinned twice or pinned and blocked, two pins at one position)."""
    if store.get_article(article_id) is None:
        raise NotFound(f"no article with id {article_id!r}")
    pinned = [p.article_id for p in pins]
    named = [*pinned, *blocks]
    if article_id in named:
        raise Problem(409, "Conflict", "an article cannot be pinned or blocked in its own list")
    if len(set(pinned)) < len(pinned) or set(pinned) & set(blocks):
        raise Problem(409, "Conflict", "an article is pinned twice, or both pinned and blocked")
    positions = [p.position for p in pins]
    if len(set(positions)) < len(positions):
        raise Problem(409, "Conflict", "two pins have the same position")
    found = {a.id for a in store.get_teasers(named)}
    missing = [i for i in dict.fromkeys(named) if i not in found]
    if missing:
        raise NotFound("no article with id " + ", ".join(repr(i) for i in missing))
    before = store.get_overrides(article_id)
    after = ListOverrides(article_id, tuple(pins), tuple(dict.fromkeys(blocks)))
    store.put_overrides(after)
    store.add_audit(
        AuditEntry(who, "changed the related list's overrides", article_id, _change(before, after))
    )
    return after


def _change(before: ListOverrides, after: ListOverrides) -> str:
    def words(o: ListOverrides) -> str:
        pins = ", ".join(f"{p.article_id}@{p.position}" for p in o.pins) or "none"
        return f"pins {pins}; blocks {', '.join(o.blocks) or 'none'}"

    return f"{words(before)} -> {words(after)}"


@bp.before_request
def require_token() -> None:
    cms.check_token()


@bp.get("/articles/<article_id>/overrides")
def get_overrides(article_id: str) -> Response:
    store = _store()
    if store.get_article(article_id) is None:
        raise NotFound(f"no article with id {article_id!r}")
    return jsonify(answer(store.get_overrides(article_id)))


@bp.put("/articles/<article_id>/overrides")
def put_overrides(article_id: str) -> Response:
    data = cms.json_body()
    try:
        body = Overrides.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise Problem(400, "Bad request", f"{where}: {first['msg']}", parameter=where) from None
    pins = [Pin(p.id, p.position) for p in body.pin]
    return jsonify(answer(apply_overrides(_store(), article_id, pins, body.block, "api")))
