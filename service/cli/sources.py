"""Administration: `sources` (add, list, remove, enable, disable, import, export) and
`categories`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from feeds.common.errors import FeedError
from feeds.ingest.opml import read_opml
from feeds.publish.opml import write_opml
from service.cli.base import (
    Context,
    category_slug,
    cli,
    creates_store,
    pass_ctx,
)
from service.http.serialize import source_record, source_status
from store.errors import SourceExists
from store.models import Source, utcnow


@cli.group()
def sources() -> None:
    """Add, list, remove, import and export the feeds quantam polls."""


@sources.command("add")
@click.argument("url")
@click.option("--category", required=True, help="Category slug, e.g. the-thao (or its name).")
@click.option("--name", help='Display name of the category, e.g. "Thể thao".')
@click.option("--title", default="", help="Display name of the source (default: the feed's).")
@pass_ctx
@creates_store
def sources_add(ctx: Context, url: str, category: str, name: str | None, title: str) -> None:
    """Add a feed to poll."""
    slug = category_slug(ctx, category, name)
    try:
        source = ctx.quantam.ingestor.add_source(url, slug, name=title)
    except SourceExists as exc:
        raise click.ClickException(str(exc)) from exc
    except FeedError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from exc
    click.echo(f"added source {source.id}: {source.url} -> {source.category}")


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source.")
@pass_ctx
def sources_list(ctx: Context, as_json: bool) -> None:
    """Each source's status: last fetch, HTTP status, last error in words, next due, articles."""
    store = ctx.quantam.store
    counts = store.count_articles_by_source()
    now = utcnow()
    items = store.list_sources()
    if as_json:
        for source in items:
            d = source_record(source)
            d["articles"] = _articles(counts, source)
            d["status"] = source_status(source)
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
    ctx.quantam.store.remove_source(source.id)
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
        outlines = read_opml(Path(file).read_bytes(), default_category=category)
    except FeedError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    added = kept = 0
    for item in outlines:
        try:
            ctx.quantam.ingestor.add_source(
                item.url, item.category_slug, name=item.name, category_name=item.category_name
            )
            added += 1
        except SourceExists:
            kept += 1
        except FeedError as exc:
            click.echo(f"skipped {item.url}: {exc}", err=True)
    click.echo(f"imported {added} sources ({kept} already present) from {file}")


@sources.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
@pass_ctx
def sources_export(ctx: Context, output: str | None) -> None:
    """Write every source as OPML 2.0, grouped by category."""
    store = ctx.quantam.store
    names = {c.slug: c.name for c in store.list_categories()}
    groups: dict[str, list[tuple[str, str, str | None]]] = {}
    for source in store.list_sources():
        groups.setdefault(source.category, []).append((source.name or source.url, source.url, None))
    data = write_opml(
        "quantam sources",
        [(names.get(slug, slug), slug, feeds) for slug, feeds in groups.items()],
    )
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
        click.echo(
            f"{category.slug:<20} {category.name:<24} {category.language:<3} "
            f"{store.count_articles(category.slug):>6} articles"
        )


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
