"""A client attached to a one-off Docker dyno: ending its input loses none of its output."""

from __future__ import annotations

import asyncio
import secrets

import docker
import pytest

from tests.utils.busybox_dynos import Apps, make_spec
from wharf.platform.runtime.base import STDERR, STDOUT, AttachedDyno
from wharf.platform.runtime.docker_attach import FrameDecoder
from wharf.platform.runtime.docker_runtime import DockerRuntime


async def session(attached: AttachedDyno, data: bytes = b"") -> tuple[dict[int, bytes], int]:
    """Send DATA and the end of input, read every output to the end; (output per stream, exit code)."""
    await attached.open()
    try:
        if data:
            await attached.write(data)
        await attached.close_stdin()
        received: dict[int, bytearray] = {STDOUT: bytearray(), STDERR: bytearray()}
        while chunk := await attached.read():
            received[chunk[0]] += chunk[1]
    finally:
        await attached.close()
    return {stream: bytes(data) for stream, data in received.items()}, attached.wait()


def frame(stream: int, data: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


def test_docker_frames_come_apart_per_stream_in_order_whatever_the_pieces() -> None:
    wire = frame(STDOUT, b"a1") + frame(STDOUT, b"a2") + frame(STDERR, b"e1") + frame(STDOUT, b"a3")
    for piece in (1, 3, 7, len(wire)):
        decoder = FrameDecoder()
        chunks = []
        for start in range(0, len(wire), piece):
            decoder.feed(wire[start : start + piece])
            while (chunk := decoder.next_chunk()) is not None:
                chunks.append(chunk)
        joined: list[tuple[int, bytes]] = []
        for stream, data in chunks:
            if joined and joined[-1][0] == stream:
                joined[-1] = (stream, joined[-1][1] + data)
            else:
                joined.append((stream, data))
        assert joined == [(STDOUT, b"a1a2"), (STDERR, b"e1"), (STDOUT, b"a3")], piece


@pytest.mark.e2e
def test_output_after_the_end_of_input_still_arrives(
    docker_runtime: DockerRuntime, docker_apps: Apps
) -> None:
    """A client without a terminal ends its input at once; the command's later output must not be cut."""
    app = docker_apps.new()
    command = ("sh", "-c", "echo A; sleep 1; echo B; exit 7")
    for tty in (True, False):
        attached = docker_runtime.start_attached(make_spec(app, command), tty=tty)
        try:
            output, code = asyncio.run(session(attached))
        finally:
            attached.remove()
        assert code == 7
        assert b"A" in output[STDOUT] and b"B" in output[STDOUT], (tty, output)


@pytest.mark.e2e
def test_the_end_of_input_reaches_a_command_that_reads_it(
    docker_runtime: DockerRuntime, docker_apps: Apps
) -> None:
    app = docker_apps.new()
    for tty in (True, False):
        attached = docker_runtime.start_attached(make_spec(app, ("sh", "-c", "cat; echo done")), tty=tty)
        try:
            output, code = asyncio.run(session(attached, b"hello\n"))
        finally:
            attached.remove()
        assert code == 0
        assert b"hello" in output[STDOUT] and b"done" in output[STDOUT], (tty, output)


@pytest.mark.e2e
def test_without_a_terminal_stdin_and_stdout_are_byte_exact_and_stderr_apart(
    docker_runtime: DockerRuntime, docker_apps: Apps
) -> None:
    app = docker_apps.new()
    data = bytes(range(256)) * 4096  # 1 MiB with every byte value, \x04 and \r included
    command = ("sh", "-c", "cat; echo to-stderr >&2; exit 3")
    attached = docker_runtime.start_attached(make_spec(app, command), tty=False)
    try:
        output, code = asyncio.run(session(attached, data))
    finally:
        attached.remove()
    assert code == 3
    assert output[STDOUT] == data
    assert output[STDERR] == b"to-stderr\n"


@pytest.mark.e2e
def test_attached_dynos_of_one_installation_are_removed_together(
    docker_client: docker.DockerClient, docker_runtime: DockerRuntime, docker_apps: Apps
) -> None:
    """What the API does at start: sessions ended with the previous process, so their dynos go."""
    app = docker_apps.new()
    ours = DockerRuntime(docker_client, installation=f"test-{secrets.token_hex(4)}")
    theirs = DockerRuntime(docker_client, installation=f"test-{secrets.token_hex(4)}")
    attached = ours.start_attached(make_spec(app, ("sleep", "600")), tty=False)
    other_installation = theirs.start_attached(make_spec(app, ("sleep", "600"), number=3), tty=False)
    detached = ours.start_dyno(make_spec(app, ("sleep", "600"), number=2))
    assert len(ours.remove_attached_dynos()) == 1
    remaining = {dyno.id for dyno in docker_runtime.list_dynos(app)}
    assert attached.id not in remaining
    assert detached.id in remaining and other_installation.id in remaining
