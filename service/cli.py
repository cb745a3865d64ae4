"""The `quantam` command line."""

from __future__ import annotations

import functools
import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from feeds.errors import FeedError
from feeds.opml import read_opml, write_opml
from feeds.text import slugify
from recommender.read import related_for
from service.config import ConfigError, Settings, load_settings, settings_help
from service.core import Quantam
from service.serialize import source_status
from store import open_store
from store.base import Store
from store.errors import SourceExists, StoreError, redact
from store.models import Article, Source, Teaser, utcnow

# Exit statuses (README, "Command line"): 1 when `ingest` could not read an input, every source
# `poll` tried failed or `migrate` found the counts differ; 2 for a bad setting or an unusable
# store (and click's usage errors).
EXIT_FAILED = 1
EXIT_CONFIG = 2

EPILOG = (
    "\b\nSettings (environment variables; the same names in lower case, without QUANTAM_, "
    "in a TOML file given by --config or QUANTAM_CONFIG):\n" + settings_help()
)


class Context:
    def __init__(self, settings: Settings):
        self.settings = settings
        # Only commands that write may create a store (`creates_store`): a mistyped
        # QUANTAM_STORE must not leave directories and an empty database behind a read.
        self.create = False
        self._quantam: Quantam | None = None

    @property
    def quantam(self) -> Quantam:
        if self._quantam is None:
            store = open_store(self.settings.store, create=self.create)
            if getattr(store, "created", False):
                click.echo(f"created a new store: {redact(self.settings.store)}", err=True)
            self._quantam = Quantam(self.settings, store=store)
        return self._quantam

    def close(self) -> None:
        if self._quantam is not None:
            self._quantam.close()


pass_ctx = click.make_pass_decorator(Context)


def creates_store(command: Callable[..., Any]) -> Callable[..., Any]:
    """For a command that writes: it may create the store, and says so when it does."""

    @functools.wraps(command)
    def writing(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        ctx.create = True
        return command(ctx, *args, **kwargs)

    return writing


@click.group(epilog=EPILOG, context_settings={"max_content_width": 120})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="TOML file with settings (also QUANTAM_CONFIG).",
)
@click.option("--store", help="Store URL (overrides QUANTAM_STORE).")
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
@click.version_option(package_name="quantam")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, store: str | None, verbose: bool) -> None:
    """quantam: feed syndication and related stories for news sites."""
    try:
        settings = load_settings(config_file, store=store)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    level = "DEBUG" if verbose else settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(settings)
    ctx.call_on_close(ctx.obj.close)


# -- serve and poll ------------------------------------------------------------------------------
@cli.command()
@click.option("--host", help="Address to listen on (default from QUANTAM_HOST).")
@click.option("--port", type=int, help="Port to listen on (default from QUANTAM_PORT).")
@click.option("--no-poll", is_flag=True, help="Do not poll sources in the background.")
@pass_ctx
@creates_store
def serve(ctx: Context, host: str | None, port: int | None, no_poll: bool) -> None:
    """Run the web service (development server) and keep polling sources.

    In production run `gunicorn 'service.app:create_app()'` and `quantam poll --loop`."""
    from service.app import create_app

    quantam = ctx.quantam
    app = create_app(quantam=quantam)
    stop = threading.Event()
    if not no_poll:
        thread = threading.Thread(
            target=quantam.poller.run,
            args=(stop,),
            kwargs={"on_round": _print_reports},
            name="poller",
            daemon=True,
        )
        thread.start()
    host = host or ctx.settings.host
    port = port or ctx.settings.port
    click.echo(f"quantam serving on http://{host}:{port} (store {redact(ctx.settings.store)})")
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        stop.set()


@cli.command()
@click.option("--force", is_flag=True, help="Poll every enabled source now, due or not.")
@click.option("--loop", is_flag=True, help="Keep polling as sources fall due.")
@click.option("--enqueue", is_flag=True, help="Queue due sources for `quantam worker`s instead.")
@pass_ctx
@creates_store
def poll(ctx: Context, force: bool, loop: bool, enqueue: bool) -> None:
    """Fetch every due source once (or keep doing so with --loop)."""
    quantam = ctx.quantam
    if enqueue:
        _enqueue(ctx, force, loop)
        return
    reports = quantam.poller.poll_once(force=force)
    if not reports:
        click.echo("no source is due (use --force to poll all now)")
    _print_reports(reports)
    if loop:
        stop = threading.Event()
        try:
            quantam.poller.run(stop, on_round=_print_reports)
        except KeyboardInterrupt:
            stop.set()
    elif reports and not any(report.ok for report in reports):
        click.echo(f"every source polled ({len(reports)}) failed", err=True)
        sys.exit(EXIT_FAILED)


def _enqueue(ctx: Context, force: bool, loop: bool) -> None:
    from service.jobs import enqueue_due, make_queue

    quantam = ctx.quantam
    queue = make_queue(ctx.settings)
    stop = threading.Event()
    while True:
        try:
            queued = enqueue_due(quantam, queue, force)
            if queued:
                click.echo(f"queued {len(queued)} sources: {', '.join(map(str, queued))}")
            wait = quantam.poller.seconds_until_due(cap=30)
        except StoreError as exc:
            click.echo(f"store unavailable, retrying: {exc}", err=True)
            wait = 5
        if not loop:
            return
        force = False
        try:
            stop.wait(wait)
        except KeyboardInterrupt:
            return


@cli.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--processes", default=1, show_default=True, help="Worker processes to run.")
@click.option(
    "--index/--no-index",
    default=True,
    show_default=True,
    help="The first process also keeps related lists current (index jobs, before polls). "
    "Pass --no-index on extra hosts: one indexing process per deployment is enough.",
)
@pass_ctx
@creates_store
def worker(ctx: Context, burst: bool, processes: int, index: bool) -> None:
    """Run RQ workers that poll the sources `quantam poll --enqueue` queues."""
    import multiprocessing

    from service.jobs import run_worker

    if processes <= 1:
        run_worker(ctx.settings, burst=burst, index=index)
        return
    children = [
        multiprocessing.Process(
            target=run_worker, args=(ctx.settings, burst, None, index and n == 0), daemon=False
        )
        for n in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    # A poller may have stored articles after the indexing process found its queues empty and
    # left: apply them now, so lists are current when the burst ends.
    if burst and index and ctx.quantam.related.behind():
        ctx.quantam.related.on_change("the end of a burst")


def _print_reports(reports: list) -> None:
    for report in reports:
        click.echo(report.summary())


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--category", required=True, help="Category slug (or name) for these articles.")
@pass_ctx
@creates_store
def ingest(ctx: Context, targets: tuple[str, ...], category: str) -> None:
    """Ingest saved feed files or feed URLs once, without adding them as sources."""
    ingestor = ctx.quantam.ingestor
    _ensure_category(ctx, category)
    failed = False
    for target in targets:
        if target.lower().startswith(("http://", "https://")):  # schemes are case-blind
            report = ingestor.ingest_url_once(target, category=slugify(category))
        else:
            path = Path(target)
            try:
                body = path.read_bytes()
            except OSError as exc:
                click.echo(f"{target}: error: cannot read the file: {exc.strerror}", err=True)
                failed = True
                continue
            report = ingestor.ingest_bytes(body, target=str(path), category=slugify(category))
        click.echo(report.summary(), err=not report.ok)
        failed |= not report.ok
    if failed:
        sys.exit(EXIT_FAILED)


def _ensure_category(ctx: Context, category: str, name: str | None = None) -> str:
    """Accept a slug ("the-thao") or a display name ("Thể thao") for a category."""
    slug = slugify(category)
    if not slug:
        raise click.BadParameter(f"{category!r} has no letters or digits", param_hint="--category")
    if name is None and slug != category:
        name = category
    try:
        ctx.quantam.ingestor.ensure_category(category, name)
    except FeedError as exc:
        raise click.BadParameter(str(exc), param_hint="--category") from exc
    return slug


# -- sources -------------------------------------------------------------------------------------
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
    slug = _ensure_category(ctx, category, name)
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
        from store.codec import source_to_dict

        for source in items:
            d = source_to_dict(source)
            d["articles"] = counts.get(source.id, 0)
            d["status"] = source_status(source)
            click.echo(json.dumps(d, ensure_ascii=False))
        return
    if not items:
        click.echo("no sources yet: add one with `quantam sources add URL --category SLUG`")
        return
    for source in items:
        click.echo(
            f"[{source.id}] {source_status(source):<8} {source.category:<14} "
            f"{counts.get(source.id, 0):>5} articles  last fetch {_ago(source.last_fetch_at, now)}"
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


# -- migration -----------------------------------------------------------------------------------
@cli.command()
@click.option(
    "--from", "source_url", required=True, help="Store to copy from, e.g. sqlite:///quantam.db"
)
@click.option(
    "--to", "target_url", required=True, help="Store to copy to, e.g. redis://host:6379/0"
)
@click.option("--batch", default=500, show_default=True, help="Articles per transaction.")
def migrate(source_url: str, target_url: str, batch: int) -> None:
    """Copy everything from one store to another; run it again to resume after a stop."""
    from tqdm import tqdm

    from store.migrate import migrate as run_migration

    source, target = open_store(source_url, create=False), open_store(target_url)
    bars: dict[str, tqdm] = {}

    def progress(step: str, done: int, total: int | None) -> None:
        bar = bars.get(step)
        if bar is None:
            bar = bars[step] = tqdm(total=total, desc=step, unit=" items", leave=True)
        bar.update(done - bar.n)

    try:
        report = run_migration(source, target, batch_size=batch, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
        source.close()
        target.close()
    if report.resumed_after:
        click.echo(f"resumed after article {report.resumed_after}")
    click.echo("copied " + ", ".join(f"{n} {what}" for what, n in report.counts.items()))
    if not report.ok:
        for what, a, b in report.mismatches:
            click.echo(f"count mismatch: {what}: {a} in the source, {b} in the target", err=True)
        sys.exit(EXIT_FAILED)
    click.echo("counts match")


# -- related articles ----------------------------------------------------------------------------
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
        from feeds.urls import canonical_url

        try:
            url = canonical_url(target)
        except FeedError as exc:
            raise click.BadParameter(str(exc), param_hint="TARGET") from exc
        found = store.lookup_aliases([("url", url)])
        article = store.get_article(found[("url", url)]) if found else None
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


def main() -> None:
    try:
        cli(prog_name="quantam")
    except (StoreError, ConfigError) as exc:
        click.echo(f"quantam: error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
