"""`quantam fulltext`: read the pages of stored articles that still wait for their full text."""

from __future__ import annotations

import sys
from datetime import datetime, tzinfo

import click
from tqdm import tqdm

from feeds.ingest.extract import ExtractedPage
from feeds.ingest.fulltext import Deferred, PageOutcome
from service.cli.base import EXIT_FAILED, Context, cli, pass_ctx
from store.models import Article, as_utc

# Failures printed one by one; the rest are counted.
SHOWN_FAILURES = 20


def parse_since(value: str, site_timezone: tzinfo) -> datetime:
    """An ISO date (midnight in the site's zone) or date-time (no zone: the site's)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (2026-12-01) or date-time (2026-12-01T08:00+07:00)",
            param_hint="--since",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=site_timezone)
    return as_utc(moment)


@cli.command()
@click.option("--source", "source_id", type=int, help="Only this source's articles (its id).")
@click.option("--since", help="Only articles published after this date (or date-time).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many pages.")
@click.option(
    "--retry-failed", is_flag=True, help="Read again the pages that failed (not those waiting)."
)
@pass_ctx
def fulltext(
    ctx: Context,
    source_id: int | None,
    since: str | None,
    limit: int | None,
    retry_failed: bool,
) -> None:
    """Read the article pages still missing, newest first: every source's, or one source's.

    Each article is stored as soon as its page is read, so a run stopped (Ctrl-C) loses
    nothing, and the next run goes on where it stopped. Pages are fetched as polling fetches
    them: robots.txt, the address guard, size caps, one request at a time per host."""
    quantam = ctx.quantam
    store = quantam.store
    if source_id is not None and store.get_source(source_id) is None:
        raise click.BadParameter(f"no source {source_id}", param_hint="--source")
    status = "failed" if retry_failed else "pending"
    counts = store.count_fulltext_by_source()
    waiting = sum(
        by_status.get(status, 0)
        for sid, by_status in counts.items()
        if source_id is None or sid == source_id
    )
    after = parse_since(since, quantam.settings.fulltext.site_timezone) if since else None
    total = min(waiting, limit) if limit else waiting
    if waiting == 0:
        click.echo(f"no article is {'failed' if retry_failed else 'waiting for its page'}")
        return
    failures: list[tuple[Article, str]] = []
    bar = tqdm(total=total if after is None else None, unit=" pages", desc="full text")

    def progress(article: Article, outcome: PageOutcome | None) -> None:
        if isinstance(outcome, Deferred):
            return
        bar.update(1)
        if outcome is not None and not isinstance(outcome, ExtractedPage):
            failures.append((article, outcome.reason))

    try:
        report = quantam.ingestor.extract_pending(
            source_id,
            limit=limit,
            since=after,
            retry_failed=retry_failed,
            target="quantam fulltext",
            progress=progress,
        )
    except KeyboardInterrupt:
        bar.close()
        click.echo("stopped: what was read is stored; run it again to go on", err=True)
        sys.exit(EXIT_FAILED)
    bar.close()
    for article, reason in failures[:SHOWN_FAILURES]:
        click.echo(f"  no text: {article.url}: {reason}")
    if len(failures) > SHOWN_FAILURES:
        click.echo(f"  ... and {len(failures) - SHOWN_FAILURES} more without text")
    line = f"{len(report.extracted)} pages gave full text, {len(report.failed)} gave none"
    if report.settled:
        line += f", {len(report.settled)} needed no page (their feed's text is whole)"
    if report.deferred:
        line += (
            f", {report.deferred} left for later (their site asks for more than "
            f"{quantam.settings.full_text_max_wait:g} s between requests)"
        )
    click.echo(line)
    tried = len(report.extracted) + len(report.failed)
    if tried and not report.extracted and not report.settled:
        sys.exit(EXIT_FAILED)
