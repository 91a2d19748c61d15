"""The `wharf` command: Heroku's verbs for a Wharf platform."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from wharf.cli.commands import (
    addons,
    apps,
    auth,
    builds,
    config,
    domains,
    drains,
    git,
    invites,
    logs,
    pg,
    pipelines,
    ps,
    redis,
    releases,
    run,
)

app = typer.Typer(
    name="wharf",
    help="Deploy and manage apps on a Wharf platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

for module in (auth, apps, config, releases, invites, git, builds, domains, logs, drains, ps, run):
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
