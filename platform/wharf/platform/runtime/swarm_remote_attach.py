"""Attached one-offs on another node than the control plane's, started and relayed by that node's agent.

The API side of oneoff_wire.py. `RemoteOneOffs.start` asks the node's agent for the dyno
and returns once it runs; the `RemoteAttachedDyno` it returns is an AttachedDyno like a container's,
so `wharf run`'s websocket relays it unchanged. While a session lasts its dyno is listed in a Redis
hash (no secret in it: what `wharf ps` shows, and the session to reach it by), beside a key the
session's heartbeat keeps alive, so `wharf ps` on any API process lists it, `wharf ps:stop` stops it,
and an entry whose API process died is dropped as soon as its key expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from wharf.platform.runtime import oneoff_wire as wire
from wharf.platform.runtime.base import (
    LABEL_ATTACHED,
    STDERR,
    STDOUT,
    Dyno,
    DynoNotFound,
    DynoSpec,
    DynoState,
    OutputChunk,
    WharfRuntimeError,
)

SESSIONS_KEY = "wharf:oneoffs:relayed"
LOST_EXIT_CODE = 255


def alive_key(session: str) -> str:
    return f"wharf:oneoff:{session}:alive"


class NodeAgentUnavailable(WharfRuntimeError):
    """The chosen node's agent does not answer."""


class RemoteAttachedDyno:
    """An attached one-off on another node, relayed by its agent through Redis."""

    def __init__(self, remote: RemoteOneOffs, session: str, dyno_id: str, name: str, *, tty: bool) -> None:
        self._remote = remote
        self.session = session
        self.id = dyno_id
        self.name = name
        self.tty = tty
        self.exit_code: int | None = None
        self._client: Any = None
        self._pubsub: Any = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._ended = asyncio.Event()
        self._taken = 0
        self._acked = 0
        self._heard = time.monotonic()
        self._lost = False

    async def open(self) -> None:
        import redis.asyncio

        self._client = redis.asyncio.Redis.from_url(self._remote.redis_url, health_check_interval=30)
        self._pubsub = self._client.pubsub()
        await self._pubsub.subscribe(wire.output_channel(self.session))
        await self._say(wire.GO)
        self._heard = time.monotonic()
        self._heartbeat = asyncio.create_task(wire.heartbeat(self._beat, self._ended))

    async def _say(self, kind: bytes, payload: bytes = b"") -> None:
        await self._client.publish(wire.input_channel(self.session), wire.frame(kind, payload))

    async def _beat(self) -> None:
        await self._say(wire.PING)
        await self._client.set(alive_key(self.session), "1", ex=int(wire.SILENCE_SECONDS))

    async def read(self) -> OutputChunk | None:
        assert self._pubsub is not None, "open() first"
        while self.exit_code is None and not self._lost:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                if time.monotonic() - self._heard > wire.SILENCE_SECONDS:
                    self._lost = True
                    notice = f"\r\nwharf: lost the node agent running {self.name}; the session is over.\r\n"
                    return STDERR, notice.encode()
                continue
            self._heard = time.monotonic()
            kind, payload = wire.unframe(message["data"])
            if kind in (wire.STDOUT_PIECE, wire.STDERR_PIECE):
                self._taken += len(payload)
                if self._taken - self._acked >= wire.ACK_EVERY_BYTES:
                    self._acked = self._taken
                    await self._say(wire.ACK, str(self._taken).encode())
                return (STDOUT if kind == wire.STDOUT_PIECE else STDERR), payload
            if kind == wire.EXITED:
                self.exit_code = int(payload or LOST_EXIT_CODE)
                await self._record_exit(self.exit_code)
        return None

    async def _record_exit(self, code: int) -> None:
        """The exit code in the session's entry, for `ps:stop` and `wait` on other API processes."""
        raw = await self._client.hget(SESSIONS_KEY, self.id)
        if raw:
            entry = json.loads(raw)
            entry["exit_code"] = code
            await self._client.hset(SESSIONS_KEY, self.id, json.dumps(entry))

    async def write(self, data: bytes) -> None:
        for start in range(0, len(data), wire.MAX_PIECE):
            await self._say(wire.INPUT, data[start : start + wire.MAX_PIECE])

    async def close_stdin(self) -> None:
        await self._say(wire.END_OF_INPUT)

    async def close(self) -> None:
        if self._heartbeat is not None:
            await wire.stop_heartbeat(self._heartbeat, self._ended)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._say(wire.QUIT)
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            with contextlib.suppress(Exception):
                await self._client.aclose()

    def resize(self, rows: int, columns: int) -> None:
        if self.tty:
            self._remote.tell(self.session, wire.RESIZE, json.dumps([rows, columns]).encode())

    def wait(self) -> int:
        return self.exit_code if self.exit_code is not None else LOST_EXIT_CODE

    def remove(self) -> None:
        self._remote.tell(self.session, wire.QUIT)
        self._remote.forget(self.id)


class RemoteOneOffs:
    """The relayed attached one-offs of one installation, through the control plane's Redis."""

    def __init__(self, redis_url: str) -> None:
        import redis

        self.redis_url = redis_url
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=30, health_check_interval=30)

    def start(
        self, spec: DynoSpec, node_id: str, node_label: str, *, tty: bool, labels: Mapping[str, str]
    ) -> RemoteAttachedDyno:
        """Ask `node_id`'s agent for the one-off (spec.image as that node pulls it, spec.network set);
        returns once it runs, or raises what kept it from running."""
        session = secrets.token_hex(16)
        request = wire.OneOffRequest(session=session, spec=spec, tty=tty)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(wire.output_channel(session))
        try:
            if not self._redis.publish(wire.requests_channel(node_id), request.to_json()):
                raise NodeAgentUnavailable(
                    f"no node agent answers on {node_label}: run `wharfd cluster agents` on the manager, "
                    "or see `docker service ps wharf-node-agent`"
                )
            started = self._await_start(pubsub, node_label)
        finally:
            pubsub.close()
        dyno = RemoteAttachedDyno(self, session, started["id"], started["name"], tty=tty)
        entry = {
            "session": session,
            "node": node_id,
            "app": spec.app,
            "process_type": spec.process_type,
            "number": spec.number,
            "release": spec.release,
            "command": spec.command_text,
            "size": spec.size,
            "labels": {**spec.all_labels(), **labels, LABEL_ATTACHED: "1"},
            "started_at": datetime.now(UTC).isoformat(),
        }
        with self._redis.pipeline() as pipe:
            pipe.hset(SESSIONS_KEY, dyno.id, json.dumps(entry))
            pipe.set(alive_key(session), "1", ex=int(wire.SILENCE_SECONDS))
            pipe.execute()
        return dyno

    def _await_start(self, pubsub: Any, node_label: str) -> dict[str, str]:
        deadline = time.monotonic() + wire.START_SECONDS
        heard = time.monotonic()
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=1.0)
            if message is None or message.get("type") != "message":
                if time.monotonic() - heard > wire.SILENCE_SECONDS:
                    raise NodeAgentUnavailable(f"the node agent on {node_label} stopped answering")
                continue
            heard = time.monotonic()
            kind, payload = wire.unframe(message["data"])
            if kind == wire.STARTED:
                started = json.loads(payload)
                return {"id": str(started["id"]), "name": str(started["name"])}
            if kind == wire.FAILED:
                raise WharfRuntimeError(f"on {node_label}: {payload.decode(errors='replace')}")
        raise NodeAgentUnavailable(f"the one-off did not start on {node_label} in {wire.START_SECONDS:.0f} s")

    def tell(self, session: str, kind: bytes, payload: bytes = b"") -> None:
        self._redis.publish(wire.input_channel(session), wire.frame(kind, payload))

    def forget(self, dyno_id: str) -> None:
        self._redis.hdel(SESSIONS_KEY, dyno_id)

    def _entry(self, dyno_id: str) -> dict[str, Any] | None:
        raw = self._redis.hget(SESSIONS_KEY, dyno_id)
        return json.loads(raw) if raw else None

    def _live_entries(self) -> dict[str, dict[str, Any]]:
        entries = {key.decode(): json.loads(raw) for key, raw in self._redis.hgetall(SESSIONS_KEY).items()}
        if not entries:
            return {}
        with self._redis.pipeline() as pipe:
            for entry in entries.values():
                pipe.exists(alive_key(entry["session"]))
            alive = pipe.execute()
        stale = [dyno_id for dyno_id, live in zip(entries, alive, strict=True) if not live]
        if stale:
            self._redis.hdel(SESSIONS_KEY, *stale)
        return {dyno_id: entries[dyno_id] for dyno_id, live in zip(entries, alive, strict=True) if live}

    def dynos(self, wanted: Mapping[str, str]) -> list[Dyno]:
        """The live relayed one-offs carrying every label of `wanted`."""
        return [
            _dyno(dyno_id, entry)
            for dyno_id, entry in self._live_entries().items()
            if all(entry["labels"].get(key) == value for key, value in wanted.items())
        ]

    def _live_entry(self, dyno_id: str) -> dict[str, Any]:
        """The entry of a relayed one-off whose session is alive; DynoNotFound otherwise."""
        entry = self._entry(dyno_id)
        if entry is None or not self._redis.exists(alive_key(entry["session"])):
            raise DynoNotFound(f"{dyno_id} is not a relayed one-off")
        return entry

    def holds(self, dyno_id: str) -> bool:
        try:
            self._live_entry(dyno_id)
        except DynoNotFound:
            return False
        return True

    def get(self, dyno_id: str) -> Dyno:
        return _dyno(dyno_id, self._live_entry(dyno_id))

    def stop(self, dyno_id: str, timeout: float) -> Dyno:
        """Stop its process (SIGTERM, then SIGKILL after `timeout`); the session then ends."""
        entry = self._live_entry(dyno_id)
        self.tell(entry["session"], wire.STOP, str(timeout).encode())
        deadline = time.monotonic() + timeout + 10
        while time.monotonic() < deadline:
            latest = self._entry(dyno_id)
            if latest is None:
                # The session ended and forgot it before its exit code was seen here.
                return _dyno(dyno_id, {"exit_code": LOST_EXIT_CODE, **entry})
            entry = latest
            if "exit_code" in entry:
                break
            time.sleep(0.2)
        return _dyno(dyno_id, entry)

    def remove(self, dyno_id: str) -> None:
        entry = self._entry(dyno_id)
        if entry is not None:
            self.tell(entry["session"], wire.QUIT)
            self.forget(dyno_id)

    def wait(self, dyno_id: str, timeout: float | None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            entry = self._entry(dyno_id)
            if entry is None:
                return LOST_EXIT_CODE
            if "exit_code" in entry:
                return int(entry["exit_code"])
            time.sleep(0.2)
        raise TimeoutError(f"dyno {dyno_id} still running after {timeout} s")


def _dyno(dyno_id: str, entry: Mapping[str, Any]) -> Dyno:
    code = entry.get("exit_code")
    started = entry.get("started_at")
    state = DynoState.UP if code is None else DynoState.after_exit(int(code))
    return Dyno(
        id=dyno_id,
        app=str(entry["app"]),
        process_type=str(entry["process_type"]),
        number=int(entry["number"]),
        release=int(entry["release"]),
        state=state,
        command=str(entry["command"]),
        size=str(entry["size"]),
        started_at=datetime.fromisoformat(started) if started else None,
        finished_at=None,
        exit_code=None if code is None else int(code),
        address=None,
        labels=dict(entry["labels"]),
        node=entry.get("node"),
    )
