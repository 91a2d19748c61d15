"""Losing a node of the Swarm under load (docs/cluster.md, "Losing a node"): a web formation spread
over the three nodes is served through a real router while a worker dies; Wharf's scheduler replaces
the dead node's dynos on the others within the issue's 30 s, the router stops sending to it, and
once the node is back the old dynos do not return and the formation is spread over it again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from tests.utils.failover import Failover, failover_app, kill_node, revive_node, wait_for
from tests.utils.test_cluster import SwarmTestCluster
from tests.utils.test_host import DockerTestHost

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]
# The figure: the formation is whole again within 30 s of the node's death.
WHOLE_WITHIN_SECONDS = 30.0
WEB = 4


def app_services_running_on(node: DockerTestHost, app: str) -> set[str]:
    """The services (dynos) whose containers of the app run on the node."""
    client = node.client()
    try:
        containers = client.containers.list(ignore_removed=True, filters={"label": f"wharf.app={app}"})
        return {str(c.labels.get("com.docker.swarm.service.id")) for c in containers}
    finally:
        client.close()


def spread_within_one(scenario: Failover) -> bool:
    per_node = [len(scenario.dynos_on(node)) for node in scenario.cluster.nodes]
    return max(per_node) - min(per_node) <= 1


def test_a_dead_nodes_dynos_come_back_on_the_others_and_the_node_back_takes_new_ones(
    swarm: SwarmTestCluster, redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    with failover_app(swarm, redis_client, str(tmp_path), web=WEB) as scenario:
        victim = scenario.busiest_worker()
        lost = {d.id for d in scenario.dynos_on(victim)}
        assert lost, f"the formation is spread over the nodes: {scenario.web_dynos()}"
        try:
            with scenario.load() as load:
                try:
                    wait_for(lambda: load.counts()[0] >= 20, 30, "the app answers through the router")
                except AssertionError as error:
                    answered, failed = load.counts()
                    raise AssertionError(
                        f"{error}: {answered} answered, {failed} failed: {load.failures[:3]}"
                    ) from None
                killed = time.monotonic()
                kill_node(victim)
                wait_for(
                    lambda: scenario.whole(without=victim),
                    WHOLE_WITHIN_SECONDS - (time.monotonic() - killed),
                    f"{WEB} web dynos up and routed on the live nodes, counted from the kill",
                )
                whole = time.monotonic()
                sent_then = sum(load.counts())
                # Requests sent once the formation is whole (all must be answered: checked below); the
                # test clients are slow on a loaded host, so ten of them, within a minute.
                wait_for(lambda: sum(load.counts()) >= sent_then + 10, 60, "more requests sent and done")
            answered, failed = load.counts()
            print(
                f"formation whole {whole - killed:.1f} s after the kill; "
                f"{answered} requests answered, {failed} failed: {load.failures[:5]}"
            )
            wait_for(lambda: not scenario.routed_to(victim), 10, "the router has no backend on the dead node")
            assert load.failures_since(whole) == [], "no request sent once the formation was whole failed"
            assert not lost & {d.id for d in scenario.web_dynos()}, "the dead node's dynos are removed"
        finally:
            revive_node(swarm, victim)
        wait_for(
            lambda: not lost & app_services_running_on(victim, scenario.app),
            60,
            "the old dynos gone from the node",
        )
        wait_for(
            lambda: scenario.whole() and spread_within_one(scenario) and len(scenario.web_dynos()) == WEB,
            90,
            "the formation spread over the node that came back (docs/cluster.md, rebalancing)",
        )
        assert scenario.dynos_on(victim), "dynos moved onto the node that came back"
        assert not lost & {d.id for d in scenario.web_dynos()}, "the old dynos did not return"
        assert sorted(d.number for d in scenario.web_dynos()) == list(range(1, WEB + 1)), "no duplicates"
