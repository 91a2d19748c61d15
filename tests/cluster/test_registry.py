"""Wharf's registry on a three-node Swarm: it runs on the manager's engine at the manager's address with a
certificate from Wharf's local authority; an engine that does not trust that authority refuses it; a
release image pushed from the manager is pulled by a node that has no copy, also when a dyno of it is
placed there; `wharfd gc` deletes a release no longer kept from it and the registry's garbage-collect
frees its blobs."""

from __future__ import annotations

import io
import secrets
import shlex
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import docker
import pytest

from tests.cluster.conftest import Wharfd, said
from tests.utils.busybox_dynos import TRAPS_TERM
from tests.utils.failover import wait_for
from tests.utils.node_agents import running_node_agents
from tests.utils.scripted_build import scripted_compile
from tests.utils.test_cluster import SwarmTestCluster, wait_for_ready_nodes
from tests.utils.test_host import DockerTestHost
from wharf.platform.builds.builder_claims import claimed_per_node
from wharf.platform.builds.compile import BuildLimits
from wharf.platform.builds.compile_placement import compiler_for
from wharf.platform.builds.pipeline import push_release_image
from wharf.platform.builds.relay_wire import requests_channel as builds_channel
from wharf.platform.cluster.membership import leave_swarm
from wharf.platform.cluster.state import save_cluster_choice
from wharf.platform.db import session_scope
from wharf.platform.migrate import upgrade_database
from wharf.platform.models import App, Release, User
from wharf.platform.registry.ca_file import ca_path, install_ca
from wharf.platform.registry.image import REGISTRY_IMAGE, ensure_registry_image
from wharf.platform.registry.release_images import ReleaseImages, push_image
from wharf.platform.registry.server import RunningRegistry, start_registry, stop_registry
from wharf.platform.registry.trust import fetch_pinned_root, root_fingerprint
from wharf.platform.runtime.base import DynoSpec, DynoState
from wharf.platform.runtime.swarm_runtime import SwarmRuntime
from wharf.platform.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


def _release_image(client: docker.DockerClient, base: str, repository: str, tag: str) -> str:
    """An image with a layer of its own (a file holding a random token), as a build makes one."""
    token = secrets.token_hex(8)
    container = client.containers.create(base, ["true"])
    try:
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            entry = tarfile.TarInfo("token")
            entry.size = len(token)
            tar.addfile(entry, io.BytesIO(token.encode()))
        container.put_archive("/", archive.getvalue())
        container.commit(repository=repository, tag=tag)
    finally:
        container.remove()
    return token


def _token_in(client: docker.DockerClient, image: str) -> str:
    container = client.containers.create(image, ["true"])
    try:
        stream, _stat = container.get_archive("/token")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile("token")
            assert member is not None
            return member.read().decode()
    finally:
        container.remove()


def _blobs(storage: Path) -> set[str]:
    return {path.parent.name for path in (storage / "docker/registry/v2/blobs").rglob("data")}


@pytest.fixture(scope="module")
def registry(swarm: SwarmTestCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """The registry on the manager's engine (its image built on this machine's engine from the run stack,
    then loaded, as the manager's engine cannot reach a Debian mirror from its namespace)."""
    host_engine = docker.from_env()
    try:
        ensure_registry_image(host_engine)
    finally:
        host_engine.close()
    swarm.manager.load_images([REGISTRY_IMAGE])
    data_dir = tmp_path_factory.mktemp("registry-data")
    client = swarm.manager.client()
    running = start_registry(client, data_dir, swarm.manager.address)
    try:
        yield running
    finally:
        shutil.rmtree(ca_path(running.host).parent, ignore_errors=True)
        stop_registry(client)
        client.close()


@pytest.fixture(scope="module")
def trusted(registry: RunningRegistry) -> RunningRegistry:
    """The engines trust the registry as `wharfd node join` makes them: the root fetched from the
    registry, pinned by its fingerprint, written to /etc/docker/certs.d/HOST:PORT/ca.crt."""
    root = fetch_pinned_root(registry.host, root_fingerprint(registry.root_pem))
    install_ca(registry.host, root)
    return registry


def test_an_engine_that_does_not_trust_wharfs_authority_refuses_the_registry(
    swarm: SwarmTestCluster, registry: RunningRegistry
) -> None:
    assert not ca_path(registry.host).exists()
    client = swarm.manager.client()
    try:
        _release_image(client, swarm.image, "wharf/untrusted", "v1")
        with pytest.raises(Exception, match="certificate signed by unknown authority"):
            push_image(client, registry.host, "wharf/untrusted:v1")
    finally:
        client.close()
    assert registry.api.tags("wharf/untrusted") == []


def test_a_pinned_fingerprint_that_is_not_the_registrys_root_is_refused(registry: RunningRegistry) -> None:
    with pytest.raises(Exception, match="serves no root with fingerprint"):
        fetch_pinned_root(registry.host, "sha256:" + "0" * 64)


def test_an_engine_without_the_image_pulls_it_from_the_registry(
    swarm: SwarmTestCluster, trusted: RunningRegistry
) -> None:
    manager = swarm.manager.client()
    worker_host = swarm.ready_worker()
    worker = worker_host.client()
    try:
        token = _release_image(manager, swarm.image, "wharf/pulled", "v1")
        reference = push_image(manager, trusted.host, "wharf/pulled:v1")
        assert reference.startswith(f"{trusted.host}/wharf/pulled:v1@sha256:")
        with pytest.raises(docker.errors.ImageNotFound):
            worker.images.get(reference)
        worker.images.pull(reference)
        assert _token_in(worker, reference) == token, "the release's own layer came along"
    finally:
        manager.close()
        worker.close()


def _join_with_printed_command(
    swarm: SwarmTestCluster, registry: RunningRegistry, node: DockerTestHost
) -> str:
    """`wharfd nodes:add` on the manager, then the command it printed on `node`; what the join said."""
    data_dir = registry.storage.parent.parent
    save_cluster_choice(data_dir / "cluster.json", node_id="", swarm_id="", registry=registry.host)
    wharfd = Wharfd(data_dir=data_dir)
    printed = wharfd.ok(swarm.manager, "nodes:add")
    line = next(line.strip() for line in printed.splitlines() if line.strip().startswith("wharfd node join"))
    argv = shlex.split(line)
    fingerprint = argv[argv.index("--registry-ca") + 1]
    assert argv[argv.index("--registry") + 1] == registry.host
    assert fingerprint == root_fingerprint(registry.root_pem)
    forged = [*argv[1:]]
    forged[forged.index(fingerprint)] = "sha256:" + "1" * 64
    refused = wharfd.run(node, *forged)
    assert refused.returncode == 1 and "nothing was changed" in said(refused), said(refused)
    ca_path(registry.host).unlink()
    joined = wharfd.ok(node, *argv[1:])
    assert f"to {ca_path(registry.host)}" in joined, joined
    assert ca_path(registry.host).read_bytes() == registry.root_pem, "the node trusts Wharf's root"
    return joined


def test_a_node_joined_with_nodes_add_command_trusts_the_registry_and_a_dyno_there_starts_from_it(
    swarm: SwarmTestCluster, trusted: RunningRegistry
) -> None:
    """On a node whose engine pulls task images, as a real node's does (the cluster's other test
    engines use their own copies and never pull)."""
    manager = swarm.manager.client()
    runtime = SwarmRuntime(manager, installation="registry-tier", images=ReleaseImages(manager, trusted.api))
    with swarm.spare_host(offline_images=False) as node:
        ready = [n for n in manager.api.nodes() if n["Status"]["State"] == "ready"]
        _join_with_printed_command(swarm, trusted, node)
        wait_for_ready_nodes(swarm.manager, len(ready) + 1)
        node_id = swarm.node_id(node)
        engine = node.client()
        try:
            _release_image(manager, swarm.image, "wharf/placed", "v1")
            release_id = manager.images.get("wharf/placed:v1").id
            assert release_id not in {image.id for image in engine.images.list()}
            runtime.ensure_network("placed")
            spec = DynoSpec(
                app="placed",
                process_type="web",
                number=1,
                release=1,
                image="wharf/placed:v1",
                command=TRAPS_TERM,
                labels={"wharf.placement.node": f"node.id=={node_id}"},
            )
            dyno = runtime.start_dyno(spec)
            assert dyno.state == DynoState.UP, dyno
            service = manager.api.inspect_service(dyno.id)
            image = service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
            assert image.startswith(f"{trusted.host}/wharf/placed:v1@sha256:"), image
            assert release_id in {image.id for image in engine.images.list()}, "the node pulled it"
        finally:
            for dyno in runtime.list_dynos(app="placed"):
                runtime.remove_dyno(dyno.id)
            runtime.remove_network("placed")
            leave_swarm(engine, force=True)
            engine.close()
            manager.api.remove_node(node_id, force=True)
            manager.close()


def test_a_node_that_lost_the_registrys_ca_gets_it_back_from_its_node_agent_and_pulls_a_release(
    swarm: SwarmTestCluster, trusted: RunningRegistry, tmp_path: Path
) -> None:
    """Every node of the swarm was in it before the registry started; `wharfd cluster agents` then
    makes each node's agent keep the registry's CA in its node's certs.d (one file system for all the
    test engines, so the file is the worker's as much as any node's)."""
    data_dir = trusted.storage.parent.parent
    save_cluster_choice(data_dir / "cluster.json", node_id="", swarm_id="", registry=trusted.host)
    wharfd = Wharfd(data_dir=data_dir)
    manager = swarm.manager.client()
    worker = swarm.ready_worker().client()
    ca = ca_path(trusted.host)
    try:
        token = _release_image(manager, swarm.image, "wharf/retrusted", "v1")
        reference = push_image(manager, trusted.host, "wharf/retrusted:v1")
        ca.unlink()
        with pytest.raises(docker.errors.APIError, match="certificate signed by unknown authority"):
            worker.images.pull(reference)
        with running_node_agents(swarm, partial(wharfd.ok, swarm.manager), tmp_path / "engines") as agents:
            assert f"/etc/docker/certs.d/{trusted.host}/ca.crt" in agents.said, agents.said
            wait_for(ca.exists, 90, "the registry's CA back in certs.d")
            assert ca.read_bytes() == trusted.root_pem, "Wharf's root, and no key"
            assert ca.stat().st_mode & 0o777 == 0o644
            worker.images.pull(reference)
            assert _token_in(worker, reference) == token, "the worker pulled the release from the registry"
    finally:
        if not ca.exists():
            install_ca(trusted.host, trusted.root_pem)
        manager.close()
        worker.close()


class _Output:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)


def test_a_build_on_the_swarm_pushes_its_release_image_and_a_failed_push_fails_no_build(
    swarm: SwarmTestCluster, trusted: RunningRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = swarm.manager.client()
    try:
        _release_image(manager, swarm.image, "wharf/built", "v7")
    finally:
        manager.close()
    monkeypatch.setenv("DOCKER_HOST", swarm.manager.docker_host)
    data_dir = trusted.storage.parent.parent
    settings = Settings(wharf_data_dir=data_dir, wharf_runtime="swarm", wharf_registry=trusted.host)
    output = _Output()
    push_release_image(settings, "built", 7, output)  # type: ignore[arg-type]
    assert output.lines[0] == f"-----> Pushing the release image to the registry ({trusted.host})"
    assert output.lines[1].startswith(f"       Pushed {trusted.host}/wharf/built:v7@sha256:"), output.lines
    assert trusted.api.tags("wharf/built") == ["v7"]
    nobody = settings.model_copy(update={"wharf_registry": f"{swarm.manager.address}:1"})
    failed = _Output()
    push_release_image(nobody, "built", 7, failed)  # type: ignore[arg-type]
    assert failed.lines[-1].startswith(" !     The push failed"), failed.lines


def _releases(data_dir: Path, app: str, tags: list[str], current: int) -> None:
    database_url = f"sqlite:///{data_dir / 'wharf.db'}"
    upgrade_database(database_url)
    with session_scope(database_url) as session:
        owner = User(email=f"{app}@example.com", password_hash="x")
        session.add(owner)
        session.flush()
        record = App(name=app, owner_id=owner.id, current_release_version=current, release_counter=len(tags))
        session.add(record)
        session.flush()
        for version, tag in enumerate(tags, start=1):
            session.add(
                Release(app_id=record.id, version=version, description="", image=tag, config_ciphertext=b"")
            )


def test_wharfd_gc_deletes_a_release_no_longer_kept_from_the_registry_and_its_blobs(
    swarm: SwarmTestCluster, trusted: RunningRegistry
) -> None:
    data_dir = trusted.storage.parent.parent
    manager = swarm.manager.client()
    try:
        tags = [f"wharf/collected:v{version}" for version in (1, 2, 3)]
        for tag in tags:
            _release_image(manager, swarm.image, *tag.split(":"))
            push_image(manager, trusted.host, tag)
        _releases(data_dir, "collected", tags, current=3)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            **swarm.manager.env(),
            "WHARF_DATA_DIR": str(data_dir),
            "WHARF_REGISTRY": trusted.host,
            "WHARF_KEEP_RELEASES": "2",
        }
        wharfd = [sys.executable, "-m", "wharf.platform.wharfd", "gc", "--older-than", "0"]

        def gc(*args: str) -> str:
            done = subprocess.run(
                swarm.manager.in_netns([*wharfd, *args]), env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout

        collected = f"registry-image {trusted.host}/wharf/collected:v1"
        assert f"would remove {collected}" in gc("--dry-run")
        assert sorted(trusted.api.tags("wharf/collected")) == ["v1", "v2", "v3"], "a dry run deletes nothing"
        before = _blobs(trusted.storage)
        said = gc()
        assert f"removed {collected}" in said, said
        assert sorted(trusted.api.tags("wharf/collected")) == ["v2", "v3"]
        assert _blobs(trusted.storage) < before, "the old release's own layer left the registry's storage"
        again = ReleaseImages(manager, trusted.api).reference("wharf/collected:v2")
        assert again.startswith(f"{trusted.host}/wharf/collected:v2@sha256:"), (
            "a kept release is still served"
        )
    finally:
        manager.close()


def test_a_build_on_a_swarm_with_a_builder_node_compiles_there_from_the_build_image_in_the_registry(
    swarm: SwarmTestCluster, trusted: RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the build worker does on a swarm: the labelled node's agent takes the compile, and its
    engine, which has no copy of the build image, pulls it from Wharf's registry; without the label
    the build stays on the manager."""
    data_dir = trusted.storage.parent.parent
    save_cluster_choice(data_dir / "cluster.json", node_id="", swarm_id="", registry=trusted.host)
    wharfd = Wharfd(data_dir=data_dir)
    manager = swarm.manager.client()
    builder = swarm.ready_worker()
    builder_id = swarm.node_id(builder)
    build_image = f"wharf/test-build:{secrets.token_hex(4)}"
    repository, _, tag = build_image.partition(":")
    token = _release_image(manager, swarm.image, repository, tag)
    try:
        with running_node_agents(swarm, partial(wharfd.ok, swarm.manager), tmp_path / "engines") as agents:
            # The build worker's engine is the manager's (after the agents, whose image is built here).
            monkeypatch.setenv("DOCKER_HOST", swarm.manager.docker_host)
            settings = Settings(
                wharf_data_dir=data_dir,
                wharf_runtime="swarm",
                wharf_registry=trusted.host,
                wharf_build_image=build_image,
                redis_url=agents.redis.url,
            )
            limits = BuildLimits(memory="64m")
            unlabelled: list[str] = []
            assert compiler_for(settings, "scripted", "0123456789abcdef", limits, unlabelled.append) is None
            assert unlabelled == [], "no builder node: the build stays on the manager, and says nothing"

            _label(manager, builder_id, "builder")
            listening = agents.redis.client()
            wait_for(
                lambda: bool(listening.pubsub_numsub(builds_channel(builder_id))[0][1]), 90, "a build agent"
            )
            listening.close()
            said: list[str] = []
            compiler = compiler_for(settings, "scripted", "0123456789abcdef", limits, said.append)
            assert compiler is not None, said
            claims = agents.redis.client()
            building = claimed_per_node(claims, settings.installation_id)
            assert building == {builder_id: limits.memory_bytes}, "the build holds its memory on the node"
            result = compiler(scripted_compile(tmp_path, 1), on_output=said.append)
            assert claimed_per_node(claims, settings.installation_id) == {}, "and lets go once it has run"
            claims.close()
            output = "\n".join(said)
            pushing = "       Pushing the build image to the registry, once, for the builder nodes ("
            assert said[0].startswith(pushing) and said[0].endswith(" MB)"), said
            assert f"Pushed {trusted.host}/{build_image}@sha256:" in output, output
            assert "-----> Building on node" in output and "greeting: hello from the manager" in output, (
                output
            )
            assert (result.app_dir / "compiled").read_text() == "compiled\n"
            engine = builder.client()
            try:
                pulled = [
                    image
                    for image in engine.images.list()
                    if f"{trusted.host}/{repository}" in str(image.attrs)
                ]
                assert pulled, "the builder node has the build image, from the registry"
                assert _token_in(engine, pulled[0].id) == token
            finally:
                engine.close()
    finally:
        _label(manager, builder_id, None)
        manager.close()


def _label(client: docker.DockerClient, node_id: str, role: str | None) -> None:
    node = client.nodes.get(node_id)
    spec = node.attrs["Spec"]
    labels = {key: value for key, value in (spec.get("Labels") or {}).items() if key != "wharf.role"}
    node.update({**spec, "Labels": {**labels, **({"wharf.role": role} if role else {})}})
