"""Test support for the runtime and the scheduler built on it.

A tiny image built without a registry holds the host's static busybox (Debian package
`busybox-static`), a `dyno` user with uid 1000 and a `/www/index.html`, so
`busybox httpd -f -p $PORT -h /www` serves as a web dyno. Commands for it, with the fake programs
that stand in for them, let one test run on both runtimes.
"""

from __future__ import annotations

import dataclasses
import http.client
import io
import secrets
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker

from wharf.platform.runtime.base import DynoSpec, Runtime
from wharf.platform.runtime.fake import FakeProgram

TEST_IMAGE = "wharf/test-busybox:latest"
BUSYBOX_APPLETS = ("sh", "httpd", "nc", "sleep", "id", "cat", "echo", "ls", "env", "true", "false")
USERS_FILE = "root:x:0:0:root:/root:/bin/sh\ndyno:x:1000:1000:dyno:/app:/bin/sh\n"
GROUP = "root:x:0:\ndyno:x:1000:\n"
INDEX_HTML = "wharf test dyno\n"
PROCFILE = "web: busybox httpd -f -p $PORT -h /www\n"


def find_static_busybox() -> Path:
    """The statically linked busybox, which runs in an image with no libc."""
    candidates = [Path("/bin/busybox"), Path("/usr/bin/busybox")]
    found = shutil.which("busybox")
    if found is not None:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and b"ld-linux" not in path.read_bytes()[:4096]:
            return path
    raise FileNotFoundError("a static busybox is needed: apt-get install busybox-static")


def busybox_rootfs_tar(busybox: Path) -> bytes:
    """A root file system tarball: busybox, applet symlinks, passwd/group, /www, /tmp and /app."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (("bin", 0o755), ("etc", 0o755), ("www", 0o755), ("tmp", 0o1777)):
            _add_dir(tar, directory, mode)
        _add_dir(tar, "app", 0o755, owner=1000)
        tar.add(busybox, arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        _add_file(tar, "etc/passwd", USERS_FILE)
        _add_file(tar, "etc/group", GROUP)
        _add_file(tar, "www/index.html", INDEX_HTML)
        _add_file(tar, "app/Procfile", PROCFILE)
    return buffer.getvalue()


def build_test_image(
    client: docker.DockerClient | None = None, tag: str = TEST_IMAGE, user: str | None = None
) -> str:
    """Import the busybox image under `tag` (idempotent) and return the tag.

    `user` sets the image's USER, as a stack image that declares its own non-root user would.
    """
    client = client or docker.from_env()
    repository, _, version = tag.partition(":")
    changes = ["ENV PATH=/bin", "WORKDIR /app", *([f"USER {user}"] if user else [])]
    client.api.import_image_from_data(
        busybox_rootfs_tar(find_static_busybox()),
        repository=repository,
        tag=version or "latest",
        changes=changes,
    )
    return tag


WEB = "busybox httpd -f -p $PORT -h /www"
TRAPS_TERM = "trap 'echo shutting down; exit 0' TERM; while true; do sleep 0.2; done"
IGNORES_TERM = "trap '' TERM; while true; do sleep 0.2; done"
ONEOFF_EXIT_3 = "echo hello from a one-off; exit 3"
CRASHES = "echo booting; exit 2"

FAKE_PROGRAMS = {
    WEB: FakeProgram(serves_http=True),
    TRAPS_TERM: FakeProgram(term_exit_code=0),
    IGNORES_TERM: FakeProgram(term_exit_code=None),
    ONEOFF_EXIT_3: FakeProgram(exit_code=3, output=b"hello from a one-off\n"),
    CRASHES: FakeProgram(exit_code=2, output=b"booting\n"),
}


def fake_program_for(spec: DynoSpec) -> FakeProgram:
    """Stand in for the test commands the fake cannot run."""
    return FAKE_PROGRAMS.get(spec.command_text, FakeProgram())


class Apps:
    """Hands out unique app names (with their networks) and removes their dynos and networks afterwards."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.names: list[str] = []

    def new(self) -> str:
        name = f"rt-{secrets.token_hex(4)}"
        self.names.append(name)
        self.runtime.ensure_network(name)
        return name

    def cleanup(self) -> None:
        for name in self.names:
            for dyno in self.runtime.list_dynos(name):
                self.runtime.remove_dyno(dyno.id)
            self.runtime.remove_network(name)


def apps_for(runtime: Runtime) -> Iterator[Apps]:
    """Apps on `runtime` for one test, cleaned up after it: a fixture body (`yield from apps_for(...)`)."""
    apps = Apps(runtime)
    yield apps
    apps.cleanup()


def make_spec(
    app: str,
    command: str | tuple[str, ...],
    process_type: str = "web",
    number: int = 1,
    release: int = 1,
    image: str = TEST_IMAGE,
    **overrides: object,
) -> DynoSpec:
    """A spec for the test image; `overrides` sets any other DynoSpec field."""
    spec = DynoSpec(
        app=app, process_type=process_type, number=number, release=release, image=image, command=command
    )
    return dataclasses.replace(spec, **overrides)  # type: ignore[arg-type]


def http_get(address: tuple[str, int], path: str = "/", patience: float = 10.0) -> tuple[int, bytes]:
    """GET from a dyno, retrying while it boots; raises the last error once patience runs out."""
    deadline = time.monotonic() + patience
    while True:
        connection = http.client.HTTPConnection(*address, timeout=2)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            connection.close()


def _add_dir(tar: tarfile.TarFile, name: str, mode: int, owner: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.uid = info.gid = owner
    info.mtime = int(time.time())
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))
