"""Apps: apps, apps:create, apps:info, apps:destroy."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from wharf.cli import gitrepo, output, session, settings
from wharf.cli.client import App
from wharf.cli.errors import WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app


def list_apps(json: JsonOption = False) -> None:
    """List your apps."""
    with session.authenticated_client() as client:
        apps = client.apps()
        if json:
            output.print_json(apps)
            return
        if not apps:
            output.line("You have no apps.")
            return
        email = client.account()["email"]
    output.header(f"{email} Apps")
    output.line()
    for app in sorted(apps, key=lambda item: item["name"]):
        role = app.get("role")
        team = app.get("team")
        suffix = f" [team {team}, {role}]" if team else (f" [{role}]" if role and role != "admin" else "")
        output.line(f"{app['name']}{suffix}")


def create_app(
    name: Annotated[str | None, typer.Argument(help="Name of the app; generated when omitted.")] = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    no_remote: Annotated[bool, typer.Option("--no-remote", help="Do not add a git remote.")] = False,
    json: JsonOption = False,
    team: Annotated[str | None, typer.Option("--team", "-t", help="Create the app for this team.")] = None,
) -> None:
    """Create a new app; inside a git repository also add the `wharf` remote."""
    label = f"Creating {output.app_label(name)}" if name else "Creating app"
    with session.authenticated_client() as client, output.action(label) as progress:
        app = client.create_app(name=name, team=team)
        if not name:
            progress["suffix"] = f", {output.app_label(app['name'])}"
    if json:
        output.print_json(app)
    else:
        output.line(f"{app['web_url']} | {app['git_url']}")
    if not no_remote and gitrepo.inside_repository():
        add_remote_for_new_app(remote, app)


def add_remote_for_new_app(remote: str, app: App) -> None:
    """Add the remote like Heroku does, but never repoint an existing one silently."""
    existing = gitrepo.remote_url(remote)
    if existing is None:
        gitrepo.set_remote(remote, app["git_url"], ca_file=settings.ca_file())
    elif existing != app["git_url"]:
        output.note(
            f"Git remote {remote} already points at {existing}; kept it. "
            f"Run wharf git:remote -a {app['name']} to use the new app."
        )


def info(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """Show an app's details."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        details = client.app(name)
    if json:
        output.print_json(details)
        return
    release = details.get("current_release")
    output.header(details["name"])
    output.key_values(
        [
            ("Git URL", details["git_url"]),
            ("Owner", details["owner"]),
            ("Web URL", details["web_url"]),
            ("Current Release", f"v{release}" if release is not None else "none"),
            ("Maintenance", "on" if details.get("maintenance") else "off"),
            ("Created", output.format_time(details.get("created_at"))),
        ]
    )


def destroy(
    app_argument: Annotated[str | None, typer.Argument(metavar="[APP]", help="App to destroy.")] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    confirm: Annotated[
        str | None, typer.Option("--confirm", help="The app's name, to confirm the destruction.")
    ] = None,
) -> None:
    """Permanently destroy an app (needs --confirm APP)."""
    name = resolve_app(app_argument or app, remote)
    confirmation = confirm if confirm is not None else ask_confirmation(name)
    if confirmation != name:
        raise WharfError(f"Confirmation did not match {name}. Aborted.")
    with session.authenticated_client() as client, output.action(f"Destroying {output.app_label(name)}"):
        client.destroy_app(name, confirm=confirmation)
    for stale in gitrepo.remotes_for_app(name):
        gitrepo.remove_remote(stale)


def ask_confirmation(name: str) -> str:
    """Prompt at a terminal, as Heroku does; in scripts refuse without --confirm."""
    warning = (
        f"WARNING: This will delete {output.app_label(name)} including all add-ons.\n"
        f"To proceed, type {name} or re-run this command with --confirm {name}"
    )
    if not sys.stdin.isatty():
        raise WharfError(warning)
    output.note(warning)
    return str(typer.prompt("", prompt_suffix="> ", err=True, default="", show_default=False))


def register(app: typer.Typer) -> None:
    add_command(app, "apps", list_apps)
    add_command(app, "apps:create", create_app)
    add_command(app, "apps:info", info)
    add_command(app, "apps:destroy", destroy)
    add_command(app, "create", create_app, hidden=True)
    add_command(app, "info", info, hidden=True)
    add_command(app, "destroy", destroy, hidden=True)
