"""Which build cache volumes on builder nodes belong to apps that still exist.

A build compiled on a builder node keeps the app's cache in a volume there (relay_wire.cache_volume),
out of the manager's reach. The build worker records each such volume in the installation's set
(relay_wire.live_caches_key) before it sends the build; destroying the app takes its volumes out of
the set and tells the agents; each builder node's agent then removes the volumes of its installation
the set no longer holds (cluster/build_host.py), as it also does at its start and every few minutes,
so a destroyed app's cache does not stay on a node's disk for good.
"""

from __future__ import annotations

import redis

from wharf.platform.builds import relay_wire as wire


def remember_build_cache(client: redis.Redis[bytes], *, installation: str, app: str, cache_key: str) -> None:
    """APP's cache volume (of its CACHE_KEY) is one a builder node keeps."""
    client.sadd(wire.live_caches_key(installation), wire.LIVE_CACHES_MARK, wire.cache_volume(app, cache_key))


def forget_build_caches(client: redis.Redis[bytes], *, installation: str, app: str) -> list[str]:
    """Every cache volume of an app named APP is one the builder nodes may remove; the names."""
    key = wire.live_caches_key(installation)
    gone = [
        name
        for name in (member.decode(errors="replace") for member in client.smembers(key))
        if wire.is_cache_volume_of(name, app)
    ]
    if gone:
        client.srem(key, *gone)
        client.publish(wire.caches_forgotten_channel(installation), str(len(gone)))
    return gone
