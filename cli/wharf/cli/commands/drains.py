"""Log drains: drains, drains:add URL, drains:remove URL."""

from __future__ import annotations

from typing import Annotated, Any, cast
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

UrlArgument = Annotated[
    str, typer.Argument(help="syslog://HOST:PORT, syslog+tls://HOST:PORT or https://HOST/PATH")
]


def _path(app: str) -> str:
    return f"/apps/{quote(app, safe='')}/drains"


def list_drains(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """List the log drains of an app."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        drains = cast(list[dict[str, Any]], client.request("GET", _path(name)))
    if json:
        output.print_json(drains)
        return
    if not drains:
        output.line(f"{name} has no drains.")
        return
    output.header("Drains")
    for drain in drains:
        output.line(f"{drain['url']} ({drain['token']})")


def add(url: UrlArgument, app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE) -> None:
    """Forward the app's log to a syslog server or an HTTPS endpoint."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        client.request("POST", _path(name), {"url": url})
    output.line(f"Successfully added drain {url}")


def remove(
    url: Annotated[str, typer.Argument(help="The drain's URL or token.")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Stop forwarding the app's log to a drain."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        client.request("DELETE", f"{_path(name)}?url={quote(url, safe='')}")
    output.line(f"Successfully removed drain {url}")


def register(app: typer.Typer) -> None:
    add_command(app, "drains", list_drains)
    add_command(app, "drains:add", add)
    add_command(app, "drains:remove", remove)
