"""`wharf run CMD...`: a one-off dyno attached to this terminal or script, exiting with the command's code."""

from __future__ import annotations

import shlex
import shutil
import sys
from typing import Annotated
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, run_session, session, settings
from wharf.cli.errors import WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, RemoteOption, resolve_app


def websocket_url(api_url: str, app: str) -> str:
    base = api_url.rstrip("/")
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/api/apps/{quote(app, safe='')}/run"


def run(
    command: Annotated[
        list[str], typer.Argument(help="The command to run, like bash or python manage.py migrate.")
    ],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Run in the background; see wharf logs.")
    ] = False,
    size: Annotated[str, typer.Option("--size", "-s", help="Dyno size.")] = "basic",
    no_tty: Annotated[
        bool, typer.Option("--no-tty", help="No terminal for the dyno, even from a terminal.")
    ] = False,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code", "-x", help="Exit with the command's exit code (always the case; kept for scripts)."
        ),
    ] = False,
) -> None:
    """Run a one-off dyno attached to this terminal, or to this script's stdin and stdout, unless --detach.

    The dyno gets a terminal only when stdin and stdout both are one (and never with --no-tty);
    without one, input streams until its end and stdout and stderr stay apart. Status lines go to
    stderr, so `x=$(wharf run -- cmd)` holds the command's output alone; wharf run exits with the
    command's exit code.
    """
    name = resolve_app(app, remote)
    text = command[0] if len(command) == 1 else shlex.join(command)
    if detach:
        with session.authenticated_client() as client:
            dyno = client.request(
                "POST", f"/apps/{quote(name, safe='')}/dynos", {"command": text, "size": size}
            )
        output.note(f"Running {text} on {output.app_label(name)}... up, {dyno['name']}")
        output.note(f"Run wharf logs --app {name} --dyno {dyno['name']} to view the output.")
        return
    url = settings.api_url()
    token = settings.require_credentials(url).token
    tty = not no_tty and sys.stdin.isatty() and sys.stdout.isatty()
    columns, rows = shutil.get_terminal_size()
    first = {"command": text, "size": size, "tty": tty, "rows": rows, "columns": columns}

    def started(dyno: str) -> None:
        output.note(f"Running {text} on {output.app_label(name)}... up, {dyno}")

    try:
        code = run_session.attach(websocket_url(url, name), token, first, on_started=started)
    except OSError as error:
        raise WharfError(f"Could not reach the Wharf API at {url} ({error}).") from error
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    add_command(app, "run", run)
