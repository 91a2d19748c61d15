"""The server's host key, generated once into the data dir (0600 in a 0700 dir)."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh

from wharf.platform.settings import ensure_private_dir


def host_key_path(data_dir: Path) -> Path:
    return data_dir / "ssh" / "host_ed25519_key"


def ensure_host_key(data_dir: Path) -> asyncssh.SSHKey:
    path = host_key_path(data_dir)
    ensure_private_dir(path.parent)
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.export_private_key())
    return asyncssh.read_private_key(path)
