"""Collaborators and transfers: access, access:add, access:update, access:remove, apps:transfer."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

EmailArgument = Annotated[str, typer.Argument(help="The collaborator's account email.")]
RoleOption = Annotated[str, typer.Option("--role", "-r", help="viewer, member or admin.")]


def _path(app: str, *parts: str) -> str:
    return "/".join([f"/apps/{quote(app, safe='')}", *(quote(p, safe="@") for p in parts)])


def list_access(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """List who has access to an app, with their roles."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        found: list[dict[str, Any]] = client.request("GET", _path(name, "collaborators"))
    if json:
        output.print_json(found)
        return
    output.header(f"{name} Access List")
    output.table([["Email", "Role", "Via"], *([a["email"], a["role"], a["source"]] for a in found)])


def add_access(
    email: EmailArgument,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    role: RoleOption = "member",
) -> None:
    """Give an account access to an app (default role: member)."""
    name = resolve_app(app, remote)
    label = f"Adding {email} access to {output.app_label(name)} as {role}"
    with session.authenticated_client() as client, output.action(label):
        client.request("POST", _path(name, "collaborators"), {"email": email, "role": role})


def update_access(
    email: EmailArgument,
    role: RoleOption,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Change a collaborator's role on an app."""
    name = resolve_app(app, remote)
    label = f"Updating {email} on {output.app_label(name)} to {role}"
    with session.authenticated_client() as client, output.action(label):
        client.request("PATCH", _path(name, "collaborators", email), {"role": role})


def remove_access(
    email: EmailArgument, app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE
) -> None:
    """Remove a collaborator from an app; their open log tails end too."""
    name = resolve_app(app, remote)
    label = f"Removing {email} access from {output.app_label(name)}"
    with session.authenticated_client() as client, output.action(label):
        client.request("DELETE", _path(name, "collaborators", email))


def transfer(
    recipient: Annotated[str, typer.Argument(help="The new owner's email, or a team name.")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Transfer an app to another account or to a team (admins only)."""
    name = resolve_app(app, remote)
    label = f"Transferring {output.app_label(name)} to {recipient}"
    with session.authenticated_client() as client, output.action(label):
        client.request("POST", _path(name, "transfer"), {"to": recipient})


def register(app: typer.Typer) -> None:
    add_command(app, "access", list_access)
    add_command(app, "access:add", add_access)
    add_command(app, "access:update", update_access)
    add_command(app, "access:remove", remove_access)
    add_command(app, "apps:transfer", transfer)
