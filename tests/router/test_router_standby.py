"""A node that stops answering: its dynos leave rotation before Swarm marks it down.

Two "nodes" on this host (127.0.0.1 and 127.0.0.2), each with a listener standing for its Swarm
gossip port and one web dyno, are probed by the scheduler's node prober as on a swarm; the route table
goes through the control plane's Redis hashes to a real router and nginx."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest
import redis

from tests.utils.router import RouterHarness, running_dynos, running_router
from wharf.platform.routing import GENERATION_KEY, set_app_backends, set_app_route_settings
from wharf.platform.scheduler.reachability import NodeReachability, answers
from wharf.router.render import RouterPaths

pytestmark = pytest.mark.e2e

NODES = ("127.0.0.1", "127.0.0.2")


@contextmanager
def gossip_port(host: str, port: int = 0) -> Iterator[int]:
    listener = socket.create_server((host, port))
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def served_config(router: RouterHarness, redis_client: redis.Redis[bytes]) -> str:
    """The nginx config of the newest route table, once nginx serves it."""
    newest = int(redis_client.get(GENERATION_KEY) or 0)
    router.wait_until(lambda: router.applied_generation() >= newest)
    return RouterPaths(router.state_dir).config.read_text()


def test_a_node_that_stops_answering_has_its_dynos_on_standby_until_it_answers_again(
    redis_client: redis.Redis[bytes],
) -> None:
    with (
        running_router(redis_client) as router,
        running_dynos("web.1", host=NODES[0]) as (alive,),
        running_dynos("web.2", host=NODES[1]) as (lost,),
        gossip_port(NODES[0]) as port,
    ):
        set_app_route_settings(redis_client, "myapp", hostnames=[], maintenance=False, tls=[])
        set_app_backends(
            redis_client,
            "myapp",
            [{"dyno": d.name, "host": d.backend.host, "port": d.port} for d in (alive, lost)],
        )
        prober = NodeReachability(redis_client, probe=partial(answers, port=port))
        with gossip_port(NODES[1], port):
            assert prober.probe_once(NODES) == set()
        assert f"server {lost.backend.address} max_fails=1 fail_timeout=5s;" in served_config(
            router, redis_client
        )
        served = {router.request("myapp.localhost", f"/{n}").json()["backend"] for n in range(8)}
        assert served == {"web.1", "web.2"}

        # The second node's port is closed now: one failed probe is not enough, the second is.
        assert prober.probe_once(NODES) == set()
        assert prober.probe_once(NODES) == {NODES[1]}
        assert f"server {lost.backend.address} max_fails=1 fail_timeout=5s backup;" in served_config(
            router, redis_client
        )
        answers_now = [router.request("myapp.localhost", f"/{n}") for n in range(8)]
        assert [(a.status, a.json()["backend"]) for a in answers_now] == [(200, "web.1")] * 8

        with gossip_port(NODES[1], port):
            assert prober.probe_once(NODES) == set()
        assert "backup;" not in served_config(router, redis_client)


def test_when_every_node_of_an_app_is_unreachable_none_of_its_dynos_is_standby(
    redis_client: redis.Redis[bytes],
) -> None:
    with running_router(redis_client) as router, running_dynos("web.1", host=NODES[1]) as (dyno,):
        set_app_route_settings(redis_client, "solo", hostnames=[], maintenance=False, tls=[])
        set_app_backends(redis_client, "solo", [{"dyno": "web.1", "host": NODES[1], "port": dyno.port}])
        prober = NodeReachability(redis_client, probe=lambda _address: False, failures_to_unreachable=1)
        assert prober.probe_once(NODES) == set(NODES)
        assert f"server {dyno.backend.address} max_fails=1 fail_timeout=5s;" in served_config(
            router, redis_client
        )
        answer = router.request("solo.localhost", "/")
        assert (answer.status, answer.json()["backend"]) == (200, "web.1")
