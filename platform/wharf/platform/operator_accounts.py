"""The operator's `wharfd` commands for the beta: the waitlist and the invite tree."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: str) -> None:
    console.print(f"[red]wharfd: {message}[/red]")
    raise typer.Exit(1)


def _database_url() -> str:
    from wharf.platform.migrate import upgrade_database
    from wharf.platform.settings import get_settings

    url = get_settings().resolved_database_url
    upgrade_database(url)
    return url


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def waitlist_status(entry: Any) -> str:
    if entry.approved_at is not None:
        return "approved"
    return "confirmed" if entry.confirmed_at is not None else "unconfirmed"


def waitlist(json_output: JsonFlag = False) -> None:
    """List the waitlist, oldest first: who confirmed and who was approved."""
    from wharf.platform.actions.waitlist import list_waitlist
    from wharf.platform.db import session_scope

    with session_scope(_database_url()) as session:
        rows = [
            {
                "email": e.email,
                "status": waitlist_status(e),
                "created_at": _iso(e.created_at),
                "confirmed_at": _iso(e.confirmed_at),
                "approved_at": _iso(e.approved_at),
            }
            for e in list_waitlist(session=session)
        ]
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("The waitlist is empty.")
        return
    for row in rows:
        print(f"{row['email']:<40} {row['status']:<12} joined {str(row['created_at'])[:16]}")


def waitlist_approve(
    emails: Annotated[list[str] | None, typer.Argument(help="Emails to approve.")] = None,
    next_count: Annotated[
        int | None, typer.Option("--next", help="Approve the next N confirmed entries, oldest first.")
    ] = None,
) -> None:
    """Approve waitlist entries: each gets an invite and an email with its redeem link."""
    from wharf.platform.actions.waitlist import approve
    from wharf.platform.db import session_scope
    from wharf.platform.errors import WharfError
    from wharf.platform.settings import get_settings

    settings = get_settings()
    try:
        with session_scope(_database_url()) as session:
            approvals = approve(
                session=session, settings=settings, emails=emails or None, next_count=next_count
            )
            approved = [a.email for a in approvals]
    except WharfError as exc:
        _fail(exc.message)
    if not approved:
        console.print("Nobody to approve: no confirmed entry is waiting.")
    for email in approved:
        print(f"approved {email}: invite emailed")


def invite_tree(*, session: Any) -> list[dict[str, Any]]:
    """Who invited whom: the operator's invites at the top, each user's own invites below them."""
    from sqlalchemy import select

    from wharf.platform.models import Invite, User

    invites = list(session.scalars(select(Invite).order_by(Invite.id)))
    users = {u.id: u for u in session.scalars(select(User))}
    by_inviter: dict[int | None, list[Any]] = {}
    for invite in invites:
        by_inviter.setdefault(invite.created_by_id, []).append(invite)

    def node(user_id: int | None, email: str, seen: frozenset[int]) -> dict[str, Any]:
        made = by_inviter.get(user_id, [])
        redeemed = [r for invite in made for r in invite.redemptions]
        children = [
            node(r.user_id, users[r.user_id].email, seen | {r.user_id})
            for r in redeemed
            if r.user_id in users and r.user_id not in seen
        ]
        return {
            "email": email,
            "invites": len(made),
            "redeemed": len(redeemed),
            "redemption_rate": round(len(redeemed) / len(made), 3) if made else None,
            "invited": children,
        }

    return [node(None, "operator", frozenset())]


def _print_tree(nodes: list[dict[str, Any]], depth: int = 0) -> None:
    for item in nodes:
        rate = "-" if item["redemption_rate"] is None else f"{item['redemption_rate']:.0%}"
        print(f"{'  ' * depth}{item['email']}  ({item['redeemed']}/{item['invites']} redeemed, {rate})")
        _print_tree(item["invited"], depth + 1)


def invites_root(
    ctx: typer.Context,
    tree: Annotated[bool, typer.Option("--tree", help="Who invited whom, and redemption rates.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Beta invite codes."""
    if ctx.invoked_subcommand is not None:
        return
    if not tree:
        console.print(ctx.get_help())
        raise typer.Exit(0)
    from wharf.platform.db import session_scope

    with session_scope(_database_url()) as session:
        nodes = invite_tree(session=session)
    if json_output:
        print(json.dumps(nodes, indent=2))
    else:
        _print_tree(nodes)


def register(cli: typer.Typer, invites_cli: typer.Typer) -> None:
    command: Callable[..., Any]
    for name, command in (("waitlist", waitlist), ("waitlist:approve", waitlist_approve)):
        cli.command(name)(command)
    invites_cli.callback(invoke_without_command=True)(invites_root)
