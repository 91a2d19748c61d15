"""A push on a host whose disk is full: the build fills what is left where builds run and fails with a
message that says so and what to do, a push with less room than the floor is refused before it builds,
and the running release keeps serving throughout; once there is room again, a push deploys."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.e2e import Developer, new_developer, remove_app_containers, take_routers_down
from tests.utils.wharfd_up import WharfdUp, push_new_app, wait_until_served

pytestmark = pytest.mark.e2e

# Where builds run is a small filesystem of its own, and a build may start with 8 MB free there.
BUILDS_FS_MB = 40
FLOOR_MB = 8
ANSWER = "Hello from a Procfile-only app"


@pytest.fixture
def small_builds_disk(tmp_path: Path) -> Iterator[tuple[WharfdUp, Path]]:
    data_dir = tmp_path / "wharf-data"
    builds = data_dir / "builds"
    builds.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={BUILDS_FS_MB}m,mode=0700", "tmpfs", str(builds)], check=True
    )
    server = WharfdUp(data_dir, settings={"WHARF_BUILD_MIN_FREE_MB": str(FLOOR_MB)})
    try:
        server.start()
        yield server, builds
    finally:
        server.stop()
        take_routers_down(server.wharf.env)
        remove_app_containers(f"sqlite:///{data_dir / 'wharf.db'}")
        subprocess.run(["umount", "-l", str(builds)], check=False)


def _push(developer: Developer, repo: Path, message: str) -> subprocess.CompletedProcess[str]:
    developer.commit_all(repo, message)
    return developer.git("push", "wharf", "main", cwd=repo, check=False)


def test_a_build_that_fills_the_disk_fails_clearly_and_the_release_keeps_serving(
    small_builds_disk: tuple[WharfdUp, Path], tmp_path: Path
) -> None:
    server, builds = small_builds_disk
    developer = new_developer(server.wharf, tmp_path)
    app = push_new_app(developer, "procfile_only", tmp_path)
    wait_until_served(server.wharf, app, 90)
    repo = next(tmp_path.glob(f"*-{app}"))

    # 24 MB that git cannot compress: the pushed tree fits where builds run, its unpacked copy does not.
    (repo / "big.bin").write_bytes(os.urandom(24 * 1024 * 1024))
    filled = _push(developer, repo, "a tree the disk cannot hold twice")
    said = filled.stdout + filled.stderr
    assert filled.returncode != 0, said
    assert "The build ran out of disk space on this host" in said, said
    assert "The running release keeps serving" in said and "wharfd gc" in said, said
    assert "internal error" not in said, said
    assert ANSWER in server.wharf.app_get(app).text
    assert not list(builds.iterdir()), "the failed build's directory is gone, and its space with it"

    (repo / "big.bin").unlink()
    ballast = builds / "ballast"
    ballast.write_bytes(b"\0" * ((BUILDS_FS_MB - FLOOR_MB + 2) * 1024 * 1024))
    try:
        refused = _push(developer, repo, "a small change on a nearly full disk")
    finally:
        ballast.unlink()
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, said
    assert "disk is nearly full" in said and "WHARF_BUILD_MIN_FREE_MB" in said, said
    assert ANSWER in server.wharf.app_get(app).text

    (repo / "after.txt").write_text("room again\n")
    again = _push(developer, repo, "room again")
    assert again.returncode == 0, again.stdout + again.stderr
    wait_until_served(server.wharf, app, 90)
    with developer.api as api:
        builds_listed = api.get(f"/api/apps/{app}/builds").json()
    statuses = [build["status"] for build in builds_listed]
    assert statuses.count("failed") == 2 and statuses.count("succeeded") == 2, builds_listed
