"""A node that comes back takes its share of a formation (docs/cluster.md, "Rebalancing"): six web
dynos served through a real router run on two nodes while the third is drained; once it is set
active again, Wharf's scheduler moves dynos onto it one at a time, each successor up and routed before
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

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]
WEB = 6


def set_node_availability(swarm: SwarmTestCluster, host: DockerTestHost, availability: str) -> None:
    client = swarm.manager.client()
    try:
        set_availability(client, client.api.inspect_node(swarm.node_id(host)), availability)
    finally:
        client.close()


def spread(scenario: Failover) -> list[int]:
    """How many up web dynos each node runs, in the cluster's node order."""
    return [len(scenario.dynos_on(node)) for node in scenario.cluster.nodes]


def rebalance_events(scenario: Failover) -> list[str]:
    with session_scope(scenario.world.database_url) as session:
        events = list_app_events(session=session, app_name=scenario.app)
        return [event.message for event in reversed(events) if event.action == "rebalance"]


def test_a_node_set_active_again_gets_its_share_of_the_formation_without_a_failed_request(
    swarm: SwarmTestCluster, redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    joining = swarm.workers[1]
    with failover_app(swarm, redis_client, str(tmp_path), web=1) as scenario:
        set_node_availability(swarm, joining, "drain")
        try:
            scenario.scale(WEB)
            wait_for(lambda: scenario.whole(without=joining), 120, f"{WEB} web dynos on the two other nodes")
            assert spread(scenario)[2] == 0 and sorted(spread(scenario)) == [0, 3, 3], spread(scenario)
            with scenario.load() as load:
                wait_for(lambda: load.counts()[0] >= 20, 30, "the app answers through the router")
                set_node_availability(swarm, joining, "active")
                wait_for(
                    lambda: scenario.whole() and spread(scenario) == [2, 2, 2],
                    90,
                    "two web dynos on each node, every one routed",
                )
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
        assert len(moved) == 2 and all(swarm.node_id(joining)[:12] in m for m in moved), events
        first = re.search(r"\(web spread (\d+)/(\d+)/(\d+)\)", events[0])
        assert first and sorted(int(n) for n in first.groups()) == [0, 3, 3], events
