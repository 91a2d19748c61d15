"""A process-count cgroup per Dockerfile build: `docker build` takes no pids limit of its own.

The build's containers are placed under a parent cgroup whose `pids.max` holds the limit, so a fork
bomb in a `RUN` step stops at it. (An `nproc` ulimit would count every process of the same uid on the
host, dynos included.) With Docker's systemd cgroup driver, or no writable cgroup filesystem, there is
no parent and the build falls back to the `nproc` ulimit.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import docker

log = logging.getLogger(__name__)
CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "wharf-builds"
CLEANUP_SECONDS = 60.0
STALE_SECONDS = 600.0


def _pids_directory(root: Path) -> Path | None:
    """Where pids limits are set: v1's pids hierarchy, or the v2 unified root when it has the controller."""
    if (root / "pids").is_dir():
        return root / "pids"
    controllers = root / "cgroup.controllers"
    if controllers.is_file() and "pids" in controllers.read_text().split():
        return root
    return None


@contextlib.contextmanager
def build_pids_cgroup(
    client: docker.DockerClient, limit: int, *, root: Path = CGROUP_ROOT
) -> Iterator[str | None]:
    """Yield a `cgroupparent` for the build whose processes are capped at LIMIT, or None."""
    try:
        driver = str(client.info().get("CgroupDriver", ""))
    except docker.errors.APIError:
        driver = ""
    pids = _pids_directory(root) if driver == "cgroupfs" else None
    if pids is None:
        yield None
        return
    name = f"build-{secrets.token_hex(6)}"
    group = pids / PARENT / name
    try:
        group.mkdir(parents=True, mode=0o755)
        (group / "pids.max").write_text(f"{limit}\n")
    except OSError as error:
        log.warning("no pids cgroup for builds (%s); the nproc ulimit applies instead", error)
        with contextlib.suppress(OSError):
            group.rmdir()
        yield None
        return
    try:
        yield f"/{PARENT}/{name}"
    finally:
        # The Engine removes each build container's own cgroup once its processes are gone, a moment
        # after the build answers; the parents it made (one per controller) go after it.
        deadline = time.monotonic() + CLEANUP_SECONDS
        while _remove_group(root, name) and time.monotonic() < deadline:
            time.sleep(0.2)
        _sweep_stale(root)


def _remove_group(root: Path, name: str) -> list[Path]:
    """Remove the build's directories in every controller; the ones still busy are returned."""
    left = []
    for directory in [*root.glob(f"*/{PARENT}/{name}"), root / PARENT / name]:
        if not directory.is_dir():
            continue
        try:
            directory.rmdir()
        except OSError:
            left.append(directory)
    return left


def _sweep_stale(root: Path) -> None:
    """Groups earlier builds left (ten minutes old and more); one still in use refuses rmdir."""
    cutoff = time.time() - STALE_SECONDS
    for directory in root.glob(f"*/{PARENT}/build-*"):
        with contextlib.suppress(OSError):
            if directory.stat().st_mtime < cutoff:
                directory.rmdir()
