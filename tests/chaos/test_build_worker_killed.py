"""A build whose worker is killed mid-build fails within a minute and tells its push so."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.utils.e2e import Developer, Wharf

pytestmark = pytest.mark.e2e

SLOW_DOCKERFILE = """\
FROM wharf/stack-run:trixie
RUN sleep 240
CMD ["python3", "-m", "http.server", "5000"]
"""


def build_workers_of(wharf: Wharf) -> list[int]:
    """The rq build workers and work horses of this `wharfd up` (by its data dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"wharfd\0worker" in cmdline and f"WHARF_DATA_DIR={wharf.data_dir}".encode() in environ:
            found.append(int(entry.name))
    return found


def test_a_killed_build_worker_fails_the_push_within_a_minute(
    wharf: Wharf, developer: Developer, tmp_path: Path
) -> None:
    app = developer.create_app()
    repo = developer.app_repo("dockerfile_app", app, tmp_path)
    (repo / "Dockerfile").write_text(SLOW_DOCKERFILE)
    developer.commit_all(repo, "slow build")
    push = subprocess.Popen(
        ["git", "push", "wharf", "main"],
        cwd=repo,
        env=developer.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not build_workers_of(wharf):
        assert time.monotonic() < deadline, "no build worker started for the push"
        assert push.poll() is None, push.communicate()[0]
        time.sleep(0.2)
    time.sleep(5)
    for pid in build_workers_of(wharf):
        os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    output, _ = push.communicate(timeout=150)
    told_after = time.monotonic() - killed_at
    print(f"push told {told_after:.0f}s after the build worker was killed")
    assert push.returncode != 0, output
    assert "push again" in output, output
    assert told_after < 75, f"the push waited {told_after:.0f}s"
    latest = developer.api.get(f"/api/apps/{app}/builds/latest").json()
    assert latest["status"] == "failed", latest
