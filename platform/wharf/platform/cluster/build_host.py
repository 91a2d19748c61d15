"""The node agent's side of builds on builder nodes (builds/relay_wire.py).

The agent listens on its node's build requests channel. For each request it takes (its claim set
first), it pulls the build image if the node lacks it, creates the builder container as the build
worker does on one host (the dyno user, every capability dropped, no-new-privileges, the build's
memory, CPU and process limits) with the app's build cache in a volume of this node, copies the
workspace the worker sends into it, runs it and relays its output, then sends back the built app.
The container is removed at the end, whatever happens; an agent that starts removes the builders an
earlier agent of its node left. At most `max_builds` run at once on a node.

The cache volumes carry the installation and the app. At its start and every SWEEP_SECONDS, the
agent removes its installation's cache volumes that the installation's set of live caches no longer
holds (builds/build_caches.py): those of destroyed apps. A set without its mark (never written, or
lost with Redis's data) removes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
from collections.abc import Iterable
from typing import IO, Any

from wharf.platform.builds import relay_wire as wire
from wharf.platform.cluster.node_images import ensure_image

logger = logging.getLogger(__name__)

MAX_BUILDS = 2
# What the agent holds of a workspace in memory before spooling it to its disk.
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
SWEEP_SECONDS = 600.0


class BuildHost:
    """Runs this node's share of the builds for the build worker, through Redis."""

    def __init__(
        self,
        redis_url: str,
        docker_client: Any,
        *,
        node_id: str,
        installation: str | None,
        max_builds: int = MAX_BUILDS,
    ) -> None:
        self._redis_url = redis_url
        self._docker = docker_client
        self._node_id = node_id
        self._installation = installation
        self._max_builds = max_builds
        self._builds: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self.listening = threading.Event()

    def serve(self, stop: threading.Event) -> None:
        """Until STOP is set; an engine or a Redis that fails is retried."""
        while not stop.is_set():
            try:
                removed = self.remove_leftovers()
                if removed:
                    logger.info("removed %d builder(s) an earlier agent left", len(removed))
                self._listen(stop)
            except Exception:
                self.listening.clear()
                logger.exception("builds: failed; starting again in 5 s")
                stop.wait(5)

    def remove_leftovers(self) -> list[str]:
        removed = []
        for container in self._docker.containers.list(
            all=True, ignore_removed=True, filters={"label": f"{wire.LABEL_RELAYED}=1"}
        ):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed.append(container.name)
        return removed

    def sweep_caches(self, client: Any) -> list[str]:
        """Remove this installation's cache volumes whose apps have gone; their names. A volume a
        build uses at the moment stays (the engine refuses), for the next sweep."""
        if self._installation is None:
            return []
        labels = [f"{wire.LABEL_CACHE}=1", f"wharf.installation={self._installation}"]
        # The volumes first: one a build created since was recorded before its request was sent.
        volumes = self._docker.volumes.list(filters={"label": labels})
        key = wire.live_caches_key(self._installation)
        live = {member.decode(errors="replace") for member in client.smembers(key)}
        if wire.LIVE_CACHES_MARK not in live:
            return []
        removed = []
        for volume in volumes:
            if volume.name in live:
                continue
            try:
                volume.remove()
            except Exception as error:
                logger.info("kept the cache volume %s for now: %s", volume.name, error)
            else:
                removed.append(volume.name)
        if removed:
            logger.info("removed %d cache volume(s) of destroyed apps", len(removed))
        return removed

    def _listen(self, stop: threading.Event) -> None:
        import redis

        client = redis.Redis.from_url(self._redis_url, health_check_interval=30)
        pubsub = client.pubsub()
        try:
            requests = wire.requests_channel(self._node_id)
            pubsub.subscribe(requests)
            if self._installation is not None:
                pubsub.subscribe(wire.caches_forgotten_channel(self._installation))
            self.listening.set()
            swept, next_sweep = 0.0, time.monotonic()
            while not stop.is_set():
                if time.monotonic() >= next_sweep:
                    swept = time.monotonic()
                    next_sweep = swept + SWEEP_SECONDS
                    try:
                        self.sweep_caches(client)
                    except Exception as error:  # the builds go on; the next sweep tries again
                        logger.warning("could not sweep the build caches: %s", error)
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    continue
                if message["channel"].decode() == requests:
                    self._take(client, message["data"], stop)
                else:
                    # Apps were destroyed: sweep now, though never more than once a second.
                    next_sweep = min(next_sweep, swept + 1.0)
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                pubsub.close()

    def _take(self, client: Any, raw: bytes, stop: threading.Event) -> None:
        try:
            request = wire.BuildRequest.from_json(raw)
        except wire.BadRequest as error:
            logger.warning("refused a build request: %s", error)
            return
        if not client.set(wire.claim_key(request.session), self._node_id, nx=True, ex=60):
            return
        with self._lock:
            self._builds = {thread for thread in self._builds if thread.is_alive()}
            busy = len(self._builds) >= self._max_builds
            if not busy:
                thread = threading.Thread(
                    target=RelayedBuild(self._docker, client, request, stop, self._installation).run,
                    name=f"build-{request.app}",
                    daemon=True,
                )
                self._builds.add(thread)
                thread.start()
        if busy:
            reason = f"it already runs {self._max_builds} builds"
            client.publish(wire.output_channel(request.session), wire.frame(wire.BUSY, reason.encode()))


class RelayedBuild:
    """One builder container, from its creation to its removal."""

    def __init__(
        self,
        docker_client: Any,
        client: Any,
        request: wire.BuildRequest,
        stop: threading.Event,
        installation: str | None = None,
    ) -> None:
        self.docker = docker_client
        self.installation = installation
        self.client = client
        self.request = request
        self.agent_stop = stop
        self.out = wire.output_channel(request.session)
        self.container: Any = None
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
        self.taken = 0
        self.told_taken = 0
        self.sent = 0
        self.acked = 0
        self.heard = time.monotonic()
        self.input_done = threading.Event()
        self.over = threading.Event()
        self.room = threading.Condition()

    def say(self, kind: bytes, payload: bytes = b"") -> None:
        self.client.publish(self.out, wire.frame(kind, payload))

    def run(self) -> None:
        pubsub = self.client.pubsub()
        pubsub.subscribe(wire.input_channel(self.request.session))
        listener = threading.Thread(target=self._listen, args=(pubsub,), daemon=True)
        pinger = threading.Thread(target=self._ping, daemon=True)
        listener.start()
        pinger.start()
        try:
            self._build()
        except Exception as error:
            logger.warning("the build of %s failed here: %s", self.request.app, error)
            with contextlib.suppress(Exception):
                self.say(wire.FAILED, str(error).encode(errors="replace")[:4096])
        finally:
            self.over.set()
            with self.room:
                self.room.notify_all()
            if self.container is not None:
                with contextlib.suppress(Exception):
                    self.container.remove(force=True)
            self.spool.close()
            listener.join(timeout=5)
            pinger.join(timeout=5)
            with contextlib.suppress(Exception):
                pubsub.close()

    def _build(self) -> None:
        request = self.request
        ensure_image(self.docker, request.image, f"a build of {request.app}")
        self._ensure_cache_volume()
        self.container = self.docker.containers.create(**request.container_settings())
        self.say(wire.READY)
        if not self._wait(self.input_done, wire.READY_SECONDS):
            return
        self.spool.seek(0)
        self.container.put_archive("/", self.spool)
        self.spool.close()
        self.container.start()
        self._send(wire.LOG, self.container.logs(stream=True, follow=True))
        status = int(self.container.wait()["StatusCode"])
        if self.over.is_set():
            return
        self.say(wire.EXITED, str(status).encode())
        if status != 0:
            return
        budget = request.max_archive_bytes
        for name in wire.ARCHIVES:
            stream, _ = self.container.get_archive(f"/{name}")
            budget -= self._send(wire.ARCHIVE, stream, limit=budget)
            self.say(wire.ARCHIVE_END, name.encode())
        self.say(wire.DONE)

    def _ensure_cache_volume(self) -> None:
        """The app's cache volume, labelled with its installation and app (for the sweep) when new."""
        import docker.errors

        name = wire.cache_volume(self.request.app, self.request.cache_key)
        try:
            self.docker.volumes.get(name)
            return
        except docker.errors.NotFound:
            pass
        labels = {wire.LABEL_CACHE: "1", "wharf.app": self.request.app}
        if self.installation is not None:
            labels["wharf.installation"] = self.installation
        self.docker.volumes.create(name=name, labels=labels)

    def _wait(self, event: threading.Event, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not event.wait(1.0):
            if self.over.is_set() or time.monotonic() > deadline:
                return False
        return not self.over.is_set()

    def _send(self, kind: bytes, chunks: Iterable[bytes], limit: int | None = None) -> int:
        """CHUNKS in pieces, never more than WINDOW_BYTES unacknowledged; the bytes sent. Over LIMIT
        is a failure that says so."""
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if limit is not None and total > limit:
                raise RuntimeError(
                    f"the built app is over the {self.request.max_archive_bytes / 1e6:.0f} MB it may be"
                )
            for start in range(0, len(chunk), wire.PIECE_BYTES):
                with self.room:
                    while self.sent - self.acked >= wire.WINDOW_BYTES and not self.over.is_set():
                        self.room.wait(1.0)
                if self.over.is_set():
                    raise RuntimeError("the build worker went away")
                piece = chunk[start : start + wire.PIECE_BYTES]
                self.say(kind, piece)
                self.sent += len(piece)
        return total

    def _ping(self) -> None:
        while not self.over.wait(wire.HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception):
                self.say(wire.PING)

    def _listen(self, pubsub: Any) -> None:
        while not self.over.is_set():
            try:
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except Exception as error:
                logger.warning("the build of %s lost Redis: %s", self.request.app, error)
                self._end()
                return
            if message is None:
                if time.monotonic() - self.heard > wire.SILENCE_SECONDS or self.agent_stop.is_set():
                    self._end()
                    return
                continue
            self.heard = time.monotonic()
            self._hear(*wire.unframe(message["data"]))

    def _hear(self, kind: bytes, payload: bytes) -> None:
        if kind == wire.INPUT and not self.input_done.is_set():
            self.taken += len(payload)
            if self.taken > wire.MAX_INPUT_BYTES:
                self.say(wire.FAILED, f"the workspace is over {wire.MAX_INPUT_BYTES >> 20} MB".encode())
                self._end()
                return
            self.spool.write(payload)
            if self.taken - self.told_taken >= wire.ACK_EVERY_BYTES:
                self.told_taken = self.taken
                self.say(wire.TAKEN, str(self.taken).encode())
        elif kind == wire.END_OF_INPUT:
            self.say(wire.TAKEN, str(self.taken).encode())
            self.input_done.set()
        elif kind == wire.ACK:
            with contextlib.suppress(ValueError), self.room:
                self.acked = max(self.acked, int(payload))
                self.room.notify_all()
        elif kind == wire.STOP and self.container is not None:
            with contextlib.suppress(Exception):
                self.container.kill()
        elif kind == wire.QUIT:
            self._end()

    def _end(self) -> None:
        """The build is over before its end: its container is killed, what waits on it wakes."""
        self.over.set()
        with self.room:
            self.room.notify_all()
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.kill()
