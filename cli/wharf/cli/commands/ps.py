"""Dynos: ps, ps:scale, ps:restart, ps:stop."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Annotated, Any
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.errors import WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

SCALE_ARGUMENT = re.compile(r"(?P<type>[A-Za-z0-9_-]+)(?:=(?P<quantity>\d+))?(?::(?P<size>[a-z]+))?")


def parse_scale(arguments: list[str]) -> list[dict[str, Any]]:
    """`web=3`, `worker=0`, `web=2:standard` or `web:performance` to formation updates."""
    updates: list[dict[str, Any]] = []
    for argument in arguments:
        match = SCALE_ARGUMENT.fullmatch(argument)
        if not match or (match["quantity"] is None and match["size"] is None):
            raise WharfError(
                f"{argument} is invalid. Usage: wharf ps:scale web=2 worker=1, or web=2:standard for a size."
            )
        update: dict[str, Any] = {"type": match["type"]}
        if match["quantity"] is not None:
            update["quantity"] = int(match["quantity"])
        if match["size"] is not None:
            update["size"] = match["size"]
        updates.append(update)
    return updates


def dyno_line(dyno: dict[str, Any]) -> str:
    state = dyno["state"]
    if state == "sleeping":
        since = output.format_time(dyno.get("since"))
        return f"{dyno['name']}: sleeping since {since}, wakes on the next request  v{dyno['release']}"
    if dyno.get("restarts"):
        state = f"{state} (restarts: {dyno['restarts']})"
    since = output.format_time(dyno.get("since"))
    return f"{dyno['name']}: {state} {since} v{dyno['release']}  {dyno['command']}"


def show(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """List the dynos of an app, with their state, since when, their release and command."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        dynos: list[dict[str, Any]] = client.request("GET", f"/apps/{quote(name, safe='')}/dynos")
    if json:
        output.print_json(dynos)
        return
    if not dynos:
        output.line(f"No dynos on {output.app_label(name)}")
        return
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for dyno in dynos:
        by_type[dyno["type"]].append(dyno)
    for index, (kind, group) in enumerate(sorted(by_type.items())):
        if index:
            output.line()
        sizes = sorted({d["size"] for d in group})
        output.header(f"{kind} ({', '.join(sizes)}): {group[0]['command']} ({len(group)})")
        for dyno in group:
            output.line(dyno_line(dyno))


def scale(
    changes: Annotated[list[str], typer.Argument(help="TYPE=QUANTITY[:SIZE] ...")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Scale dyno quantity and size: wharf ps:scale web=3 worker=1, web=2:standard."""
    name = resolve_app(app, remote)
    updates = parse_scale(changes)
    with output.action(f"Scaling dynos on {output.app_label(name)}") as status:
        with session.authenticated_client() as client:
            rows = client.request("PATCH", f"/apps/{quote(name, safe='')}/formation", {"updates": updates})
        wanted = {u["type"] for u in updates}
        status["suffix"] = ", now running " + ", ".join(
            f"{r['type']} at {r['quantity']}:{r['size']}" for r in rows if r["type"] in wanted
        )


def restart(
    target: Annotated[str | None, typer.Argument(help="A process type (web) or a dyno (web.1).")] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Restart every dyno, the dynos of a type, or one dyno."""
    name = resolve_app(app, remote)
    what = f"{target} dynos" if target and "." not in target else (target or "all dynos")
    with (
        output.action(f"Restarting {what} on {output.app_label(name)}"),
        session.authenticated_client() as client,
    ):
        client.request("POST", f"/apps/{quote(name, safe='')}/dynos/restart", {"target": target})


def stop(
    dyno: Annotated[str, typer.Argument(help="The dyno to stop, like run.1234 or web.1.")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Stop a dyno (a formation dyno is started again, as the formation still wants it)."""
    name = resolve_app(app, remote)
    with (
        output.action(f"Stopping {dyno} on {output.app_label(name)}"),
        session.authenticated_client() as client,
    ):
        client.request("POST", f"/apps/{quote(name, safe='')}/dynos/{quote(dyno, safe='')}/stop")


def register(app: typer.Typer) -> None:
    add_command(app, "ps", show)
    add_command(app, "ps:scale", scale)
    add_command(app, "ps:restart", restart)
    add_command(app, "ps:stop", stop)
