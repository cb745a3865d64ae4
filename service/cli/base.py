"""What every `quantam` command shares: the group with its global options, the context that
opens the store (only commands that write may create one) and the exit statuses."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import click

from feeds.common.errors import FeedError
from feeds.ingest.text import slugify
from service.config import ConfigError, Settings, load_settings, settings_help
from service.core import Quantam
from store import open_store
from store.errors import redact

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


def category_slug(ctx: Context, category: str, name: str | None = None) -> str:
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
