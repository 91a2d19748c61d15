"""Scale to zero: a sleeping app's first request against the app's boot time, measured in one run.

Run: .venv/bin/python -m bench.scale_to_zero [--rounds 5]  (needs Docker, nginx and busybox-static)

1. Boot time: a web dyno of the bench image started by hand on the same Docker runtime, from the start
   call to its first HTTP answer (polled every 20 ms); the median of the rounds, each round measuring
   this just before the first request below, so both see the same load of the host.
2. First request: the app's web type autoscales with --min 0 and is put to sleep (formation 0, marked
   asleep, the router serving it from the waker); then one GET through a real nginx router and the
   `waker` component of `wharfd services` (run_waker, the control plane's own hooks), from sending the
   request to its answer; the scheduler runs its own loop and wakes on the waker's notice. The median of
   the rounds.
Prints both, the difference, and whether the first request stays within boot time + 1 s (issue 19).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bench._scheduler_bench import World, scheduler_world
from bench.busybox_image import INDEX_HTML, TEST_IMAGE, WEB, make_spec
from bench.local_ports import free_port, wait_for_port
from wharf.platform.actions.autoscale import AutoscaleRequest, set_autoscaling
from wharf.platform.autoscale.sleep import asleep_since, mark_asleep
from wharf.platform.db import session_scope
from wharf.platform.models import App, User
from wharf.platform.routing import GENERATION_KEY, set_app_route_settings
from wharf.platform.settings import Quotas, Settings
from wharf.platform.waker.service import run_waker
from wharf.router.controller import RouterController
from wharf.router.nginx import NginxMaster
from wharf.router.render import RouterPaths, RouterSettings

TARGET_MARGIN = 1.0


def answer_time(address: tuple[str, int], started: float, patience: float = 30.0) -> float:
    """Seconds from STARTED until ADDRESS answers a GET, polling every 20 ms."""
    deadline = started + patience
    while True:
        connection = http.client.HTTPConnection(*address, timeout=2)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
            return time.monotonic() - started
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
        finally:
            connection.close()


def boot_time(world: World, app: str, number: int) -> float:
    started = time.monotonic()
    dyno = world.runtime.start_dyno(make_spec(app, WEB, number=number, release=99))
    try:
        address = dyno.address
        while address is None:
            if time.monotonic() - started > 30:
                raise RuntimeError(f"the hand-started dyno has no address: {world.runtime.get_dyno(dyno.id)}")
            time.sleep(0.02)
            address = world.runtime.get_dyno(dyno.id).address
        return answer_time(address, started)
    finally:
        world.runtime.remove_dyno(dyno.id)


@dataclass(frozen=True)
class Router:
    port: int
    state_dir: Path

    def applied_generation(self) -> int:
        try:
            return int(json.loads((self.state_dir / "status.json").read_text())["generation"])
        except (OSError, ValueError):
            return -1


@contextmanager
def router_and_waker(world: World, redis_url: str, folder: Path) -> Iterator[Router]:
    """A router controller, the waker component and the scheduler's loop, each in a thread."""
    waker_port = free_port()
    settings = Settings(database_url=world.database_url, redis_url=redis_url, wharf_waker_port=waker_port)
    paths = RouterPaths(folder)
    router_settings = RouterSettings(
        http_port=free_port(),
        https_port=free_port(),
        worker_processes=1,
        waker_upstream=f"127.0.0.1:{waker_port}",
    )
    controller = RouterController(
        redis=world.redis,
        settings=router_settings,
        paths=paths,
        nginx=NginxMaster(paths=paths),
        log_sink=lambda app, line: None,
    )
    stop = threading.Event()
    threads = [
        threading.Thread(target=controller.run, args=(stop,), daemon=True),
        threading.Thread(target=run_waker, args=(settings, stop), daemon=True),
        threading.Thread(target=world.scheduler.run, args=(stop,), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        wait_for_port(router_settings.http_port)
        wait_for_port(waker_port)
        yield Router(port=router_settings.http_port, state_dir=folder)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("the bench world did not converge")
        time.sleep(0.05)


def put_to_sleep(world: World, router: Router, app: str) -> None:
    """What the autoscaler does to an idle web type with --min 0: formation 0, then the asleep mark."""
    world.scale(app, web=0)
    until(lambda: world.dynos(app) == [] and world.backends(app) == [])
    mark_asleep(world.redis, app, datetime.now(UTC))
    generation = int(world.redis.get(GENERATION_KEY) or 0)
    until(lambda: router.applied_generation() >= generation)


def first_request(router: Router, app: str) -> float:
    """Seconds for one GET to the sleeping app through the router, which must get the app's own 200."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", router.port, timeout=60)
    try:
        connection.request("GET", "/", headers={"Host": f"{app}.localhost"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    elapsed = time.monotonic() - started
    if response.status != 200 or body != INDEX_HTML.encode():
        raise RuntimeError(f"the first request got {response.status}: {body[:200]!r}")
    return elapsed


def sleeping_app(world: World) -> str:
    app = world.new_app()
    world.release(app, {"web": WEB}, image=TEST_IMAGE)
    status, lines = world.deploy(app)
    if status != "succeeded":
        raise RuntimeError(f"the deploy failed: {lines}")
    set_app_route_settings(world.redis, app, hostnames=[], maintenance=False, tls=[])
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        owner = session.scalars(select(User).where(User.email == world.owner_email)).one()
        request = AutoscaleRequest(process_type="web", min_dynos=0, max_dynos=1, p95_ms=500)
        set_autoscaling(session=session, app=row, actor=owner, request=request, quotas=Quotas())
    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with scheduler_world() as world, tempfile.TemporaryDirectory(prefix="wharf-bench-router-") as folder:
        redis_url = os.environ["REDIS_URL"]  # the scratch Redis scheduler_world started
        app = sleeping_app(world)
        # The hand-started dynos belong to an app with no release, which the scheduler leaves alone.
        bystander = world.new_app()
        world.runtime.ensure_network(bystander)
        boots: list[float] = []
        firsts: list[float] = []
        try:
            with router_and_waker(world, redis_url, Path(folder)) as router:
                for number in range(args.rounds):
                    boots.append(boot_time(world, bystander, number=number + 1))
                    put_to_sleep(world, router, app)
                    if asleep_since(world.redis, app) is None:
                        raise RuntimeError("the app is not marked asleep")
                    firsts.append(first_request(router, app))
        finally:
            for dyno in world.dynos(app):
                world.runtime.remove_dyno(dyno.id)
            for name in (app, bystander):
                world.runtime.remove_network(name)
    boot, first = statistics.median(boots), statistics.median(firsts)
    print(f"boot time, dyno start to first answer (median of {args.rounds}): {boot:.2f} s")
    print(f"  rounds: {' '.join(f'{b:.2f}' for b in boots)}")
    print(f"first request to a sleeping app, router + waker (median of {args.rounds}): {first:.2f} s")
    print(f"  rounds: {' '.join(f'{f:.2f}' for f in firsts)}")
    verdict = "within" if first <= boot + TARGET_MARGIN else "OVER"
    print(f"difference: {first - boot:+.2f} s ({verdict} the target of boot time + {TARGET_MARGIN:g} s)")


if __name__ == "__main__":
    main()
