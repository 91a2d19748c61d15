"""The node agent's side of attached one-offs off the control plane's node (runtime/oneoff_wire.py).

The agent listens on its node's requests channel. For each request it takes (its claim set first), it
pulls the image if the node lacks it, creates the dyno exactly as the Docker runtime does on one host
(its user, no-new-privileges, every capability dropped, its size's limits, on the app's attachable
overlay network, STATSD_HOST mapped to the node's gateway where this agent listens), attached before
it starts, and relays it until its process ends, the API says quit, or the API goes silent; then it
removes the container. At most `max_sessions` run at once on a node; a request beyond that is
refused with a message that says so. An agent that starts removes the one-offs an earlier agent of
its node left (their sessions ended with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import threading
import time
from functools import partial
from typing import Any

from wharf.platform.cluster.node_images import ensure_image
from wharf.platform.runtime import oneoff_wire as wire
from wharf.platform.runtime.base import STDOUT
from wharf.platform.runtime.docker_attach import DockerAttachedDyno
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.runtime.swarm_specs import STATSD_HOSTNAME

logger = logging.getLogger(__name__)

MAX_SESSIONS = 16
GO_SECONDS = 30.0


class OneOffHost:
    """Starts and relays this node's attached one-offs for the API, through Redis."""

    def __init__(
        self,
        redis_url: str,
        docker_client: Any,
        *,
        node_id: str,
        installation: str | None,
        statsd_port: int | None,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self._redis_url = redis_url
        self._docker = docker_client
        self._node_id = node_id
        self._max_sessions = max_sessions
        self._runtime = DockerRuntime(
            docker_client, installation=installation, statsd_port=statsd_port, statsd_hostname=STATSD_HOSTNAME
        )
        self._sessions: set[asyncio.Task[None]] = set()
        self.listening = threading.Event()

    def serve(self, stop: threading.Event) -> None:
        """Until `stop` is set; the one-offs still running then are removed. An engine or a Redis
        that fails is retried, never the end of the agent's one-offs."""
        while not stop.is_set():
            try:
                removed = self.remove_leftovers()
                if removed:
                    logger.info(
                        "removed %d one-off(s) an earlier agent left: %s", len(removed), ", ".join(removed)
                    )
                asyncio.run(self._serve(stop))
            except Exception:
                logger.exception("one-offs: failed; starting again in 5 s")
                stop.wait(5)

    def remove_leftovers(self) -> list[str]:
        """The relayed one-offs on this engine, removed (their sessions cannot outlive their agent)."""
        removed = []
        for dyno in self._runtime.list_dynos(labels={wire.LABEL_RELAYED: "1"}):
            with contextlib.suppress(Exception):
                self._runtime.remove_dyno(dyno.id)
                removed.append(dyno.name)
        return removed

    async def _serve(self, stop: threading.Event) -> None:
        import redis.asyncio
        import redis.exceptions

        client: Any = redis.asyncio.Redis.from_url(self._redis_url, health_check_interval=30)
        try:
            while not stop.is_set():
                try:
                    await self._listen(client, stop)
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as error:
                    self.listening.clear()
                    logger.warning("one-off requests: Redis is away (%s); retrying", error)
                    await asyncio.sleep(2)
        finally:
            for session in list(self._sessions):
                session.cancel()
            await asyncio.gather(*self._sessions, return_exceptions=True)
            await client.aclose()

    async def _listen(self, client: Any, stop: threading.Event) -> None:
        pubsub = client.pubsub()
        await pubsub.subscribe(wire.requests_channel(self._node_id))
        self.listening.set()
        try:
            while not stop.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    await self._take(client, message["data"])
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _take(self, client: Any, raw: bytes) -> None:
        try:
            request = wire.OneOffRequest.from_json(raw)
        except wire.BadRequest as error:
            logger.warning("refused a one-off request: %s", error)
            return
        if not await client.set(wire.claim_key(request.session), self._node_id, nx=True, ex=60):
            return
        out = wire.output_channel(request.session)
        if len(self._sessions) >= self._max_sessions:
            reason = f"this node already runs {self._max_sessions} attached one-offs; try again later"
            await client.publish(out, wire.frame(wire.FAILED, reason.encode()))
            return
        session = asyncio.create_task(RelayedSession(self, client, request).run())
        self._sessions.add(session)
        session.add_done_callback(self._sessions.discard)

    def start(self, request: wire.OneOffRequest) -> DockerAttachedDyno:
        """Pull the image if this node lacks it, then create and start the dyno, attached."""
        spec = request.spec
        ensure_image(self._docker, spec.image, spec.name)
        relayed = dataclasses.replace(spec, labels={**spec.labels, wire.LABEL_RELAYED: "1"})
        attached = self._runtime.start_attached(relayed, tty=request.tty)
        if request.tty and request.rows and request.columns:
            attached.resize(request.rows, request.columns)
        return attached

    def stop(self, dyno_id: str, timeout: float) -> None:
        with contextlib.suppress(Exception):
            self._runtime.stop_dyno(dyno_id, timeout)


class RelayedSession:
    """One one-off, from its start to its removal."""

    def __init__(self, host: OneOffHost, client: Any, request: wire.OneOffRequest) -> None:
        self.host = host
        self.client = client
        self.request = request
        self.out = wire.output_channel(request.session)
        self.sent = 0
        self.acked = 0
        self.room = asyncio.Event()
        self.room.set()
        self.heard = time.monotonic()

    async def say(self, kind: bytes, payload: bytes = b"") -> None:
        await self.client.publish(self.out, wire.frame(kind, payload))

    async def run(self) -> None:
        pubsub = self.client.pubsub()
        await pubsub.subscribe(wire.input_channel(self.request.session))
        pinging = asyncio.Event()
        pinger = asyncio.create_task(wire.heartbeat(partial(self.say, wire.PING), pinging))
        attached: DockerAttachedDyno | None = None
        try:
            try:
                attached = await asyncio.to_thread(self.host.start, self.request)
            except Exception as error:
                logger.warning("%s could not start: %s", self.request.spec.name, error)
                await self.say(wire.FAILED, str(error).encode(errors="replace"))
                return
            await self.say(wire.STARTED, json.dumps({"id": attached.id, "name": attached.name}).encode())
            if await self._wait_for_go(pubsub):
                await attached.open()
                code = await self._relay(attached, pubsub)
                if code is not None:
                    await self.say(wire.EXITED, str(code).encode())
        finally:
            await wire.stop_heartbeat(pinger, pinging)
            if attached is not None:
                with contextlib.suppress(Exception):
                    await attached.close()
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(attached.remove)
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _wait_for_go(self, pubsub: Any) -> bool:
        deadline = time.monotonic() + GO_SECONDS
        while time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            kind, _ = wire.unframe(message["data"])
            if kind == wire.GO:
                self.heard = time.monotonic()
                return True
            if kind == wire.QUIT:
                return False
        return False

    async def _relay(self, attached: DockerAttachedDyno, pubsub: Any) -> int | None:
        """The exit code once the process ended; None when the API quit or went silent."""
        output = asyncio.create_task(self._output(attached))
        listening = asyncio.create_task(self._input(attached, pubsub))
        try:
            done, _ = await asyncio.wait({output, listening}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (output, listening):
                task.cancel()
            await asyncio.gather(output, listening, return_exceptions=True)
        if output in done and output.exception() is None:
            return await asyncio.to_thread(attached.wait)
        return None

    async def _output(self, attached: DockerAttachedDyno) -> None:
        while chunk := await attached.read():
            stream, data = chunk
            kind = wire.STDOUT_PIECE if stream == STDOUT else wire.STDERR_PIECE
            for start in range(0, len(data), wire.MAX_PIECE):
                await self.room.wait()
                piece = data[start : start + wire.MAX_PIECE]
                await self.say(kind, piece)
                self.sent += len(piece)
                if self.sent - self.acked >= wire.WINDOW_BYTES:
                    self.room.clear()

    async def _input(self, attached: DockerAttachedDyno, pubsub: Any) -> None:
        ended = False
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                if time.monotonic() - self.heard > wire.SILENCE_SECONDS:
                    logger.warning("%s: the API went silent; ending it", self.request.spec.name)
                    return
                continue
            self.heard = time.monotonic()
            kind, payload = wire.unframe(message["data"])
            if kind == wire.INPUT and not ended:
                await attached.write(payload)
            elif kind == wire.END_OF_INPUT and not ended:
                ended = True
                await attached.close_stdin()
            elif kind == wire.RESIZE:
                with contextlib.suppress(ValueError, TypeError):
                    rows, columns = json.loads(payload)
                    await asyncio.to_thread(attached.resize, int(rows), int(columns))
            elif kind == wire.ACK:
                with contextlib.suppress(ValueError):
                    self.acked = max(self.acked, int(payload))
                if self.sent - self.acked < wire.WINDOW_BYTES:
                    self.room.set()
            elif kind == wire.STOP:
                try:
                    timeout = float(payload)
                except ValueError:
                    timeout = 10.0
                asyncio.get_running_loop().run_in_executor(None, self.host.stop, attached.id, timeout)
            elif kind == wire.QUIT:
                return
