"""Failover on the Swarm runtime: the seconds from a node's death to the router no longer sending to
it and to the app's formation whole again, with the requests answered and failed meanwhile.

Run: .venv/bin/python -m bench.cluster_failover [--web 6] [--rounds 1]
     (root; needs nginx, redis-server and busybox-static; about 1 minute a round)

A three-node Swarm of private test hosts (tests/utils/test_cluster.py), an app of `--web` web dynos
run by Wharf's scheduler on the Swarm runtime and served by a real router (tests/utils/failover.py),
4 clients requesting it through the router without keep-alive. Each round kills the worker with the
most dynos (its link down, its dockerd SIGKILLed), times from then:

- standby: nginx's config sends nothing to the node (its dynos are backup servers, once the
  scheduler's node prober finds its gossip port silent, or out of the route table);
- down: Swarm's managers mark the node down (missed heartbeats);
- unrouted: the router's applied route table has no backend on the node;
- whole: every web slot has an up dyno on a live node, all of them routed;

then starts the node again and waits for it to be ready. Each round runs twice: at Wharf's heartbeat
(2 s, `wharfd cluster init`) and at Swarm's default (5 s), the baseline. The issue's targets: the
router stops sending within 5 s, the formation is whole within 30 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._scheduler_bench import private_redis
from tests.utils.failover import Failover, failover_app, kill_node, revive_node, wait_for
from tests.utils.test_cluster import SwarmTestCluster, swarm_test_cluster
from tests.utils.test_host import DockerTestHost
from wharf.platform.cluster.membership import DISPATCHER_HEARTBEAT_SECONDS

SWARM_DEFAULT_HEARTBEAT_SECONDS = 5
UNROUTED_TARGET_SECONDS = 5.0
WHOLE_TARGET_SECONDS = 30.0
GIVE_UP_SECONDS = 90.0


def set_heartbeat(cluster: SwarmTestCluster, seconds: int) -> None:
    client = cluster.manager.client()
    try:
        client.swarm.reload()
        client.swarm.update(dispatcher_heartbeat_period=seconds * 1_000_000_000)
    finally:
        client.close()


def node_down(cluster: SwarmTestCluster, node_id: str) -> bool:
    client = cluster.manager.client()
    try:
        return str(client.api.inspect_node(node_id)["Status"]["State"]) == "down"
    finally:
        client.close()


def first_times(checks: dict[str, Callable[[], bool]], began: float) -> dict[str, float]:
    """Seconds from `began` until each check first held, polling all of them together."""
    times: dict[str, float] = {}
    while len(times) < len(checks):
        for name, check in checks.items():
            if name not in times and check():
                times[name] = time.monotonic() - began
        if time.monotonic() - began > GIVE_UP_SECONDS:
            missing = sorted(set(checks) - set(times))
            raise SystemExit(f"not so after {GIVE_UP_SECONDS:.0f} s: {', '.join(missing)}")
        time.sleep(0.05)
    return times


def one_round(cluster: SwarmTestCluster, scenario: Failover) -> tuple[dict[str, float], int, int]:
    victim: DockerTestHost = scenario.busiest_worker()
    victim_id = cluster.node_id(victim)
    try:
        with scenario.load() as load:
            wait_for(lambda: load.counts()[0] >= 20, 30, "the app answers through the router")
            answered_before, failed_before = load.counts()
            killed = time.monotonic()
            kill_node(victim)
            times = first_times(
                {
                    "down": lambda: node_down(cluster, victim_id),
                    "standby": lambda: not scenario.sent_to(victim),
                    "unrouted": lambda: not scenario.routed_to(victim),
                    "whole": lambda: scenario.whole(without=victim),
                },
                killed,
            )
            answered, failed = load.counts()
    finally:
        revive_node(cluster, victim)
    return times, answered - answered_before, failed - failed_before


def within(seconds: float, target: float) -> str:
    return f"{'within' if seconds <= target else 'over'} the {target:.0f} s target"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--web", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    rows: list[tuple[int, dict[str, float], int, int]] = []
    with (
        tempfile.TemporaryDirectory(prefix="wharf-bench-failover-") as scratch,
        private_redis(Path(scratch)) as cache,
        swarm_test_cluster(workers=2) as cluster,
    ):
        for number in range(args.rounds):
            for heartbeat in (DISPATCHER_HEARTBEAT_SECONDS, SWARM_DEFAULT_HEARTBEAT_SECONDS):
                set_heartbeat(cluster, heartbeat)
                database_dir = Path(scratch) / f"round-{number}-{heartbeat}"
                database_dir.mkdir()
                with failover_app(cluster, cache, str(database_dir), web=args.web) as scenario:
                    times, answered, failed = one_round(cluster, scenario)
                rows.append((heartbeat, times, answered, failed))
                print(
                    f"heartbeat {heartbeat} s: router no longer sending {times['standby']:.1f} s, node down "
                    f"{times['down']:.1f} s, out of the route table {times['unrouted']:.1f} s, "
                    f"formation whole {times['whole']:.1f} s; "
                    f"{answered} requests answered, {failed} failed meanwhile",
                    flush=True,
                )
    print(
        f"\n{args.web} web dynos on 3 nodes, times from the node's death (targets: unrouted "
        f"{UNROUTED_TARGET_SECONDS:.0f} s, whole {WHOLE_TARGET_SECONDS:.0f} s)"
    )
    for heartbeat in (DISPATCHER_HEARTBEAT_SECONDS, SWARM_DEFAULT_HEARTBEAT_SECONDS):
        mine = [(t, a, f) for h, t, a, f in rows if h == heartbeat]
        unrouted = max(t["standby"] for t, _, _ in mine)
        whole = max(t["whole"] for t, _, _ in mine)
        baseline = " (Swarm's default)" if heartbeat == SWARM_DEFAULT_HEARTBEAT_SECONDS else ""
        print(
            f"  heartbeat {heartbeat} s{baseline}: worst no longer sent to {unrouted:.1f} s "
            f"({within(unrouted, UNROUTED_TARGET_SECONDS)}), worst whole {whole:.1f} s "
            f"({within(whole, WHOLE_TARGET_SECONDS)}), "
            f"{sum(f for _, _, f in mine)} of {sum(a + f for _, a, f in mine)} requests failed"
        )


if __name__ == "__main__":
    main()
