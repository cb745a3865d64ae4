"""The public home page `/`: the site's name, every category's feeds and latest headlines, the
OPML list and the API description. Plain HTML and CSS, no script: it reads on any phone."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from service.http.contract.operations import operation, text

bp = Blueprint("home", __name__, template_folder="templates")

# Headlines per category: enough to show what a feed carries, few enough for a phone screen.
HEADLINES = 5


@bp.get("/")
@operation(
    summary="The public home page: every category's feeds and latest headlines",
    tag="feeds",
    answers={
        200: text("The page.", "text/html", ("Cache-Control",)),
        503: "StoreUnavailable",
    },
)
def home() -> Any:
    quantam = current_app.extensions["quantam"]
    store, settings = quantam.store, quantam.settings
    base = settings.base_url.rstrip("/")
    categories = [
        {
            "category": c,
            "feeds": {fmt: f"{base}/feeds/{c.slug}.{fmt}" for fmt in ("rss", "atom", "json")},
            "latest": store.latest_articles(c.slug, limit=HEADLINES),
        }
        for c in store.list_categories()
    ]
    html = render_template(
        "home.html", site_name=settings.site_name, categories=categories, base=base
    )
    return html, 200, {"Cache-Control": "public, max-age=60"}
