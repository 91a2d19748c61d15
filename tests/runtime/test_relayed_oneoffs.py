"""Attached one-offs that a node agent starts and relays through Redis (`wharf run` placed on another
node of a swarm): here the agent's host and the API's side run against this machine's Docker Engine
and Redis, as they do on a node, so input, output, exit codes, `wharf ps`, `ps:stop`, a slow client
and an API that vanishes are checked without a swarm."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator

import docker
import pytest

from tests.runtime.test_attach import session
from tests.utils.busybox_dynos import make_spec
from wharf.platform.cluster import oneoff_host
from wharf.platform.cluster.oneoff_host import OneOffHost
from wharf.platform.runtime import oneoff_wire
from wharf.platform.runtime.base import (
    LABEL_APP,
    STDERR,
    STDOUT,
    DynoNotFound,
    DynoState,
    WharfRuntimeError,
)
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.runtime.swarm_remote_attach import NodeAgentUnavailable, RemoteAttachedDyno, RemoteOneOffs

pytestmark = pytest.mark.e2e


class Node:
    """An agent's one-off host serving `node_id`, on its own thread, and the network its dynos join."""

    def __init__(self, client: docker.DockerClient, redis_url: str, *, max_sessions: int = 16) -> None:
        self.id = secrets.token_hex(6)
        self.installation = f"relay-test-{self.id}"
        self.network = client.networks.create(f"wharf-relay-test-{self.id}")
        self.host = OneOffHost(
            redis_url,
            client,
            node_id=self.id,
            installation=self.installation,
            statsd_port=None,
            max_sessions=max_sessions,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.host.serve, args=(self.stop,))
        self.thread.start()
        assert self.host.listening.wait(10), "the host never listened"

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        self.network.remove()


@pytest.fixture
def node(docker_client: docker.DockerClient, test_image: str, redis_url: str) -> Iterator[Node]:
    served = Node(docker_client, redis_url)
    yield served
    served.close()


@pytest.fixture
def remote(redis_url: str) -> RemoteOneOffs:
    return RemoteOneOffs(redis_url)


def start(remote: RemoteOneOffs, node: Node, command: str, *, tty: bool = False) -> RemoteAttachedDyno:
    spec = make_spec("relayed", command, process_type="run", number=4821, network=node.network.name)
    labels = {"wharf.installation": node.installation}
    return remote.start(spec, node.id, f"node {node.id}", tty=tty, labels=labels)


def relayed_containers(client: docker.DockerClient, node: Node) -> list[str]:
    found = client.containers.list(
        ignore_removed=True,
        all=True,
        filters={"label": [f"{oneoff_wire.LABEL_RELAYED}=1", f"wharf.installation={node.installation}"]},
    )
    return [container.id or "" for container in found]


def test_input_output_and_exit_code_cross_the_relay_and_the_dyno_is_gone_afterwards(
    node: Node, remote: RemoteOneOffs, docker_client: docker.DockerClient
) -> None:
    attached = start(remote, node, "cat; echo to-stderr >&2; exit 3")
    try:
        container = docker_client.containers.get(attached.id)
        host_config = container.attrs["HostConfig"]
        assert host_config["CapDrop"] == ["ALL"] and "no-new-privileges" in host_config["SecurityOpt"]
        assert container.attrs["Config"]["User"] != "0"
        assert node.network.name in container.attrs["NetworkSettings"]["Networks"]
        listed = remote.dynos({LABEL_APP: "relayed", "wharf.installation": node.installation})
        assert [(dyno.dyno, dyno.state, dyno.node) for dyno in listed] == [
            ("run.4821", DynoState.UP, node.id)
        ]
        output, code = asyncio.run(session(attached, b"hello across nodes\n"))
    finally:
        attached.remove()
    assert output[STDOUT] == b"hello across nodes\n"
    assert output[STDERR] == b"to-stderr\n"
    assert code == 3
    deadline = time.monotonic() + 20
    while relayed_containers(docker_client, node) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert relayed_containers(docker_client, node) == []
    with pytest.raises(DynoNotFound):
        remote.get(attached.id)


def test_a_terminal_session_relays_the_terminal_as_it_is(node: Node, remote: RemoteOneOffs) -> None:
    attached = start(remote, node, "tty && stty size && exit 0", tty=True)
    attached.resize(33, 121)
    try:
        output, code = asyncio.run(session(attached))
    finally:
        attached.remove()
    text = output[STDOUT].decode()
    assert code == 0, text
    assert "/dev/pts/" in text, text


def test_output_larger_than_the_window_arrives_whole_for_a_slow_reader(
    node: Node, remote: RemoteOneOffs
) -> None:
    size = 6 * oneoff_wire.WINDOW_BYTES + 12345
    attached = start(remote, node, f"head -c {size} /dev/urandom | tee /tmp/out | md5sum >&2; cat /tmp/out")

    async def slowly() -> tuple[bytes, bytes]:
        await attached.open()
        try:
            await attached.close_stdin()
            out, err = bytearray(), bytearray()
            while chunk := await attached.read():
                (out if chunk[0] == STDOUT else err).extend(chunk[1])
                if len(out) < 2 * oneoff_wire.WINDOW_BYTES:
                    await asyncio.sleep(0.01)
            return bytes(out), bytes(err)
        finally:
            await attached.close()

    try:
        out, err = asyncio.run(asyncio.wait_for(slowly(), 120))
    finally:
        attached.remove()
    assert len(out) == size
    assert err.decode().split()[0] == hashlib.md5(out).hexdigest()  # noqa: S324
    assert attached.wait() == 0


def test_no_agent_on_the_node_is_a_clear_error_at_once(remote: RemoteOneOffs) -> None:
    spec = make_spec("relayed", "true", process_type="run", number=4821, network="none")
    begun = time.monotonic()
    with pytest.raises(NodeAgentUnavailable, match="no node agent answers on node ghost"):
        remote.start(spec, "ghost1", "node ghost", tty=False, labels={})
    assert time.monotonic() - begun < 5


def test_a_start_that_fails_on_the_node_says_why(node: Node, remote: RemoteOneOffs) -> None:
    spec = make_spec("relayed", "true", process_type="run", number=4821, network="no-such-network-here")
    with pytest.raises(Exception, match="no-such-network-here"):
        remote.start(spec, node.id, f"node {node.id}", tty=False, labels={})


def test_ps_stop_ends_a_running_session_with_its_exit_code(
    node: Node, remote: RemoteOneOffs, docker_client: docker.DockerClient
) -> None:
    attached = start(remote, node, "exec sleep 600")
    result: dict[str, tuple[dict[int, bytes], int]] = {}

    def run_session() -> None:
        result["session"] = asyncio.run(session(attached))

    relay = threading.Thread(target=run_session)
    relay.start()
    try:
        time.sleep(1)
        stopped = remote.stop(attached.id, timeout=2)
        relay.join(30)
    finally:
        attached.remove()
    assert not relay.is_alive()
    _, code = result["session"]
    assert code == 143 and stopped.exit_code == 143 and stopped.state == DynoState.EXITED


def test_an_api_that_vanishes_leaves_no_dyno_running_on_the_node(
    node: Node, remote: RemoteOneOffs, docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oneoff_wire, "SILENCE_SECONDS", 2.0)
    monkeypatch.setattr(oneoff_host, "GO_SECONDS", 3.0)
    # One session opened, then its process gone without a word; one started and never opened.
    opened = start(remote, node, "exec sleep 600")

    async def open_and_vanish() -> None:
        await opened.open()

    asyncio.run(open_and_vanish())
    never_opened = start(remote, node, "exec sleep 600")
    assert len(relayed_containers(docker_client, node)) == 2
    deadline = time.monotonic() + 30
    while relayed_containers(docker_client, node) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert relayed_containers(docker_client, node) == []
    time.sleep(2.5)
    assert remote.dynos({"wharf.installation": node.installation}) == []
    with pytest.raises(DynoNotFound):
        remote.get(never_opened.id)


def test_an_agent_that_starts_removes_the_one_offs_an_earlier_agent_left(
    node: Node, docker_client: docker.DockerClient
) -> None:
    spec = make_spec("relayed", "exec sleep 600", process_type="run", number=4821, network=node.network.name)
    request = oneoff_wire.OneOffRequest(session=secrets.token_hex(16), spec=spec, tty=False)
    left = node.host.start(request)
    # The API's own attached one-off on the manager's engine, which that node's agent must leave alone.
    own = DockerRuntime(docker_client, installation=node.installation).start_attached(
        dataclasses.replace(spec, number=4822), tty=False
    )
    try:
        assert node.host.remove_leftovers() == ["relayed.run.4821"]
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(left.id)
        assert docker_client.containers.get(own.id).status == "running"
    finally:
        own.remove()


def test_a_node_refuses_one_off_beyond_its_cap_and_says_so(
    docker_client: docker.DockerClient, test_image: str, redis_url: str, remote: RemoteOneOffs
) -> None:
    capped = Node(docker_client, redis_url, max_sessions=1)
    try:
        first = start(remote, capped, "exec sleep 600")
        try:
            with pytest.raises(WharfRuntimeError, match="already runs 1 attached one-offs"):
                start(remote, capped, "true")
        finally:
            first.remove()
        # Once the first session has ended, the node takes another.
        deadline = time.monotonic() + 20
        while True:
            try:
                start(remote, capped, "echo room again").remove()
                break
            except WharfRuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        capped.close()
