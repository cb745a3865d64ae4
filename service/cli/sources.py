"""Administration: `sources` (add, list, remove, enable, disable, import, export) and
`categories`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from feeds.common.errors import FeedError
from feeds.ingest.text import clean_text, slugify
from feeds.ingest.websub import Subscription
from service.cli.base import (
    Context,
    category_slug,
    cli,
    creates_store,
    pass_ctx,
)
from service.http.contract.shapes import full_text_counts, source_record, source_status, websub_item
from service.sources_opml import export_opml, import_opml
from store.errors import SourceExists
from store.models import FULL_TEXT_POLICIES, Source, utcnow

FULL_TEXT_OPTION = click.option(
    "--full-text",
    "full_text",
    type=click.Choice(FULL_TEXT_POLICIES),
    help="When to read article pages for their full text: auto (when the feed's text is "
    "shorter than QUANTAM_FULL_TEXT_MIN_WORDS), always, never.",
)


@cli.group()
def sources() -> None:
    """Add, list, remove, import and export the feeds quantam polls."""


@sources.command("add")
@click.argument("url")
@click.option("--category", required=True, help="Category slug, e.g. the-thao (or its name).")
@click.option("--name", help='Display name of the category, e.g. "Thể thao".')
@click.option("--title", default="", help="Display name of the source (default: the feed's).")
@FULL_TEXT_OPTION
@pass_ctx
@creates_store
def sources_add(
    ctx: Context, url: str, category: str, name: str | None, title: str, full_text: str | None
) -> None:
    """Add a feed to poll."""
    slug = category_slug(ctx, category, name)
    try:
        source = ctx.quantam.ingestor.add_source(
            url, slug, name=title, full_text=full_text or "auto"
        )
    except SourceExists as exc:
        raise click.ClickException(str(exc)) from exc
    except FeedError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from exc
    click.echo(
        f"added source {source.id}: {source.url} -> {source.category} (full text: "
        f"{source.full_text})"
    )


@sources.command("edit")
@click.argument("ident")
@FULL_TEXT_OPTION
@click.option("--title", help="Display name of the source.")
@pass_ctx
def sources_edit(ctx: Context, ident: str, full_text: str | None, title: str | None) -> None:
    """Change a source (by id or URL): its full-text policy or display name."""
    source = _find(ctx, ident)
    assert source.id is not None  # a stored source
    if full_text is None and title is None:
        raise click.UsageError("nothing to change: give --full-text or --title")
    edited = ctx.quantam.edit_source(source.id, full_text=full_text, title=title)
    if edited is None:
        raise click.ClickException(f"source {source.id} was removed meanwhile")
    click.echo(f"source {edited.id}: full text {edited.full_text}, title {edited.name!r}")


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source.")
@pass_ctx
def sources_list(ctx: Context, as_json: bool) -> None:
    """Each source's status: last fetch, HTTP status, last error in words, next due, articles."""
    store = ctx.quantam.store
    counts = store.count_articles_by_source()
    fulltext = store.count_fulltext_by_source()
    now = utcnow()
    items = store.list_sources()
    if as_json:
        for source in items:
            d = source_record(source)
            d["articles"] = _articles(counts, source)
            d["status"] = source_status(source)
            d["full_text_articles"] = full_text_counts(fulltext.get(source.id))
            sub = ctx.quantam.websub.get(source.id) if source.id is not None else None
            d["websub"] = websub_item(ctx.quantam.websub.describe(sub)) if sub else None
            click.echo(json.dumps(d, ensure_ascii=False))
        return
    if not items:
        click.echo("no sources yet: add one with `quantam sources add URL --category SLUG`")
        return
    for source in items:
        click.echo(
            f"[{source.id}] {source_status(source):<8} {source.category:<14} "
            f"{_articles(counts, source):>5} articles  last fetch {_ago(source.last_fetch_at, now)}"
            f"{f' (HTTP {source.last_status})' if source.last_status else ''}"
            f"  next {_until(source.next_due_at, now, source)}"
        )
        click.echo(f"      {source.name + ' ' if source.name else ''}<{source.url}>")
        if source.last_error:
            click.echo(f"      error: {source.last_error}")
        if source.disabled_reason:
            click.echo(f"      disabled: {source.disabled_reason}")
        if source.last_warning:
            click.echo(f"      warning: {source.last_warning}")
        if source.id_policy != "guid":
            click.echo(f"      note: {source.id_policy_reason}")
        click.echo(f"      {_full_text_line(source, fulltext.get(source.id))}")
        if source.fulltext_error:
            when = _ago(source.fulltext_error_at, now) if source.fulltext_error_at else ""
            click.echo(f"      last page without text ({when}): {source.fulltext_error}")
        subscription = ctx.quantam.websub.get(source.id) if source.id is not None else None
        if subscription is not None:
            click.echo(f"      {_websub_line(subscription, now)}")


def _full_text_line(source: Source, counts: dict[str, int] | None) -> str:
    c = full_text_counts(counts)
    summary = c["summary"] + c["pending"]
    waiting = f" ({c['pending']} waiting for their page)" if c["pending"] else ""
    return (
        f"full text ({source.full_text}): {c['full']} full, {summary} summary only{waiting}, "
        f"{c['failed']} failed"
    )


def _websub_line(sub: Subscription, now: datetime) -> str:
    line = f"websub: {sub.state} at {sub.hub}"
    if sub.requested == "subscribe" and sub.state != "pending":
        line += " (renewal asked)"
    if sub.state == "subscribed" and sub.lease_until is not None:
        line += f", lease ends in {_span((sub.lease_until - now).total_seconds())}"
    if sub.error:
        line += f" ({sub.error})"
    return line


def _articles(counts: dict[int, int], source: Source) -> int:
    return counts.get(source.id, 0) if source.id is not None else 0


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{_span((now - moment).total_seconds())} ago"


def _until(moment: datetime | None, now: datetime, source: Source) -> str:
    if not source.enabled:
        return "never (disabled)"
    if moment is None or moment <= now:
        return "now"
    return f"in {_span((moment - now).total_seconds())}"


def _span(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _find(ctx: Context, ident: str) -> Source:
    store = ctx.quantam.store
    source = store.get_source(int(ident)) if ident.isdigit() else store.find_source(ident)
    if source is None:
        raise click.ClickException(f"no source {ident!r} (give its id or its exact URL)")
    return source


@sources.command("remove")
@click.argument("ident")
@pass_ctx
def sources_remove(ctx: Context, ident: str) -> None:
    """Stop polling a source (by id or URL). Its articles stay."""
    source = _find(ctx, ident)
    assert source.id is not None  # a stored source
    ctx.quantam.remove_source(source.id)
    click.echo(f"removed source {source.id}: {source.url}")


@sources.command("enable")
@click.argument("ident")
@pass_ctx
def sources_enable(ctx: Context, ident: str) -> None:
    """Poll a disabled source again, now."""
    source = _find(ctx, ident)
    ctx.quantam.store.update_source(
        source.replace(enabled=True, disabled_reason=None, error_count=0, next_due_at=None)
    )
    click.echo(f"enabled source {source.id}")


@sources.command("disable")
@click.argument("ident")
@pass_ctx
def sources_disable(ctx: Context, ident: str) -> None:
    """Stop polling a source but keep it listed."""
    source = _find(ctx, ident)
    ctx.quantam.store.update_source(
        source.replace(enabled=False, disabled_reason="disabled by the operator")
    )
    click.echo(f"disabled source {source.id}")


@sources.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--category", help="Category for feeds the file does not place in one.")
@pass_ctx
@creates_store
def sources_import(ctx: Context, file: str, category: str | None) -> None:
    """Add every feed of an OPML file; feeds already present are left as they are."""
    try:
        done = import_opml(ctx.quantam, Path(file).read_bytes(), default_category=category)
    except FeedError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    for url, why in done.skipped:
        click.echo(f"skipped {url}: {why}", err=True)
    click.echo(f"imported {done.added} sources ({done.kept} already present) from {file}")


@sources.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
@pass_ctx
def sources_export(ctx: Context, output: str | None) -> None:
    """Write every source as OPML 2.0, grouped by category."""
    data = export_opml(ctx.quantam.store)
    if output:
        Path(output).write_bytes(data)
    else:
        click.echo(data.decode(), nl=False)


# -- categories ----------------------------------------------------------------------------------
@cli.group()
def categories() -> None:
    """List and name categories."""


@categories.command("list")
@pass_ctx
def categories_list(ctx: Context) -> None:
    store = ctx.quantam.store
    for category in store.list_categories():
        feeds = "feeds carry full text" if category.feed_full_text else "feeds carry summaries"
        click.echo(
            f"{category.slug:<20} {category.name:<24} {category.language:<3} "
            f"{store.count_articles(category.slug):>6} articles  {feeds}"
        )


@categories.command("edit")
@click.argument("slug")
@click.option("--name", help="Display name.")
@click.option(
    "--feed-full-text/--no-feed-full-text",
    default=None,
    help="Whether the category's feeds carry extracted full text (content:encoded, Atom "
    "content, JSON Feed content_html); the description stays the summary either way.",
)
@pass_ctx
def categories_edit(ctx: Context, slug: str, name: str | None, feed_full_text: bool | None) -> None:
    """Rename a category or choose what its feeds carry."""
    store = ctx.quantam.store
    category = store.get_category(slugify(slug))
    if category is None:
        raise click.ClickException(f"no category {slug!r} (`quantam categories list` names them)")
    if name is None and feed_full_text is None:
        raise click.UsageError("nothing to change: give --name or --feed-full-text/--no-...")
    changed = category.replace(
        name=clean_text(name) or category.name if name is not None else category.name,
        feed_full_text=category.feed_full_text if feed_full_text is None else feed_full_text,
    )
    store.put_category(changed)
    what = "full text" if changed.feed_full_text else "summaries"
    click.echo(f"{changed.slug}: {changed.name} (feeds carry {what})")


@categories.command("add")
@click.argument("name")
@click.option("--slug", help="Slug (default: made from the name).")
@click.option("--language", default="vi", show_default=True)
@pass_ctx
@creates_store
def categories_add(ctx: Context, name: str, slug: str | None, language: str) -> None:
    """Create or rename a category: `quantam categories add "Thời sự"` makes thoi-su."""
    category = ctx.quantam.ingestor.ensure_category(slug or name, name, language)
    click.echo(f"{category.slug}: {category.name}")
