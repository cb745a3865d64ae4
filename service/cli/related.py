"""Related stories from the command line: `related` (one list, or every list) and `reindex`."""

from __future__ import annotations

import json

import click

from recommender.read import related_for
from service.cli.base import (
    Context,
    cli,
    pass_ctx,
)
from store.base import Store
from store.models import Article, Teaser
from store.urls import InvalidURL


@cli.command()
@click.argument("target", required=False)
@click.option(
    "-k", "k", type=click.IntRange(1, 20), help="Items to show (default QUANTAM_RELATED_K)."
)
@click.option("--explain", is_flag=True, help="Show the shared terms behind each item.")
@click.option("--all", "every", is_flag=True, help="Every article's list (use with --json).")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: id, url, category, related.")
@pass_ctx
def related(
    ctx: Context, target: str | None, k: int | None, explain: bool, every: bool, as_json: bool
) -> None:
    """Show the related list of one article (by URL or id), or export every list."""
    store = ctx.quantam.store
    k = k or ctx.settings.related_k
    if every == bool(target):
        raise click.UsageError("give one article URL or id, or --all")
    if every:
        articles = list(store.iter_articles())
        urls = {a.id: (a.url, a.category) for a in articles}
        for article in articles:
            items = [r.item for r in related_for(store, Teaser.of(article), k)]
            click.echo(
                json.dumps(
                    _related_json(article.id, article.url, article.category, items, urls),
                    ensure_ascii=False,
                )
            )
        return
    assert target is not None  # given exactly when --all is not
    article = _find_article(store, target)
    items = [r.item for r in related_for(store, Teaser.of(article), k)]
    if store.get_related(article.id) is None:
        click.echo(f"{article.id} has no related list yet: run `quantam reindex`", err=True)
    if as_json:
        urls = {a.id: (a.url, a.category) for a in store.get_articles(i.article_id for i in items)}
        click.echo(
            json.dumps(
                _related_json(article.id, article.url, article.category, items, urls),
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"{article.title}\n  {article.url} [{article.category}]")
    titles = {a.id: a for a in store.get_articles(i.article_id for i in items)}
    for n, item in enumerate(items, 1):
        other = titles.get(item.article_id)
        label = other.title if other else item.article_id
        kind = "fill " if item.fill else f"{item.score:.3f}"
        click.echo(f"{n:>2}. {kind}  {label}  <{other.url if other else ''}>")
        if explain:
            why = ", ".join(item.reason) if item.reason else "latest in the same category"
            click.echo(f"      why: {why}")


def _related_json(article_id: str, url: str, category: str, items: list, urls: dict) -> dict:
    return {
        "id": article_id,
        "url": url,
        "category": category,
        "related": [
            {
                "id": i.article_id,
                "url": urls.get(i.article_id, ("", ""))[0],
                "score": i.score,
                "fill": i.fill,
            }
            for i in items
        ],
    }


def _find_article(store: Store, target: str) -> Article:
    article = store.get_article(target)
    if article is None and target.startswith(("http://", "https://")):
        try:
            article_id = store.article_id_at(target)
        except InvalidURL as exc:
            raise click.BadParameter(str(exc), param_hint="TARGET") from exc
        article = store.get_article(article_id) if article_id else None
    if article is None:
        raise click.ClickException(f"no article {target!r} (give its id or its URL)")
    return article


@cli.command()
@pass_ctx
def reindex(ctx: Context) -> None:
    """Refit the related-articles model and recompute every list; the old lists are served
    until the new ones are all written."""
    report = ctx.quantam.related.reindex(progress=True)
    click.echo(
        f"reindexed {report.articles} articles: {report.lists} related lists in "
        f"{report.seconds:.1f} s (change log at {report.seq})"
    )
