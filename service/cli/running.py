"""Running quantam: `serve`, `poll`, `worker` and one-off `ingest`."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from pathlib import Path

import click

from feeds.ingest.pipeline import IngestReport
from feeds.ingest.text import slugify
from service.cli.base import (
    EXIT_FAILED,
    Context,
    category_slug,
    cli,
    creates_store,
    pass_ctx,
)
from service.config import Settings
from service.http.app import create_app
from service.jobs import enqueue_due, make_queue, run_worker
from store.errors import StoreError, redact

# The base_url quantam assumes when none is given (service/config.py's default).
DEFAULT_BASE_URL = Settings.model_fields["base_url"].default


@cli.command()
@click.option("--host", help="Address to listen on (default from QUANTAM_HOST).")
@click.option("--port", type=int, help="Port to listen on (default from QUANTAM_PORT).")
@click.option("--no-poll", is_flag=True, help="Do not poll sources in the background.")
@pass_ctx
@creates_store
def serve(ctx: Context, host: str | None, port: int | None, no_poll: bool) -> None:
    """Run the web service (development server) and keep polling sources.

    In production run `gunicorn 'service.app:create_app()'` and `quantam poll --loop`."""
    host = host or ctx.settings.host
    port = port or ctx.settings.port
    ctx.settings = served_settings(ctx.settings, host, port)
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
    click.echo(f"quantam serving on http://{host}:{port} (store {redact(ctx.settings.store)})")
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        stop.set()


def served_settings(settings: Settings, host: str, port: int) -> Settings:
    """Settings whose base_url is the address served, unless one was given: `serve --port 8765`
    must not write :8000 into self links, OPML and the OpenAPI server (issue 15). A wildcard
    address is served on loopback too, the one address it surely has."""
    if settings.base_url != DEFAULT_BASE_URL:
        return settings
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return settings.replace(base_url=f"http://{shown}:{port}")


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


def _print_reports(reports: list[IngestReport]) -> None:
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
    category_slug(ctx, category)
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
