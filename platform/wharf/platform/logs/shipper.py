"""The log shipper: every dyno container's output, from Docker into its app's log stream.

One reader thread per dyno container follows Docker's log API; one writer thread stores lines in
batches (one MULTI/EXEC each, with the per-container cursor: the Docker timestamp of the last line
stored). Between them a bounded queue holds memory down: when Redis is slow the readers wait, and
Docker keeps the output on disk meanwhile, so nothing is lost. A restarted shipper resumes every
container from its cursor. New dynos are picked up from Docker's events (read in windows with no gap
between them, and from where the last shipper stopped after a restart: `docker_events`), and a periodic
resync catches anything an event stream missed.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from wharf.platform.logs.docker_events import EventWindows, event_iso
from wharf.platform.logs.docker_follow import DynoIdentity, iso_from_docker, read_container_lines
from wharf.platform.logs.stream import LogLine, LogWriter
from wharf.platform.runtime.base import LABEL_ATTACHED, LABEL_COMMAND, LABEL_INSTALLATION, LABEL_MANAGED

logger = logging.getLogger(__name__)

CURSORS_KEY = "wharf:logshipper:cursors"
ALIVE_KEY = "wharf:logshipper:alive"
EVENTS_KEY = "wharf:logshipper:events"
FINISHED_STATES = frozenset({"exited", "dead"})


@dataclass(frozen=True)
class ShippedLine:
    """A line on its way to Redis; `docker_ts` advances its container's cursor once it is stored."""

    entry: LogLine
    container_id: str | None = None
    docker_ts: str = ""


@dataclass
class _Follower:
    thread: threading.Thread
    stream: Any = None


@dataclass
class ShipperStats:
    lines_stored: int = 0
    batches: int = 0
    write_errors: int = 0
    started_at: float = field(default_factory=time.monotonic)


class LogShipper:
    """Carries dyno output to the app streams until `stop` is set; `run()` blocks."""

    def __init__(
        self,
        docker_api: Any,
        writer: LogWriter,
        *,
        queue_lines: int = 10_000,
        batch_lines: int = 2_000,
        resync_seconds: float = 5.0,
        installation: str | None = None,
        node: str | None = None,
    ) -> None:
        self.api = docker_api
        # On a swarm each node's agent ships its own engine's dynos, with cursors of its own: a resync
        # forgets the cursors of containers its engine no longer lists, never another node's.
        self.cursors_key = f"{CURSORS_KEY}:{node}" if node else CURSORS_KEY
        self.alive_key = f"{ALIVE_KEY}:{node}" if node else ALIVE_KEY
        events_key = f"{EVENTS_KEY}:{node}" if node else EVENTS_KEY
        # Only this installation's dynos: another Wharf on the same Docker ships its own.
        self.label_filter = [f"{LABEL_MANAGED}=1"] + (
            [f"{LABEL_INSTALLATION}={installation}"] if installation else []
        )
        self.writer = writer
        self.redis = writer.client
        self.events = EventWindows(
            docker_api,
            self.redis,
            events_key,
            {"type": "container", "label": self.label_filter, "event": ["start", "die"]},
        )
        self.batch_lines = batch_lines
        self.resync_seconds = resync_seconds
        self.queue: queue.Queue[ShippedLine] = queue.Queue(maxsize=queue_lines)
        self.stop = threading.Event()
        self.stats = ShipperStats()
        self._followers: dict[str, _Follower] = {}
        self._finished: set[str] = set()
        self._lock = threading.Lock()

    # the main loop

    def run(self) -> None:
        writer = threading.Thread(target=self._write_loop, name="log-writer", daemon=True)
        writer.start()
        try:
            while not self.stop.is_set():
                try:
                    self.resync()
                    self._watch_events()
                except Exception as error:  # docker or redis away; try again shortly
                    logger.warning("log shipper resync failed: %s", error)
                    self.stop.wait(1.0)
        finally:
            self.stop.set()
            self._close_streams()
            writer.join(timeout=30)

    def resync(self) -> None:
        """Follow every running dyno, and finish reading dynos that ended while no one was reading."""
        containers = self.api.containers(all=True, filters={"label": self.label_filter})
        stored = self.redis.hgetall(self.cursors_key)
        cursors = {key.decode(): value.decode() for key, value in stored.items()}
        alive_raw = self.redis.get(self.alive_key)
        last_alive = float(alive_raw) if alive_raw else None
        for container in containers:
            labels = container.get("Labels") or {}
            identity = DynoIdentity.from_labels(container["Id"], labels)
            if identity is None or labels.get(LABEL_ATTACHED) == "1":
                # An attached one-off's output goes to its client only (and Docker keeps no log of it).
                continue
            if self._should_read(container, identity.container_id in cursors, last_alive):
                self.follow(identity, cursors.get(identity.container_id))
            elif container.get("State") in FINISHED_STATES:
                self._finished.add(identity.container_id)
        gone = set(cursors) - {container["Id"] for container in containers}
        if gone:
            self.redis.hdel(self.cursors_key, *gone)
        self.redis.set(self.alive_key, str(time.time()))

    def _should_read(self, container: dict[str, Any], has_cursor: bool, last_alive: float | None) -> bool:
        if container.get("State") == "running":
            return True
        if container.get("State") not in FINISHED_STATES or container["Id"] in self._finished:
            return False
        created_while_away = last_alive is not None and container.get("Created", 0) >= last_alive - 60
        return has_cursor or created_while_away

    def _watch_events(self) -> None:
        """Note and follow the dynos that start and exit until the next resync is due."""
        for event in self.events.read(self.resync_seconds):
            self._on_event(event)
            if self.stop.is_set():
                return

    def _on_event(self, event: dict[str, Any]) -> None:
        attributes: dict[str, str] = event.get("Actor", {}).get("Attributes", {})
        identity = DynoIdentity.from_labels(event.get("Actor", {}).get("ID", ""), attributes)
        if identity is None:
            return
        if event.get("Action") == "start":
            command = attributes.get(LABEL_COMMAND, "")
            self._note(identity, f"Starting process with command `{command}`", event_iso(event))
            self._finished.discard(identity.container_id)
            if attributes.get(LABEL_ATTACHED) == "1":
                return
            cursor = self.redis.hget(self.cursors_key, identity.container_id)
            self.follow(identity, cursor.decode() if cursor else None)
        elif event.get("Action") == "die":
            status = attributes.get("exitCode", "?")
            self._note(identity, f"Process exited with status {status}", event_iso(event))

    def _note(self, identity: DynoIdentity, text: str, ts: str) -> None:
        """A platform line about a dyno, `heroku[web.1]: ...`, as Heroku writes on starts and exits."""
        entry = LogLine(app=identity.app, ts=ts, source="heroku", dyno=identity.dyno, line=text)
        self._put(ShippedLine(entry))

    # readers

    def follow(self, identity: DynoIdentity, after: str | None) -> None:
        """Start a reader for the container unless one runs already."""
        with self._lock:
            if identity.container_id in self._followers or self.stop.is_set():
                return
            thread = threading.Thread(
                target=self._read, args=(identity, after), name=f"log-{identity.dyno}", daemon=True
            )
            self._followers[identity.container_id] = _Follower(thread)
        thread.start()

    def _read(self, identity: DynoIdentity, after: str | None) -> None:
        cid = identity.container_id
        try:
            stream, lines = read_container_lines(self.api, cid, after)
            with self._lock:
                self._followers[cid].stream = stream
            for raw in lines:
                entry = LogLine(
                    app=identity.app,
                    ts=iso_from_docker(raw.docker_ts),
                    source="app",
                    dyno=identity.dyno,
                    line=raw.text,
                )
                if not self._put(ShippedLine(entry, cid, raw.docker_ts)):
                    return
            self._mark_finished_if_stopped(cid)
        except Exception as error:  # the container went away, or the stream was closed on stop
            if not self.stop.is_set():
                logger.info("stopped reading %s (%s): %s", identity.dyno, cid[:12], error)
        finally:
            with self._lock:
                self._followers.pop(cid, None)

    def _mark_finished_if_stopped(self, container_id: str) -> None:
        with contextlib.suppress(Exception):
            if self.api.inspect_container(container_id)["State"]["Status"] in FINISHED_STATES:
                self._finished.add(container_id)

    def _put(self, item: ShippedLine) -> bool:
        """Queue a line, waiting while the queue is full; False once the shipper is stopping."""
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _close_streams(self) -> None:
        with self._lock:
            streams = [f.stream for f in self._followers.values() if f.stream is not None]
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.close()

    # the writer

    def _write_loop(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                if self.stop.is_set():
                    return
                continue
            self._store(batch)

    def _take_batch(self) -> list[ShippedLine]:
        try:
            batch = [self.queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(batch) < self.batch_lines:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _store(self, batch: list[ShippedLine]) -> None:
        """Write the batch and its cursors in one transaction, retrying while Redis is away."""
        cursors = {item.container_id: item.docker_ts for item in batch if item.container_id}
        delay = 0.2
        attempts_after_stop = 3
        while True:
            try:
                self.writer.write_many(
                    (item.entry for item in batch),
                    extra=(lambda pipe: pipe.hset(self.cursors_key, mapping=cursors)) if cursors else None,
                )
                self.stats.lines_stored += len(batch)
                self.stats.batches += 1
                return
            except (redis.RedisError, OSError) as error:
                self.stats.write_errors += 1
                logger.warning("cannot store %d log lines yet: %s", len(batch), error)
                if self.stop.is_set():
                    attempts_after_stop -= 1
                    if attempts_after_stop == 0:
                        return  # not cursored: read again from Docker after a restart
                time.sleep(delay)
                delay = min(delay * 2, 5.0)


def docker_log_shipper(writer: LogWriter, *, installation: str | None) -> LogShipper:
    """The shipper for dynos run by the Docker engine this host's client reaches."""
    import docker

    return LogShipper(docker.from_env().api, writer, installation=installation)


def no_log_shipper(writer: LogWriter, *, installation: str | None) -> None:
    """Fake dynos write their output into the app logs themselves: nothing to ship."""
    return None


def node_agents_ship(writer: LogWriter, *, installation: str | None) -> None:
    """On a swarm the node agent of every node, the managers' included, ships its own engine's dynos
    (wharf.platform.cluster.node_agent): the manager's log shipper ships none, so no line comes twice."""
    return None
