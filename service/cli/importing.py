"""`quantam import FILE... --category SLUG`: articles from JSON Lines, CSV and sitemap files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from feeds.common.errors import FeedError
from feeds.ingest.bulk import FORMATS, Importer, ImportReport, file_size
from service.cli.base import EXIT_FAILED, Context, category_slug, cli, creates_store, pass_ctx

# Bad rows printed with their reasons; the rest are counted (and all go to --errors).
SHOWN_PROBLEMS = 20


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--category", help="Category (slug or name) of the rows that name none of their own.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="The files' format (default: from their names, .jsonl .csv .xml, maybe .gz).",
)
@click.option("--restart", is_flag=True, help="Start from the first row, not where a run stopped.")
@click.option(
    "--errors",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every skipped row's number and reason there, as JSON Lines.",
)
@pass_ctx
@creates_store
def import_(
    ctx: Context,
    files: tuple[Path, ...],
    category: str | None,
    fmt: str | None,
    restart: bool,
    errors: Path | None,
) -> None:
    """Import articles from JSON Lines, CSV (a header row) or sitemap files (each page read).

    JSON Lines and CSV rows carry title, text or content_html, url, published, category and
    image (summary, author, tags, updated, guid, language too); a sitemap's <url>s (with
    Google News tags when present) are fetched and extracted as full text is. Files are read
    as a stream (a 1 GB file in little memory), gzip-compressed or not; bad rows are reported
    and the rest imported; a stopped import goes on where it stopped when run again."""
    quantam = ctx.quantam
    slug = category_slug(ctx, category) if category else None
    importer = Importer(quantam.ingestor)
    failed = False
    log = errors.open("w", encoding="utf-8") if errors else None
    try:
        for path in files:
            total = file_size(path)
            bar: tqdm[Any] = tqdm(total=total, unit="B", unit_scale=True, desc=path.name)
            advance = _Advance(bar)

            try:
                report = importer.run(path, slug, fmt=fmt, restart=restart, progress=advance)
            except FeedError as exc:
                bar.close()
                click.echo(f"{path}: error: {exc}", err=True)
                failed = True
                continue
            except KeyboardInterrupt:
                bar.close()
                click.echo(f"{path}: stopped; run the same command again to go on", err=True)
                sys.exit(EXIT_FAILED)
            bar.close()
            _print(report, log)
            failed |= report.rows > 0 and report.skipped == report.rows
    finally:
        if log is not None:
            log.close()
    if failed:
        sys.exit(EXIT_FAILED)


class _Advance:
    """Moves a bytes progress bar to the position the importer reports."""

    def __init__(self, bar: tqdm[Any]):
        self.bar = bar
        self.seen = 0

    def __call__(self, position: int) -> None:
        self.bar.update(max(0, position - self.seen))
        self.seen = position


def _print(report: ImportReport, log: object) -> None:
    click.echo(report.summary())
    for number, reason in report.problems[:SHOWN_PROBLEMS]:
        click.echo(f"  row {number}: skipped: {reason}")
    if report.skipped > SHOWN_PROBLEMS:
        click.echo(f"  ... and {report.skipped - SHOWN_PROBLEMS} more rows skipped")
    if report.ignored_fields:
        click.echo(f"  fields ignored: {', '.join(sorted(report.ignored_fields))}")
    if log is not None:
        for number, reason in report.problems:
            line = {"file": report.target, "row": number, "reason": reason}
            log.write(json.dumps(line, ensure_ascii=False) + "\n")  # type: ignore[attr-defined]
