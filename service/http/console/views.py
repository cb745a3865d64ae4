"""The console's pages: overview, sources, articles (with their lists' overrides), rules for
every list, the audit log. Server-rendered; every change is a POST form with the CSRF token,
answered by a redirect back (so a reload never sends it twice) and written to the audit log."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any, TypeVar

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from feeds.common.errors import FeedError
from feeds.ingest.text import clean_text, slugify
from recommender.read import related_for
from service.core import Quantam
from service.http import box
from service.http.console.auth import audit, bp, console, form, page
from service.http.console.charts import Bar, bar_chart
from service.http.contract import query
from service.http.contract.operations import Reply
from service.http.contract.shapes import full_text_counts, source_status
from service.http.embed import snippet
from service.http.errors import Problem
from service.http.overrides import apply_overrides
from service.sources_opml import export_opml, import_opml
from store.editorial import MAX_BLOCKED_EVERYWHERE, MAX_PINS, Pin, SiteRules
from store.errors import SourceExists, StoreUnavailable
from store.models import FULL_TEXT_POLICIES, Article, Source, Teaser, utcnow
from store.urls import InvalidURL

T = TypeVar("T")

# What the overview and the sources' charts read: the newest articles of the period, at most
# this many (a busy site ingests a few thousand a day; the chart says when it was cut).
CHART_READ_LIMIT = 20_000
# A category's display name: a feed title's part, so a line's worth.
MAX_CATEGORY_NAME = 100
SEARCH_SCAN = 5_000
SEARCH_SHOWN = 50
OPML_MAX_BYTES = 2 * 1024 * 1024
# The list shown on an article's page: the API's largest k, so every pin position is visible.
LIST_SHOWN = 20


def _quantam() -> Quantam:
    quantam: Quantam = current_app.extensions["quantam"]
    return quantam


@bp.errorhandler(400)
@bp.errorhandler(404)
def _refused(exc: Any) -> tuple[str, int]:
    """A console page, not the API's problem JSON: people read these."""
    message = exc.description if exc.code == 400 else "There is no such article or source."
    return render_template("error.html", message=message), exc.code


# -- overview ------------------------------------------------------------------------------------
@bp.get("/")
@page("Overview: the store, the index, what came in over 48 hours, failing sources")
def overview() -> str:
    quantam = _quantam()
    store = quantam.store
    try:
        store.ping()
        store_state = "answering"
    except StoreUnavailable as exc:
        store_state = f"unreachable: {exc.public}"
    now = utcnow()
    recent = store.latest_articles(limit=CHART_READ_LIMIT, since=now - timedelta(hours=48))
    hours = Counter(a.first_seen.astimezone(UTC).strftime("%m-%d %H") for a in recent)
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=47)
    bars = [
        Bar((start + timedelta(hours=h)).strftime("%H:00"), hours.get(_hour(start, h), 0))
        for h in range(48)
    ]
    sources = store.list_sources()
    failing = [s for s in sources if source_status(s) == "error"]
    age = quantam.index_age()
    return render_template(
        "overview.html",
        chart=bar_chart(bars, "Articles ingested per hour, last 48 hours (UTC)"),
        cut=len(recent) >= CHART_READ_LIMIT,
        failing=failing,
        sources=len(sources),
        articles=store.count_articles(),
        index_age=_span(age) if age is not None else None,
        store_kind=quantam.settings.store.split("://")[0],
        store_state=store_state,
        queue=_queue_state(),
    )


def _hour(start: datetime, h: int) -> str:
    return (start + timedelta(hours=h)).strftime("%m-%d %H")


def _queue_state() -> str:
    """The RQ queue's length when polling is distributed (a Redis store), in words."""
    settings = _quantam().settings
    if not (settings.queue_url or settings.store).startswith(("redis", "unix")):
        return "none: with a SQLite store the server polls in its own process"
    from service import jobs  # RQ only when there is a queue to ask about

    try:
        return f"{jobs.make_queue(settings).count} jobs waiting"
    except Exception as exc:  # the queue's Redis away: say so, the page still shows
        return f"unreachable ({type(exc).__name__})"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


# -- sources -------------------------------------------------------------------------------------
@bp.get("/sources")
@page("Sources: state, counts, 14 days of articles; forms to add, edit and import")
def sources() -> str:
    store = _quantam().store
    counts = store.count_articles_by_source()
    fulltext = store.count_fulltext_by_source()
    now = utcnow()
    days = [(now - timedelta(days=13 - d)).date() for d in range(14)]
    recent = store.latest_articles(limit=CHART_READ_LIMIT, since=now - timedelta(days=14))
    per_day = Counter((a.source_id, a.first_seen.date()) for a in recent)
    rows = []
    for s in store.list_sources():
        bars = [
            Bar(day.strftime("%d/%m"), per_day.get((s.id, day), 0), s.failures_on(day))
            for day in days
        ]
        rows.append(
            {
                "source": s,
                "status": source_status(s),
                "articles": counts.get(s.id or -1, 0),
                "full_text": full_text_counts(fulltext.get(s.id)),
                "chart": bar_chart(
                    bars,
                    f"Articles per day and days with failed fetches: {s.name or s.url}",
                    width=280,
                    height=70,
                ),
            }
        )
    return render_template(
        "sources.html",
        rows=rows,
        categories=store.list_categories(),
        policies=FULL_TEXT_POLICIES,
        now=now,
    )


@bp.post("/sources")
@form("Add a source")
def add_source() -> Response:
    quantam = _quantam()
    url = request.form.get("url", "").strip()
    category = request.form.get("category", "").strip()
    title = request.form.get("title", "").strip()
    if not url or not category:
        return _back("sources", "Give the feed's URL and a category.", error=True)
    try:
        slug = slugify(category)
        if quantam.store.get_category(slug) is None:
            quantam.ingestor.ensure_category(slug, category)
        source = quantam.ingestor.add_source(url, slug, name=title)
    except SourceExists as exc:
        return _back("sources", str(exc), error=True)
    except (FeedError, ValueError) as exc:
        return _back("sources", f"Not added: {exc}", error=True)
    audit("added source", source.url, f"category {source.category}")
    return _back("sources", f"Added source {source.id}: {source.url}")


def _source(source_id: int) -> Source:
    return _found(_quantam().store.get_source(source_id))


@bp.post("/sources/<int:source_id>/edit")
@form("Change a source's name or full-text policy")
def edit_source(source_id: int) -> Response:
    source = _source(source_id)
    policy = request.form.get("full_text") or None
    if policy is not None and policy not in FULL_TEXT_POLICIES:
        return _back("sources", f"Unknown full-text policy {policy!r}.", error=True)
    title = request.form.get("title", "").strip()
    _quantam().edit_source(source_id, full_text=policy, title=title)
    audit("edited source", source.url, f"title {title!r}, full text {policy}")
    return _back("sources", f"Saved source {source_id}.")


@bp.post("/sources/<int:source_id>/<any(enable, disable):action>")
@form("Enable or disable a source")
def toggle_source(source_id: int, action: str) -> Response:
    source = _source(source_id)
    if action == "enable":
        changed = source.replace(
            enabled=True, disabled_reason=None, error_count=0, next_due_at=None
        )
    else:
        changed = source.replace(enabled=False, disabled_reason="disabled by the operator")
    _quantam().store.update_source(changed)
    audit(f"{action}d source", source.url)
    return _back("sources", f"Source {source_id} {action}d.")


@bp.post("/sources/<int:source_id>/remove")
@form("Remove a source")
def remove_source(source_id: int) -> Response:
    source = _source(source_id)
    _quantam().remove_source(source_id)
    audit("removed source", source.url)
    return _back("sources", f"Removed source {source_id}; its articles stay.")


@bp.post("/sources/import")
@form("Import sources from OPML")
def import_sources() -> Response:
    upload = request.files.get("opml")
    if upload is None or not upload.filename:
        return _back("sources", "Choose an OPML file to import.", error=True)
    data = upload.stream.read(OPML_MAX_BYTES + 1)
    if len(data) > OPML_MAX_BYTES:
        return _back("sources", f"The file is over {OPML_MAX_BYTES:,} bytes.", error=True)
    try:
        done = import_opml(_quantam(), data, request.form.get("category") or None)
    except FeedError as exc:
        return _back("sources", f"{upload.filename}: {exc}", error=True)
    audit("imported OPML", upload.filename, f"{done.added} added, {done.kept} already present")
    for url, why in done.skipped[:10]:
        flash(f"Skipped {url}: {why}", "error")
    return _back("sources", f"Imported {done.added} sources ({done.kept} already present).")


@bp.get("/sources.opml")
@page("Every source as OPML")
def export_sources() -> Response:
    return current_app.response_class(
        export_opml(_quantam().store),
        mimetype="text/x-opml",
        headers={"Content-Disposition": 'attachment; filename="quantam-sources.opml"'},
    )


# -- articles ------------------------------------------------------------------------------------
@bp.get("/articles")
@page("Find articles by title, URL, category and date")
def articles() -> str:
    store = _quantam().store
    query = request.args.get("q", "").strip()[:2048]
    category = request.args.get("category", "").strip() or None
    day = request.args.get("date", "").strip()
    since = until = None
    error = None
    if day:
        try:
            since = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC) - timedelta(
                microseconds=1
            )
            until = since + timedelta(days=1)
        except ValueError:
            error = f"{day!r} is not a date: use YYYY-MM-DD."
    found: list[Article] = []
    if query.startswith(("http://", "https://")):
        try:
            article_id = store.article_id_at(query)
        except InvalidURL as exc:
            error = str(exc)
            article_id = None
        hit = store.get_article(article_id) if article_id else None
        found = [hit] if hit else []
    elif not error:
        before = (until, "\uffff") if until else None
        scanned = store.latest_articles(category, limit=SEARCH_SCAN, before=before, since=since)
        needle = query.casefold()
        found = [a for a in scanned if needle in a.title.casefold()][:SEARCH_SHOWN]
    return render_template(
        "articles.html",
        found=found,
        query=query,
        category=category or "",
        day=day,
        categories=store.list_categories(),
        error=error,
    )


def _article(article_id: str) -> Article:
    return _found(_quantam().store.get_article(article_id))


def _found(thing: T | None) -> T:
    if thing is None:
        abort(404)
    return thing


@bp.get("/articles/<article_id>")
@page("An article: its related list as served, its pins and blocks")
def article(article_id: str) -> str:
    store = _quantam().store
    a = _article(article_id)
    own, rules = store.editorial_for(article_id)
    served = related_for(store, Teaser.of(a), LIST_SHOWN)
    named = [p.article_id for p in own.pins] + list(own.blocks) + list(rules.blocked)
    titles = {t.id: t.title for t in store.get_teasers(named)}
    return render_template(
        "article.html",
        a=a,
        related=served,
        own=own,
        blocked_everywhere=set(rules.blocked),
        titles=titles,
        max_pins=MAX_PINS,
    )


def _resolve(ref: str) -> str | None:
    """An article id, or the id of the article at a URL."""
    ref = ref.strip()
    if ref.startswith(("http://", "https://")):
        try:
            return _quantam().store.article_id_at(ref)
        except InvalidURL:
            return None
    return ref or None


def _change_list(article_id: str, pins: list[Pin], blocks: list[str]) -> Response:
    try:
        apply_overrides(_quantam().store, article_id, pins, blocks, _user())
    except Problem as exc:
        return _back("article", exc.detail or exc.title, error=True, article_id=article_id)
    return _back(
        "article", "Saved: the API, the feeds and the box show it now.", article_id=article_id
    )


def _user() -> str:
    return str(session.get("user", "?"))


@bp.post("/articles/<article_id>/pin")
@form("Pin an article at a position of this list")
def pin(article_id: str) -> Response:
    own = _quantam().store.get_overrides(article_id)
    target = _resolve(request.form.get("ref", ""))
    try:
        position = int(request.form.get("position", ""))
    except ValueError:
        position = 0
    if not target:
        return _back(
            "article", "Give an article id or URL to pin.", error=True, article_id=article_id
        )
    if not 1 <= position <= MAX_PINS:
        return _back(
            "article", f"The position must be 1 to {MAX_PINS}.", error=True, article_id=article_id
        )
    pins = [p for p in own.pins if p.article_id != target and p.position != position]
    blocks = [b for b in own.blocks if b != target]
    return _change_list(article_id, [*pins, Pin(target, position)], blocks)


@bp.post("/articles/<article_id>/unpin")
@form("Remove a pin")
def unpin(article_id: str) -> Response:
    own = _quantam().store.get_overrides(article_id)
    target = request.form.get("target", "")
    return _change_list(
        article_id, [p for p in own.pins if p.article_id != target], list(own.blocks)
    )


@bp.post("/articles/<article_id>/block")
@form("Block an article from this list")
def block(article_id: str) -> Response:
    own = _quantam().store.get_overrides(article_id)
    target = _resolve(request.form.get("ref", ""))
    if not target:
        return _back(
            "article", "Give an article id or URL to block.", error=True, article_id=article_id
        )
    pins = [p for p in own.pins if p.article_id != target]
    return _change_list(article_id, pins, [*own.blocks, target])


@bp.post("/articles/<article_id>/unblock")
@form("Remove a block")
def unblock(article_id: str) -> Response:
    own = _quantam().store.get_overrides(article_id)
    target = request.form.get("target", "")
    return _change_list(article_id, list(own.pins), [b for b in own.blocks if b != target])


@bp.post("/articles/<article_id>/everywhere")
@form("Block an article from every list, or lift that")
def block_everywhere(article_id: str) -> Response:
    """Block this article from every list, or (block=0) let it back."""
    store = _quantam().store
    _article(article_id)
    rules = store.get_site_rules()
    blocked = [b for b in rules.blocked if b != article_id]
    on = request.form.get("block") == "1"
    if on and len(blocked) >= MAX_BLOCKED_EVERYWHERE:
        message = (
            f"{MAX_BLOCKED_EVERYWHERE} articles are blocked from every list already: unblock "
            "some on the Rules page, or take this one down."
        )
        return _back("article", message, error=True, article_id=article_id)
    store.put_site_rules(
        SiteRules((*blocked, article_id) if on else tuple(blocked), rules.never_pair)
    )
    audit("blocked from every list" if on else "allowed in every list again", article_id)
    note = "It is in no related list now." if on else "It may appear in related lists again."
    return _back("article", note, article_id=article_id)


@bp.post("/articles/<article_id>/takedown")
@form("Take an article down")
def take_down(article_id: str) -> Response:
    a = _article(article_id)
    _quantam().take_down(article_id)
    audit("took down", article_id, a.url)
    return _back("articles", f"Took down “{a.title}”: gone from feeds, lists and the API.")


@bp.get("/articles/<article_id>/preview")
@page("The embed box for this article, as a site shows it")
def preview(article_id: str) -> str:
    """A bare page with the embed snippet exactly as a site pastes it, for this article's URL:
    the console frames it at phone and desktop widths."""
    a = _article(article_id)
    quantam = _quantam()
    answers = f"{quantam.settings.base_url.rstrip('/')}/admin/box/{quantam.store.version()}"
    box = snippet(quantam.settings.base_url).replace(
        "<div data-quantam-related",
        f'<div data-quantam-related data-url="{_attr(a.url)}" data-api="{_attr(answers)}"',
        1,
    )
    return render_template("preview.html", a=a, box=box)


@bp.get("/box/<int:version>/api/box")
@console(
    "The preview box's answer (the public one, under a path per store version)",
    {
        200: Reply("The boxes of the page.", box.BoxAnswer),
        400: "BadParameter",
        503: "StoreUnavailable",
    },
    query=box.BoxesQuery,
)
def box_answer(version: int) -> Response:
    """What the preview's embed.js asks for: the public box answer (the same body), under a
    path that changes with the store's version. Readers' browsers may keep an API answer for
    its max-age (60 s); an editor's preview must show a change at once."""
    asked = query.parse(box.BoxesQuery)
    boxes = box.parse_boxes(asked.boxes)
    body = box.build_boxes(_quantam().store, asked.url, boxes, asked.lang, box.flag(asked.fill))
    return jsonify(body)


def _attr(value: str) -> str:
    return escape(value, quote=True)


# -- rules for every list ------------------------------------------------------------------------
@bp.get("/rules")
@page("Rules for every list: blocked articles, categories never paired, names")
def rules() -> str:
    store = _quantam().store
    current = store.get_site_rules()
    titles = {t.id: t.title for t in store.get_teasers(current.blocked)}
    return render_template(
        "rules.html", rules=current, titles=titles, categories=store.list_categories()
    )


@bp.post("/rules/pairs")
@form("Add or remove a pair of categories never shown together")
def pair_rule() -> Response:
    store = _quantam().store
    current = store.get_site_rules()
    a, b = request.form.get("a", ""), request.form.get("b", "")
    known = {c.slug for c in store.list_categories()}
    pair = tuple(sorted((a, b)))
    if request.form.get("remove") == "1":
        pairs = tuple(p for p in current.never_pair if tuple(sorted(p)) != pair)
        store.put_site_rules(SiteRules(current.blocked, pairs))
        audit("allowed categories together again", f"{pair[0]} + {pair[1]}")
        return _back("rules", f"{pair[0]} and {pair[1]} may be paired again.")
    if a not in known or b not in known or a == b:
        return _back("rules", "Choose two different categories.", error=True)
    if pair not in {tuple(sorted(p)) for p in current.never_pair}:
        store.put_site_rules(SiteRules(current.blocked, (*current.never_pair, (pair[0], pair[1]))))
        audit("never pair categories", f"{pair[0]} + {pair[1]}")
    return _back("rules", f"Lists of {pair[0]} never show {pair[1]}, and the other way round.")


@bp.post("/categories/<slug>")
@form("Rename a category")
def rename_category(slug: str) -> Response:
    """Name a category (one a CMS push created is named by its slug until then): feed titles
    and the home page show the name."""
    store = _quantam().store
    category = _found(store.get_category(slug))
    name = clean_text(request.form.get("name", ""))[:MAX_CATEGORY_NAME]
    if not name:
        return _back("rules", "Give the category a name.", error=True)
    store.put_category(category.replace(name=name))
    audit("renamed category", slug, f"{category.name!r} -> {name!r}")
    return _back("rules", f"{slug} is now called “{name}”.")


# -- audit log -----------------------------------------------------------------------------------
AUDIT_PAGE = 100


@bp.get("/audit")
@page("The audit log, newest first")
def audit_log() -> str:
    try:
        page = max(int(request.args.get("page", "1")), 1)
    except ValueError:
        page = 1
    entries = _quantam().store.audit_log(limit=AUDIT_PAGE + 1, offset=(page - 1) * AUDIT_PAGE)
    return render_template(
        "audit.html", entries=entries[:AUDIT_PAGE], page=page, more=len(entries) > AUDIT_PAGE
    )


def _back(endpoint: str, message: str, error: bool = False, **values: Any) -> Response:
    flash(message, "error" if error else "info")
    return redirect(url_for(f"console.{endpoint}", **values))
