"""`quantam users add|list|remove`: the console's operators. Passwords come on standard input
only (never an argument: those show in `ps` and shell history)."""

from __future__ import annotations

import re
import sys

import click

from service.cli.base import Context, cli, creates_store, pass_ctx
from service.http.console.passwords import hash_password, password_problem
from store.editorial import AuditEntry, User
from store.models import utcnow

# Names appear in the audit log and the console's header: short, no spaces or control
# characters.
NAME = re.compile(r"[\w.@+-]{1,64}")


@cli.group()
def users() -> None:
    """Operators who sign in to the console at /admin."""


@users.command("add")
@click.argument("name")
@click.option(
    "--password-stdin",
    is_flag=True,
    required=True,
    help="Read the password from standard input (its first line).",
)
@pass_ctx
@creates_store
def users_add(ctx: Context, name: str, password_stdin: bool) -> None:
    """Create an operator, or set a new password for one."""
    if not NAME.fullmatch(name):
        raise click.BadParameter(
            "use 1 to 64 letters, digits or . @ + - _ (no spaces)", param_hint="NAME"
        )
    password = sys.stdin.readline().rstrip("\r\n")
    problem = password_problem(password)
    if problem:
        raise click.ClickException(problem)
    store = ctx.quantam.store
    existed = store.get_user(name) is not None
    store.put_user(User(name, hash_password(password), utcnow()))
    action = "changed the password of user" if existed else "added user"
    store.add_audit(AuditEntry("cli", action, name))
    click.echo(f"{action} {name}")


@users.command("list")
@pass_ctx
def users_list(ctx: Context) -> None:
    """Every operator and when it was created."""
    found = ctx.quantam.store.list_users()
    if not found:
        click.echo("no users yet: add one with `quantam users add NAME --password-stdin`")
    for user in found:
        click.echo(f"{user.name}  created {user.created:%Y-%m-%d %H:%M} UTC")


@users.command("remove")
@click.argument("name")
@pass_ctx
def users_remove(ctx: Context, name: str) -> None:
    """Remove an operator; its console sessions end at their next request."""
    store = ctx.quantam.store
    if not store.remove_user(name):
        raise click.ClickException(f"no user {name!r} (`quantam users list` names them)")
    store.add_audit(AuditEntry("cli", "removed user", name))
    click.echo(f"removed user {name}")
