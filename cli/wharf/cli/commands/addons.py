"""Add-ons: addons, addons:create, addons:info, addons:destroy, and the console loop pg/redis share."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.client import WharfClient
from wharf.cli.errors import WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

AddonArgument = Annotated[str, typer.Argument(metavar="NAME", help="Add-on name or its config var.")]
PROVISION_TIMEOUT = 20 * 60.0
POLL_SECONDS = 1.0


def addon_path(app: str, addon: str = "") -> str:
    path = f"/apps/{quote(app, safe='')}/addons"
    return f"{path}/{quote(addon, safe='')}" if addon else path


def list_addons(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """List an app's add-ons."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        addons: list[dict[str, Any]] = client.request("GET", addon_path(name))
    if json:
        output.print_json(addons)
        return
    if not addons:
        output.line(f"No add-ons for app {name}.")
        return
    rows = [["Add-on", "Kind", "Config var", "State"]]
    rows += [[a["name"], a["kind"], a["attachment"], a["status"]] for a in addons]
    output.table(rows)


def wait_until_provisioned(
    client: WharfClient, app: str, addon: str, *, show: Callable[[str], None]
) -> dict[str, Any]:
    """Poll until the add-on is available or failed, showing each new status line."""
    deadline = time.monotonic() + PROVISION_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        details: dict[str, Any] = client.request("GET", addon_path(app, addon))
        if details["status"] != "provisioning":
            return details
        message = str(details.get("status_message") or "")
        if message and message != last:
            show(message)
            last = message
        time.sleep(POLL_SECONDS)
    raise WharfError(f"{addon} is still provisioning. Check on it with wharf addons:info {addon} -a {app}.")


def create_addon(
    kind: Annotated[str, typer.Argument(help="postgres, redis or memcached.")],
    as_name: Annotated[
        str | None, typer.Option("--as", help="Attachment name: the config var is NAME_URL.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until it is available.")] = True,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    json: JsonOption = False,
) -> None:
    """Create an add-on and attach it to the app (sets DATABASE_URL, REDIS_URL or MEMCACHED_URL)."""
    name = resolve_app(app, remote)
    body = {"kind": kind, "as": as_name} if as_name else {"kind": kind}
    with session.authenticated_client() as client:
        created: dict[str, Any] = client.request("POST", addon_path(name), body)
        label = f"Creating {created['name']} on {output.app_label(name)}"
        details = created
        if wait:
            output.note(f"{label}...")
            details = wait_until_provisioned(
                client, name, created["name"], show=lambda m: output.note("  " + m)
            )
            if details["status"] != "available":
                raise WharfError(f"{created['name']} failed: {details.get('status_message')}")
            releases = client.releases(name)
    if json:
        output.print_json(details)
        return
    if not wait:
        output.line(f"{created['name']} is being created; wharf addons -a {name} shows when it is available.")
        return
    version = f" (release v{releases[0]['version']})" if releases else ""
    output.line(f"Created {created['name']} as {created['attachment']}{version}")
    output.line(f"Use wharf addons:info {created['name']} -a {name} to view its details.")


def info(
    addon: AddonArgument,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    json: JsonOption = False,
) -> None:
    """Show an add-on's details."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        details: dict[str, Any] = client.request("GET", addon_path(name, addon))
    if json:
        output.print_json(details)
        return
    show_details(details)


def show_details(details: dict[str, Any]) -> None:
    output.header(details["name"])
    pairs = [
        ("App", details["app"]),
        ("Kind", details["title"]),
        ("Config var", details["attachment"]),
        ("State", details["status"]),
        ("Created", output.format_time(details.get("created_at"))),
    ]
    if details.get("backup_schedule"):
        pairs.append(("Backups", f"{details['backup_schedule']}, keeping {details['backup_retention']}"))
    pairs += list((details.get("facts") or {}).items())
    output.key_values(pairs)


def destroy(
    addon: AddonArgument,
    confirm: Annotated[str | None, typer.Option("--confirm", help="The add-on's name, to confirm.")] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Permanently destroy an add-on and its data (needs --confirm NAME)."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        details: dict[str, Any] = client.request("GET", addon_path(name, addon))
        real_name = details["name"]
        confirmation = confirm if confirm is not None else ask_confirmation(real_name, name)
        if confirmation != real_name:
            raise WharfError(f"Confirmation did not match {real_name}. Nothing was destroyed.")
        with output.action(f"Destroying {real_name} on {output.app_label(name)}"):
            client.request("DELETE", f"{addon_path(name, real_name)}?confirm={quote(confirmation, safe='')}")


def ask_confirmation(addon: str, app: str) -> str:
    warning = (
        f"WARNING: This will destroy {addon} on {output.app_label(app)} and all of its data and backups.\n"
        f"To proceed, type {addon} or re-run this command with --confirm {addon}"
    )
    if not sys.stdin.isatty():
        raise WharfError(warning)
    output.note(warning)
    return str(typer.prompt("", prompt_suffix="> ", err=True, default="", show_default=False))


def run_console(app: str, addon: str, command: str | None, *, prompt: str, statement_end: str | None) -> None:
    """One command (`--command`), piped stdin as one command, or a line-by-line prompt at a terminal.

    At the prompt a statement is sent once a line ends with `statement_end` (`;` for SQL), or at
    every line when it is None (Redis).
    """
    with session.authenticated_client() as client:
        if command is not None or not sys.stdin.isatty():
            code = send_console(client, app, addon, command if command is not None else sys.stdin.read())
            if code != 0:
                raise typer.Exit(code)
            return
        output.note(f"Connected to {addon} on {output.app_label(app)}. End with Ctrl-D.")
        buffered: list[str] = []
        while True:
            try:
                line = input(prompt if not buffered else " " * (len(prompt) - 2) + "> ")
            except EOFError:
                output.note("")
                return
            buffered.append(line)
            text = "\n".join(buffered).strip()
            if not text:
                buffered.clear()
            elif statement_end is None or text.endswith(statement_end) or text.startswith("\\"):
                send_console(client, app, addon, text)
                buffered.clear()


def send_console(client: WharfClient, app: str, addon: str, command: str) -> int:
    result: dict[str, Any] = client.request("POST", f"{addon_path(app, addon)}/console", {"command": command})
    sys.stdout.write(result["output"])
    sys.stdout.flush()
    return int(result["exit_code"])


def register(app: typer.Typer) -> None:
    add_command(app, "addons", list_addons)
    add_command(app, "addons:create", create_addon)
    add_command(app, "addons:info", info)
    add_command(app, "addons:destroy", destroy)
