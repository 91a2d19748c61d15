"""A terminal attached to a one-off Docker dyno: ending its input loses none of its output."""

from __future__ import annotations

import pytest

from tests.utils.busybox_dynos import Apps, make_spec
from wharf.platform.runtime.docker_runtime import DockerRuntime

pytestmark = pytest.mark.e2e


def read_all(attached: object) -> bytes:
    chunks = []
    while chunk := attached.read():  # type: ignore[attr-defined]
        chunks.append(chunk)
    return b"".join(chunks)


def test_output_after_the_end_of_input_still_arrives(
    docker_runtime: DockerRuntime, docker_apps: Apps
) -> None:
    """A client without a terminal ends its input at once; the command's later output must not be cut."""
    app = docker_apps.new()
    attached = docker_runtime.start_attached(make_spec(app, ("sh", "-c", "echo A; sleep 1; echo B; exit 7")))
    try:
        attached.close_stdin()
        output = read_all(attached)
        assert attached.wait() == 7
    finally:
        attached.remove()
    assert b"A" in output and b"B" in output, output


def test_the_end_of_input_reaches_a_command_that_reads_it(
    docker_runtime: DockerRuntime, docker_apps: Apps
) -> None:
    app = docker_apps.new()
    attached = docker_runtime.start_attached(make_spec(app, ("sh", "-c", "cat; echo done")))
    try:
        attached.write(b"hello\n")
        attached.close_stdin()
        output = read_all(attached)
        assert attached.wait() == 0
    finally:
        attached.remove()
    assert b"hello" in output and b"done" in output, output
