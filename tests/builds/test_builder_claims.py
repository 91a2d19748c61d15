"""A build relayed to a builder node holds its memory there until it ends, though Swarm does not know
of it: the next build goes where there is still room, two builds chosen at once do not both take the
last of it, and a claim whose worker died lapses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from tests.utils.swarm_nodes import Swarm, builder_node
from wharf.platform.builds import relay_wire as wire
from wharf.platform.builds.builder_claims import (
    LAPSE_MARGIN_SECONDS,
    claim_builder_node,
    claimed_per_node,
    claims_key,
    release_claim,
)
from wharf.platform.builds.builder_nodes import BuilderChoice

INSTALLATION = "install-a"
GB = 1 << 30


@pytest.fixture
def agents_listen(redis_client: redis.Redis[bytes]) -> Iterator[None]:
    """The agents of nodes b1 and b2 listen for builds."""
    pubsub = redis_client.pubsub()
    pubsub.subscribe(wire.requests_channel("b1"), wire.requests_channel("b2"))
    yield
    pubsub.close()


def claim(swarm: Swarm, client: redis.Redis[bytes], memory: int) -> tuple[BuilderChoice, str | None]:
    return claim_builder_node(swarm, client, INSTALLATION, memory, 600)


def chosen(result: tuple[BuilderChoice, str | None]) -> str | None:
    node = result[0].node
    return node.name if node is not None else None


def test_a_running_build_holds_its_memory_on_its_node_until_it_ends(
    redis_client: redis.Redis[bytes], agents_listen: None
) -> None:
    swarm = Swarm(
        [builder_node("b1", "build-1", memory=8 * GB), builder_node("b2", "build-2", memory=5 * GB)], []
    )

    first = claim(swarm, redis_client, 2 * GB)
    assert chosen(first) == "build-1"
    assert chosen(claim(swarm, redis_client, 2 * GB)) == "build-1", "6 GB free there, 5 on build-2"
    assert chosen(claim(swarm, redis_client, 2 * GB)) == "build-2", "4 GB free on build-1 now"
    assert claimed_per_node(redis_client, INSTALLATION) == {"b1": 4 * GB, "b2": 2 * GB}

    full, no_claim = claim(swarm, redis_client, 5 * GB)
    assert full.node is None and no_claim is None
    assert full.passed_over == "build-1 has 4096 MB free; build-2 has 3072 MB free"

    assert first[1] is not None
    release_claim(redis_client, INSTALLATION, first[1])
    assert chosen(claim(swarm, redis_client, 5 * GB)) == "build-1", "the first build ended: 6 GB free"
    assert claimed_per_node(redis_client, "install-b") == {}, "another installation's claims are its own"


def test_two_builds_chosen_at_once_do_not_both_take_the_last_room(
    redis_client: redis.Redis[bytes], agents_listen: None
) -> None:
    swarm = Swarm([builder_node("b1", "build-1", memory=6 * GB)], [], list_seconds=0.3)
    results: list[tuple[BuilderChoice, str | None]] = []
    start = threading.Barrier(2)

    def build() -> None:
        other = redis.Redis(connection_pool=redis_client.connection_pool)
        start.wait()
        results.append(claim(swarm, other, 4 * GB))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sorted(str(chosen(result)) for result in results) == ["None", "build-1"]
    refused = next(choice for choice, _ in results if choice.node is None)
    assert refused.passed_over == "build-1 has 2048 MB free"


def test_a_claim_whose_worker_died_lapses_after_the_builds_time_limit(
    redis_client: redis.Redis[bytes], agents_listen: None
) -> None:
    swarm = Swarm([builder_node("b1", "build-1", memory=6 * GB)], [])
    # A build whose time limit and margin ran out a second ago (a claim's lapse time is kept to the
    # millisecond, so one that lapses at this very moment may still hold for part of one).
    choice, lapsing = claim_builder_node(swarm, redis_client, INSTALLATION, 4 * GB, -LAPSE_MARGIN_SECONDS - 1)
    assert choice.node is not None and lapsing is not None
    redis_client.hset(claims_key(INSTALLATION), "garbled", "b1 lots")

    assert claimed_per_node(redis_client, INSTALLATION) == {}
    assert redis_client.hkeys(claims_key(INSTALLATION)) == [], "lapsed and unreadable claims are dropped"
    assert chosen(claim(swarm, redis_client, 4 * GB)) == "build-1"


def test_a_swarm_without_builder_nodes_chooses_without_waiting_for_the_lock(
    redis_client: redis.Redis[bytes],
) -> None:
    swarm = Swarm([], [])
    held = redis_client.lock(f"{claims_key(INSTALLATION)}:choosing", timeout=60)
    assert held.acquire(blocking=False)
    try:
        began = time.monotonic()
        choice, no_claim = claim(swarm, redis_client, 2 * GB)
        waited = time.monotonic() - began
    finally:
        held.release()
    assert choice.node is None and no_claim is None and choice.passed_over is None
    assert waited < 5, f"waited {waited:.1f} s for a lock another build held"
    assert redis_client.hkeys(claims_key(INSTALLATION)) == []
