"""Redis: redis:cli and redis:info."""

from __future__ import annotations

from typing import Annotated

import typer

from wharf.cli import gitrepo
from wharf.cli.commands.addons import info as addon_info
from wharf.cli.commands.addons import run_console
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

RedisArgument = Annotated[
    str, typer.Argument(metavar="[DATABASE]", help="Add-on name or config var (default REDIS_URL).")
]
DEFAULT_REDIS = "REDIS"


def redis_cli(
    database: RedisArgument = DEFAULT_REDIS,
    command: Annotated[
        str | None, typer.Option("--command", "-c", help="A Redis command to run instead of a prompt.")
    ] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Run Redis commands with redis-cli (a prompt at a terminal, else stdin or --command)."""
    name = resolve_app(app, remote)
    run_console(name, database, command, prompt=f"{name}::{database}> ", statement_end=None)


def redis_info(
    database: RedisArgument = DEFAULT_REDIS,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    json: JsonOption = False,
) -> None:
    """Show the Redis version, memory, clients and keys."""
    addon_info(database, app=app, remote=remote, json=json)


def register(app: typer.Typer) -> None:
    add_command(app, "redis:cli", redis_cli)
    add_command(app, "redis:info", redis_info)
