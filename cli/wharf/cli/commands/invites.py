"""Beta invites: the codes you hand out and who redeemed them."""

from __future__ import annotations

from typing import Annotated

import typer

from wharf.cli import output, session, settings
from wharf.cli.client import Invite
from wharf.cli.registry import add_command
from wharf.cli.resolve import JsonOption


def invite_row(invite: Invite) -> list[str]:
    redeemed = ", ".join(redemption["email"] for redemption in invite.get("redeemed_by") or [])
    expires = (invite.get("expires_at") or "never")[:10]
    uses = f"{invite['uses']}/{invite['max_uses']}"
    return [invite["hint"], uses, expires, invite.get("note") or "", redeemed]


def list_invites(json: JsonOption = False) -> None:
    """List the invite codes you created and who redeemed them."""
    with session.authenticated_client() as client:
        invites = client.invites()
    if json:
        output.print_json(invites)
        return
    if not invites:
        output.line("You have not created any invites. Create one with wharf invites:create.")
        return
    output.header("Invites")
    output.line()
    header = ["Code", "Uses", "Expires", "Note", "Redeemed by"]
    output.table([header, *(invite_row(invite) for invite in invites)])


def create_invite(
    note: Annotated[str | None, typer.Option("--note", help="A reminder of whom the invite is for.")] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Email the invite and its redeem link to this address.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Create an invite code to give to someone (your quota is set by the operator)."""
    with session.authenticated_client() as client, output.action("Creating invite"):
        invite = client.create_invite(note=note, email=email)
    if json:
        output.print_json(invite)
        return
    if email:
        output.note(f"Invite emailed to {email}.")
    output.line(invite["code"])
    output.note(f"Share it: wharf signup --api {settings.api_url()} --invite {invite['code']} --email EMAIL")


def register(app: typer.Typer) -> None:
    add_command(app, "invites", list_invites)
    add_command(app, "invites:create", create_invite)
