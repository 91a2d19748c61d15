"""A Dockerfile build runs within a buildpack build's limits: a hung `RUN` is stopped at the time limit,
and a `RUN` that forks without end stops at the process limit."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import docker
import pytest

from wharf.platform.builds.dockerfile_policy import BasePolicy
from wharf.platform.builds.image import DockerfileBuild, ImageBuildFailed, build_dockerfile_image

pytestmark = pytest.mark.e2e


def limited_build(tmp_path: Path, marker: str, *, pids: int = 256, timeout: float = 8) -> DockerfileBuild:
    return DockerfileBuild(
        source_dir=tmp_path,
        tag=f"wharf/limits-{marker}:build-1",
        labels={},
        policy=BasePolicy(stack_images=("wharf/stack-run:trixie",), app_repository=f"wharf/limits-{marker}"),
        memory_bytes=256 * 1024**2,
        nano_cpus=1_000_000_000,
        pids=pids,
        timeout_seconds=timeout,
        network="bridge",
    )


def test_a_hung_dockerfile_build_is_stopped_and_leaves_no_container(tmp_path: Path) -> None:
    marker = secrets.token_hex(6)
    (tmp_path / "Dockerfile").write_text(f"FROM wharf/stack-run:trixie\nRUN echo {marker} && sleep 600\n")
    build = limited_build(tmp_path, marker)
    lines: list[str] = []
    started = time.monotonic()
    with pytest.raises(ImageBuildFailed, match="longer than 8 s"):
        build_dockerfile_image(build, lines.append)
    assert time.monotonic() - started < 60
    assert any(marker in line for line in lines)
    client = docker.from_env()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = [
                c
                for c in client.containers.list(ignore_removed=True)
                if "sleep 600" in " ".join(c.attrs["Config"]["Cmd"] or [])
            ]
            if not running:
                break
            time.sleep(1)
        assert not running
    finally:
        client.close()


def test_a_dockerfile_run_that_forks_past_the_limit_fails_and_the_build_cgroup_goes(tmp_path: Path) -> None:
    marker = secrets.token_hex(6)
    spawn = "i=0; while [ $i -lt 120 ]; do sleep 20 & i=$((i+1)); done; echo all-spawned; wait"
    (tmp_path / "Dockerfile").write_text(f"FROM wharf/stack-run:trixie\nRUN echo {marker}; {spawn}\n")
    lines: list[str] = []
    with pytest.raises(ImageBuildFailed):
        build_dockerfile_image(limited_build(tmp_path, marker, pids=40, timeout=120), lines.append)
    output = "\n".join(lines)
    assert marker in output
    assert not any(line.strip() == "all-spawned" for line in lines)
    assert "fork" in output.lower() or "resource temporarily unavailable" in output.lower(), output
    assert not list(Path("/sys/fs/cgroup").glob("*/wharf-builds/build-*")), "a build's cgroup was left"
