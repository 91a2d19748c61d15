"""`wharfd cluster init` on an engine of its own: refused with what to change while live-restore is on;
otherwise the engine becomes a swarm's first manager running the image registry, which its engine
trusts, and the data dir keeps the choice."""

from __future__ import annotations

import json
import shutil

import docker
import pytest

from tests.cluster.conftest import Wharfd, said
from tests.utils.test_cluster import SwarmTestCluster
from wharf.platform.registry.ca_file import ca_path
from wharf.platform.registry.image import REGISTRY_IMAGE, ensure_registry_image
from wharf.platform.registry.trust import root_fingerprint
from wharf.platform.security.authority import root_pem
from wharf.platform.settings import Settings, runtime_chosen_in_data_dir, with_runtime_from_data_dir

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


def test_cluster_init_refuses_an_engine_with_live_restore_and_says_what_to_change(
    swarm: SwarmTestCluster, wharfd: Wharfd
) -> None:
    with swarm.spare_host(live_restore=True) as host:
        refused = wharfd.run(host, "cluster", "init")
        message = said(refused)
        assert refused.returncode == 1
        assert '"live-restore": false in /etc/docker/daemon.json' in message, message
        assert "restart dockerd" in message
        client = host.client()
        try:
            assert client.info()["Swarm"]["LocalNodeState"] == "inactive", "the engine was left as it was"
        finally:
            client.close()
    assert not (wharfd.data_dir / "cluster.json").exists()


def test_cluster_init_makes_the_first_manager_with_the_registry_and_the_data_dir_keeps_the_choice(
    swarm: SwarmTestCluster, wharfd: Wharfd
) -> None:
    host_engine = docker.from_env()
    try:
        ensure_registry_image(host_engine)
    finally:
        host_engine.close()
    with swarm.spare_host() as host:
        host.load_images([REGISTRY_IMAGE])
        registry = f"{host.address}:5443"
        try:
            output = wharfd.ok(host, "cluster", "init", "--advertise-addr", host.address)
            client = host.client()
            try:
                state = client.info()["Swarm"]
                assert state["LocalNodeState"] == "active" and state["ControlAvailable"]
                assert state["NodeID"] in output and "wharfd nodes:add" in output
                assert client.containers.get("wharf-registry").status == "running"
                heartbeat = client.swarm.attrs["Spec"]["Dispatcher"]["HeartbeatPeriod"]
                assert heartbeat == 2_000_000_000, "nodes report every 2 s, so a dead one is down in ~6 s"
            finally:
                client.close()
            root = root_pem(wharfd.data_dir).encode()
            assert ca_path(registry).read_bytes() == root, "this engine trusts the registry"
            assert f"{root_fingerprint(root)}) to {ca_path(registry)}" in output, output
            record = json.loads((wharfd.data_dir / "cluster.json").read_text())
            assert (record["runtime"], record["node_id"], record["registry"]) == (
                "swarm",
                state["NodeID"],
                registry,
            )
            settings = Settings(wharf_data_dir=wharfd.data_dir)
            assert runtime_chosen_in_data_dir(settings) == "swarm"
            assert with_runtime_from_data_dir(settings).wharf_registry == registry
            again = wharfd.ok(host, "cluster", "init")
            assert state["NodeID"] in again, "a second init finds the swarm this engine manages"
            [only] = wharfd.nodes(host)
            assert (only["role"], only["address"], only["dynos"]) == ("manager", host.address, 0)
            join = wharfd.ok(host, "nodes:add")
            assert f"--registry {registry} --registry-ca {root_fingerprint(root)}" in join, join
        finally:
            shutil.rmtree(ca_path(registry).parent, ignore_errors=True)
