"""Serializing pushes to one app.

A push's commands name the old value each ref had when the client looked. When a second push waits
for a first one to finish, that old value is stale by the time it runs, and git would refuse the ref
update after the build. Wharf accepts force pushes, so a waiting push is rebased onto the ref's
current value while it holds the app's push lock: the result is the same as pushing right after the
first one finished with --force.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from wharf.platform.errors import BadRequest

ZERO = b"0" * 40


@dataclass
class PushCommands:
    commands: list[tuple[bytes, bytes, bytes]]
    capabilities: bytes

    @property
    def side_band(self) -> bool:
        return b"side-band" in self.capabilities


def read_commands(spool: IO[bytes]) -> PushCommands:
    """Read the ref-update commands of a receive-pack request, leaving the file at the pack.

    A body that is not git's pkt-line protocol is a 400, before anything runs.
    """
    commands: list[tuple[bytes, bytes, bytes]] = []
    capabilities = b""
    try:
        while header := spool.read(4):
            length = int(header, 16)
            if length == 0:
                break
            line, _, caps = spool.read(length - 4).rstrip(b"\n").partition(b"\x00")
            if caps:
                capabilities = caps
            old, new, ref = line.split(b" ", 2)
            commands.append((old, new, ref))
    except ValueError as error:
        raise BadRequest("This is not a git push. Push with git: git push wharf main") from error
    return PushCommands(commands=commands, capabilities=capabilities)


def encode_commands(push: PushCommands) -> bytes:
    out = bytearray()
    for index, (old, new, ref) in enumerate(push.commands):
        payload = old + b" " + new + b" " + ref
        if index == 0 and push.capabilities:
            payload += b"\x00" + push.capabilities
        payload += b"\n"
        out += f"{len(payload) + 4:04x}".encode() + payload
    return bytes(out) + b"0000"


def current_ref(repo: Path, ref: bytes) -> bytes:
    found = subprocess.run(
        ["git", "--git-dir", str(repo), "rev-parse", "--verify", "--quiet", ref.decode() + "^{commit}"],
        capture_output=True,
    )
    return found.stdout.strip() if found.returncode == 0 else ZERO


def rebase_onto_current_refs(spool: IO[bytes], repo: Path) -> IO[bytes]:
    """A copy of the request whose old values are the refs' current values (the pack is streamed over)."""
    spool.seek(0)
    push = read_commands(spool)
    push.commands = [(current_ref(repo, ref), new, ref) for _old, new, ref in push.commands]
    rebased = tempfile.TemporaryFile()  # noqa: SIM115  (handed to git as its stdin, closed after)
    rebased.write(encode_commands(push))
    shutil.copyfileobj(spool, rebased)
    rebased.seek(0)
    spool.close()
    return rebased


def side_band_message(text: str) -> bytes:
    """A progress message on band 2, shown by git as `remote: TEXT`."""
    payload = b"\x02" + text.encode()
    return f"{len(payload) + 4:04x}".encode() + payload
