"""Releases: the numbered history of an app."""

from __future__ import annotations

from typing import Annotated

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.client import Release
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, RemoteOption, resolve_app

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]


def release_row(release: Release) -> list[str]:
    description = release["description"]
    if release.get("status") not in (None, "succeeded"):
        description = f"{description} ({release['status']})"
    return [
        f"v{release['version']}",
        description,
        release.get("created_by") or "",
        output.format_time(release.get("created_at")),
    ]


def list_releases(
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    num: Annotated[int, typer.Option("--num", "-n", help="Number of releases to show.")] = 15,
    json: JsonOption = False,
) -> None:
    """List the releases of an app, newest first."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        releases = client.releases(name)[: max(num, 0)]
    if json:
        output.print_json(releases)
        return
    if not releases:
        output.line(f"{output.app_label(name)} has no releases.")
        return
    current = next((release for release in releases if release.get("current")), None)
    title = f"{name} Releases"
    output.header(f"{title} - Current: v{current['version']}" if current else title)
    output.line()
    output.table([release_row(release) for release in releases])


def register(app: typer.Typer) -> None:
    add_command(app, "releases", list_releases)
