"""The test phase: ci (test runs), ci:info N, ci:rerun [N]."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app


def _runs_path(app: str) -> str:
    return f"/apps/{quote(app, safe='')}/test-runs"


def list_runs(
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    num: Annotated[int, typer.Option("--num", "-n", help="Number of test runs to show.")] = 15,
    json: JsonOption = False,
) -> None:
    """List an app's test runs (app.json environments.test), newest first."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        runs: list[dict[str, Any]] = client.request("GET", _runs_path(name))[: max(num, 0)]
    if json:
        output.print_json(runs)
        return
    if not runs:
        output.line(
            f"{output.app_label(name)} has no test runs. Add environments.test.scripts.test to app.json "
            "and push."
        )
        return
    output.header(f"{name} Test Runs")
    rows = [["#", "Status", "Commit", "Exit", "Release", "Created"]]
    for run in runs:
        rows.append(
            [
                str(run["number"]),
                run["status"],
                run["commit"][:7],
                "" if run.get("exit_code") is None else str(run["exit_code"]),
                f"v{run['release']}" if run.get("release") else "",
                output.format_time(run.get("created_at")),
            ]
        )
    output.table(rows)


def show_run(
    number: Annotated[int, typer.Argument(help="The test run's number (see `wharf ci`).", min=0)],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    json: JsonOption = False,
) -> None:
    """Show one test run with its output."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        run: dict[str, Any] = client.request("GET", f"{_runs_path(name)}/{number}")
    if json:
        output.print_json(run)
        return
    output.header(f"{name} test run {run['number']}")
    output.key_values(
        [
            ("Status", run["status"]),
            ("Commit", run["commit"]),
            ("Exit code", "" if run.get("exit_code") is None else str(run["exit_code"])),
            ("Result", run.get("message") or ""),
            ("Release", f"v{run['release']}" if run.get("release") else ""),
            ("Started", output.format_time(run.get("started_at"))),
            ("Finished", output.format_time(run.get("finished_at"))),
        ]
    )
    output.line()
    output.line(run.get("output") or "")


def rerun(
    number: Annotated[
        int | None, typer.Argument(help="The test run to repeat; default: the latest.", min=0)
    ] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    json: JsonOption = False,
) -> None:
    """Run a test run's commands again in the same image (nothing is deployed)."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        if number is None:
            runs: list[dict[str, Any]] = client.request("GET", _runs_path(name))
            if not runs:
                output.line(f"{output.app_label(name)} has no test runs to rerun.")
                raise typer.Exit(1)
            number = int(runs[0]["number"])
        made: dict[str, Any] = client.request("POST", f"{_runs_path(name)}/{number}/rerun")
    if json:
        output.print_json(made)
        return
    output.line(
        f"Test run {made['number']} started (a rerun of {number}). "
        f"See it with: wharf ci:info {made['number']} -a {name}"
    )


def register(app: typer.Typer) -> None:
    add_command(app, "ci", list_runs)
    add_command(app, "ci:info", show_run)
    add_command(app, "ci:rerun", rerun)
