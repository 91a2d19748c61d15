"""Builds and buildpacks: builds, builds:output, buildpacks, buildpacks:set, buildpacks:clear."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app


def _builds_path(app: str) -> str:
    return f"/apps/{quote(app, safe='')}/builds"


def _size(value: int | None) -> str:
    return f"{value / 1e6:.1f} MB" if value else ""


def list_builds(
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    num: Annotated[int, typer.Option("--num", "-n", help="Number of builds to show.")] = 15,
    json: JsonOption = False,
) -> None:
    """List an app's builds, newest first."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        builds: list[dict[str, Any]] = client.request("GET", _builds_path(name))[: max(num, 0)]
    if json:
        output.print_json(builds)
        return
    if not builds:
        output.line(f"{output.app_label(name)} has no builds. Deploy with: git push wharf main")
        return
    output.header(f"{name} Builds")
    rows = [["ID", "Status", "Commit", "Buildpacks", "Release", "Duration", "Slug", "Created"]]
    for build in builds:
        rows.append(
            [
                str(build["id"]),
                build["status"],
                build["commit"][:7],
                ", ".join(build.get("buildpacks") or []),
                f"v{build['release']}" if build.get("release") else "",
                f"{build['duration_seconds']:.1f}s" if build.get("duration_seconds") else "",
                _size(build.get("slug_bytes")),
                output.format_time(build.get("created_at")),
            ]
        )
    output.table(rows)


def show_output(
    build_id: Annotated[int | None, typer.Argument(help="Build ID; the latest build when left out.")] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Print a build's full output."""
    name = resolve_app(app, remote)
    which = "latest" if build_id is None else str(build_id)
    with session.authenticated_client() as client:
        build: dict[str, Any] = client.request("GET", f"{_builds_path(name)}/{which}")
    output.line(build["output"])
    if build.get("failure"):
        output.note(f"Build {build['id']} failed: {build['failure']}")


def list_buildpacks(app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE) -> None:
    """Show the buildpack set for an app (detection is used when none is set)."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        url = client.config(name).get("BUILDPACK_URL")
    if url:
        output.header(f"{name} Buildpack URL")
        output.line(url)
    else:
        output.line(f"{output.app_label(name)} has no buildpack set; Wharf detects one on each push.")


def set_buildpack(
    buildpack: Annotated[
        str, typer.Argument(help="A built-in name (python, nodejs, static), a path or a git URL.")
    ],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Use this buildpack for the next builds (sets BUILDPACK_URL)."""
    name = resolve_app(app, remote)
    with (
        session.authenticated_client() as client,
        output.action(f"Setting the buildpack of {output.app_label(name)}"),
    ):
        client.update_config(name, {"BUILDPACK_URL": buildpack})
    output.line("The next push will use it: git push wharf main")


def clear_buildpack(app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE) -> None:
    """Go back to detecting the buildpack on each push."""
    name = resolve_app(app, remote)
    with (
        session.authenticated_client() as client,
        output.action(f"Clearing the buildpack of {output.app_label(name)}"),
    ):
        client.update_config(name, {"BUILDPACK_URL": None})


def register(app: typer.Typer) -> None:
    add_command(app, "builds", list_builds)
    add_command(app, "builds:output", show_output)
    add_command(app, "buildpacks", list_buildpacks)
    add_command(app, "buildpacks:set", set_buildpack)
    add_command(app, "buildpacks:clear", clear_buildpack)
