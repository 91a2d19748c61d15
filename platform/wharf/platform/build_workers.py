"""Build workers on demand: rq worker processes started while jobs wait, at most `limit` at a time.

An idle host keeps no rq process: this dispatcher, a thread of the `services` process, watches the
queues' lengths and starts `wharfd worker --burst`, which forks a work horse per job and exits once
the queues are empty. A worker that crashes takes no other component with it; its job is retried or
failed by rq as for any lost work horse.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis

from wharf.platform.jobs import ALL_QUEUES, queue_key
from wharf.platform.supervisor import terminate_processes

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
SWEEP_SECONDS = 15.0
# A worker just started has not taken its job yet: it counts as busy with one waiting job for this long.
WARM_UP_SECONDS = 10.0
STOP_GRACE_SECONDS = 20.0

Spawn = Callable[[], "subprocess.Popen[bytes]"]


@dataclass
class _Started:
    process: subprocess.Popen[bytes]
    at: float = field(default_factory=time.monotonic)


def waiting_jobs(connection: redis.Redis[bytes], queues: Sequence[str] = ALL_QUEUES) -> int:
    pipeline = connection.pipeline(transaction=False)
    for name in queues:
        pipeline.llen(queue_key(name))
    return sum(int(length) for length in pipeline.execute())


def workers_to_start(*, waiting: int, running: int, warming: int, limit: int) -> int:
    """How many workers to add: one per job no warming worker is about to take, within the limit."""
    return max(0, min(limit - running, waiting - warming))


def run_build_workers(
    connection: redis.Redis[bytes],
    *,
    limit: int,
    spawn: Spawn,
    stop: threading.Event,
    queues: Sequence[str] = ALL_QUEUES,
    sweep: Callable[[], object] | None = None,
) -> None:
    """Start workers while jobs wait, until `stop`; then ask the running ones to finish and exit.

    `sweep` runs every SWEEP_SECONDS (failing the builds whose worker died).
    """
    started: list[_Started] = []
    next_sweep = time.monotonic()
    try:
        while not stop.wait(POLL_SECONDS):
            if sweep is not None and time.monotonic() >= next_sweep:
                try:
                    sweep()
                except Exception:
                    log.exception("lost build sweep failed")
                next_sweep = time.monotonic() + SWEEP_SECONDS
            started = [s for s in started if s.process.poll() is None]
            now = time.monotonic()
            warming = sum(1 for s in started if now - s.at < WARM_UP_SECONDS)
            count = workers_to_start(
                waiting=waiting_jobs(connection, queues), running=len(started), warming=warming, limit=limit
            )
            for _ in range(count):
                process = spawn()
                log.info("started build worker (pid %d)", process.pid)
                started.append(_Started(process))
    finally:
        terminate_processes([s.process for s in started], STOP_GRACE_SECONDS)
