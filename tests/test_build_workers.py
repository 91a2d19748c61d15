"""The build worker dispatcher: rq workers exist only while jobs wait, never more than the limit."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import redis
from rq import Queue

from wharf.platform.build_workers import run_build_workers, waiting_jobs, workers_to_start
from wharf.platform.jobs import BUILD_QUEUE, queue_key


def test_queue_key_is_the_list_rq_keeps_waiting_jobs_in(redis_client: redis.Redis[bytes]) -> None:
    Queue(BUILD_QUEUE, connection=redis_client).enqueue("builtins.print", "hello")
    assert queue_key(BUILD_QUEUE) == Queue(BUILD_QUEUE, connection=redis_client).key
    assert waiting_jobs(redis_client) == 1


@pytest.mark.parametrize(
    ("waiting", "running", "warming", "limit", "expected"),
    [
        (0, 0, 0, 2, 0),
        (1, 0, 0, 2, 1),
        (5, 0, 0, 2, 2),
        (5, 2, 0, 2, 0),
        (1, 1, 1, 2, 0),
        (3, 1, 1, 2, 1),
    ],
)
def test_workers_to_start(waiting: int, running: int, warming: int, limit: int, expected: int) -> None:
    assert workers_to_start(waiting=waiting, running=running, warming=warming, limit=limit) == expected


class _Workers:
    """Stand-in workers that each take one waiting job off the queue and hold it for a while."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.processes: list[subprocess.Popen[bytes]] = []
        self.most_alive = 0

    def spawn(self) -> subprocess.Popen[bytes]:
        code = (
            "import redis, sys, time\n"
            f"r = redis.Redis.from_url({self.redis_url!r})\n"
            f"r.lpop({queue_key(BUILD_QUEUE)!r})\n"
            "time.sleep(1.5)\n"
        )
        process = subprocess.Popen([sys.executable, "-c", code])
        self.processes.append(process)
        return process

    def alive(self) -> int:
        return sum(1 for p in self.processes if p.poll() is None)


def test_dispatcher_starts_workers_for_waiting_jobs_within_the_limit(
    redis_client: redis.Redis[bytes], redis_url: str
) -> None:
    workers = _Workers(redis_url)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_build_workers,
        args=(redis_client,),
        kwargs={"limit": 2, "spawn": workers.spawn, "stop": stop},
    )
    thread.start()
    try:
        time.sleep(1.5)
        assert workers.processes == [], "no worker while nothing waits"
        redis_client.rpush(queue_key(BUILD_QUEUE), *[f"job-{n}" for n in range(5)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (waiting_jobs(redis_client) or workers.alive()):
            workers.most_alive = max(workers.most_alive, workers.alive())
            time.sleep(0.1)
        assert waiting_jobs(redis_client) == 0, "every waiting job was taken"
        assert workers.most_alive == 2, "two at a time, no more"
        assert len(workers.processes) == 5
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert workers.alive() == 0


def test_dispatcher_stops_its_running_workers(redis_client: redis.Redis[bytes], redis_url: str) -> None:
    started: list[subprocess.Popen[bytes]] = []

    def spawn() -> subprocess.Popen[bytes]:
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]))
        return started[-1]

    stop = threading.Event()
    redis_client.rpush(queue_key(BUILD_QUEUE), "job-1")
    thread = threading.Thread(
        target=run_build_workers, args=(redis_client,), kwargs={"limit": 1, "spawn": spawn, "stop": stop}
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not started and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=30)
    assert len(started) == 1
    assert started[0].poll() is not None, "the worker was asked to stop with the dispatcher"
