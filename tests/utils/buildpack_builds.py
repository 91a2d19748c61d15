"""Build fixture apps with the real buildpacks in the real build image, then run the slug in the run image.

Like heroku-buildpack-python's harness: detect -> compile -> release in the stack image with a scrubbed
environment, a second compile to exercise the cache, and the slug answering HTTP as the non-root user.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest

from wharf.platform.builds.compile import BuildLimits, CompileRequest, CompileResult, compile_slug
from wharf.platform.stack import DEFAULT_BUILD_IMAGE, DEFAULT_RUN_IMAGE, ensure_stack_images

FIXTURES = Path(__file__).resolve().parents[1] / "buildpacks" / "fixtures"
BUILDPACKS_DIR = Path(__file__).resolve().parents[2] / "buildpacks"
TEST_LABEL = "io.wharf.test"


def require_stack_images() -> None:
    """Builds the stack images when missing (a few minutes, once per machine)."""
    try:
        docker.from_env().ping()
    except docker.errors.DockerException as error:
        pytest.fail(f"Docker is not answering ({error}); start dockerd")
    ensure_stack_images(progress=lambda line: print(line, flush=True))


@dataclass
class Build:
    """One compile: its result (None when it failed) and every output line."""

    result: CompileResult | None
    output: str
    error: Exception | None = None


@dataclass
class AppBuilder:
    """Compiles fixture apps into per-test directories that share one build cache per app."""

    root: Path

    def compile(
        self,
        fixture: str,
        *,
        env: Mapping[str, str] | None = None,
        buildpacks: Sequence[str] = (),
        limits: BuildLimits | None = None,
        source: Path | None = None,
    ) -> Build:
        lines: list[str] = []
        attempt = secrets.token_hex(3)
        try:
            request = CompileRequest(
                source_dir=source or FIXTURES / fixture,
                cache_dir=self.root / "cache" / fixture,
                work_dir=self.root / f"work-{fixture}-{attempt}",
                env=dict(env or {}),
                buildpacks=buildpacks,
                build_image=DEFAULT_BUILD_IMAGE,
                buildpacks_dir=BUILDPACKS_DIR,
                limits=limits or BuildLimits(timeout_seconds=300),
            )
            result = compile_slug(request, on_output=lines.append)
        except Exception as error:  # the test asserts on the type and the output
            return Build(result=None, output="\n".join(lines), error=error)
        return Build(result=result, output="\n".join(lines))


def extract_slug(slug: Path, target: Path) -> Path:
    """Unpacks the slug as the release image will: owners kept, so the dyno user owns /app."""
    target.mkdir(parents=True)
    subprocess.run(["tar", "--numeric-owner", "-xzf", str(slug), "-C", str(target)], check=True)
    return target


@contextmanager
def running_slug(slug: Path | None, command: str, workdir: Path) -> Iterator[str]:
    """Runs COMMAND from the slug in the run image as the dyno user; yields the base URL."""
    assert slug is not None, "the compile packed no slug"
    app_dir = extract_slug(slug, workdir / f"slug-{secrets.token_hex(3)}")
    name = f"wharf-test-slug-{secrets.token_hex(4)}"
    subprocess.run(
        [
            "docker",
            "run",
            "--detach",
            "--name",
            name,
            "--label",
            f"{TEST_LABEL}=buildpacks",
            "--user",
            "1000:1000",
            "--env",
            "PORT=5000",
            "--env",
            "DYNO=web.1",
            "--volume",
            f"{app_dir}:/app",
            "--publish",
            "127.0.0.1::5000",
            DEFAULT_RUN_IMAGE,
            "wharf-launch",
            command,
        ],
        check=True,
        capture_output=True,
    )
    try:
        port = (
            subprocess.run(["docker", "port", name, "5000/tcp"], check=True, capture_output=True, text=True)
            .stdout.split(":")[-1]
            .strip()
        )
        url = f"http://127.0.0.1:{port}"
        _wait_until_answering(url, name)
        yield url
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True)


def _wait_until_answering(url: str, container: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
    pytest.fail(f"the slug did not answer on {url}:\n{logs.stdout}{logs.stderr}")
