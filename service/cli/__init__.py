"""The `quantam` command line (the `quantam` entry point and `python -m service`).

Commands by concern: `running` (serve, poll, worker, ingest), `sources` (sources, categories),
`fulltext`, `importing` (import), `related` (related, reindex), `migrate` and `settings`; `base`
holds the group and what they share.
"""

from __future__ import annotations

import sys

import click

from service.cli import fulltext, importing, migrate, related, running, settings, sources, users
from service.cli.base import EXIT_CONFIG, EXIT_FAILED, cli
from service.config import ConfigError
from store.errors import StoreError

# The modules above add their commands to `cli` when imported.
COMMANDS = (fulltext, importing, migrate, related, running, settings, sources, users)


def main() -> None:
    try:
        cli(prog_name="quantam")
    except (StoreError, ConfigError) as exc:
        click.echo(f"quantam: error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "cli", "main"]
