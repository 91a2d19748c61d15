"""Account security: password change and reset, two-factor, tokens and sessions, account deletion."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from wharf.cli import netrc_file, output, session, settings
from wharf.cli.commands.auth import PasswordStdinOption, read_password
from wharf.cli.registry import add_command
from wharf.cli.resolve import JsonOption


def change_password(password_stdin: PasswordStdinOption = False) -> None:
    """Change your password (needs the current one); your other sessions and tokens are revoked.

    With --password-stdin, the first line is the current password and the second the new one.
    """
    current = read_password(from_stdin=password_stdin, confirm=False)
    if password_stdin:
        new = read_password(from_stdin=True, confirm=False)
    else:
        new = typer.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)
    with session.authenticated_client() as client, output.action("Changing password"):
        answer = client.request(
            "POST", "/account/password", {"current_password": current, "new_password": new}
        )
    output.note(answer["message"])


def reset_password(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    api: Annotated[str | None, typer.Option("--api", help="API URL, like http://HOST:5000.")] = None,
) -> None:
    """Email a link to choose a new password (when an account uses that address)."""
    url = settings.normalize_api_url(api) if api else settings.api_url()
    with session.client_for(url) as client:
        answer = client.request("POST", "/password-reset", {"email": email})
    output.line(answer["message"])


def enable_two_factor(
    code: Annotated[
        str | None,
        typer.Option("--code", help="A code from your authenticator app (asked for if not given)."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Turn on two-factor authentication: add the secret to an authenticator app, then confirm a code."""
    with session.authenticated_client() as client:
        enrollment = client.request("POST", "/account/2fa")
        if not json:
            output.line("Add this account to your authenticator app (scan or paste the URI):")
            output.line(f"  {enrollment['uri']}")
            output.line(f"Secret: {enrollment['secret']}")
        given = code or typer.prompt("Code from the app", err=True)
        confirmed = client.request("POST", "/account/2fa/confirm", {"code": given})
    if json:
        output.print_json({**enrollment, **confirmed})
        return
    output.line("Two-factor authentication is on. Recovery codes (each works once; keep them safe):")
    for recovery in confirmed["recovery_codes"]:
        output.line(f"  {recovery}")


def disable_two_factor(
    code: Annotated[str | None, typer.Option("--code", help="A current code or a recovery code.")] = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Turn off two-factor authentication (needs your password and a code)."""
    password = read_password(from_stdin=password_stdin, confirm=False)
    given = code or typer.prompt("Two-factor code (or a recovery code)", err=True)
    with session.authenticated_client() as client:
        answer = client.request("POST", "/account/2fa/disable", {"password": password, "code": given})
    output.note(answer["message"])


def token_row(token: dict[str, Any]) -> list[str]:
    return [
        str(token["id"]),
        f"{token['prefix']}...",
        token["description"] + (" (this one)" if token.get("current") else ""),
        token["created_at"][:16],
        (token.get("last_used_at") or "never")[:16],
        (token.get("expires_at") or "never")[:16],
    ]


def list_tokens(json: JsonOption = False) -> None:
    """List your sessions and API tokens."""
    with session.authenticated_client() as client:
        tokens = client.request("GET", "/tokens")
    if json:
        output.print_json(tokens)
        return
    output.header("Sessions and tokens")
    header = ["ID", "Token", "Description", "Created", "Last used", "Expires"]
    output.table([header, *(token_row(token) for token in tokens)])


def revoke_token(token_id: Annotated[int, typer.Argument(help="The id from `wharf auth:tokens`.")]) -> None:
    """Revoke a session or token: it stops working at once."""
    with session.authenticated_client() as client, output.action(f"Revoking token {token_id}"):
        client.request("DELETE", f"/tokens/{token_id}")


def delete_account(
    confirm: Annotated[str, typer.Option("--confirm", help="Your email, to confirm.")],
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Delete your account, destroying every app you own."""
    password = read_password(from_stdin=password_stdin, confirm=False)
    url = settings.api_url()
    with session.authenticated_client() as client, output.action("Deleting account"):
        answer = client.request("POST", "/account/delete", {"confirm": confirm, "password": password})
    netrc_file.remove_entry(settings.api_host(url))
    destroyed = answer["destroyed_apps"]
    if destroyed:
        output.note(f"Destroyed apps: {', '.join(destroyed)}")
    output.line("Your account is deleted.")


def register(app: typer.Typer) -> None:
    add_command(app, "auth:password", change_password)
    add_command(app, "auth:password:reset", reset_password)
    add_command(app, "auth:2fa:enable", enable_two_factor)
    add_command(app, "auth:2fa:disable", disable_two_factor)
    add_command(app, "auth:tokens", list_tokens)
    add_command(app, "auth:tokens:revoke", revoke_token)
    add_command(app, "auth:delete", delete_account)
