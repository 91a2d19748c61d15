"""Where dynos run: one Runtime interface, a Docker implementation and an in-memory fake.

The implementation is chosen once, from settings, through get_runtime(); everything else talks to
the Runtime protocol only.
"""

from __future__ import annotations

from wharf.platform.implementations import choose, names
from wharf.platform.runtime.base import (
    SIZES,
    Dyno,
    DynoEvent,
    DynoNotFound,
    DynoSize,
    DynoSpec,
    DynoState,
    EventAction,
    ImageNotFound,
    NetworkInUse,
    NetworkNotFound,
    Runtime,
    WharfRuntimeError,
    network_name,
    size_named,
)

RUNTIME_NAMES = names("runtime")


def get_runtime(name: str, *, installation: str | None = None) -> Runtime:
    """Build the runtime a setting names: "docker" (the local Docker Engine), "swarm" (services
    on the Swarm the local engine manages) or "fake" (in memory)."""
    runtime = choose("runtime", name)(installation=installation)
    if not isinstance(runtime, Runtime):
        raise TypeError(f"the {name!r} runtime factory built a {type(runtime).__name__}, not a Runtime")
    return runtime


__all__ = [
    "RUNTIME_NAMES",
    "SIZES",
    "Dyno",
    "DynoEvent",
    "DynoNotFound",
    "DynoSize",
    "DynoSpec",
    "DynoState",
    "EventAction",
    "ImageNotFound",
    "NetworkInUse",
    "NetworkNotFound",
    "Runtime",
    "WharfRuntimeError",
    "get_runtime",
    "network_name",
    "size_named",
]
