"""The move between runtimes (wharf.platform.cluster.moving), on two in-memory runtimes: every slot is
refilled on the new runtime before its old dyno leaves, the app always has its routed web dynos, and a
scheduler on the runtime that was left stands aside."""

from __future__ import annotations

import threading
from pathlib import Path

import redis

from tests.utils.busybox_dynos import TEST_IMAGE, TRAPS_TERM, WEB, fake_program_for
from tests.utils.network import free_port
from tests.utils.scheduler_world import CIPHER, CIPHER_KEY, World
from wharf.platform.cluster.moving import move_to_swarm
from wharf.platform.cluster.state import save_cluster_choice
from wharf.platform.runtime.fake import FakeRuntime
from wharf.platform.scheduler.loop import RETRY_SECONDS, Scheduler
from wharf.platform.scheduler.notify import RUNTIME_KEY, hand_over_runtime, runs_here
from wharf.platform.settings import Settings, with_runtime_from_data_dir

from .conftest import FAST


def test_every_slot_moves_to_the_new_runtime_while_the_app_stays_routed(
    world: World, database_url: str, redis_url: str
) -> None:
    app = world.new_app()
    version = world.release(app, {"web": WEB, "worker": TRAPS_TERM}, image=TEST_IMAGE)
    assert world.deploy(app)[0] == "succeeded"
    world.scale(app, web=2, worker=1)
    world.converge(lambda: len(world.backends(app)) == 2 and len(world.running(app)) == 3)
    target = FakeRuntime(fake_program_for)
    routed: list[list[str]] = []
    settings = Settings(database_url=database_url, redis_url=redis_url, wharf_secret_key=CIPHER_KEY)

    def note(_line: str) -> None:
        routed.append(world.backends(app))

    report = move_to_swarm(
        settings, engine=None, source=world.runtime, target=target, options=FAST, progress=note, timeout=30
    )

    assert app in report.apps and report.started >= 3  # earlier tests' apps of the database move too
    assert world.runtime.list_dynos(app) == []
    assert sorted(f"{d.dyno}@v{d.release}" for d in target.list_dynos(app) if d.running) == [
        f"web.1@v{version}",
        f"web.2@v{version}",
        f"worker.1@v{version}",
    ]
    assert routed and all(len(backends) == 2 for backends in routed), routed
    moved = sorted(d.address for d in target.list_dynos(app, process_type="web") if d.address)
    assert sorted(world.backend_addresses(app)) == moved


def test_a_scheduler_on_the_runtime_left_behind_stands_aside(world: World) -> None:
    app = world.new_app()
    world.release(app, {"web": WEB}, image=TEST_IMAGE)
    assert world.deploy(app)[0] == "succeeded"
    world.scheduler.runtime_name = "docker"
    hand_over_runtime(world.redis, "swarm")
    for dyno in world.runtime.list_dynos(app):
        world.runtime.remove_dyno(dyno.id)
    world.scheduler.reconcile_once()
    assert world.running(app) == [], "the formation is the swarm's scheduler's to keep now"
    world.scheduler.runtime_name = "swarm"
    world.converge(lambda: len(world.running(app)) == 1)


def _start_scheduler(world: World, settings: Settings) -> None:
    """The world's scheduler as `wharfd up` starts it, on the runtime `settings` choose: its loop's
    start (stopped at once; the passes that follow are world.converge's)."""
    world.scheduler.runtime_name = with_runtime_from_data_dir(settings).wharf_runtime
    stopped = threading.Event()
    stopped.set()
    world.scheduler.run(stopped)


def test_going_back_to_the_docker_runtime_ends_the_handover_when_the_scheduler_starts(
    world: World, tmp_path: Path
) -> None:
    app = world.new_app()
    world.release(app, {"web": WEB}, image=TEST_IMAGE)
    assert world.deploy(app)[0] == "succeeded"
    data_dir = tmp_path / "data"
    save_cluster_choice(data_dir / "cluster.json", node_id="n1", swarm_id="s1")
    hand_over_runtime(world.redis, "swarm")
    for dyno in world.runtime.list_dynos(app):
        world.runtime.remove_dyno(dyno.id)
    (data_dir / "cluster.json").unlink()  # the operator went back to one host, then started wharfd up

    _start_scheduler(world, Settings(wharf_data_dir=data_dir))
    assert world.scheduler.runtime_name == "docker"
    assert world.redis.get(RUNTIME_KEY) is None, "no Redis DEL by hand"
    world.converge(lambda: len(world.running(app)) == 1)


def test_a_scheduler_started_on_the_runtime_the_data_dir_chose_keeps_the_handover(
    world: World, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    save_cluster_choice(data_dir / "cluster.json", node_id="n1", swarm_id="s1")
    hand_over_runtime(world.redis, "swarm")
    _start_scheduler(world, Settings(wharf_data_dir=data_dir))
    assert world.scheduler.runtime_name == "swarm"
    assert world.redis.get(RUNTIME_KEY) == b"swarm"
    assert not runs_here(world.redis, "docker"), "a scheduler left on the Docker runtime still stands aside"


def test_a_scheduler_whose_redis_is_away_retries_its_pass_instead_of_ending(
    world: World, database_url: str
) -> None:
    """The handover check reads Redis: an outage there is one more reason to retry the pass, like the
    state reads after it, never an exception that ends the scheduler's loop."""
    away = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    scheduler = Scheduler(
        runtime=world.runtime,
        client=away,
        database_url=database_url,
        cipher=CIPHER,
        options=FAST,
        runtime_name="docker",
    )
    try:
        assert scheduler.reconcile_once() == RETRY_SECONDS
    finally:
        scheduler.fleet.close()
