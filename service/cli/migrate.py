"""`quantam migrate`: copy one store into another, resumably."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

from service.cli.base import (
    EXIT_FAILED,
    cli,
)
from store import open_store
from store.migrate import migrate as run_migration


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
