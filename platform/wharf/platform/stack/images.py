"""Build the run and build stack images from Debian packages, since no registry is reachable.

The run image is a Debian root made by mmdebstrap and imported with `docker import`; the build image is a
`docker build` on top of it, so the two share their large bottom layer (as heroku-24 and heroku-24-build do).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from wharf.platform.stack.apt_sources import host_mirrors

DEFAULT_SUITE = "trixie"
DEFAULT_RUN_IMAGE = "wharf/stack-run:trixie"
DEFAULT_BUILD_IMAGE = "wharf/stack-build:trixie"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DYNO_UID = 1000
STACK_LABEL = "io.wharf.stack"

RUN_PACKAGES = (
    "ca-certificates",
    "curl",
    "tzdata",
    "procps",
    "libssl3t64",
    "libpq5",
    "libsqlite3-0",
    "libffi8",
    "zlib1g",
    "libyaml-0-2",
    "libxml2",
    "libjpeg62-turbo",
    "libmemcached11t64",
    "python3",
    "python3-venv",
    "nodejs",
    "npm",
    "nginx-light",
)
BUILD_PACKAGES = (
    "build-essential",
    "python3-dev",
    "libpq-dev",
    "libffi-dev",
    "libssl-dev",
    "git",
    "pkg-config",
    "python3-yaml",
)
# Documentation, manuals and translations are never read inside a dyno; leaving them out saves a third.
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/lintian/*",
)
LAUNCHER = Path(__file__).with_name("wharf-launch.sh")

BUILD_DOCKERFILE = """\
FROM {run_image}
USER root
RUN apt-get update \\
 && apt-get install -y --no-install-recommends {packages} \\
 && rm -rf /var/lib/apt/lists/*
COPY host-ca.crt /tmp/host-ca.crt
RUN python3 -m venv /opt/wharf-tools \\
 && /opt/wharf-tools/bin/pip install --no-cache-dir --disable-pip-version-check --cert /tmp/host-ca.crt uv \\
 && ln -s /opt/wharf-tools/bin/uv /usr/local/bin/uv \\
 && rm /tmp/host-ca.crt
LABEL {label}=build
USER dyno
"""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class StackBuildReport:
    """How long each image took, for the operator and for the docs."""

    run_seconds: float
    build_seconds: float


def _image_exists(client: Any, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def stack_images_present(
    *, run_image: str = DEFAULT_RUN_IMAGE, build_image: str = DEFAULT_BUILD_IMAGE
) -> bool:
    """True when both images exist locally (built here or named by the operator)."""
    client = docker.from_env()
    try:
        return _image_exists(client, run_image) and _image_exists(client, build_image)
    finally:
        client.close()


def _apt_lines(suite: str, mirror: str | None) -> list[str]:
    mirrors = host_mirrors()
    main = (mirror or mirrors.main).rstrip("/")
    lines = [f"deb {main} {suite} main"]
    if suite not in ("sid", "unstable"):
        lines += [f"deb {main} {suite}-updates main", f"deb {mirrors.security} {suite}-security main"]
    return lines


def _mmdebstrap_argv(*, suite: str, mirror: str | None, tarball: Path) -> list[str]:
    user_setup = (
        f'chroot "$1" useradd --uid {DYNO_UID} --user-group --no-create-home --home-dir /app '
        f'--shell /bin/bash dyno && install -d -o {DYNO_UID} -g {DYNO_UID} "$1/app" '
        '&& chmod 0755 "$1/usr/local/bin/wharf-launch"'
    )
    return [
        "mmdebstrap",
        "--variant=minbase",
        "--include=" + ",".join(RUN_PACKAGES),
        *[f"--dpkgopt={rule}" for rule in DPKG_EXCLUDES],
        f"--customize-hook=upload {LAUNCHER} /usr/local/bin/wharf-launch",
        f"--customize-hook={user_setup}",
        suite,
        str(tarball),
        *_apt_lines(suite, mirror),
    ]


def _stream_process(argv: list[str], progress: Progress) -> None:
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            progress("       " + line.rstrip())
    if proc.returncode != 0:
        raise StackBuildError(f"{argv[0]} failed with exit status {proc.returncode}")


class StackBuildError(RuntimeError):
    """Raised when a stack image cannot be made; the message says which step failed."""


def _build_run_image(
    client: Any, *, run_image: str, suite: str, mirror: str | None, progress: Progress
) -> None:
    with tempfile.TemporaryDirectory(prefix="wharf-stack-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        progress(f"-----> Bootstrapping Debian {suite} with mmdebstrap")
        _stream_process(_mmdebstrap_argv(suite=suite, mirror=mirror, tarball=tarball), progress)
        progress(f"-----> Importing {run_image}")
        repository, _, tag = run_image.rpartition(":")
        changes = [
            "WORKDIR /app",
            "ENV LANG=C.UTF-8",
            "ENV HOME=/app",
            "USER dyno",
            f"LABEL {STACK_LABEL}=run",
            f"LABEL {STACK_LABEL}.suite={suite}",
        ]
        client.api.import_image_from_file(str(tarball), repository=repository, tag=tag, changes=changes)


def _docker_build_lines(stream: Iterator[dict[str, Any]]) -> Iterator[str]:
    for chunk in stream:
        if "error" in chunk:
            raise StackBuildError(str(chunk["error"]).strip())
        for line in str(chunk.get("stream", "")).splitlines():
            if line.strip():
                yield line


def _build_build_image(client: Any, *, run_image: str, build_image: str, progress: Progress) -> None:
    progress(f"-----> Building {build_image} on {run_image}")
    with tempfile.TemporaryDirectory(prefix="wharf-stack-build-") as tmp:
        context = Path(tmp)
        shutil.copyfile(HOST_CA_BUNDLE, context / "host-ca.crt")
        dockerfile = BUILD_DOCKERFILE.format(
            run_image=run_image, packages=" ".join(BUILD_PACKAGES), label=STACK_LABEL
        )
        (context / "Dockerfile").write_text(dockerfile)
        stream = client.api.build(path=str(context), tag=build_image, rm=True, forcerm=True, decode=True)
        for line in _docker_build_lines(stream):
            progress("       " + line)


def build_stack_images(
    *,
    run_image: str = DEFAULT_RUN_IMAGE,
    build_image: str = DEFAULT_BUILD_IMAGE,
    suite: str = DEFAULT_SUITE,
    mirror: str | None = None,
    progress: Progress = print,
) -> StackBuildReport:
    """Make the run image from Debian packages, then the build image on top of it.

    `mirror` overrides the Debian archive named in the host's apt sources.
    """
    if shutil.which("mmdebstrap") is None:
        raise StackBuildError("mmdebstrap is not installed: apt-get install mmdebstrap")
    client = docker.from_env()
    try:
        started = time.monotonic()
        _build_run_image(client, run_image=run_image, suite=suite, mirror=mirror, progress=progress)
        run_done = time.monotonic()
        _build_build_image(client, run_image=run_image, build_image=build_image, progress=progress)
        finished = time.monotonic()
    finally:
        client.close()
    report = StackBuildReport(run_seconds=run_done - started, build_seconds=finished - run_done)
    progress(
        f"-----> Stack images ready: {run_image} in {report.run_seconds:.0f} s, "
        f"{build_image} in {report.build_seconds:.0f} s"
    )
    return report


def ensure_stack_images(
    *,
    run_image: str = DEFAULT_RUN_IMAGE,
    build_image: str = DEFAULT_BUILD_IMAGE,
    suite: str = DEFAULT_SUITE,
    mirror: str | None = None,
    progress: Progress = print,
) -> bool:
    """Build the stack images unless both exist; True when a build happened (for `wharfd up`).

    Processes that ask at the same time (`wharfd up` and a test run, two test runs) build once: the
    others wait on a lock for the first one's build and find the images there."""
    if stack_images_present(run_image=run_image, build_image=build_image):
        return False
    with _build_lock(progress):
        if stack_images_present(run_image=run_image, build_image=build_image):
            return False
        build_stack_images(
            run_image=run_image, build_image=build_image, suite=suite, mirror=mirror, progress=progress
        )
    return True


@contextmanager
def _build_lock(progress: Progress) -> Iterator[None]:
    folder = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
    fd = os.open(folder / "wharf-stack-images.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("-----> Another process builds the stack images; waiting for it")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
