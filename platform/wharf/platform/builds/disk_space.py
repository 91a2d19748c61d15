"""Builds on a host whose disk is full or nearly so: refused before they start, or failed with what to do.

A failed build never touches the running release, so the app keeps serving either way. Running out of
space shows as ENOSPC in the build's own code, or as Docker's or a buildpack's "No space left on
device" (in an error or in the last lines of the build's output).
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Sequence
from pathlib import Path

from wharf.platform.builds.compile import BuildFailed

MB = 1024 * 1024
NO_SPACE = "no space left on device"
# How far back in the build's output a buildpack's "No space left on device" counts.
OUTPUT_LINES_READ = 50
FREE_SPACE_HINT = (
    "The running release keeps serving. Push again once the operator has freed space on the host "
    "(`wharfd gc` removes old build directories, release images and stopped containers)."
)


def free_bytes(path: Path) -> int:
    """Free space of the filesystem holding PATH (or its nearest existing parent)."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def ensure_room(builds_dir: Path, min_free_mb: int) -> None:
    """Refuse a build where builds run with less than MIN_FREE_MB free (0: no floor)."""
    if min_free_mb <= 0:
        return
    free = free_bytes(builds_dir)
    if free < min_free_mb * MB:
        raise BuildFailed(
            f"This host's disk is nearly full: {free // MB} MB free where builds run, under the "
            f"{min_free_mb} MB a build needs (WHARF_BUILD_MIN_FREE_MB). {FREE_SPACE_HINT}"
        )


def ran_out_of_space(error: BaseException, output: Sequence[str]) -> bool:
    """Whether ERROR (or what caused it), or the build's last lines of output, say the disk was full."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return True
        if NO_SPACE in str(cause).lower():
            return True
        cause = cause.__cause__ or cause.__context__
    return any(NO_SPACE in line.lower() for line in output[-OUTPUT_LINES_READ:])


def out_of_space_message(builds_dir: Path) -> str:
    return (
        f"The build ran out of disk space on this host ({free_bytes(builds_dir) // MB} MB free where "
        f"builds run). {FREE_SPACE_HINT}"
    )
