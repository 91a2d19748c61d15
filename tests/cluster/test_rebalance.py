"""A node that comes back takes its share of a formation (docs/cluster.md, "Rebalancing"): six web
dynos served through a real router run on the swarm's other nodes while one worker is drained; once it
is set active again, Wharf's scheduler moves dynos onto it one at a time, each successor up and routed before
the dyno it replaces leaves, until the spread is even, with clients requesting the app all along."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import redis

from tests.utils.failover import Failover, failover_app, wait_for
from tests.utils.test_cluster import SwarmTestCluster
from tests.utils.test_host import DockerTestHost
from wharf.platform.cluster.draining import set_availability
from wharf.platform.db import session_scope
from wharf.platform.logs.events import list_app_events
from wharf.platform.scheduler.rebalance import MOVE_TIMEOUT

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]
WEB = 6


def set_node_availability(swarm: SwarmTestCluster, host: DockerTestHost, availability: str) -> None:
    client = swarm.manager.client()
    try:
        set_availability(client, client.api.inspect_node(swarm.node_id(host)), availability)
    finally:
        client.close()


def members(swarm: SwarmTestCluster) -> list[DockerTestHost]:
    """The cluster's hosts that are ready and active nodes of its swarm now, manager first (the node
    tests, tests/cluster/test_nodes.py, remove a worker from the session's swarm)."""
    client = swarm.manager.client()
    try:
        taking = {
            n["ID"]
            for n in client.api.nodes()
            if n["Status"]["State"] == "ready" and n["Spec"]["Availability"] == "active"
        }
    finally:
        client.close()
    return [host for host in swarm.nodes if swarm.node_id(host) in taking]


def spread(scenario: Failover, nodes: list[DockerTestHost]) -> list[int]:
    """How many up web dynos each of `nodes` runs, in that order."""
    return [len(scenario.dynos_on(node)) for node in nodes]


def rebalance_events(scenario: Failover) -> list[str]:
    with session_scope(scenario.world.database_url) as session:
        events = list_app_events(session=session, app_name=scenario.app)
        return [event.message for event in reversed(events) if event.action == "rebalance"]


# Its waits add up to more than the 600 s default at worst (the moves alone may take twice MOVE_TIMEOUT):
# the time limit leaves room for the wait on the moves to run out and say what it saw.
@pytest.mark.timeout(900)
def test_a_node_set_active_again_gets_its_share_of_the_formation_without_a_failed_request(
    swarm: SwarmTestCluster, redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    nodes = members(swarm)
    assert len(nodes) >= 2, "a worker to drain and set active again"
    joining, share = nodes[-1], WEB // len(nodes)
    before = sorted([0] + [WEB // (len(nodes) - 1)] * (len(nodes) - 1))
    with failover_app(swarm, redis_client, str(tmp_path), web=1) as scenario:
        set_node_availability(swarm, joining, "drain")
        try:
            scenario.scale(WEB)
            wait_for(lambda: scenario.whole(without=joining), 120, f"{WEB} web dynos on the other nodes")
            assert sorted(spread(scenario, nodes)) == before, spread(scenario, nodes)
            with scenario.load() as load:
                wait_for(lambda: load.counts()[0] >= 20, 30, "the app answers through the router")
                set_node_availability(swarm, joining, "active")
                try:
                    wait_for(
                        lambda: scenario.whole() and spread(scenario, nodes) == [share] * len(nodes),
                        # Each move is dropped if not done in MOVE_TIMEOUT: on a busy host a move may
                        # take most of that, and the rebalance makes them one at a time.
                        share * MOVE_TIMEOUT,
                        f"{share} web dynos on each node, every one routed",
                    )
                except AssertionError as error:
                    raise AssertionError(
                        f"{error}; spread {spread(scenario, nodes)}, whole {scenario.whole()}, "
                        f"moves {rebalance_events(scenario)}"
                    ) from None
                sent_then = sum(load.counts())
                wait_for(lambda: sum(load.counts()) >= sent_then + 10, 60, "more requests sent and done")
            answered, failed = load.counts()
            print(f"{answered} requests answered, {failed} failed: {load.failures[:5]}")
            print("\n".join(rebalance_events(scenario)))
            assert load.failures == [], "no request failed while dynos moved"
        finally:
            set_node_availability(swarm, joining, "active")
        wait_for(lambda: len(scenario.web_dynos()) == WEB, 60, "the moved dynos' predecessors removed")
        numbers = Counter(d.number for d in scenario.web_dynos())
        assert sorted(numbers) == list(range(1, WEB + 1)) and set(numbers.values()) == {1}, numbers
        events = rebalance_events(scenario)
        moved = [message for message in events if message.startswith("Moved web.")]
        assert len(moved) == share and all(f"to node {swarm.node_id(joining)[:12]}" in m for m in moved), (
            events
        )
        first = re.search(r"\(web spread ([\d/]+)\)", events[0])
        assert first and sorted(int(n) for n in first.group(1).split("/")) == before, events
