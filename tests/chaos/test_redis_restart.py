"""Redis is state: `kill -9` of the private redis-server under load through the router fails no request;
its supervisor starts it again from its append-only file, and the routes, the build jobs rq holds and the
log stream written more than a second before the crash are all still there; the components reconnect
(the router serves a change made afterwards, a new push builds and deploys)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import redis

from tests.utils.chaos import Load, cmdline, private_redis, process_tree, served_app
from tests.utils.e2e import Developer
from tests.utils.wharfd_up import WharfdUp, wait_until_served

__all__ = ["served_app"]

pytestmark = pytest.mark.e2e

ROUTES_KEY = b"wharf:routes"


def redis_server_pid(server: WharfdUp) -> int | None:
    assert server.process is not None
    found = [
        pid for pid in process_tree(server.process.pid) if cmdline(pid).startswith(b"/usr/bin/redis-server")
    ]
    found = found or [pid for pid in process_tree(server.process.pid) if b"redis-server" in cmdline(pid)]
    return found[0] if found else None


def snapshot(client: redis.Redis[bytes], app: str) -> dict[bytes, bytes]:
    """The last entry id of every stream that names the app (its log stream, build and deploy output)."""
    last: dict[bytes, bytes] = {}
    for key in client.scan_iter(match=f"*{app}*".encode(), count=1000):
        try:
            entries = client.xrevrange(key, count=1)
        except redis.ResponseError:
            continue  # not a stream
        if entries:
            last[key] = entries[0][0]
    return last


def test_redis_killed_under_load_comes_back_with_its_state(
    served_app: tuple[WharfdUp, Developer, str], tmp_path: Path
) -> None:
    server, developer, app = served_app
    client = private_redis(server)
    routes_before = client.get(ROUTES_KEY)
    assert routes_before and app.encode() in routes_before
    streams = snapshot(client, app)
    assert streams, "the app's log and build streams are in Redis"
    build_jobs = sorted(client.scan_iter(match=b"rq:job:build-*"))
    assert build_jobs, "rq keeps the app's build job"
    time.sleep(2)  # past appendfsync everysec: what was written before this is on disk

    port = server.wharf.http_port
    with Load(url=f"http://127.0.0.1:{port}/", host=f"{app}.localhost") as load:
        time.sleep(2)
        victim = redis_server_pid(server)
        assert victim is not None
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while redis_server_pid(server) in (None, victim):
            assert time.monotonic() < deadline, "the supervisor did not start redis-server again"
            time.sleep(0.1)
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, redis.TimeoutError):
                assert time.monotonic() < deadline, "the new redis-server does not answer"
                time.sleep(0.1)
        back_after = time.monotonic() - killed_at
        time.sleep(8)
        load.until_answered()
    load.assert_none_failed(f"redis-server killed: back in {back_after:.1f}s")

    assert app.encode() in (client.get(ROUTES_KEY) or b""), "the route table was lost"
    for key, last_id in streams.items():
        assert client.xrange(key, min=last_id.decode(), max=last_id.decode()), (
            f"{key!r} lost entries older than a second"
        )
    assert sorted(client.scan_iter(match=b"rq:job:build-*")) == build_jobs, "rq's build jobs were lost"

    # Every component reconnected: the API and scheduler publish, the router serves what they publish,
    # the build workers take a new push and deploy it.
    with developer.api as api:
        api.patch(f"/api/apps/{app}", json={"maintenance": True}).raise_for_status()
    deadline = time.monotonic() + 60
    while server.wharf.app_get(app).status_code != 503:
        assert time.monotonic() < deadline, "a change after the restart did not reach the router"
        time.sleep(0.5)
    with developer.api as api:
        api.patch(f"/api/apps/{app}", json={"maintenance": False}).raise_for_status()
    wait_until_served(server.wharf, app, 60)
    repo = next(tmp_path.glob(f"*-{app}"))
    (repo / "after-redis.txt").write_text("pushed after the restart\n")
    developer.commit_all(repo, "after the redis restart")
    pushed = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    wait_until_served(server.wharf, app, 60)
