"""Editors' overrides of one article's related list, for a CMS: `GET`/`PUT
/api/articles/<id>/overrides` with the bearer token. The console (service/http/console/) changes
lists through `apply_overrides` too, so both check, store and audit alike.

The stored overrides are applied when lists are read (recommender/read.py), so a PUT shows in
the API, the feeds and the box on return: the store gives the list's resource
(`store.editorial.overrides_resource`) a new version, which every cached answer that applied the
list read (service/http/response_cache.py), so exactly those are rebuilt.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from service.http import cms
from service.http.contract import models
from service.http.contract.body import body_as
from service.http.contract.operations import Reply, write
from service.http.contract.shapes import overrides_answer
from service.http.errors import PROBLEM_JSON, NotFound, Problem
from store.base import Store
from store.editorial import AuditEntry, ListOverrides, Pin

bp = Blueprint("overrides", __name__, url_prefix="/api")

CONFLICT = Reply(
    "The overrides name an article not stored, or contradict each other: the article in its "
    "own list, an article pinned twice or pinned and blocked, two pins at one position.",
    models.Problem,
    media_type=PROBLEM_JSON,
)


def _store() -> Store:
    store: Store = current_app.extensions["quantam"].store
    return store


def apply_overrides(
    store: Store, article_id: str, pins: list[Pin], blocks: list[str], who: str
) -> ListOverrides:
    """Check, store and audit one list's overrides. Problem 404 when the list's article is not
    stored; 409 for overrides that name articles not stored (the path's article is there: a
    404 would say it is not) or contradict each other (the article in its own list, an article
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
        unknown = ", ".join(repr(i) for i in missing)
        raise Problem(409, "Conflict", f"no article with id {unknown} is stored")
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
@write(
    "An article's related-list overrides (pins and blocks)",
    {200: Reply("The overrides as stored.", models.OverridesAnswer), 404: "NotFound"},
)
def get_overrides(article_id: str) -> Response:
    store = _store()
    if store.get_article(article_id) is None:
        raise NotFound(f"no article with id {article_id!r}")
    return jsonify(overrides_answer(store.get_overrides(article_id)))


@bp.put("/articles/<article_id>/overrides")
@write(
    "Replace an article's related-list overrides: applied to the API, feeds and box on return",
    {
        200: Reply("The overrides as stored.", models.OverridesAnswer),
        404: "NotFound",
        409: CONFLICT,
    },
    body=models.Overrides,
)
def put_overrides(article_id: str) -> Response:
    body = body_as(models.Overrides)
    pins = [Pin(p.id, p.position) for p in body.pin]
    return jsonify(overrides_answer(apply_overrides(_store(), article_id, pins, body.block, "api")))
