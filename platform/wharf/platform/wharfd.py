"""`wharfd`: the operator's command. `up` runs everything; one subcommand per component.

The subcommands live in wharfd_cli/, one module per group; this module registers them, in the order
`wharfd --help` lists them.
"""

from __future__ import annotations

import sys

import typer

from wharf.platform import operator_accounts
from wharf.platform.wharfd_cli import (
    backup,
    cluster,
    components,
    gc,
    lifecycle,
    services,
    setup,
    status,
    usage,
)
from wharf.platform.wharfd_cli.common import console
from wharf.platform.wharfd_cli.services import SERVICES

# Every component runs as `python -m wharf.platform.wharfd COMPONENT`, so these modules import only typer
# and rich at the top: each subcommand imports what it needs, and no process holds another one's modules.

cli = typer.Typer(
    help="Wharf server: run the platform and administer it.", no_args_is_help=True, add_completion=False
)
invites_cli = typer.Typer(help="Beta invite codes.")
cli.add_typer(invites_cli, name="invites")
stack_cli = typer.Typer(help="The Debian stack images apps are built on and run in.", no_args_is_help=True)
cli.add_typer(stack_cli, name="stack")
cluster_cli = typer.Typer(help="This host's Docker Swarm.", no_args_is_help=True)
cli.add_typer(cluster_cli, name="cluster")
node_cli = typer.Typer(help="This host as a node of a swarm.", no_args_is_help=True)
cli.add_typer(node_cli, name="node")
__all__ = ["SERVICES", "cli", "main"]

cli.command()(setup.migrate)
invites_cli.command("create")(setup.invites_create)
stack_cli.command("build")(setup.stack_build)
cli.command()(components.api)
cli.command()(components.worker)
cli.command()(components.logshipper)
cli.command()(components.scheduler)
cli.command()(components.router)
cli.command()(components.ca)
cli.command()(services.services)
cli.command()(usage.usage)
cli.command()(lifecycle.up)
cli.command()(backup.backup)
cli.command()(backup.restore)
cli.command()(gc.gc)
cli.command()(lifecycle.down)
cli.command()(status.status)
cluster_cli.command("init")(cluster.cluster_init)
cluster_cli.command("agents")(cluster.cluster_agents)
cli.command()(cluster.nodes)
cli.command("nodes:add")(cluster.nodes_add)
cli.command("nodes:drain")(cluster.nodes_drain)
cli.command("nodes:remove")(cluster.nodes_remove)
node_cli.command("join")(cluster.node_join)

operator_accounts.register(cli, invites_cli)


def main() -> None:
    from wharf.platform.settings import SettingsError

    try:
        cli()
    except SettingsError as exc:
        console.print(f"[red]wharfd: {exc}[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
