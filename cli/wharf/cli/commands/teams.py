"""Teams: teams, teams:create, members, members:add, members:remove."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from wharf.cli import output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import JsonOption

TeamOption = Annotated[str, typer.Option("--team", "-t", help="The team's name.")]
EmailArgument = Annotated[str, typer.Argument(help="The member's account email.")]


def _members(team: str, *parts: str) -> str:
    return "/".join([f"/teams/{quote(team, safe='')}/members", *(quote(p, safe="@") for p in parts)])


def list_teams(json: JsonOption = False) -> None:
    """List the teams you are on, with your role."""
    with session.authenticated_client() as client:
        teams: list[dict[str, Any]] = client.request("GET", "/teams")
    if json:
        output.print_json(teams)
        return
    if not teams:
        output.line("You are on no teams. Create one: wharf teams:create NAME")
        return
    output.table(
        [
            ["Team", "Role", "Members", "Apps"],
            *([t["name"], t["role"], str(t["members"]), str(t["apps"])] for t in teams),
        ]
    )


def create_team(name: Annotated[str, typer.Argument(help="The team's name.")]) -> None:
    """Create a team; you become its admin."""
    with session.authenticated_client() as client, output.action(f"Creating team {name}"):
        client.request("POST", "/teams", {"name": name})


def list_members(team: TeamOption, json: JsonOption = False) -> None:
    """List a team's members and their roles."""
    with session.authenticated_client() as client:
        members: list[dict[str, Any]] = client.request("GET", _members(team))
    if json:
        output.print_json(members)
        return
    output.table([["Email", "Role"], *([m["email"], m["role"]] for m in members)])


def add_member(
    email: EmailArgument,
    team: TeamOption,
    role: Annotated[str, typer.Option("--role", "-r", help="admin, member or viewer.")] = "member",
) -> None:
    """Add an account to a team, or change its role there (team admins only)."""
    with session.authenticated_client() as client, output.action(f"Adding {email} to {team} as {role}"):
        client.request("PUT", _members(team), {"email": email, "role": role})


def remove_member(email: EmailArgument, team: TeamOption) -> None:
    """Remove an account from a team (team admins only)."""
    with session.authenticated_client() as client, output.action(f"Removing {email} from {team}"):
        client.request("DELETE", _members(team, email))


def register(app: typer.Typer) -> None:
    add_command(app, "teams", list_teams)
    add_command(app, "teams:create", create_team)
    add_command(app, "members", list_members)
    add_command(app, "members:add", add_member)
    add_command(app, "members:remove", remove_member)
