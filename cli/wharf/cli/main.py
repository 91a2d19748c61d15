"""The `wharf` command: Heroku's verbs for a Wharf platform."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from wharf.cli.commands import (
    access,
    account,
    addons,
    alerts,
    apps,
    auth,
    autoscale,
    builds,
    ci,
    config,
    domains,
    drains,
    git,
    invites,
    logs,
    metrics,
    pg,
    pipelines,
    ps,
    redis,
    releases,
    run,
    ssh_keys,
    teams,
    usage,
)

app = typer.Typer(
    name="wharf",
    help="Deploy and manage apps on a Wharf platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# In the order `wharf --help` lists them.
COMMAND_MODULES = (
    auth,
    account,
    apps,
    config,
    releases,
    invites,
    git,
    builds,
    ci,
    domains,
    logs,
    drains,
    ps,
    run,
    alerts,
    autoscale,
    usage,
    ssh_keys,
    access,
    teams,
    metrics,
)
for module in COMMAND_MODULES:
    module.register(app)

for module in (addons, pg, redis, pipelines):
    module.register(app)


def _show_version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"wharf-cli/{version('wharf-cli')}")
        except PackageNotFoundError:
            typer.echo("wharf-cli/unknown")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Deploy and manage apps on a Wharf platform."""


def main() -> None:
    app()
