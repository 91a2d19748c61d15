"""On real Docker: a crash loop backs off, a restarted scheduler converges without duplicates, and
`releases:rollback` and `ps:restart` work end to end through the router."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import pytest
import redis

from tests.scheduler.test_push_deploy_e2e import remove_dynos
from tests.scheduler.test_scheduler_docker import OPTIONS
from tests.utils.busybox_dynos import CRASHES, TEST_IMAGE, TRAPS_TERM, WEB, build_test_image, http_get
from tests.utils.e2e import Developer, Wharf
from tests.utils.network import KeepaliveClient
from tests.utils.scheduler_world import CIPHER, World
from wharf.platform.actions.dynos import list_dyno_statuses
from wharf.platform.runtime.base import (
    LABEL_APP,
    LABEL_INSTALLATION,
    LABEL_PROCESS_TYPE,
    LABEL_RELEASE,
    Dyno,
    DynoSpec,
)
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.scheduler.dynos import backoff_seconds, restarts_of
from wharf.platform.scheduler.loop import Scheduler

pytestmark = pytest.mark.e2e


def new_scheduler(world: World, runtime: DockerRuntime) -> Scheduler:
    return Scheduler(
        runtime=runtime, client=world.redis, database_url=world.database_url, cipher=CIPHER, options=OPTIONS
    )


@pytest.fixture
def scoped_world(
    redis_client: redis.Redis[bytes], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A scheduler on Docker that sees only the dynos of its own installation label."""
    from wharf.platform.migrate import upgrade_database

    url = f"sqlite:///{tmp_path_factory.mktemp('gaps-db') / 'wharf.db'}"
    upgrade_database(url)
    client = docker.from_env()
    build_test_image(client)
    installation = f"gaps-{secrets.token_hex(4)}"
    runtime = DockerRuntime(client, installation=installation)
    scheduler = Scheduler(
        runtime=runtime, client=redis_client, database_url=url, cipher=CIPHER, options=OPTIONS
    )
    world = World(database_url=url, redis=redis_client, runtime=runtime, scheduler=scheduler)
    yield world
    world.close(deploy_timeout=60)
    apps = {dyno.app for dyno in runtime.list_dynos()}
    for dyno in runtime.list_dynos():
        runtime.remove_dyno(dyno.id)
    for app in apps:
        runtime.remove_network(app)
    client.close()


@contextmanager
def scheduler_running(scheduler: Scheduler) -> Iterator[None]:
    """`wharfd scheduler`'s loop in a thread: wakes on Docker events and on the resync interval."""
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def deployed(world: World, processes: dict[str, str]) -> str:
    app = world.new_app()
    world.release(app, processes, image=TEST_IMAGE)
    status, lines = world.deploy(app)
    assert status == "succeeded", lines
    return app


def watch_crash_loop(world: World, app: str, restarts_wanted: int) -> tuple[dict[int, float], set[str]]:
    """Start time of each crasher.1 container by its restart count, and every state `wharf ps` showed."""
    starts: dict[int, float] = {}
    states: set[str] = set()
    deadline = time.monotonic() + 40
    while max(starts, default=-1) < restarts_wanted and time.monotonic() < deadline:
        for dyno in world.dynos(app):
            if dyno.process_type == "crasher" and dyno.started_at is not None:
                starts.setdefault(restarts_of(dyno), dyno.started_at.timestamp())
        states |= {s.state for s in list_dyno_statuses(world.runtime, app) if s.name == "crasher.1"}
        assert world.backends(app) == ["web.1"], "the web dyno must keep serving through the crash loop"
        time.sleep(0.05)
    return starts, states


def test_a_crash_loop_backs_off_with_growing_delays_until_a_new_release(scoped_world: World) -> None:
    world = scoped_world
    app = deployed(world, {"web": WEB, "crasher": CRASHES})
    world.scale(app, crasher=1)
    with scheduler_running(world.scheduler):
        starts, states = watch_crash_loop(world, app, restarts_wanted=4)
    assert "crashed" in states
    assert [n for n in (1, 2, 3, 4) if n in starts] == [1, 2, 3, 4], starts
    gaps = [starts[n + 1] - starts[n] for n in (1, 2, 3)]
    for restarts, gap in zip((1, 2, 3), gaps, strict=True):
        assert gap >= backoff_seconds(restarts) - 0.05, gaps
    # Each gap is its backoff plus a crash and a container start, which a loaded host stretches by
    # a second or more: the first and third gaps (1 s and 4 s of backoff) show the growth.
    assert gaps[0] < gaps[2], gaps
    ps = {s.name: s for s in list_dyno_statuses(world.runtime, app)}
    assert ps["crasher.1"].restarts >= 4

    version = world.release(app, {"web": WEB, "crasher": TRAPS_TERM}, image=TEST_IMAGE)
    status, lines = world.deploy(app)
    assert status == "succeeded", lines
    crasher = [d for d in world.dynos(app) if d.process_type == "crasher" and d.release == version]
    assert [(d.dyno, d.running, restarts_of(d)) for d in crasher] == [("crasher.1", True, 0)]


class DiesWhileStarting(DockerRuntime):
    """The runtime of a scheduler that dies mid-way: web.3 is created in Docker but never started."""

    def start_dyno(self, spec: DynoSpec) -> Dyno:
        if spec.number == 3:
            self._create(spec)
            raise RuntimeError("the scheduler died here")
        return super().start_dyno(spec)


def test_a_scheduler_restarted_mid_way_converges_without_duplicates(scoped_world: World) -> None:
    world = scoped_world
    app = deployed(world, {"web": WEB})
    installation = world.runtime.list_dynos(app)[0].labels[LABEL_INSTALLATION]
    world.scale(app, web=3)
    dying = new_scheduler(world, DiesWhileStarting(docker.from_env(), installation=installation))
    dying.reconcile_once()
    dying.fleet.close()
    left = {d.dyno: d for d in world.dynos(app)}
    assert sorted(left) == ["web.1", "web.2", "web.3"]
    assert left["web.3"].state == "starting" and left["web.3"].started_at is None

    successor = new_scheduler(world, DockerRuntime(docker.from_env(), installation=installation))
    world.scheduler = successor
    world.converge(lambda: world.backends(app) == ["web.1", "web.2", "web.3"], timeout=40)
    successor.fleet.wait_for_retirements()
    dynos = world.dynos(app)
    assert sorted(d.dyno for d in dynos) == ["web.1", "web.2", "web.3"], dynos
    assert all(d.running for d in dynos)
    kept = {d.dyno: d.id for d in dynos}
    assert kept["web.1"] == left["web.1"].id and kept["web.2"] == left["web.2"].id
    for address in world.backend_addresses(app):
        assert http_get(address)[0] == 200


@pytest.fixture
def live_app(developer: Developer, tmp_path: Path) -> Iterator[str]:
    """procfile_only pushed: v2 serves through the router."""
    app = developer.create_app()
    repo = developer.app_repo("procfile_only", app, tmp_path)
    push = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert push.returncode == 0, push.stderr
    yield app
    remove_dynos(app)


def wait_for_current(developer: Developer, app: str, version: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while developer.api.get(f"/api/apps/{app}").json()["current_release"] != version:
        assert time.monotonic() < deadline, developer.api.get(f"/api/apps/{app}/releases").json()
        time.sleep(0.2)


def running_web_env(app: str, timeout: float = 30) -> tuple[int, list[str]]:
    """The release label and the environment of the app's one running web dyno, once the old one left."""
    client = docker.from_env()
    deadline = time.monotonic() + timeout
    try:
        while True:
            labels = [f"{LABEL_APP}={app}", f"{LABEL_PROCESS_TYPE}=web"]
            web = client.containers.list(ignore_removed=True, filters={"label": labels})
            if len(web) == 1:
                return int(web[0].labels[LABEL_RELEASE]), list(web[0].attrs["Config"]["Env"])
            assert time.monotonic() < deadline, [c.labels for c in web]
            time.sleep(0.2)
    finally:
        client.close()


def test_rollback_makes_a_new_release_with_the_old_config_and_it_serves(
    wharf: Wharf, developer: Developer, live_app: str
) -> None:
    app = live_app
    before = developer.api.get(f"/api/apps/{app}/config").json()
    developer.api.patch(f"/api/apps/{app}/config", json={"GREETING": "v3"}).raise_for_status()
    wait_for_current(developer, app, 3)
    assert "GREETING=v3" in running_web_env(app)[1]

    answer = developer.api.post(f"/api/apps/{app}/releases/rollback", json={"version": 2})
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"] == 4 and "v2" in answer.json()["description"]
    wait_for_current(developer, app, 4)
    assert developer.api.get(f"/api/apps/{app}/config").json() == before
    release, env = running_web_env(app)
    assert release == 4 and not any(e.startswith("GREETING=") for e in env)
    releases = {r["version"]: r for r in developer.api.get(f"/api/apps/{app}/releases").json()}
    assert releases[4]["current"] and not releases[3]["current"]
    served = wharf.app_get(app)
    assert served.status_code == 200 and b"Hello from a Procfile-only app" in served.content


def test_ps_restart_replaces_the_dyno_without_failing_a_request(
    wharf: Wharf, developer: Developer, live_app: str
) -> None:
    app = live_app
    assert wharf.app_get(app).status_code == 200
    before = developer.api.get(f"/api/apps/{app}/dynos").json()
    assert [(d["name"], d["state"]) for d in before] == [("web.1", "up")]
    failures: list[str] = []
    sent = 0
    stop = threading.Event()

    def load() -> None:
        """A browser-like client: see KeepaliveClient for the one retry it allows."""
        nonlocal sent
        client = KeepaliveClient(wharf.http_port)
        while not stop.is_set():
            sent += 1
            try:
                status, body = client.get(f"{app}.localhost")
                if status != 200:
                    failures.append(f"{status}: {body[:80]!r}")
            except OSError as error:
                failures.append(repr(error))
        client.close()

    worker = threading.Thread(target=load)
    worker.start()
    try:
        time.sleep(0.5)
        answer = developer.api.post(f"/api/apps/{app}/dynos/restart", json={})
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 60
        while True:
            after = developer.api.get(f"/api/apps/{app}/dynos").json()
            if len(after) == 1 and after[0]["state"] == "up" and after[0]["since"] != before[0]["since"]:
                break
            assert time.monotonic() < deadline, after
            time.sleep(0.2)
        time.sleep(5)  # the old dyno drains and stops while the load goes on
    finally:
        stop.set()
        worker.join()
    assert after[0]["name"] == "web.1" and after[0]["release"] == before[0]["release"]
    assert sent > 20 and failures == [], failures[:5]
