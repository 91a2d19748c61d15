"""Postgres: pg:psql, pg:info and the pg:backups family."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from wharf.cli import gitrepo, output, session, settings
from wharf.cli.client import USER_AGENT, error_from_response
from wharf.cli.commands.addons import addon_path, run_console
from wharf.cli.commands.addons import info as addon_info
from wharf.cli.errors import ApiUnreachableError, WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

DatabaseArgument = Annotated[
    str, typer.Argument(metavar="[DATABASE]", help="Add-on name or config var (default DATABASE_URL).")
]
BackupArgument = Annotated[
    str,
    typer.Argument(
        metavar="[BACKUP_ID]",
        help="Like b001 (default: the latest); ADDON::b001 names another Postgres add-on's backup.",
    ),
]
DatabaseOption = Annotated[str, typer.Option("--database", "-d", help="Add-on name or config var.")]
DEFAULT_DATABASE = "DATABASE"


def psql(
    database: DatabaseArgument = DEFAULT_DATABASE,
    command: Annotated[
        str | None, typer.Option("--command", "-c", help="SQL to run instead of a prompt.")
    ] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Run SQL with psql against the app's database (a prompt at a terminal, else stdin or --command)."""
    name = resolve_app(app, remote)
    run_console(name, database, command, prompt=f"{name}::{database}=> ", statement_end=";")


def pg_info(
    database: DatabaseArgument = DEFAULT_DATABASE,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    json: JsonOption = False,
) -> None:
    """Show the database's version, size, tables and connections."""
    addon_info(database, app=app, remote=remote, json=json)


def backups_list(
    database: DatabaseArgument = DEFAULT_DATABASE,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    json: JsonOption = False,
) -> None:
    """List the database's backups."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        backups: list[dict[str, Any]] = client.request("GET", f"{addon_path(name, database)}/backups")
    if json:
        output.print_json(backups)
        return
    if not backups:
        output.line(f"No backups. Capture one with: wharf pg:backups:capture -a {name}")
        return
    output.header(f"Backups of {backups[0]['addon']}")
    rows = [["ID", "Taken", "Status", "Size", "SHA-256"]]
    for backup in backups:
        size = human_size(backup["size_bytes"]) if backup["size_bytes"] is not None else ""
        status = backup["status"] + (" (scheduled)" if backup["scheduled"] else "")
        taken = output.format_time(backup["created_at"])
        rows.append([backup["id"], taken, status, size, (backup["sha256"] or "")[:16]])
    output.table(rows)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def capture(
    database: DatabaseArgument = DEFAULT_DATABASE,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    json: JsonOption = False,
) -> None:
    """Capture a backup (pg_dump in custom format) now."""
    name = resolve_app(app, remote)
    with (
        session.authenticated_client() as client,
        output.action(f"Backing up {database} on {output.app_label(name)}"),
    ):
        backup: dict[str, Any] = client.request("POST", f"{addon_path(name, database)}/backups")
    if json:
        output.print_json(backup)
        return
    if backup["status"] != "completed":
        raise WharfError(f"Backup {backup['id']} failed: {backup['failure']}")
    output.line(
        f"Backup {backup['id']} completed: {human_size(backup['size_bytes'])}, sha256 {backup['sha256']}"
    )


def download(
    backup_id: BackupArgument = "latest",
    database: DatabaseOption = DEFAULT_DATABASE,
    output_file: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write it.")] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Download a backup (default: the latest) and check its SHA-256."""
    name = resolve_app(app, remote)
    url = settings.api_url()
    token = settings.require_credentials(url).token
    target = output_file or Path(f"{backup_id if backup_id != 'latest' else 'latest'}.dump")
    path = f"{url.rstrip('/')}/api{addon_path(name, database)}/backups/{backup_id}/download"
    headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
    digest = hashlib.sha256()
    try:
        with (
            httpx.Client(transport=session.transport, timeout=60.0, verify=settings.tls_context()) as http,
            http.stream("GET", path, headers=headers) as response,
        ):
            if response.status_code >= 400:
                response.read()
                raise error_from_response(response)
            expected = response.headers.get("x-wharf-sha256", "")
            with target.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    digest.update(chunk)
    except httpx.TransportError as error:
        raise ApiUnreachableError(f"Could not reach the Wharf API at {url} ({error}).") from error
    if expected and digest.hexdigest() != expected:
        target.unlink(missing_ok=True)
        raise WharfError(
            "The download's SHA-256 does not match the backup's; the file was removed. Try again."
        )
    output.line(f"Wrote {target} ({human_size(target.stat().st_size)}, sha256 {digest.hexdigest()})")


def restore(
    backup_id: BackupArgument = "latest",
    database: DatabaseOption = DEFAULT_DATABASE,
    confirm: Annotated[str | None, typer.Option("--confirm", help="The app's name, to confirm.")] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Replace the database with a backup (default: the latest), after saying what it overwrites."""
    name = resolve_app(app, remote)
    base = f"{addon_path(name, database)}/backups/{backup_id}/restore"
    with session.authenticated_client() as client:
        preview: dict[str, Any] = client.request("GET", base)
        tables = ", ".join(preview["overwrites"]) or "no tables"
        output.note(
            f"WARNING: Restoring {preview['backup']['id']} (taken {preview['backup']['created_at']}) "
            f"replaces everything in {preview['database']}.\nIt now holds: {tables}."
        )
        confirmation = confirm if confirm is not None else _ask(name)
        if confirmation != name:
            raise WharfError(f"Confirmation did not match {name}. Nothing was restored.")
        with output.action(f"Restoring {preview['backup']['id']} into {preview['database']}"):
            client.request("POST", base, {"confirm": confirmation})


def _ask(app: str) -> str:
    message = f"To proceed, type {app} or re-run this command with --confirm {app}"
    if not sys.stdin.isatty():
        raise WharfError(message)
    output.note(message)
    return str(typer.prompt("", prompt_suffix="> ", err=True, default="", show_default=False))


def schedule(
    at: Annotated[str, typer.Option("--at", help="Daily time, HH:MM in UTC.")],
    retention: Annotated[int, typer.Option("--retention", help="Scheduled backups to keep.")] = 7,
    database: DatabaseArgument = DEFAULT_DATABASE,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Take a backup every day at HH:MM UTC, keeping the newest RETENTION of them."""
    name = resolve_app(app, remote)
    body = {"at": at, "retention": retention}
    with (
        session.authenticated_client() as client,
        output.action(f"Scheduling daily backups of {database} at {at} UTC"),
    ):
        client.request("PUT", f"{addon_path(name, database)}/backup-schedule", body)


def unschedule(
    database: DatabaseArgument = DEFAULT_DATABASE,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Stop taking scheduled backups (the ones taken stay)."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client, output.action(f"Unscheduling backups of {database}"):
        client.request("PUT", f"{addon_path(name, database)}/backup-schedule", {"at": None})


def register(app: typer.Typer) -> None:
    add_command(app, "pg:psql", psql)
    add_command(app, "pg:info", pg_info)
    add_command(app, "pg:backups", backups_list)
    add_command(app, "pg:backups:capture", capture)
    add_command(app, "pg:backups:download", download)
    add_command(app, "pg:backups:restore", restore)
    add_command(app, "pg:backups:schedule", schedule)
    add_command(app, "pg:backups:unschedule", unschedule)
