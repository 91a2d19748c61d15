"""The memory of the builds running on each builder node, which Swarm does not count.

A build relayed to a builder node is a container its agent starts, not a Swarm task: no reservation
holds its memory, so two builds chosen one after the other would both find the node's memory free.
The build worker claims the build's memory on the node it chooses, under a lock so that two choices
never race, and lets go when the build ends. A claim whose worker died lapses after the build's time
limit and a margin; the agent stops a build whose worker has gone silent long before.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import redis

from wharf.platform.builds.builder_nodes import BuilderChoice, builder_nodes, choose_builder_node

LAPSE_MARGIN_SECONDS = 300
LOCK_SECONDS = 30


def claims_key(installation: str) -> str:
    """The Redis hash of INSTALLATION's claims: claim id -> `NODE MEMORY_BYTES LAPSES_AT`."""
    return f"wharf:{installation}:builder-claims"


def claimed_per_node(client: redis.Redis[bytes], installation: str) -> dict[str, int]:
    """The memory the live claims hold on each node, by node id; lapsed claims are dropped."""
    key = claims_key(installation)
    now = time.time()
    held: dict[str, int] = {}
    lapsed = []
    for claim, value in client.hgetall(key).items():
        try:
            node, memory, lapses_at = value.decode().split(" ")
            if float(lapses_at) <= now:
                lapsed.append(claim)
                continue
            held[node] = held.get(node, 0) + int(memory)
        except ValueError:
            lapsed.append(claim)
    if lapsed:
        client.hdel(key, *lapsed)
    return held


def claim_builder_node(
    client: Any,
    redis_client: redis.Redis[bytes],
    installation: str,
    memory_bytes: int,
    lasts_seconds: float,
) -> tuple[BuilderChoice, str | None]:
    """The builder node for a build of MEMORY_BYTES, with the claim on its memory (None with no node):
    the choice counts the claims of the builds running, and no other choice runs meanwhile. A swarm
    without a node labelled for builds takes no lock: its builds stay on the manager."""
    labelled = builder_nodes(client)
    if not labelled:
        return BuilderChoice(None), None
    lock = redis_client.lock(
        f"{claims_key(installation)}:choosing", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS
    )
    with lock:
        building = claimed_per_node(redis_client, installation)
        choice = choose_builder_node(client, redis_client, memory_bytes, building, labelled)
        if choice.node is None:
            return choice, None
        claim = secrets.token_hex(8)
        lapses_at = time.time() + lasts_seconds + LAPSE_MARGIN_SECONDS
        redis_client.hset(claims_key(installation), claim, f"{choice.node.id} {memory_bytes} {lapses_at:.3f}")
        return choice, claim


def release_claim(client: redis.Redis[bytes], installation: str, claim: str) -> None:
    """The build of CLAIM has ended: its memory is free on its node again."""
    client.hdel(claims_key(installation), claim)
