"""Where dynos run: one Runtime interface, a Docker implementation and an in-memory fake.

The implementation is chosen once, from settings, through get_runtime(); everything else talks to
the Runtime protocol only.
"""

from __future__ import annotations

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

RUNTIME_NAMES = ("docker", "fake")


def get_runtime(name: str, *, installation: str | None = None) -> Runtime:
    """Build the runtime a setting names: "docker" (the local Docker Engine) or "fake" (in memory)."""
    if name == "docker":
        from wharf.platform.runtime.docker_runtime import DockerRuntime

        return DockerRuntime(installation=installation)
    if name == "fake":
        from wharf.platform.runtime.fake import FakeRuntime

        return FakeRuntime()
    raise ValueError(f"unknown runtime {name!r}: choose one of {', '.join(RUNTIME_NAMES)}")


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
