"""The wire between the build worker and a builder node's agent, for a compile on another node.

On a swarm with nodes labelled `wharf.role=builder`, the build worker prepares the compile as on one
host (the workspace, config vars as files, the language runtimes), then asks a builder node's agent
(cluster/build_host.py) to run the builder container there. Like the attached one-offs'
(runtime/oneoff_wire.py), everything goes over Redis pub/sub, never over keys or streams, so nothing
of a build (the config vars in its workspace, the built app) is written to Redis's files.

- The worker publishes the request (`BuildRequest`, JSON) on `requests_channel(node)`: no agent
  listening there is a clear answer at once, and the build runs on the manager. The agent that first
  sets the session's claim key takes it.
- The agent pulls the build image if its node lacks it, creates the builder container (the same
  user, limits and hardening as on one host, the app's build cache in a volume of that node) and
  says `READY`, or `FAILED` with why; an agent that already runs as many builds as it may says
  `BUSY`, and the build runs on the manager.
- The worker sends the workspace as a tar in `INPUT` pieces, then `END_OF_INPUT`; the agent says
  `TAKEN` (the bytes it has) every `ACK_EVERY_BYTES`, and the worker never has more than
  `WINDOW_BYTES` untaken. The agent copies the tar into the container, starts it, and relays its
  output in `LOG` pieces, the worker saying `ACK` as for the input. Then `EXITED` with the status and,
  after a build that succeeded, the built `/app` and `/output` as tars in `ARCHIVE` pieces, each
  ended by `ARCHIVE_END` (its name), and `DONE`.
- Both sides send `PING` every HEARTBEAT_SECONDS; a side that hears nothing for SILENCE_SECONDS ends
  the build (the agent removes the container), and `STOP` from the worker kills it (its time is over).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from wharf.platform.runtime.oneoff_wire import (
    HEARTBEAT_SECONDS,
    SILENCE_SECONDS,
    BadRequest,
    frame,
    node_channel,
    unframe,
)

__all__ = [
    "HEARTBEAT_SECONDS",
    "SILENCE_SECONDS",
    "BadRequest",
    "BuildRequest",
    "frame",
    "unframe",
]

PIECE_BYTES = 256 * 1024
WINDOW_BYTES = 4 * 1024 * 1024
ACK_EVERY_BYTES = 1024 * 1024
MAX_REQUEST_BYTES = 256 * 1024
# The workspace a builder node takes: the source, the config vars and the runtimes it copies.
MAX_INPUT_BYTES = 4 * 1024**3
# How long the agent may take to pull the build image and create the builder.
READY_SECONDS = 600.0
ARCHIVES = ("app", "output")

# worker -> agent
INPUT = b"i"
END_OF_INPUT = b"e"
ACK = b"a"
STOP = b"k"
QUIT = b"q"
# agent -> worker
READY = b"s"
FAILED = b"f"
BUSY = b"b"
TAKEN = b"w"
LOG = b"1"
EXITED = b"x"
ARCHIVE = b"t"
ARCHIVE_END = b"n"
DONE = b"d"
# both
PING = b"p"

# On the builder containers an agent starts, so that it removes only its own at its start.
LABEL_RELAYED = "wharf.build.relayed"
CACHE_VOLUME_PREFIX = "wharf-build-cache-"
# On the cache volumes an agent creates: whose installation and app each is, so that it removes only
# its installation's, and only those whose app has gone (see live_caches_key).
LABEL_CACHE = "wharf.build.cache"
# The installation's apps' cache volume names, kept by the build worker (builds/build_caches.py); the
# mark is always there once one build went to a builder node, so that an empty or lost set is never
# read as "every app has gone".
LIVE_CACHES_MARK = "."

_SESSION = re.compile(r"[0-9a-f]{32}")
_APP = re.compile(r"[a-z][a-z0-9-]{0,29}")
_CACHE_KEY = re.compile(r"[0-9a-f]{16}")
_USER = re.compile(r"[1-9][0-9]{0,9}:[0-9]{1,10}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NETWORKS = ("bridge", "none")


def requests_channel(node_id: str) -> str:
    return node_channel(node_id, "builds")


def input_channel(session: str) -> str:
    return f"wharf:build:{session}:in"


def output_channel(session: str) -> str:
    return f"wharf:build:{session}:out"


def claim_key(session: str) -> str:
    return f"wharf:build:{session}:claim"


def cache_volume(app: str, key: str) -> str:
    """The volume on a builder node that keeps APP's build cache between its builds there. KEY is
    the app's own (see relayed_compile.build_cache_key): a later app of the same name has another,
    and never sees this one's cache."""
    return f"{CACHE_VOLUME_PREFIX}{app}-{key}"


def is_cache_volume_of(volume: str, app: str) -> bool:
    """Is VOLUME the cache volume of an app named APP, whatever its key? (Not of `APP-more`.)"""
    prefix = cache_volume(app, "")
    return volume.startswith(prefix) and _CACHE_KEY.fullmatch(volume[len(prefix) :]) is not None


def live_caches_key(installation: str) -> str:
    """The Redis set of the cache volumes whose apps still exist on INSTALLATION."""
    return f"wharf:{installation}:build-caches"


def caches_forgotten_channel(installation: str) -> str:
    """Where the API says that apps' caches left the set, so that the agents sweep at once."""
    return f"wharf:{installation}:build-caches:forgotten"


@dataclass(frozen=True)
class BuildRequest:
    """The builder container the agent creates: never root, within the build's limits."""

    session: str
    app: str
    cache_key: str
    image: str
    command: tuple[str, ...]
    environment: dict[str, str]
    user: str
    working_dir: str
    memory_bytes: int
    nano_cpus: int
    pids: int
    network: str
    max_archive_bytes: int

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "session": self.session,
                "app": self.app,
                "cache_key": self.cache_key,
                "image": self.image,
                "command": list(self.command),
                "environment": self.environment,
                "user": self.user,
                "working_dir": self.working_dir,
                "memory_bytes": self.memory_bytes,
                "nano_cpus": self.nano_cpus,
                "pids": self.pids,
                "network": self.network,
                "max_archive_bytes": self.max_archive_bytes,
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> BuildRequest:
        if len(raw) > MAX_REQUEST_BYTES:
            raise BadRequest(f"a request of {len(raw)} bytes")
        try:
            data = json.loads(raw)
            return cls(
                session=_matching(data["session"], _SESSION, "session id"),
                app=_matching(data["app"], _APP, "app name"),
                cache_key=_matching(data["cache_key"], _CACHE_KEY, "cache key"),
                image=_image(data["image"]),
                command=_command(data["command"]),
                environment=_environment(data["environment"]),
                user=_matching(data["user"], _USER, "user (uid:gid, never root)"),
                working_dir=_matching(data["working_dir"], re.compile(r"/[a-z/]{0,63}"), "working dir"),
                memory_bytes=_positive(data["memory_bytes"]),
                nano_cpus=_positive(data["nano_cpus"]),
                pids=_positive(data["pids"]),
                network=_network(data["network"]),
                max_archive_bytes=_positive(data["max_archive_bytes"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BadRequest(f"not a build request: {error}") from error

    def container_settings(self) -> dict[str, Any]:
        """docker-py's `containers.create` arguments for this builder, its cache volume at /cache."""
        return {
            "image": self.image,
            "command": list(self.command),
            "user": self.user,
            "working_dir": self.working_dir,
            "environment": dict(self.environment),
            "volumes": {cache_volume(self.app, self.cache_key): {"bind": "/cache", "mode": "rw"}},
            "mem_limit": self.memory_bytes,
            "nano_cpus": self.nano_cpus,
            "pids_limit": self.pids,
            "network_mode": self.network,
            "labels": {"io.wharf.role": "builder", LABEL_RELAYED: "1", "wharf.app": self.app},
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
        }


def _matching(value: Any, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadRequest(f"not a valid {what}: {value!r}")
    return value


def _image(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 512 or any(ord(c) < 33 for c in value):
        raise BadRequest("not an image reference")
    return value


def _command(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(part, str) for part in value):
        raise BadRequest("the command must be a list of strings")
    if any("\x00" in part for part in value):
        raise BadRequest("the command has a NUL byte")
    return tuple(value)


def _environment(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and _ENV_NAME.fullmatch(k) and isinstance(v, str) and "\x00" not in v
        for k, v in value.items()
    ):
        raise BadRequest("the environment must map variable names to strings")
    return dict(value)


def _positive(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise BadRequest(f"not a positive integer: {value!r}")
    return value


def _network(value: Any) -> str:
    if value not in _NETWORKS:
        raise BadRequest(f"not a build network: {value!r}")
    return str(value)
