"""Wharf's registry on a three-node Swarm: it runs on the manager's engine at the manager's address with a
certificate from Wharf's local authority; an engine that does not trust that authority refuses it; a
release image pushed from the manager is pulled by a node that has no copy, also when a dyno of it is
placed there; `collect_release_images` and the registry's garbage-collect take an old release away."""

from __future__ import annotations

import io
import secrets
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.utils.busybox_dynos import TRAPS_TERM
from tests.utils.test_cluster import SwarmTestCluster, join_as_worker
from tests.utils.test_host import DockerTestHost
from wharf.platform.cluster.membership import leave_swarm
from wharf.platform.registry.image import REGISTRY_IMAGE, ensure_registry_image
from wharf.platform.registry.release_images import ReleaseImages, collect_release_images, push_image
from wharf.platform.registry.server import RunningRegistry, collect_garbage, start_registry, stop_registry
from wharf.platform.registry.trust import ca_path, fetch_pinned_root, install_ca, root_fingerprint
from wharf.platform.runtime.base import DynoSpec, DynoState
from wharf.platform.runtime.swarm_runtime import SwarmRuntime

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


def _blobs(storage: Path) -> set[str]:
    return {path.parent.name for path in (storage / "docker/registry/v2/blobs").rglob("data")}


def _ready_worker(swarm: SwarmTestCluster) -> DockerTestHost:
    """A worker still in the swarm (the node tests remove one)."""
    manager = swarm.manager.client()
    try:
        ready = {
            node["Status"].get("Addr")
            for node in manager.api.nodes()
            if node["Status"]["State"] == "ready" and node["Spec"]["Availability"] == "active"
        }
    finally:
        manager.close()
    return next(host for host in swarm.workers if host.address in ready)


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
    worker_host = _ready_worker(swarm)
    worker = worker_host.client()
    try:
        token = _release_image(manager, swarm.image, "wharf/pulled", "v1")
        reference = push_image(manager, trusted.host, "wharf/pulled:v1")
        assert reference.startswith(f"{trusted.host}/wharf/pulled:v1@sha256:")
        with pytest.raises(docker.errors.ImageNotFound):
            worker.images.get(reference)
        worker.images.pull(reference)
        said = worker.containers.run(reference, ["cat", "/token"], remove=True)
        assert said.decode() == token
    finally:
        manager.close()
        worker.close()


def test_a_dyno_placed_on_a_node_without_its_release_image_starts_from_the_registry(
    swarm: SwarmTestCluster, trusted: RunningRegistry
) -> None:
    """On a node whose engine pulls task images, as a real node's does (the cluster's other test
    engines use their own copies and never pull)."""
    manager = swarm.manager.client()
    runtime = SwarmRuntime(manager, installation="registry-tier", images=ReleaseImages(manager, trusted.api))
    with swarm.spare_host(offline_images=False) as node:
        join_as_worker(swarm.manager, node)
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


def test_gc_deletes_an_old_release_from_the_registry_and_keeps_the_current_one(
    swarm: SwarmTestCluster, trusted: RunningRegistry
) -> None:
    manager = swarm.manager.client()
    try:
        for tag in ("v1", "v2"):
            _release_image(manager, swarm.image, "wharf/collected", tag)
            push_image(manager, trusted.host, f"wharf/collected:{tag}")
        assert sorted(trusted.api.tags("wharf/collected")) == ["v1", "v2"]
        deleted = collect_release_images(trusted.api, "wharf/collected", lambda tag: tag == "v1")
        assert deleted == ["v1"]
        assert trusted.api.tags("wharf/collected") == ["v2"]
        before = _blobs(trusted.storage)
        collect_garbage(manager)
        assert _blobs(trusted.storage) < before, "the old release's own layer left the registry's storage"
    finally:
        manager.close()
