"""Releases: the numbered history of an app."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.client import Release
from wharf.cli.errors import WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app


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


def rollback(
    version: Annotated[
        str | None, typer.Argument(help="The release to roll back to (vN); default: the previous one.")
    ] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Make a new release from an old one's image and config, and deploy it."""
    name = resolve_app(app, remote)
    number = None
    if version is not None:
        digits = version.lower().removeprefix("v")
        if not digits.isdigit():
            raise WharfError(f"{version} is not a release. Usage: wharf releases:rollback v4")
        number = int(digits)
    with (
        output.action(f"Rolling back {output.app_label(name)}") as status,
        session.authenticated_client() as client,
    ):
        made = client.request("POST", f"/apps/{quote(name, safe='')}/releases/rollback", {"version": number})
        status["suffix"] = f", v{made['version']}: {made['description']}"


def register(app: typer.Typer) -> None:
    add_command(app, "releases", list_releases)
    add_command(app, "releases:rollback", rollback)
