"""SSH keys for `git push ssh://git@HOST:2222/APP.git`: keys, keys:add, keys:remove."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import quote

import typer

from wharf.cli import output, session
from wharf.cli.errors import WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import JsonOption

MAX_KEY_FILE_BYTES = 16_384
DEFAULT_KEYS = ("id_ed25519.pub", "id_rsa.pub")


def _default_key_file() -> Path:
    for name in DEFAULT_KEYS:
        candidate = Path.home() / ".ssh" / name
        if candidate.is_file():
            return candidate
    raise WharfError("No ~/.ssh/id_ed25519.pub or ~/.ssh/id_rsa.pub: make one with `ssh-keygen -t ed25519`.")


def _read_key(path: Path) -> str:
    if path.suffix != ".pub" and path.with_suffix(".pub").is_file():
        raise WharfError(f"{path} looks like a private key: give {path.with_suffix('.pub')} instead.")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as error:
        raise WharfError(f"Cannot read {path}: {error.strerror}.") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise WharfError(f"{path} is too large for a public key.")
    return data.decode(errors="replace")


def add(
    file: Annotated[
        Path | None, typer.Argument(help="Public key file; default ~/.ssh/id_ed25519.pub, then id_rsa.pub.")
    ] = None,
) -> None:
    """Add an SSH public key to your account, for git pushes over SSH."""
    path = file or _default_key_file()
    public_key = _read_key(path)
    with session.authenticated_client() as client:
        key = cast(dict[str, Any], client.request("POST", "/account/keys", {"public_key": public_key}))
    output.line(f"Added key {key['fingerprint']} {key['comment']}".rstrip())


def list_keys(json: JsonOption = False) -> None:
    """List your account's SSH keys."""
    with session.authenticated_client() as client:
        keys = cast(list[dict[str, Any]], client.request("GET", "/account/keys"))
    if json:
        output.print_json(keys)
        return
    if not keys:
        output.line("You have no SSH keys. Add one with `wharf keys:add`.")
        return
    output.header("SSH keys")
    output.table([[k["fingerprint"], k["comment"], output.format_time(k["created_at"])] for k in keys])


def remove(
    which: Annotated[str, typer.Argument(help="The key's fingerprint (SHA256:...) or comment.")],
) -> None:
    """Remove one of your SSH keys."""
    with session.authenticated_client() as client:
        key = cast(dict[str, Any], client.request("DELETE", f"/account/keys?key={quote(which, safe='')}"))
    output.line(f"Removed key {key['fingerprint']} {key['comment']}".rstrip())


def register(app: typer.Typer) -> None:
    add_command(app, "keys", list_keys)
    add_command(app, "keys:add", add)
    add_command(app, "keys:remove", remove)
