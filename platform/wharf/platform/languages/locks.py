"""One installer per runtime version at a time: a second build that needs it waits, then finds it cached."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def runtime_lock(runtimes_dir: Path, language: str, version: str) -> Iterator[None]:
    folder = runtimes_dir / language
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f".{version}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
