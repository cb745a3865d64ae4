"""`quantam settings`: the settings in effect (secrets redacted), or the table of every setting
as Markdown (the README's, between its settings-table markers)."""

from __future__ import annotations

import click

from service.cli.base import Context, cli
from service.config import SECRET, env_name, settings_markdown
from store.errors import redact

SECRETS = ("api_token",)


@cli.command("settings")
@click.option("--markdown", is_flag=True, help="Print the table of every setting as Markdown.")
@click.pass_obj
def settings_command(ctx: Context, markdown: bool) -> None:
    """Show the settings in effect (the store's password and the API token redacted)."""
    if markdown:
        click.echo(settings_markdown())
        return
    for name, value in ctx.settings.model_dump().items():
        if name == "store":
            value = redact(value)
        elif name in SECRETS and value:
            value = SECRET
        click.echo(f"{env_name(name)}={value}")
