"""On a swarm every node's agent ships its own engine's dynos into one Redis: a node's resync forgets
the cursors of containers its engine no longer lists, and never another node's (whose containers it
cannot see), so no node reads another's dynos again from the start."""

from __future__ import annotations

from typing import Any

import redis

from wharf.platform.logs.shipper import CURSORS_KEY, LogShipper
from wharf.platform.logs.stream import LogWriter


class EngineWithoutDynos:
    """A Docker API whose engine lists no container."""

    def containers(self, **_: Any) -> list[dict[str, Any]]:
        return []


def test_a_nodes_resync_keeps_the_cursors_of_other_nodes(redis_client: redis.Redis[bytes]) -> None:
    writer = LogWriter(redis_client)
    first = LogShipper(EngineWithoutDynos(), writer, node="node-a")
    second = LogShipper(EngineWithoutDynos(), writer, node="node-b")
    redis_client.hset(first.cursors_key, "gone-from-a", "2026-12-03T12:00:00.000000001Z")
    redis_client.hset(second.cursors_key, "running-on-b", "2026-12-03T12:00:00.000000002Z")

    first.resync()

    assert redis_client.hgetall(first.cursors_key) == {}, "its own stale cursor is forgotten"
    assert redis_client.hgetall(second.cursors_key) == {b"running-on-b": b"2026-12-03T12:00:00.000000002Z"}
    assert first.cursors_key != CURSORS_KEY, "one host's shipper keeps its own key"
