"""The wire between the API and a node agent for an attached one-off on another node of a swarm.

A Swarm service has no standard input and no terminal, and the control plane reaches only its own
node's engine, so an attached `wharf run` placed on another node is started there by that node's
agent (cluster/oneoff_host.py), which relays it through the control plane's Redis. Everything goes over
Redis pub/sub, never over keys or streams, so nothing of a session (the config vars in its request,
what the user types, what the dyno prints) is ever written to Redis's append-only file or snapshot.

- The API publishes the request (`OneOffRequest`, JSON) on `requests_channel(node)`: no agent
  listening there (publish reaches 0 subscribers) is a clear error at once. The agent that first
  sets the session's claim key takes it.
- Each side then speaks on its own channel, one message per frame: one byte naming the kind, then
  the payload. The agent says `STARTED` (the container's id and name) or `FAILED` (why), then waits
  for the API's `GO`, sent once the API listens for output; before that, output waits in the attach
  connection.
- Output is sent in pieces of at most `MAX_PIECE` bytes; the agent stops reading the dyno while
  `WINDOW_BYTES` are unacknowledged, and the API acknowledges (`ACK`, the total it has taken) every
  `ACK_EVERY_BYTES`, so a slow client holds the dyno back instead of filling Redis's buffers.
- Both sides send `PING` every `HEARTBEAT_SECONDS`; a side that hears nothing from the other for
  `SILENCE_SECONDS` ends the session, so a dead API process never leaves a one-off running on a node,
  and a dead agent never leaves a client waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from wharf.platform.runtime.base import SIZES, DynoSpec

HEARTBEAT_SECONDS = 5.0
SILENCE_SECONDS = 30.0
# How long the agent may take to pull the image and start the container before the API gives up.
START_SECONDS = 300.0
MAX_PIECE = 64 * 1024
WINDOW_BYTES = 1024 * 1024
ACK_EVERY_BYTES = 256 * 1024
MAX_REQUEST_BYTES = 1024 * 1024
# How long the end of a session waits for its heartbeat to stop.
HEARTBEAT_STOP_SECONDS = 5.0

# API -> agent
INPUT = b"i"
END_OF_INPUT = b"e"
RESIZE = b"r"
GO = b"g"
ACK = b"a"
STOP = b"k"
QUIT = b"q"
# agent -> API
STARTED = b"s"
STDOUT_PIECE = b"1"
STDERR_PIECE = b"2"
EXITED = b"x"
FAILED = b"f"
# both
PING = b"p"

# The label the agent puts on the one-offs it starts, so that it removes only its own at its start.
LABEL_RELAYED = "wharf.oneoff.relayed"

_SESSION = re.compile(r"[0-9a-f]{32}")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_NODE = re.compile(r"[a-z0-9]{1,64}")


class BadRequest(ValueError):
    """A request the agent refuses: not what the API sends."""


def node_channel(node_id: str, purpose: str) -> str:
    """The channel a node's agent takes PURPOSE's requests on (its one-offs, its builds)."""
    if not _NODE.fullmatch(node_id):
        raise BadRequest(f"not a node id: {node_id!r}")
    return f"wharf:node:{node_id}:{purpose}"


def requests_channel(node_id: str) -> str:
    return node_channel(node_id, "oneoffs")


def input_channel(session: str) -> str:
    return f"wharf:oneoff:{session}:in"


def output_channel(session: str) -> str:
    return f"wharf:oneoff:{session}:out"


def claim_key(session: str) -> str:
    return f"wharf:oneoff:{session}:claim"


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + payload


def unframe(raw: bytes) -> tuple[bytes, bytes]:
    return raw[:1], raw[1:]


@dataclass(frozen=True)
class OneOffRequest:
    """What the agent needs to start the one-off: its spec (with the image as its node pulls it and
    the app's overlay network), the terminal, and the session it answers on."""

    session: str
    spec: DynoSpec
    tty: bool
    rows: int | None = None
    columns: int | None = None

    def to_json(self) -> bytes:
        spec = self.spec
        return json.dumps(
            {
                "session": self.session,
                "tty": self.tty,
                "rows": self.rows,
                "columns": self.columns,
                "spec": {
                    "app": spec.app,
                    "process_type": spec.process_type,
                    "number": spec.number,
                    "release": spec.release,
                    "image": spec.image,
                    "command": spec.command if isinstance(spec.command, str) else list(spec.command),
                    "env": dict(spec.env),
                    "size": spec.size,
                    "port": spec.port,
                    "network": spec.network,
                    "labels": dict(spec.labels),
                    "user": spec.user,
                },
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> OneOffRequest:
        if len(raw) > MAX_REQUEST_BYTES:
            raise BadRequest(f"a request of {len(raw)} bytes")
        try:
            data = json.loads(raw)
            return cls(
                session=_session(data["session"]),
                spec=_spec(data["spec"]),
                tty=bool(data["tty"]),
                rows=_side(data.get("rows")),
                columns=_side(data.get("columns")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BadRequest(f"not a one-off request: {error}") from error


def _session(value: Any) -> str:
    if not isinstance(value, str) or not _SESSION.fullmatch(value):
        raise BadRequest("not a session id")
    return value


def _side(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10000:
        return value
    return None


def _strings(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadRequest(f"{what} must map strings to strings")
    return dict(value)


def _spec(data: Any) -> DynoSpec:
    if not isinstance(data, dict):
        raise BadRequest("no spec")
    for name in ("app", "process_type"):
        if not isinstance(data.get(name), str) or not _NAME.fullmatch(data[name]):
            raise BadRequest(f"not a valid {name}: {data.get(name)!r}")
    command = data["command"]
    if isinstance(command, list) and all(isinstance(part, str) for part in command):
        command = tuple(command)
    elif not isinstance(command, str):
        raise BadRequest("the command must be a string or a list of strings")
    if data["size"] not in SIZES:
        raise BadRequest(f"unknown size {data['size']!r}")
    image, network, user = data["image"], data.get("network"), data.get("user")
    if not isinstance(image, str) or not image or any(ord(c) < 33 for c in image):
        raise BadRequest("not an image reference")
    if not isinstance(network, str) or not network:
        raise BadRequest("no network")
    if user is not None and (not isinstance(user, str) or user.split(":")[0] in ("0", "root")):
        raise BadRequest("a one-off never runs as root")
    return DynoSpec(
        app=data["app"],
        process_type=data["process_type"],
        number=int(data["number"]),
        release=int(data["release"]),
        image=image,
        command=command,
        env=_strings(data.get("env") or {}, "env"),
        size=data["size"],
        port=int(data["port"]),
        network=network,
        labels=_strings(data.get("labels") or {}, "labels"),
        user=user,
    )


async def heartbeat(beat: Callable[[], Awaitable[object]], ended: asyncio.Event) -> None:
    """BEAT every HEARTBEAT_SECONDS until ENDED is set. A beat that fails is not the end. ENDED, not
    only a cancellation, stops it: a cancellation that lands inside a Redis command can come out of
    the client as a connection error, which a beat ignores, and the loop would then beat forever."""
    while not ended.is_set():
        with contextlib.suppress(Exception):
            await beat()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), HEARTBEAT_SECONDS)


async def stop_heartbeat(task: asyncio.Task[None], ended: asyncio.Event) -> None:
    """Ends TASK (a `heartbeat` on ENDED) and waits for it, within HEARTBEAT_STOP_SECONDS."""
    ended.set()
    task.cancel()
    await asyncio.wait({task}, timeout=HEARTBEAT_STOP_SECONDS)
