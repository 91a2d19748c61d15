"""A client attached to a one-off dyno, on the Docker runtime and on the Swarm runtime (whose attached
one-offs are containers on the manager's engine): ending its input loses none of its output."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator

import docker
import pytest

from tests.utils.busybox_dynos import Apps, apps_for, make_spec
from wharf.platform.runtime.base import STDERR, STDOUT, AttachedDyno
from wharf.platform.runtime.docker_attach import FrameDecoder
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.runtime.swarm_runtime import SwarmRuntime

AttachingRuntime = DockerRuntime | SwarmRuntime
RuntimeFor = Callable[[str | None], AttachingRuntime]


@pytest.fixture(
    params=[
        pytest.param("docker", marks=pytest.mark.e2e),
        pytest.param("swarm", marks=[pytest.mark.e2e, pytest.mark.cluster]),
    ]
)
def runtime_for(request: pytest.FixtureRequest) -> Iterator[RuntimeFor]:
    """The runtime of an installation (None: every Wharf dyno), on the engine of the parameter's kind."""
    if request.param == "docker":
        client: docker.DockerClient = request.getfixturevalue("docker_client")
        request.getfixturevalue("test_image")
        yield lambda installation: DockerRuntime(client, installation=installation)
        return
    client = request.getfixturevalue("swarm_host").client()
    yield lambda installation: SwarmRuntime(client, installation=installation)
    client.close()


@pytest.fixture
def attaching(runtime_for: RuntimeFor) -> AttachingRuntime:
    return runtime_for(None)


@pytest.fixture
def attaching_apps(attaching: AttachingRuntime) -> Iterator[Apps]:
    yield from apps_for(attaching)


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


def test_output_after_the_end_of_input_still_arrives(
    attaching: AttachingRuntime, attaching_apps: Apps
) -> None:
    """A client without a terminal ends its input at once; the command's later output must not be cut."""
    app = attaching_apps.new()
    command = ("sh", "-c", "echo A; sleep 1; echo B; exit 7")
    for tty in (True, False):
        attached = attaching.start_attached(make_spec(app, command), tty=tty)
        try:
            output, code = asyncio.run(session(attached))
        finally:
            attached.remove()
        assert code == 7
        assert b"A" in output[STDOUT] and b"B" in output[STDOUT], (tty, output)


def test_the_end_of_input_reaches_a_command_that_reads_it(
    attaching: AttachingRuntime, attaching_apps: Apps
) -> None:
    app = attaching_apps.new()
    for tty in (True, False):
        attached = attaching.start_attached(make_spec(app, ("sh", "-c", "cat; echo done")), tty=tty)
        try:
            output, code = asyncio.run(session(attached, b"hello\n"))
        finally:
            attached.remove()
        assert code == 0
        assert b"hello" in output[STDOUT] and b"done" in output[STDOUT], (tty, output)


def test_without_a_terminal_stdin_and_stdout_are_byte_exact_and_stderr_apart(
    attaching: AttachingRuntime, attaching_apps: Apps
) -> None:
    app = attaching_apps.new()
    data = bytes(range(256)) * 4096  # 1 MiB with every byte value, \x04 and \r included
    command = ("sh", "-c", "cat; echo to-stderr >&2; exit 3")
    attached = attaching.start_attached(make_spec(app, command), tty=False)
    try:
        output, code = asyncio.run(session(attached, data))
    finally:
        attached.remove()
    assert code == 3
    assert output[STDOUT] == data
    assert output[STDERR] == b"to-stderr\n"


def test_attached_dynos_of_one_installation_are_removed_together(
    runtime_for: RuntimeFor, attaching: AttachingRuntime, attaching_apps: Apps
) -> None:
    """What the API does at start: sessions ended with the previous process, so their dynos go."""
    app = attaching_apps.new()
    ours = runtime_for(f"test-{secrets.token_hex(4)}")
    theirs = runtime_for(f"test-{secrets.token_hex(4)}")
    attached = ours.start_attached(make_spec(app, ("sleep", "600")), tty=False)
    other_installation = theirs.start_attached(make_spec(app, ("sleep", "600"), number=3), tty=False)
    detached = ours.start_dyno(make_spec(app, ("sleep", "600"), number=2))
    assert len(ours.remove_attached_dynos()) == 1
    remaining = {dyno.id for dyno in attaching.list_dynos(app)}
    assert attached.id not in remaining
    assert detached.id in remaining and other_installation.id in remaining
