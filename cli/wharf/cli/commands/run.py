"""`wharf run CMD...`: a one-off dyno with this terminal attached, exiting with the command's code."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session, settings
from wharf.cli.errors import WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, RemoteOption, resolve_app


def websocket_url(api_url: str, app: str) -> str:
    base = api_url.rstrip("/")
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/api/apps/{quote(app, safe='')}/run"


@contextmanager
def raw_terminal() -> Iterator[None]:
    """Keystrokes go to the dyno as typed (Ctrl-C included) while stdin is a terminal."""
    if not sys.stdin.isatty():
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(sys.stdin.fileno())
    tty.setraw(sys.stdin.fileno())
    try:
        yield
    finally:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


def _send_input(connection: Any) -> None:
    fd = sys.stdin.fileno()
    try:
        while data := os.read(fd, 4096):
            connection.send(data)
        connection.send(json.dumps({"eof": True}))
    except Exception:
        return


def attach(url: str, token: str, command: str, size: str) -> int:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    columns, rows = shutil.get_terminal_size()
    first = {"command": command, "size": size, "rows": rows, "columns": columns}
    tls = settings.tls_context() if url.startswith("wss://") else None
    headers = {"Authorization": f"Bearer {token}"}
    with connect(url, additional_headers=headers, max_size=None, ssl=tls) as connection:
        connection.send(json.dumps(first))
        with raw_terminal():
            threading.Thread(target=_send_input, args=(connection,), daemon=True).start()
            try:
                for message in connection:
                    if isinstance(message, bytes):
                        sys.stdout.buffer.write(message)
                        sys.stdout.buffer.flush()
                        continue
                    control = json.loads(message)
                    if "error" in control:
                        raise WharfError(str(control["error"]))
                    if "exit" in control:
                        return int(control["exit"])
            except ConnectionClosed:
                pass
    raise WharfError("The connection to the dyno closed before the command finished.")


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
) -> None:
    """Run a one-off dyno, attached to this terminal unless --detach."""
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
    output.note(f"Running {text} on {output.app_label(name)}... up")
    try:
        code = attach(websocket_url(url, name), token, text, size)
    except OSError as error:
        raise WharfError(f"Could not reach the Wharf API at {url} ({error}).") from error
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    add_command(app, "run", run)
