"""Pipelines and review apps: pipelines, pipelines:create, pipelines:add, pipelines:info,
pipelines:remove, pipelines:destroy, pipelines:promote, reviewapps:enable, reviewapps:disable."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

StageOption = Annotated[
    str, typer.Option("--stage", "-s", help="review, development, staging or production.")
]
PipelineOption = Annotated[str, typer.Option("--pipeline", "-p", help="The pipeline's name.")]


def _pipeline_path(name: str, *parts: str) -> str:
    return "/".join([f"/pipelines/{quote(name, safe='')}", *parts])


def _show(pipeline: dict[str, Any]) -> None:
    output.header(f"{pipeline['name']} Pipeline")
    rows = [["Stage", "App", "Release", "Image", "Tests"]]
    for entry in pipeline["apps"]:
        release = entry.get("release") or {}
        rows.append(
            [
                entry["stage"],
                entry["app"],
                f"v{release['version']}" if release else "-",
                (release.get("image_id") or "-")[:19],
                release.get("test_status") or "-",
            ]
        )
    output.table(rows)
    review = pipeline["review_apps"]
    if review["enabled"]:
        output.line()
        output.line(
            f"Review apps: branches {review['pattern']}, destroyed after {review['idle_days']} idle days"
        )


def list_pipelines(json: JsonOption = False) -> None:
    """List your pipelines."""
    with session.authenticated_client() as client:
        found: list[dict[str, Any]] = client.request("GET", "/pipelines")
    if json:
        output.print_json(found)
        return
    if not found:
        output.line("You have no pipelines. Create one: wharf pipelines:create NAME -a APP --stage staging")
        return
    output.header("Pipelines")
    output.table([["Name", "Apps"], *([p["name"], str(len(p["apps"]))] for p in found)])


def create_pipeline(
    name: Annotated[str, typer.Argument(help="The pipeline's name.")],
    stage: StageOption,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Create a pipeline with an app in one of its stages."""
    app_name = resolve_app(app, remote)
    with session.authenticated_client() as client, output.action(f"Creating pipeline {name}"):
        client.request("POST", "/pipelines", {"name": name, "app": app_name, "stage": stage})


def add_to_pipeline(
    name: Annotated[str, typer.Argument(help="The pipeline's name.")],
    stage: StageOption,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Add an app to a pipeline's stage."""
    app_name = resolve_app(app, remote)
    with session.authenticated_client() as client, output.action(f"Adding {app_name} to {name} ({stage})"):
        client.request("POST", _pipeline_path(name, "apps"), {"app": app_name, "stage": stage})


def pipeline_info(
    name: Annotated[str, typer.Argument(help="The pipeline's name.")], json: JsonOption = False
) -> None:
    """Show a pipeline's stages with each app's current release."""
    with session.authenticated_client() as client:
        pipeline: dict[str, Any] = client.request("GET", _pipeline_path(name))
    if json:
        output.print_json(pipeline)
        return
    _show(pipeline)


def remove_from_pipeline(app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE) -> None:
    """Take an app out of its pipeline (the app stays)."""
    app_name = resolve_app(app, remote)
    with session.authenticated_client() as client, output.action(f"Removing {app_name} from its pipeline"):
        client.request("DELETE", f"/apps/{quote(app_name, safe='')}/pipeline")


def destroy_pipeline(name: Annotated[str, typer.Argument(help="The pipeline's name.")]) -> None:
    """Destroy a pipeline; its apps stay, outside any pipeline."""
    with session.authenticated_client() as client, output.action(f"Destroying pipeline {name}"):
        client.request("DELETE", _pipeline_path(name))


def promote(
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="The app to promote to (repeatable); default: the next stage."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even when the release's tests failed.")
    ] = False,
) -> None:
    """Give the next stage's apps this app's current release image, with their own config."""
    app_name = resolve_app(app, remote)
    body = {"to": to or None, "force": force}
    with session.authenticated_client() as client, output.action(f"Promoting {app_name}"):
        made: list[dict[str, Any]] = client.request(
            "POST", f"/apps/{quote(app_name, safe='')}/pipeline/promote", body
        )
    for entry in made:
        output.line(f"Promoted to {entry['app']}: v{entry['release']['version']}")


def enable_review_apps(
    pipeline: PipelineOption,
    pattern: Annotated[str | None, typer.Option("--pattern", help="Branches that get a review app.")] = None,
    idle_days: Annotated[
        int | None,
        typer.Option("--idle-days", help="Destroy a review app after this many days without a push."),
    ] = None,
) -> None:
    """Give every pushed branch matching the pattern (default review/*) an app of its own."""
    body = {"enabled": True, "pattern": pattern, "idle_days": idle_days}
    with session.authenticated_client() as client, output.action(f"Enabling review apps on {pipeline}"):
        client.request("PUT", _pipeline_path(pipeline, "review-apps"), body)


def disable_review_apps(pipeline: PipelineOption) -> None:
    """Stop making review apps (the existing ones stay until their branch is deleted)."""
    with session.authenticated_client() as client, output.action(f"Disabling review apps on {pipeline}"):
        client.request("PUT", _pipeline_path(pipeline, "review-apps"), {"enabled": False})


def register(app: typer.Typer) -> None:
    add_command(app, "pipelines", list_pipelines)
    add_command(app, "pipelines:create", create_pipeline)
    add_command(app, "pipelines:add", add_to_pipeline)
    add_command(app, "pipelines:info", pipeline_info)
    add_command(app, "pipelines:remove", remove_from_pipeline)
    add_command(app, "pipelines:destroy", destroy_pipeline)
    add_command(app, "pipelines:promote", promote)
    add_command(app, "reviewapps:enable", enable_review_apps)
    add_command(app, "reviewapps:disable", disable_review_apps)
